//! `crm.customer_defaults` (docs/EXTENSIONS.md): on create, the tenant's extensions may fill
//! the customer's fields the client left unset. Only `kind`, `status`, `tags` and `notes` are
//! fillable: they describe how the tenant files a customer, while the name, e-mail, phone and
//! billing address are facts only the client knows, and `custom` is checked by the host
//! against the tenant's definitions after us. A member the client sent (even `[]`) is never
//! replaced. The host checks the chain's answer against the point's schema, which types the
//! fillable members as [`CustomerFields`] checks them; the CRM still normalizes and
//! validates the filled body as any other.

use serde::Deserialize;
use serde_json::json;
use verofield_sdk::{Patch, Problem, extensions};

use crate::customers::{CustomerFields, Kind, Status};

pub const POINT: &str = "crm.customer_defaults";

/// The fillable members of the chain's answer; the rest is ignored.
#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize)]
pub struct Defaults {
    pub kind: Patch<Kind>,
    pub status: Patch<Status>,
    pub tags: Patch<Vec<String>>,
    pub notes: Patch<String>,
}

#[derive(Deserialize)]
struct Answer {
    customer: Defaults,
}

/// The tenant's defaults for this customer (none when nothing is installed).
pub fn run(fields: &CustomerFields) -> Result<Defaults, Problem> {
    let answer: Answer = extensions::run(POINT, &json!({ "customer": fields }))?;
    Ok(answer.customer)
}

/// `slot` takes `default` when the client left it unset (absent).
pub fn fill<T>(slot: &mut Patch<T>, default: Patch<T>) {
    if slot.is_absent() && !default.is_absent() {
        *slot = default;
    }
}
