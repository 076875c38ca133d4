//! The technicians module (slot `technicians`): technician profiles (optionally linked to a
//! user), their skills, weekly working hours in their own time zone, home base and active
//! flag, and their time off. Reads need `technicians.read`, writes `technicians.manage`.

mod records;
mod technicians;
mod time_off;

use records::{Technician, TimeOff};
use technicians::TechnicianFields;
use time_off::TimeOffFields;
use verofield_sdk::{Manifest, Module, Page, Record, Route, Tables};

const READ: &str = "technicians.read";
const MANAGE: &str = "technicians.manage";

struct Technicians;

impl Module for Technicians {
    const MANIFEST: Manifest = Manifest {
        name: "technicians",
        version: env!("CARGO_PKG_VERSION"),
        slot: "technicians",
        routes: &[
            Route::post("/", MANAGE, technicians::create)
                .summary("Create a technician (name required)")
                .request::<TechnicianFields>()
                .responds::<Record<Technician>>(201),
            Route::get("/", READ, technicians::list)
                .summary("List technicians (active, skill, q, user_id, cursor, limit)")
                .responds::<Page<Technician>>(200),
            Route::get("/{id}", READ, technicians::show)
                .summary("A technician (ETag)")
                .responds::<Record<Technician>>(200),
            Route::patch("/{id}", MANAGE, technicians::update)
                .summary("Change a technician (If-Match)")
                .request::<TechnicianFields>()
                .responds::<Record<Technician>>(200),
            Route::delete("/{id}", MANAGE, technicians::delete).summary("Delete a technician"),
            Route::post("/{id}/time-off", MANAGE, time_off::create)
                .summary("Record time off")
                .request::<TimeOffFields>()
                .responds::<Record<TimeOff>>(201),
            Route::get("/{id}/time-off", READ, time_off::list)
                .summary("A technician's time off (cursor, limit)")
                .responds::<Page<TimeOff>>(200),
            Route::delete("/{id}/time-off/{time_off_id}", MANAGE, time_off::delete)
                .summary("Delete time off"),
        ],
        tables: Tables {
            read: &[],
            write: &[
                verofield_field_ops::TECHNICIANS,
                verofield_field_ops::TIME_OFF,
            ],
        },
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Technicians);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_routes_and_permissions() {
        let manifest: serde_json::Value =
            serde_json::from_str(&Technicians::MANIFEST.to_json()).unwrap();
        assert_eq!(manifest["slot"], "technicians");
        for route in manifest["routes"].as_array().unwrap() {
            let expected = if route["method"] == "GET" {
                READ
            } else {
                MANAGE
            };
            assert_eq!(route["permission"], expected, "{route}");
        }
    }
}
