//! Reader for the Solomon / Gehring-Homberger text format used by the benchmark.
//!
//! The header gives the fleet size and the capacity; then one row per customer (customer 0
//! is the depot): number, x, y, demand, ready time, due date, service time. The depot's due
//! date closes every shift. Distances are Euclidean in double precision and travel time
//! equals distance, the convention under which the reference best-known costs hold.

use crate::model::{Job, Location, Problem, TimeWindow, TravelModel, Vehicle};

pub struct SolomonInstance {
    pub name: String,
    pub fleet_size: usize,
    pub capacity: u64,
    pub problem: Problem,
}

pub fn parse(text: &str) -> Result<SolomonInstance, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let name = lines.next().ok_or("empty file")?.to_string();
    let mut fleet: Option<(usize, u64)> = None;
    let mut rows: Vec<[f64; 7]> = Vec::new();
    let mut previous_was_number_header = false;
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if previous_was_number_header {
            let size = fields
                .first()
                .and_then(|f| f.parse().ok())
                .ok_or("bad fleet size")?;
            let capacity = fields
                .get(1)
                .and_then(|f| f.parse().ok())
                .ok_or("bad capacity")?;
            fleet = Some((size, capacity));
        }
        previous_was_number_header = fields.first() == Some(&"NUMBER");
        if fields.len() == 7 && fields[0].bytes().all(|b| b.is_ascii_digit()) {
            let mut row = [0.0; 7];
            for (slot, field) in row.iter_mut().zip(&fields) {
                *slot = field.parse().map_err(|_| format!("bad number {field:?}"))?;
            }
            rows.push(row);
        }
    }
    let (fleet_size, capacity) = fleet.ok_or("missing VEHICLE NUMBER/CAPACITY header")?;
    let depot = *rows.first().ok_or("no customers")?;

    let locations = rows
        .iter()
        .map(|r| Location::Plane { x: r[1], y: r[2] })
        .collect();
    let vehicles = (0..fleet_size)
        .map(|k| Vehicle {
            id: format!("v{k}"),
            start_location: 0,
            end_location: None,
            shift: TimeWindow::new(depot[4], depot[5]),
            break_: None,
            skills: Vec::new(),
            capacity: Some(capacity),
            fixed_cost: 0.0,
        })
        .collect();
    let jobs = rows
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, r)| Job {
            id: format!("{}", r[0] as u64),
            location: i,
            time_windows: vec![TimeWindow::new(r[4], r[5])],
            service: r[6],
            skills: Vec::new(),
            priority: 1.0,
            demand: r[3] as u64,
            allowed_vehicles: Vec::new(),
        })
        .collect();
    Ok(SolomonInstance {
        name,
        fleet_size,
        capacity,
        problem: Problem {
            locations,
            travel: TravelModel::Euclidean { speed: 1.0 },
            vehicles,
            jobs,
        },
    })
}
