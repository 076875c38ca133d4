//! Module-owned collections: storage a module declares in its manifest (`collections`) rather
//! than tables our migrations create. Each module's collections live in a schema of its own
//! ([`schema`]), created when a version is published ([`install`]) in the same tenant shape
//! and under the same RLS policy as the `store` tables, so the store compiles calls on them
//! exactly as on a store table. A module reaches only its own, by their bare names: the store
//! resolves a collection through the calling module's manifest, never through a name the
//! module passes. Upgrades may only add ([`changes`]). When a tenant stops using a module its
//! rows stay for a retention period, exportable, then the pruning job deletes them
//! ([`retention`]).

pub mod changes;
mod install;
pub mod retention;
pub mod schema;
pub mod spec;

pub use install::install;
pub use schema::schema_name;
pub use spec::{Collection, Collections};
