//! The account module (slot `account`): the company account of a tenant at `/v1/account`,
//! one row per tenant (`store.company_accounts`, migration 0026, made at provisioning).
//! Everyone in the tenant reads it (`account.read`, held by every built-in role); changing
//! it takes `settings.manage`. The other modules read the same row through a `tables.read`
//! grant (`verofield_field_ops::account`): billing's invoice prefix, payment terms, legal
//! name, address and currency come from here.
//!
//! - `fields.rs` is the answer, the PATCH body and every field's check (one 422 naming each);
//! - `hours.rs` is business hours per weekday;
//! - `account.rs` is `GET` and `PATCH /` (ETag, `If-Match`, `account.updated`);
//! - `logo.rs` is the logo: a PNG or JPEG of at most 256 KiB, recognised by its bytes.
//!
//! The time zone is the tenant's (`context.tenant-time-zone`, where the scheduler and the
//! aggregates read it): the account shows it and does not keep a second copy.

mod account;
mod fields;
mod hours;
mod logo;

use fields::{Account, AccountFields};
use verofield_field_ops::account::{ACCOUNTS, LOGOS};
use verofield_sdk::{Events, Manifest, Module, Record, Route, Tables};

/// Reading the account: every built-in role holds it.
const READ: &str = "account.read";
/// Changing it.
const MANAGE: &str = "settings.manage";

struct Accounts;

impl Module for Accounts {
    const MANIFEST: Manifest = Manifest {
        name: "accounts",
        version: env!("CARGO_PKG_VERSION"),
        slot: "account",
        routes: &[
            Route::get("/", READ, account::show)
                .summary("The company account (ETag)")
                .responds::<Record<Account>>(200),
            Route::patch("/", MANAGE, account::update)
                .summary("Change the company account (If-Match)")
                .request::<AccountFields>()
                .responds::<Record<Account>>(200),
            Route::put("/logo", MANAGE, logo::replace)
                .summary("Upload the logo: a PNG or JPEG body of at most 256 KiB")
                .responds::<Record<Account>>(200),
            Route::get("/logo", READ, logo::show)
                .summary("The logo's bytes, with its content type (ETag)"),
            Route::delete("/logo", MANAGE, logo::delete)
                .summary("Remove the logo")
                .responds::<Record<Account>>(200),
        ],
        tables: Tables {
            read: &[],
            write: &[ACCOUNTS, LOGOS],
        },
        events: Events::emitting(&[account::ACCOUNT_UPDATED]),
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Accounts);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_take_account_read_and_changes_settings_manage() {
        let manifest: serde_json::Value =
            serde_json::from_str(&Accounts::MANIFEST.to_json()).unwrap();
        assert_eq!(manifest["slot"], "account");
        for route in manifest["routes"].as_array().unwrap() {
            let read = route["method"] == "GET";
            assert_eq!(
                route["permission"],
                if read { READ } else { MANAGE },
                "{route}"
            );
        }
    }
}
