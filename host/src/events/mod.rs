//! Events: the outbox modules and the host write into, and its delivery to subscribers.
//!
//! - [`outbox`]: appending an event in the writer's own transaction (it commits with the data).

pub mod outbox;

pub use self::outbox::{NewEvent, OutboxSink, append};
