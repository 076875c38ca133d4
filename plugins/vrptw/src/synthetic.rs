//! A field-service day at the product's size limits, for benchmarks where no reference
//! value exists (`vrptw-bench --synthetic`, and the module benchmark `routing_bench
//! --synthetic` in the host): jobs around a city centre in lat/lon (haversine at 8 m/s), a
//! lunch break per technician, a skill on one job in seven and one technician in four, one
//! or two windows per job.

use crate::{Break, Job, Location, Problem, TimeWindow, TravelModel, Vehicle};

/// The day's size as the benchmark commands take it: `JOBS,VEHICLES`.
pub fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let (jobs, vehicles) = text.split_once(',').ok_or("expected JOBS,VEHICLES")?;
    let count = |n: &str| n.trim().parse::<usize>().map_err(|e| format!("{n}: {e}"));
    Ok((count(jobs)?, count(vehicles)?))
}

/// A reproducible field-service day of `n_jobs` jobs and `n_vehicles` technicians (the
/// generator's seed is fixed; a search's seed is the caller's).
pub fn city_day(n_jobs: usize, n_vehicles: usize) -> Problem {
    let mut state = 0x5EED_CAFE_u64;
    let mut unit = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1_000_000) as f64 / 1_000_000.0
    };
    let hour = 3600.0;
    let mut locations = vec![Location::Geo {
        lat: 48.85,
        lon: 2.35,
    }];
    let mut jobs = Vec::with_capacity(n_jobs);
    for i in 0..n_jobs {
        locations.push(Location::Geo {
            lat: 48.85 + (unit() - 0.5) * 0.3,
            lon: 2.35 + (unit() - 0.5) * 0.4,
        });
        let start = 8.0 * hour + unit() * 7.0 * hour;
        let mut time_windows = vec![TimeWindow::new(start, start + 2.0 * hour)];
        if i % 5 == 0 && start + 5.0 * hour < 18.0 * hour {
            time_windows.push(TimeWindow::new(start + 4.0 * hour, start + 5.0 * hour));
        }
        jobs.push(Job {
            id: format!("job{i}"),
            location: i + 1,
            time_windows,
            service: (10.0 + unit() * 30.0) * 60.0,
            skills: if i % 7 == 0 {
                vec!["gas".into()]
            } else {
                vec![]
            },
            priority: 1.0,
            demand: 1,
            allowed_vehicles: vec![],
        });
    }
    let vehicles = (0..n_vehicles)
        .map(|k| Vehicle {
            id: format!("tech{k}"),
            start_location: 0,
            end_location: None,
            shift: TimeWindow::new(7.5 * hour, 17.5 * hour),
            break_: Some(Break {
                window: TimeWindow::new(12.0 * hour, 13.5 * hour),
                duration: 0.5 * hour,
            }),
            skills: if k % 4 == 0 {
                vec!["gas".into()]
            } else {
                vec![]
            },
            capacity: None,
            fixed_cost: 0.0,
        })
        .collect();
    Problem {
        locations,
        travel: TravelModel::Haversine { speed_mps: 8.0 },
        vehicles,
        jobs,
    }
}
