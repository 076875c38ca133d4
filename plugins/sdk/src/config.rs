//! The tenant's configuration and secrets for this module (the `config` import), as the
//! tenant's admins set them through `PUT /v1/tenant/modules/{slot}/config`. Declare them in
//! the manifest ([`crate::manifest::Config`]): the configuration's JSON Schema (the host
//! checks every configuration against it) and the secret names (the only ones [`secret`]
//! answers). Each call reads the calling tenant's settings of this module only.

use serde::de::DeserializeOwned;

use crate::bindings::verofield::platform::config as wit;
use crate::problem::Problem;

/// The configuration as JSON (`{}` when the tenant set none).
pub fn get() -> serde_json::Value {
    serde_json::from_str(&wit::get()).unwrap_or_else(|_| serde_json::json!({}))
}

/// The configuration as `T` (whose fields should default, since a tenant may set nothing);
/// a 500 problem when it does not fit, which the schema should make impossible.
pub fn get_as<T: DeserializeOwned>() -> Result<T, Problem> {
    serde_json::from_str(&wit::get())
        .map_err(|_| Problem::internal("the module's configuration does not fit its type"))
}

/// The secret of this name as the tenant set it; none when unset or not declared.
pub fn secret(name: &str) -> Option<String> {
    wit::secret(name)
}
