//! Behaviour of `vrptw::solve` seen from outside: optimality on brute-forced instances,
//! feasibility of every returned plan (through the independent checker), determinism,
//! budgets and caps, validation errors, and the checker's own ability to fail.

use vrptw::{
    Break, Job, Location, Problem, SolveOptions, StepClock, StopKind, TimeWindow, TravelModel,
    UnassignedReason, Vehicle, check::check, solve, solve_with_clock,
};

// ---------------------------------------------------------------------------------------
// Small random instances and a brute force written independently of the solver.

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() % 10_000) as f64 / 10_000.0 * (hi - lo)
    }
    fn pick(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 7 jobs, 2 technicians with different skills, shifts, capacities and fixed costs; a break
/// for the second one on odd seeds; some jobs with two windows and higher priority.
fn small_problem(seed: u64) -> Problem {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n_jobs = 7;
    let mut locations = vec![
        Location::Plane { x: 50.0, y: 50.0 },
        Location::Plane { x: 20.0, y: 70.0 },
    ];
    let mut jobs = Vec::new();
    for i in 0..n_jobs {
        locations.push(Location::Plane {
            x: rng.range(0.0, 100.0),
            y: rng.range(0.0, 100.0),
        });
        let first_start = rng.range(0.0, 250.0);
        let mut windows = vec![TimeWindow::new(
            first_start,
            first_start + rng.range(20.0, 120.0),
        )];
        if rng.pick(3) == 0 {
            let second = first_start + rng.range(130.0, 200.0);
            windows.push(TimeWindow::new(second, second + 40.0));
        }
        let skills = match rng.pick(4) {
            0 => vec!["b".to_string()],
            1 => vec!["a".to_string()],
            _ => vec![],
        };
        jobs.push(Job {
            id: format!("job{i}"),
            location: i + 2,
            time_windows: windows,
            service: rng.range(5.0, 25.0),
            skills,
            priority: if rng.pick(4) == 0 { 3.0 } else { 1.0 },
            demand: 1 + rng.pick(2),
            allowed_vehicles: vec![],
        });
    }
    let vehicles = vec![
        Vehicle {
            id: "alice".into(),
            start_location: 0,
            end_location: None,
            shift: TimeWindow::new(0.0, 400.0),
            break_: None,
            skills: vec!["a".into()],
            capacity: Some(6),
            fixed_cost: 5.0,
        },
        Vehicle {
            id: "bob".into(),
            start_location: 1,
            end_location: Some(0),
            shift: TimeWindow::new(30.0, 380.0),
            break_: (seed % 2 == 1).then(|| Break {
                window: TimeWindow::new(120.0, 200.0),
                duration: 30.0,
            }),
            skills: vec!["a".into(), "b".into()],
            capacity: None,
            fixed_cost: 7.0,
        },
    ];
    Problem {
        locations,
        travel: TravelModel::Euclidean { speed: 1.0 },
        vehicles,
        jobs,
    }
}

fn dist(p: &Problem, a: usize, b: usize) -> f64 {
    match (p.locations[a], p.locations[b]) {
        (Location::Plane { x: ax, y: ay }, Location::Plane { x: bx, y: by }) => {
            ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt()
        }
        _ => unreachable!("test problems are planar"),
    }
}

/// Travel distance of `order` on vehicle `v` if it is feasible, trying every break slot.
fn route_distance(p: &Problem, v: usize, order: &[usize]) -> Option<f64> {
    let vehicle = &p.vehicles[v];
    let load: u64 = order.iter().map(|&j| p.jobs[j].demand).sum();
    if vehicle.capacity.is_some_and(|c| load > c) {
        return None;
    }
    if order
        .iter()
        .any(|&j| !p.jobs[j].skills.iter().all(|s| vehicle.skills.contains(s)))
    {
        return None;
    }
    let slots: Vec<Option<usize>> = match &vehicle.break_ {
        Some(_) => (0..=order.len()).map(Some).collect(),
        None => vec![None],
    };
    let end = vehicle.end_location.unwrap_or(vehicle.start_location);
    'slot: for slot in slots {
        let mut t = vehicle.shift.start;
        let mut at = vehicle.start_location;
        let mut d = 0.0;
        for k in 0..=order.len() {
            if slot == Some(k) {
                let b = vehicle.break_.as_ref().unwrap();
                let s = t.max(b.window.start);
                if s > b.window.end + 1e-9 {
                    continue 'slot;
                }
                t = s + b.duration;
            }
            if k == order.len() {
                break;
            }
            let job = &p.jobs[order[k]];
            let arrive = t + dist(p, at, job.location);
            let Some(w) = job.time_windows.iter().find(|w| arrive <= w.end + 1e-9) else {
                continue 'slot;
            };
            t = arrive.max(w.start) + job.service;
            d += dist(p, at, job.location);
            at = job.location;
        }
        let back = t + dist(p, at, end);
        if back <= vehicle.shift.end + 1e-9 {
            return Some(d + dist(p, at, end));
        }
    }
    None
}

fn best_order(p: &Problem, v: usize, subset: &mut Vec<usize>, k: usize) -> Option<f64> {
    if k == subset.len() {
        return route_distance(p, v, subset);
    }
    let mut best: Option<f64> = None;
    for i in k..subset.len() {
        subset.swap(k, i);
        if let Some(d) = best_order(p, v, subset, k + 1) {
            best = Some(best.map_or(d, |b: f64| b.min(d)));
        }
        subset.swap(k, i);
    }
    best
}

/// (unserved priority, distance, fixed cost) of the optimum, by enumeration.
fn brute_force(p: &Problem) -> (f64, f64, f64) {
    let n = p.jobs.len();
    let masks = 1usize << n;
    let per_vehicle: Vec<Vec<Option<f64>>> = (0..p.vehicles.len())
        .map(|v| {
            (0..masks)
                .map(|m| {
                    let mut subset: Vec<usize> = (0..n).filter(|j| m >> j & 1 == 1).collect();
                    if subset.is_empty() {
                        Some(0.0)
                    } else {
                        best_order(p, v, &mut subset, 0)
                    }
                })
                .collect()
        })
        .collect();
    let mut best = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for m0 in 0..masks {
        let Some(d0) = per_vehicle[0][m0] else {
            continue;
        };
        let rest = (masks - 1) & !m0;
        let mut m1 = rest;
        loop {
            if let Some(d1) = per_vehicle[1][m1] {
                let unserved: f64 = (0..n)
                    .filter(|j| (m0 | m1) >> j & 1 == 0)
                    .map(|j| p.jobs[j].priority)
                    .sum();
                let fixed = if m0 != 0 {
                    p.vehicles[0].fixed_cost
                } else {
                    0.0
                } + if m1 != 0 {
                    p.vehicles[1].fixed_cost
                } else {
                    0.0
                };
                let candidate = (unserved, d0 + d1, fixed);
                if lexicographically_less(candidate, best) {
                    best = candidate;
                }
            }
            if m1 == 0 {
                break;
            }
            m1 = (m1 - 1) & rest;
        }
    }
    best
}

fn lexicographically_less(a: (f64, f64, f64), b: (f64, f64, f64)) -> bool {
    if (a.0 - b.0).abs() > 1e-9 {
        return a.0 < b.0;
    }
    if (a.1 - b.1).abs() > 1e-9 {
        return a.1 < b.1;
    }
    a.2 < b.2 - 1e-9
}

fn options(seed: u64, iterations: u64) -> SolveOptions {
    SolveOptions {
        seed,
        time_limit_secs: 60.0,
        max_iterations: iterations,
        ..SolveOptions::default()
    }
}

fn assert_feasible(problem: &Problem, solution: &vrptw::Solution) {
    let violations = check(problem, solution);
    assert!(violations.is_empty(), "checker found: {violations:#?}");
}

#[test]
fn small_instances_reach_the_brute_force_optimum() {
    for seed in 0..10 {
        let problem = small_problem(seed);
        let (unserved, distance, fixed) = brute_force(&problem);
        let solution = solve(&problem, &options(seed, 3_000)).expect("valid problem");
        assert_feasible(&problem, &solution);
        let got = (
            solution.unassigned_priority,
            solution.total_distance,
            solution.total_fixed_cost,
        );
        assert!(
            !lexicographically_less((unserved, distance, fixed), got),
            "seed {seed}: solver {got:?} worse than optimum {:?}",
            (unserved, distance, fixed)
        );
        // Nothing can beat the optimum; if it did, the brute force or the checker is wrong.
        assert!(
            !lexicographically_less(got, (unserved, distance, fixed)),
            "seed {seed}: {got:?} beats optimum"
        );
    }
}

#[test]
fn breaks_are_taken_inside_their_window() {
    let problem = small_problem(1);
    let solution = solve(&problem, &options(1, 500)).unwrap();
    assert_feasible(&problem, &solution);
    for route in solution.routes.iter().filter(|r| r.vehicle_id == "bob") {
        let rest = route
            .stops
            .iter()
            .find(|s| s.kind == StopKind::Break)
            .expect("bob rests");
        assert!((120.0..=200.0).contains(&rest.start));
        assert!((rest.departure - rest.start - 30.0).abs() < 1e-9);
    }
}

// ---------------------------------------------------------------------------------------
// Determinism, budget, iteration cap.

fn solomon_like() -> Problem {
    let text = include_str!("data/rc101_25.txt");
    vrptw::solomon::parse(text).unwrap().problem
}

#[test]
fn same_seed_same_solution() {
    let problem = solomon_like();
    let a = solve(&problem, &options(42, 400)).unwrap();
    let b = solve(&problem, &options(42, 400)).unwrap();
    assert_eq!(a.routes, b.routes);
    assert_eq!(a.unassigned, b.unassigned);
    assert_eq!(a.stats.iterations, 400);
    assert_feasible(&problem, &a);
}

#[test]
fn fake_clock_budget_is_exact() {
    let problem = solomon_like();
    let clock = StepClock::new(0.001);
    let opts = SolveOptions {
        time_limit_secs: 0.25,
        ..options(3, u64::MAX)
    };
    let solution = solve_with_clock(&problem, &opts, &clock).unwrap();
    assert_feasible(&problem, &solution);
    // Each iteration reads the clock once; the loop stops at the first read past the
    // budget, so it never runs one step beyond it.
    assert!(
        solution.stats.elapsed_secs >= 0.25 - 1e-12,
        "{}",
        solution.stats.elapsed_secs
    );
    assert!(
        solution.stats.elapsed_secs <= 0.25 + 0.001 + 1e-12,
        "{}",
        solution.stats.elapsed_secs
    );
    assert!(
        clock.peek() <= 0.25 + 0.003 + 1e-12,
        "clock read too often: {}",
        clock.peek()
    );
    assert!(
        solution.stats.iterations >= 240 && solution.stats.iterations <= 250,
        "{}",
        solution.stats.iterations
    );
}

#[test]
fn real_clock_budget_is_respected() {
    let problem = solomon_like();
    let opts = SolveOptions {
        time_limit_secs: 0.2,
        ..options(5, u64::MAX)
    };
    let started = std::time::Instant::now();
    let solution = solve(&problem, &opts).unwrap();
    let took = started.elapsed().as_secs_f64();
    assert!(took < 0.2 + 0.5, "took {took}s");
    assert!(solution.stats.iterations > 0);
    assert_feasible(&problem, &solution);
}

#[test]
fn iteration_cap_stops_the_search() {
    let problem = solomon_like();
    let solution = solve(&problem, &options(9, 17)).unwrap();
    assert_eq!(solution.stats.iterations, 17);
    assert_feasible(&problem, &solution);
}

// ---------------------------------------------------------------------------------------
// Unassigned reasons.

#[test]
fn unassigned_jobs_carry_reasons() {
    let mut problem = small_problem(0);
    problem
        .vehicles
        .iter_mut()
        .for_each(|v| v.capacity = Some(10));
    let base = problem.jobs[0].clone();
    let variant = |id: &str| Job {
        id: id.into(),
        ..base.clone()
    };
    problem.jobs = vec![
        Job {
            skills: vec!["plumbing".into()],
            ..variant("nobody-skilled")
        },
        Job {
            demand: 1000,
            skills: vec![],
            ..variant("too-heavy")
        },
        Job {
            time_windows: vec![TimeWindow::new(0.0, 1.0)],
            skills: vec![],
            ..variant("window-closed")
        },
        Job {
            time_windows: vec![TimeWindow::new(300.0, 360.0)],
            service: 200.0,
            skills: vec![],
            ..variant("shift-too-short")
        },
    ];
    let solution = solve(&problem, &options(1, 50)).unwrap();
    assert_feasible(&problem, &solution);
    let reason = |id: &str| {
        solution
            .unassigned
            .iter()
            .find(|u| u.job_id == id)
            .map(|u| u.reason)
    };
    assert_eq!(
        reason("nobody-skilled"),
        Some(UnassignedReason::NoSkilledVehicle)
    );
    assert_eq!(reason("too-heavy"), Some(UnassignedReason::Capacity));
    assert_eq!(
        reason("window-closed"),
        Some(UnassignedReason::WindowUnreachable)
    );
    assert_eq!(
        reason("shift-too-short"),
        Some(UnassignedReason::ShiftTooShort)
    );
}

// ---------------------------------------------------------------------------------------
// The checker itself must fail on broken plans.

#[test]
fn checker_rejects_tampered_plans() {
    let problem = small_problem(2);
    let solution = solve(&problem, &options(2, 300)).unwrap();
    assert_feasible(&problem, &solution);
    let route = solution
        .routes
        .iter()
        .position(|r| r.stops.len() > 3)
        .expect("a route with two jobs");

    let mut late = solution.clone();
    let job_stop = late.routes[route]
        .stops
        .iter_mut()
        .find(|s| s.kind == StopKind::Job)
        .unwrap();
    job_stop.start += 1_000.0;
    job_stop.departure += 1_000.0;
    assert!(
        !check(&problem, &late).is_empty(),
        "shifted service time not caught"
    );

    let mut reordered = solution.clone();
    reordered.routes[route].stops.swap(1, 2);
    assert!(
        !check(&problem, &reordered).is_empty(),
        "reordered stops not caught"
    );

    let mut dropped = solution.clone();
    dropped.routes[route].stops.remove(1);
    assert!(
        !check(&problem, &dropped).is_empty(),
        "job neither served nor unassigned not caught"
    );

    let mut doubled = solution.clone();
    let copy = doubled.routes[route].stops[1].clone();
    doubled.routes[route].stops.insert(1, copy);
    assert!(
        !check(&problem, &doubled).is_empty(),
        "double service not caught"
    );

    let mut wrong_total = solution.clone();
    wrong_total.total_distance -= 1.0;
    assert!(
        !check(&problem, &wrong_total).is_empty(),
        "wrong total not caught"
    );

    let mut overloaded = problem.clone();
    for v in &mut overloaded.vehicles {
        v.capacity = Some(0);
    }
    assert!(
        !check(&overloaded, &solution).is_empty(),
        "capacity violation not caught"
    );

    let mut unskilled = problem.clone();
    for v in &mut unskilled.vehicles {
        v.skills.clear();
    }
    unskilled
        .jobs
        .iter_mut()
        .for_each(|j| j.skills = vec!["x".into()]);
    assert!(
        !check(&unskilled, &solution).is_empty(),
        "missing skill not caught"
    );
}

// ---------------------------------------------------------------------------------------
// Validation.

fn fields(problem: &Problem) -> Vec<String> {
    match problem.validate() {
        Ok(()) => vec![],
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn valid_problem_has_no_errors() {
    assert_eq!(fields(&small_problem(0)), Vec::<String>::new());
}

#[test]
fn validation_names_the_offending_fields() {
    let mut p = small_problem(0);
    p.jobs[1].location = 99;
    p.jobs[2].service = -5.0;
    p.jobs[3].time_windows = vec![TimeWindow::new(50.0, 10.0)];
    p.jobs[4].id = p.jobs[0].id.clone();
    p.jobs[5].allowed_vehicles = vec!["carol".into()];
    p.vehicles[0].shift = TimeWindow::new(100.0, 50.0);
    p.vehicles[1].break_ = Some(Break {
        window: TimeWindow::new(120.0, 200.0),
        duration: -1.0,
    });
    let got = fields(&p);
    for expected in [
        "jobs[1].location",
        "jobs[2].service",
        "jobs[3].time_windows[0]",
        "jobs[4].id",
        "jobs[5].allowed_vehicles[0]",
        "vehicles[0].shift",
        "vehicles[1].break.duration",
    ] {
        assert!(
            got.iter().any(|f| f == expected),
            "missing {expected} in {got:?}"
        );
    }
    assert!(solve(&p, &options(1, 10)).is_err());
}

#[test]
fn a_total_demand_past_u64_is_rejected_once_at_the_job_that_overflows() {
    let mut p = small_problem(0);
    p.jobs[0].demand = u64::MAX - 1;
    p.jobs[1].demand = 2;
    p.jobs[2].demand = 3;
    assert_eq!(fields(&p), ["jobs[1].demand"]);
}

#[test]
fn empty_fleet_and_size_caps_are_rejected() {
    let mut p = small_problem(0);
    p.vehicles.clear();
    assert_eq!(fields(&p), vec!["vehicles"]);

    let p = small_problem(0);
    let limits = vrptw::Limits {
        max_jobs: 3,
        max_vehicles: 1,
        max_locations: 100,
    };
    let errors = p.validate_with(&limits).unwrap_err();
    let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(got, vec!["vehicles", "jobs"]);
}

#[test]
fn problem_round_trips_through_json() {
    let p = small_problem(1);
    let json = serde_json::to_string(&p).unwrap();
    let back: Problem = serde_json::from_str(&json).unwrap();
    assert_eq!(p, back);
    let solution = solve(&back, &options(1, 50)).unwrap();
    let json = serde_json::to_string(&solution).unwrap();
    assert!(json.contains("\"kind\":\"start\""));
}

#[test]
fn haversine_problem_from_json_solves() {
    let json = r#"{
        "locations": [{"lat": 52.52, "lon": 13.405}, {"lat": 52.50, "lon": 13.45}, {"lat": 52.54, "lon": 13.36}],
        "travel": {"kind": "haversine", "speed_mps": 10.0},
        "vehicles": [{"id": "t1", "start_location": 0, "shift": {"start": 28800, "end": 61200},
                      "break": {"window": {"start": 43200, "end": 46800}, "duration": 1800}, "skills": ["hvac"]}],
        "jobs": [{"id": "j1", "location": 1, "service": 3600, "skills": ["hvac"],
                  "time_windows": [{"start": 32400, "end": 36000}]},
                 {"id": "j2", "location": 2, "service": 1800, "priority": 2}]
    }"#;
    let problem: Problem = serde_json::from_str(json).unwrap();
    let solution = solve(&problem, &options(1, 100)).unwrap();
    assert_feasible(&problem, &solution);
    assert!(solution.unassigned.is_empty());
    assert_eq!(
        solution.routes[0]
            .stops
            .iter()
            .filter(|s| s.kind == StopKind::Break)
            .count(),
        1
    );
}

#[test]
fn allow_lists_restrict_vehicles_without_merging_them() {
    let mut p = small_problem(0);
    p.jobs.truncate(2);
    p.jobs[0].skills.clear();
    p.jobs[1].skills.clear();
    p.jobs[0].time_windows = vec![TimeWindow::new(300.0, 330.0)];
    p.jobs[1].time_windows = vec![];
    // Both technicians are named; only bob's shift reaches job0's window.
    p.vehicles[0].shift = TimeWindow::new(0.0, 200.0);
    p.jobs[0].allowed_vehicles = vec!["alice".into(), "bob".into()];
    p.jobs[1].allowed_vehicles = vec!["alice".into()];
    let solution = solve(&p, &options(1, 100)).unwrap();
    assert_feasible(&p, &solution);
    assert!(solution.unassigned.is_empty(), "{:?}", solution.unassigned);
    let vehicle_of = |job: &str| {
        solution
            .routes
            .iter()
            .find(|r| r.stops.iter().any(|s| s.job_id.as_deref() == Some(job)))
            .map(|r| r.vehicle_id.clone())
    };
    assert_eq!(vehicle_of("job0").as_deref(), Some("bob"));
    assert_eq!(vehicle_of("job1").as_deref(), Some("alice"));
}

/// A field-service day: 300 jobs around a city, 20 technicians with breaks, skills,
/// capacities and several windows. Exercises the break path and the checker at scale.
#[test]
fn city_day_with_breaks_is_feasible() {
    let mut rng = XorShift(0xC0FFEE);
    let mut locations = vec![Location::Geo {
        lat: 48.85,
        lon: 2.35,
    }];
    let mut jobs = Vec::new();
    for i in 0..300 {
        locations.push(Location::Geo {
            lat: 48.85 + rng.range(-0.1, 0.1),
            lon: 2.35 + rng.range(-0.15, 0.15),
        });
        let start = 8.0 * 3600.0 + rng.range(0.0, 7.0) * 3600.0;
        let mut time_windows = vec![TimeWindow::new(start, start + 2.0 * 3600.0)];
        if i % 5 == 0 {
            time_windows.push(TimeWindow::new(start + 4.0 * 3600.0, start + 5.0 * 3600.0));
        }
        jobs.push(Job {
            id: format!("j{i}"),
            location: i + 1,
            time_windows,
            service: rng.range(10.0, 45.0) * 60.0,
            skills: if i % 7 == 0 {
                vec!["gas".into()]
            } else {
                vec![]
            },
            priority: 1.0 + (i % 3) as f64,
            demand: 1,
            allowed_vehicles: vec![],
        });
    }
    let vehicles = (0..20)
        .map(|k| Vehicle {
            id: format!("tech{k}"),
            start_location: 0,
            end_location: None,
            shift: TimeWindow::new(7.5 * 3600.0, 17.5 * 3600.0),
            break_: Some(Break {
                window: TimeWindow::new(12.0 * 3600.0, 13.5 * 3600.0),
                duration: 1800.0,
            }),
            skills: if k % 4 == 0 {
                vec!["gas".into()]
            } else {
                vec![]
            },
            capacity: Some(14),
            fixed_cost: 50.0,
        })
        .collect();
    let problem = Problem {
        locations,
        travel: TravelModel::Haversine { speed_mps: 8.0 },
        vehicles,
        jobs,
    };
    let solution = solve(&problem, &options(7, 200)).unwrap();
    assert_feasible(&problem, &solution);
    assert!(solution.routes.len() <= 20);
    assert!(
        solution.routes.iter().all(|r| r
            .stops
            .iter()
            .filter(|s| s.kind == StopKind::Break)
            .count()
            == 1)
    );
    // 20 x 14 capacity < 300 jobs: some must stay unassigned, never silently dropped.
    assert_eq!(
        solution
            .routes
            .iter()
            .map(|r| r.load as usize)
            .sum::<usize>()
            + solution.unassigned.len(),
        300
    );
}
