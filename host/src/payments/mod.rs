//! Payments through Stripe, on the host: no module ever holds a Stripe key.
//!
//! - [`stripe`]: the API client (form encoding, `Stripe-Account`, pinned `Stripe-Version`,
//!   idempotency keys `vf-<tenant>-<module key>`, retries with the same key), through
//!   `outbound::Outbound`.
//! - [`backend`]: the `payments` capability's backend for one module call: the tenant's
//!   connected account read in the call's transaction, then [`stripe`].
//! - [`accounts`]: the tenant's connected account (`payments.stripe_accounts`).
//! - [`signature`]: `Stripe-Signature` verification.
//! - [`webhook`]: verified events, deduplicated, routed by account, into the tenant's outbox.
//!
//! The WIT side is `runtime/capabilities/payments.rs`; the HTTP side `http/payments.rs`.

pub mod accounts;
pub mod backend;
pub mod signature;
pub mod stripe;
pub mod webhook;

pub use self::stripe::{Stripe, StripeSettings};
