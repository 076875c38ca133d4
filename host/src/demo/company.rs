//! The demo company, drawn from a seed: a lawn and pest company in Austin, TX. Everything
//! here is a plain plan (names, coordinates, skills, which technician does which visit on which
//! day), computed from `(size, seed)` alone by a ChaCha RNG, so the same seed always gives the
//! same company; `seed.rs` then creates it through the modules. Dates are relative to `today`.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Austin, TX (the city hall), the centre of the service area.
pub const CITY_LATITUDE: f64 = 30.2672;
pub const CITY_LONGITUDE: f64 = -97.7431;
/// The service area's radius, in degrees of latitude (about 25 km).
const AREA_DEGREES: f64 = 0.22;
pub const TIME_ZONE: &str = "America/Chicago";
pub const HISTORY_DAYS: i64 = 90;

/// The company account (`PATCH /v1/account`): who prints on the demo's invoices, its
/// currency, locale and hours (Monday to Saturday 08:00-17:00, as its technicians work),
/// Travis County's 8.25 % sales tax.
pub fn account() -> serde_json::Value {
    let day = serde_json::json!([{"open": "08:00", "close": "17:00"}]);
    serde_json::json!({
        "legal_name": "Demo Pest & Lawn LLC",
        "address_lines": ["301 W 2nd St", "Austin, TX 78701"],
        "phone": "+15125550100",
        "currency": "USD",
        "locale": "en-US",
        "business_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day},
        "tax_percent_e4": 82_500,
        "tax_inclusive": false,
        "invoice_prefix": "DPL",
        "payment_terms_days": 15,
        "brand_color": "#2f7d32",
    })
}
pub const SCHEDULED_DAYS: i64 = 14;

/// The hour-long arrival windows a technician's day is cut into, one visit each (no
/// service lasts longer than an hour, so neighbouring visits never overlap).
pub const WINDOWS: [(&str, &str); 8] = [
    ("08:00", "09:00"),
    ("09:00", "10:00"),
    ("10:00", "11:00"),
    ("11:00", "12:00"),
    ("13:00", "14:00"),
    ("14:00", "15:00"),
    ("15:00", "16:00"),
    ("16:00", "17:00"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Medium,
    Large,
}

/// How big each size is. `large` is the benchmark's company: 150 technicians and, at 1,124
/// visits a day over the 89 working days of any 105 (Sundays and today off), 100,036 jobs.
struct Counts {
    customers: usize,
    technicians: usize,
    jobs_per_day: usize,
    agreements: usize,
}

impl Size {
    fn counts(self) -> Counts {
        match self {
            Size::Small => Counts {
                customers: 30,
                technicians: 4,
                jobs_per_day: 2,
                agreements: 5,
            },
            Size::Medium => Counts {
                customers: 500,
                technicians: 15,
                jobs_per_day: 40,
                agreements: 60,
            },
            Size::Large => Counts {
                customers: 5_000,
                technicians: 150,
                jobs_per_day: 1_124,
                agreements: 600,
            },
        }
    }
}

pub struct ServiceType {
    pub name: &'static str,
    pub minutes: i64,
    pub price_minor: i64,
    pub skill: &'static str,
}

/// The catalog every demo company sells (prices in US cents).
pub const SERVICE_TYPES: [ServiceType; 6] = [
    ServiceType {
        name: "Lawn mowing",
        minutes: 45,
        price_minor: 6_500,
        skill: "lawn",
    },
    ServiceType {
        name: "Fertilization",
        minutes: 30,
        price_minor: 8_900,
        skill: "lawn",
    },
    ServiceType {
        name: "Irrigation check",
        minutes: 60,
        price_minor: 12_000,
        skill: "irrigation",
    },
    ServiceType {
        name: "General pest control",
        minutes: 45,
        price_minor: 11_500,
        skill: "pest",
    },
    ServiceType {
        name: "Termite inspection",
        minutes: 60,
        price_minor: 15_000,
        skill: "termite",
    },
    ServiceType {
        name: "Mosquito treatment",
        minutes: 30,
        price_minor: 7_900,
        skill: "pest",
    },
];

const SKILLS: [&str; 4] = ["lawn", "irrigation", "pest", "termite"];
const FIRST: [&str; 16] = [
    "Maria", "James", "Ana", "Robert", "Linda", "Carlos", "Emily", "David", "Sofia", "Michael",
    "Grace", "Luis", "Hannah", "Daniel", "Olivia", "Miguel",
];
const LAST: [&str; 16] = [
    "Garcia",
    "Smith",
    "Martinez",
    "Johnson",
    "Lopez",
    "Brown",
    "Nguyen",
    "Davis",
    "Hernandez",
    "Wilson",
    "Anderson",
    "Perez",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
];
const STREETS: [&str; 12] = [
    "Congress Ave",
    "Lamar Blvd",
    "Guadalupe St",
    "Burnet Rd",
    "Manor Rd",
    "Riverside Dr",
    "Oltorf St",
    "Cesar Chavez St",
    "Airport Blvd",
    "Slaughter Ln",
    "Parmer Ln",
    "Bee Cave Rd",
];
const BUSINESSES: [&str; 8] = [
    "Cafe",
    "Dental",
    "Apartments",
    "Church",
    "School",
    "Offices",
    "Market",
    "Clinic",
];

pub struct Customer {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub commercial: bool,
    pub street: String,
    pub postal_code: String,
    pub latitude: f64,
    pub longitude: f64,
}

pub struct Technician {
    pub name: String,
    pub email: String,
    pub skills: Vec<&'static str>,
    pub home_latitude: f64,
    pub home_longitude: f64,
}

/// One visit: on `day` (relative to today, negative in the past), in window `window`, by
/// `technician`, for `customer`'s location, doing `service`.
pub struct Visit {
    pub day: i64,
    pub window: usize,
    pub technician: usize,
    pub customer: usize,
    pub service: usize,
    /// A past visit the customer cancelled rather than one done and invoiced.
    pub cancelled: bool,
    /// A past invoice still unpaid (for days sales outstanding).
    pub unpaid: bool,
}

pub struct Agreement {
    pub customer: usize,
    pub service: usize,
    pub price_minor: i64,
}

pub struct Company {
    pub customers: Vec<Customer>,
    pub technicians: Vec<Technician>,
    pub agreements: Vec<Agreement>,
    pub visits: Vec<Visit>,
}

impl Company {
    /// The company for `(size, seed)` with visits around `today`.
    pub fn draw(size: Size, seed: u64, today: NaiveDate) -> Self {
        let counts = size.counts();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let customers = (0..counts.customers)
            .map(|i| customer(&mut rng, i))
            .collect();
        let technicians: Vec<Technician> = (0..counts.technicians)
            .map(|i| technician(&mut rng, i))
            .collect();
        let agreements = (0..counts.agreements)
            .map(|i| Agreement {
                customer: i * counts.customers / counts.agreements.max(1),
                service: rng.random_range(0..SERVICE_TYPES.len()),
                price_minor: rng.random_range(40..=120) * 100,
            })
            .collect();
        let visits = visits(&mut rng, &counts, &technicians, today);
        Self {
            customers,
            technicians,
            agreements,
            visits,
        }
    }
}

fn person(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{} {}",
        FIRST.choose(rng).unwrap(),
        LAST.choose(rng).unwrap()
    )
}

fn customer(rng: &mut ChaCha8Rng, index: usize) -> Customer {
    let commercial = rng.random_bool(0.2);
    let name = if commercial {
        format!(
            "{} {}",
            LAST.choose(rng).unwrap(),
            BUSINESSES.choose(rng).unwrap()
        )
    } else {
        person(rng)
    };
    // Uniform over a disc: the square root keeps the density even towards the edge.
    let radius = AREA_DEGREES * rng.random::<f64>().sqrt();
    let angle = rng.random::<f64>() * std::f64::consts::TAU;
    let latitude = CITY_LATITUDE + radius * angle.sin();
    let longitude = CITY_LONGITUDE + radius * angle.cos() / CITY_LATITUDE.to_radians().cos();
    Customer {
        email: format!("customer{index}@example.com"),
        phone: format!("+1512555{:04}", index % 10_000),
        commercial,
        street: format!(
            "{} {}",
            rng.random_range(100..9_999),
            STREETS.choose(rng).unwrap()
        ),
        postal_code: format!("787{:02}", rng.random_range(1..=59)),
        latitude: round6(latitude),
        longitude: round6(longitude),
        name,
    }
}

fn technician(rng: &mut ChaCha8Rng, index: usize) -> Technician {
    // Everyone mows and treats pests; some also do irrigation or termites.
    let mut skills = vec![SKILLS[0], SKILLS[2]];
    skills.extend(
        SKILLS
            .iter()
            .filter(|s| ["irrigation", "termite"].contains(s) && rng.random_bool(0.5)),
    );
    Technician {
        name: person(rng),
        email: format!("tech{index}@demo.verofield.test"),
        skills,
        home_latitude: round6(CITY_LATITUDE + rng.random_range(-0.1..0.1)),
        home_longitude: round6(CITY_LONGITUDE + rng.random_range(-0.1..0.1)),
    }
}

/// `jobs_per_day` visits a day from 90 days ago to 14 days ahead (Sundays off), each in a
/// free window of a technician who has the service's skill.
fn visits(
    rng: &mut ChaCha8Rng,
    counts: &Counts,
    technicians: &[Technician],
    today: NaiveDate,
) -> Vec<Visit> {
    let slots = technicians.len() * WINDOWS.len();
    let per_day = counts.jobs_per_day.min(slots);
    let mut visits = Vec::new();
    for day in -HISTORY_DAYS..=SCHEDULED_DAYS {
        if (today + Duration::days(day)).weekday() == Weekday::Sun || day == 0 {
            continue;
        }
        // Slots of the day in a shuffled order, so the load spreads over technicians.
        let mut free: Vec<usize> = (0..slots).collect();
        rand::seq::SliceRandom::shuffle(free.as_mut_slice(), rng);
        for slot in free.into_iter().take(per_day) {
            let technician = slot % technicians.len();
            let skills = &technicians[technician].skills;
            let doable: Vec<usize> = (0..SERVICE_TYPES.len())
                .filter(|&s| skills.contains(&SERVICE_TYPES[s].skill))
                .collect();
            let past = day < 0;
            visits.push(Visit {
                day,
                window: slot / technicians.len(),
                technician,
                customer: rng.random_range(0..counts.customers),
                service: *doable.choose(rng).unwrap(),
                cancelled: past && rng.random_bool(0.05),
                unpaid: past && day > -45 && rng.random_bool(0.3),
            });
        }
    }
    visits
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    #[test]
    fn the_same_seed_draws_the_same_company() {
        let a = Company::draw(Size::Small, 7, today());
        let b = Company::draw(Size::Small, 7, today());
        let c = Company::draw(Size::Small, 8, today());
        let names = |c: &Company| {
            c.customers
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        assert_ne!(names(&a), names(&c));
    }

    #[test]
    fn customers_live_within_the_austin_area() {
        for customer in Company::draw(Size::Medium, 1, today()).customers {
            assert!((customer.latitude - CITY_LATITUDE).abs() <= AREA_DEGREES + 1e-6);
            assert!((customer.longitude - CITY_LONGITUDE).abs() <= 0.3);
        }
    }

    #[test]
    fn a_technician_has_one_visit_per_window_and_the_skill_for_it() {
        let company = Company::draw(Size::Medium, 3, today());
        let mut taken = std::collections::HashSet::new();
        for visit in &company.visits {
            assert!(taken.insert((visit.day, visit.window, visit.technician)));
            let skill = SERVICE_TYPES[visit.service].skill;
            assert!(
                company.technicians[visit.technician]
                    .skills
                    .contains(&skill)
            );
        }
    }

    #[test]
    fn large_is_the_benchmark_company() {
        let counts = Size::Large.counts();
        assert!(counts.technicians >= 50);
        assert!(counts.jobs_per_day <= counts.technicians * WINDOWS.len());
        assert!(counts.jobs_per_day * 89 >= 100_000);
    }
}
