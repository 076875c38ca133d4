//! `routing.job_priority` (docs/EXTENSIONS.md): before the solver weighs a day's jobs, the
//! tenant's extensions may raise or lower each job's priority (1, the most urgent, to 5).
//! Each job is shown with what a rule would look at: its service types (id and name), skills,
//! window, custom fields, and its customer's id and tags. The jobs go in runs of at most
//! [`RUN`] (the point's limit, which keeps one run's answer within the extensions' output
//! cap), so a rule sees a job with its own facts, not the whole day. The host checks the
//! answer (the same jobs in the same order, priorities in range); with nothing installed, or
//! every extension failed, the priorities are the jobs' own.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use verofield_sdk::store::Record;
use verofield_sdk::{Problem, extensions};

use crate::day::{JobRow, by_ids};
use crate::{CUSTOMERS, SERVICE_TYPES};

pub const POINT: &str = "routing.job_priority";
/// Jobs in one run of the point (`host/src/extensions/job_priority.rs`, `MAX_JOBS`).
const RUN: usize = 100;
/// A job's priority when it has none.
pub const DEFAULT_PRIORITY: i64 = 3;

#[derive(Debug, Deserialize)]
struct Customer {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct ServiceType {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    jobs: Vec<Prioritized>,
}

#[derive(Deserialize)]
struct Prioritized {
    id: String,
    priority: i64,
}

/// Rows by lower-case id.
fn keyed<T: serde::de::DeserializeOwned>(
    table: &str,
    ids: impl Iterator<Item = String>,
) -> Result<BTreeMap<String, T>, Problem> {
    let ids: Vec<String> = ids
        .filter(|id| verofield_sdk::http::is_uuid(id))
        .map(|id| id.to_ascii_lowercase())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(by_ids::<T>(table, &ids)?
        .into_iter()
        .map(|row| (row.id.to_ascii_lowercase(), row.values))
        .collect())
}

/// The priority of every job of `date`, by job id, as the tenant's extensions leave it.
pub fn of(date: &str, jobs: &[Record<JobRow>]) -> Result<BTreeMap<String, i64>, Problem> {
    let customers: BTreeMap<String, Customer> = keyed(
        CUSTOMERS,
        jobs.iter().filter_map(|job| job.values.customer_id.clone()),
    )?;
    let services: BTreeMap<String, ServiceType> = keyed(
        SERVICE_TYPES,
        jobs.iter()
            .flat_map(|job| job.values.service_type_ids.clone().unwrap_or_default()),
    )?;
    let shown: Vec<Value> = jobs
        .iter()
        .map(|job| {
            let v = &job.values;
            let customer = v
                .customer_id
                .as_ref()
                .and_then(|id| customers.get(&id.to_ascii_lowercase()));
            let service_types: Vec<Value> = v
                .service_type_ids
                .iter()
                .flatten()
                .map(|id| {
                    let name = services
                        .get(&id.to_ascii_lowercase())
                        .and_then(|service| service.name.clone());
                    json!({"id": id, "name": name.unwrap_or_default()})
                })
                .collect();
            json!({
                "id": job.id,
                "priority": v.priority.unwrap_or(DEFAULT_PRIORITY).clamp(1, 5),
                "service_types": service_types,
                "required_skills": v.required_skills.clone().unwrap_or_default(),
                "customer_id": v.customer_id,
                "customer_tags": customer.and_then(|c| c.tags.clone()).unwrap_or_default(),
                "window_start": v.window_start,
                "window_end": v.window_end,
                "custom": v.custom.clone().filter(Value::is_object).unwrap_or(json!({})),
            })
        })
        .collect();
    let mut priorities = BTreeMap::new();
    for run in shown.chunks(RUN) {
        let answer: Answer = extensions::run(POINT, &json!({"date": date, "jobs": run}))?;
        priorities.extend(answer.jobs.into_iter().map(|job| (job.id, job.priority)));
    }
    Ok(priorities)
}
