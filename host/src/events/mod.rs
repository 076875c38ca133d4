//! Events: the outbox modules and the host write into, and its delivery to subscribers.
//!
//! - [`outbox`]: appending an event in the writer's own transaction (it commits with the data).
//! - [`dispatch`]: every host's dispatcher: fan-out, claims with leases, retries, dead letters.
//! - [`deliveries`]: the SQL of fan-out, claims and attempts' ends, per tenant.
//! - [`subscribers`]: who receives an event (modules by their manifest, webhook endpoints).
//! - [`retry`]: when a failed delivery is tried again, and when given up.
//! - [`types`]: event type names and the patterns (`job.*`) subscriptions and filters use.

pub mod deliveries;
pub mod dispatch;
pub mod outbox;
pub mod retry;
pub mod subscribers;
pub mod types;

pub use self::dispatch::{DispatchSettings, Dispatcher};
pub use self::outbox::{NewEvent, OutboxSink, append};
pub use self::retry::RetryPolicy;
