//! Creates a drawn [`Company`] in a tenant through the modules, as its owner would through
//! the API ([`ActingUser`]): service types, technicians, customers with a location each,
//! agreements (activated), then every visit: past ones scheduled, assigned, driven through
//! `dispatched -> en_route -> in_progress -> completed`, drafted into an invoice, finalized and
//! (mostly) paid on the visit's day; future ones scheduled and assigned.
//!
//! The modules stamp status changes with the host's clock: nothing lets a caller forge time
//! (an operator-only back-dating path was weighed and left out, docs/ARCHITECTURE.md "Demo
//! data"), so a past visit keeps its past date and window while its `completed_at` is the
//! moment the demo ran; payments carry their day (`received_on`), which billing accepts.

use chrono::{Duration, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

use super::company::{self, Company, SERVICE_TYPES, TIME_ZONE, WINDOWS};
use crate::error::Result;
use crate::registry::acting::ActingUser;

/// What was created, printed at the end.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub service_types: usize,
    pub technicians: usize,
    pub customers: usize,
    pub agreements: usize,
    pub jobs_completed: usize,
    pub jobs_cancelled: usize,
    pub jobs_scheduled: usize,
    pub invoices: usize,
    pub invoices_paid: usize,
}

impl Summary {
    pub fn describe(&self) -> String {
        format!(
            "{} service types, {} technicians, {} customers, {} agreements; jobs: {} completed, \
             {} cancelled, {} scheduled; {} invoices ({} paid)",
            self.service_types,
            self.technicians,
            self.customers,
            self.agreements,
            self.jobs_completed,
            self.jobs_cancelled,
            self.jobs_scheduled,
            self.invoices,
            self.invoices_paid
        )
    }
}

/// Creates `company` for `owner`'s tenant, with a progress bar on stderr (hidden when stderr
/// is not a terminal) counting module calls' units of work.
pub async fn create(owner: &ActingUser, company: &Company, today: NaiveDate) -> Result<Summary> {
    let work = SERVICE_TYPES.len()
        + company.technicians.len()
        + company.customers.len()
        + company.agreements.len()
        + company.visits.len();
    let bar = ProgressBar::new(work as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({eta} left)")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut summary = Summary::default();

    bar.set_message("account");
    owner
        .send("PATCH", "/account", Some(&company::account()))
        .await?;

    bar.set_message("service types");
    let mut services = Vec::new();
    for service in &SERVICE_TYPES {
        let body = json!({"name": service.name, "default_duration_minutes": service.minutes,
            "default_price_minor": service.price_minor, "currency": "USD",
            "required_skills": [service.skill]});
        services.push(id_of(
            &owner
                .send("POST", "/jobs/service-types", Some(&body))
                .await?,
        ));
        summary.service_types += 1;
        bar.inc(1);
    }

    bar.set_message("technicians");
    let hours = json!([{"start": "08:00", "end": "17:00"}]);
    let week = json!({"mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours,
        "sat": hours});
    let mut technicians = Vec::new();
    for technician in &company.technicians {
        let body = json!({"name": technician.name, "email": technician.email,
            "skills": technician.skills, "time_zone": TIME_ZONE, "working_hours": week,
            "home_latitude": technician.home_latitude,
            "home_longitude": technician.home_longitude});
        technicians.push(id_of(
            &owner.send("POST", "/technicians", Some(&body)).await?,
        ));
        summary.technicians += 1;
        bar.inc(1);
    }

    bar.set_message("customers");
    let mut places = Vec::new();
    for customer in &company.customers {
        let created = owner
            .send("POST", "/crm/customers", Some(&customer_body(customer)))
            .await?;
        let customer_id = id_of(&created);
        let location = owner
            .send(
                "POST",
                &format!("/crm/customers/{customer_id}/locations"),
                Some(&location_body(customer)),
            )
            .await?;
        places.push((customer_id, id_of(&location)));
        summary.customers += 1;
        bar.inc(1);
    }

    bar.set_message("agreements");
    for agreement in &company.agreements {
        let (customer_id, location_id) = &places[agreement.customer];
        let body = json!({"customer_id": customer_id, "name": format!("{} plan",
            SERVICE_TYPES[agreement.service].name), "location_ids": [location_id],
            "service_type_ids": [services[agreement.service]], "recurrence": "FREQ=MONTHLY",
            "start_time": "09:00", "end_time": "12:00", "time_zone": TIME_ZONE,
            "pricing": "per_period", "price_minor": agreement.price_minor, "currency": "USD",
            "billing_frequency": "monthly",
            "starts_on": (today - Duration::days(company::HISTORY_DAYS)).to_string(),
            "auto_renew": true, "horizon_days": 1});
        let created = owner.send("POST", "/agreements", Some(&body)).await?;
        owner
            .send(
                "POST",
                &format!("/agreements/{}/activate", id_of(&created)),
                None,
            )
            .await?;
        summary.agreements += 1;
        bar.inc(1);
    }

    bar.set_message("visits");
    for visit in &company.visits {
        let (customer_id, location_id) = &places[visit.customer];
        let (start, end) = WINDOWS[visit.window];
        let date = today + Duration::days(visit.day);
        let body = json!({"customer_id": customer_id, "location_id": location_id,
            "service_type_ids": [services[visit.service]], "scheduled_date": date.to_string(),
            "window_start_local": start, "window_end_local": end, "time_zone": TIME_ZONE});
        let job = id_of(&owner.send("POST", "/jobs", Some(&body)).await?);
        let technician = json!({"technician_ids": [technicians[visit.technician]]});
        owner
            .send(
                "POST",
                &format!("/jobs/{job}/assignments"),
                Some(&technician),
            )
            .await?;
        if visit.day > 0 {
            summary.jobs_scheduled += 1;
        } else if visit.cancelled {
            move_job(owner, &job, "canceled", None).await?;
            summary.jobs_cancelled += 1;
        } else {
            complete(owner, &job, visit.service).await?;
            summary.jobs_completed += 1;
            let paid = invoice(owner, &job, (!visit.unpaid).then_some(date)).await?;
            summary.invoices += 1;
            summary.invoices_paid += usize::from(paid);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

async fn move_job(owner: &ActingUser, job: &str, to: &str, extra: Option<Value>) -> Result<()> {
    let mut body = json!({"status": to});
    if let Some(completion) = extra {
        body["completion"] = completion;
    }
    owner
        .send("POST", &format!("/jobs/{job}/status"), Some(&body))
        .await
        .map(drop)
}

async fn complete(owner: &ActingUser, job: &str, service: usize) -> Result<()> {
    for step in ["dispatched", "en_route", "in_progress"] {
        move_job(owner, job, step, None).await?;
    }
    let completion = json!({"work_minutes": SERVICE_TYPES[service].minutes,
        "notes": "Done; customer informed."});
    move_job(owner, job, "completed", Some(completion)).await
}

/// Drafts the job's invoice, finalizes it and, given a day, records its payment in full.
async fn invoice(owner: &ActingUser, job: &str, paid_on: Option<NaiveDate>) -> Result<bool> {
    let draft = owner
        .send(
            "POST",
            "/billing/invoices/from-job",
            Some(&json!({"job_id": job})),
        )
        .await?;
    let id = id_of(&draft);
    let open = owner
        .send("POST", &format!("/billing/invoices/{id}/finalize"), None)
        .await?;
    let Some(day) = paid_on else {
        return Ok(false);
    };
    let payment = json!({"amount_minor": open["total_minor"], "currency": "USD",
        "method": "check", "received_on": day.to_string()});
    owner
        .send(
            "POST",
            &format!("/billing/invoices/{id}/payments"),
            Some(&payment),
        )
        .await?;
    Ok(true)
}

fn customer_body(customer: &company::Customer) -> Value {
    json!({"name": customer.name, "email": customer.email, "phone": customer.phone,
        "kind": if customer.commercial { "commercial" } else { "residential" },
        "billing_address": address(customer)})
}

fn location_body(customer: &company::Customer) -> Value {
    json!({"label": if customer.commercial { "Site" } else { "Home" },
        "address": address(customer), "latitude": customer.latitude,
        "longitude": customer.longitude})
}

fn address(customer: &company::Customer) -> Value {
    json!({"line1": customer.street, "city": "Austin", "region": "TX",
        "postal_code": customer.postal_code, "country": "US"})
}

/// The `id` of a created record.
fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap_or_default().to_owned()
}
