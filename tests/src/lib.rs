//! The black-box test harness: the real `verofield` binary, spawned as a child process,
//! against a real PostgreSQL. The suites under `tests/tests/testsuite/` use it; nothing here mocks
//! anything.
//!
//! * PostgreSQL: `DATABASE_URL` when set (used as the admin connection), otherwise one
//!   embedded cluster under `<target>/test-pg`, started with the host's own launcher and left
//!   running between test runs (the next test process attaches). Stop it with
//!   `pg_ctl -D target/test-pg/data -m fast stop` (as the `postgres` user when root).
//! * Every server gets a fresh database (`vf_test_<uuid>`), dropped again when the test
//!   passes (kept, and named on stderr, when it fails).
//! * The binary is built once per test process with `cargo build -p verofield` (or taken
//!   from `VEROFIELD_BIN`).
//! * [`TestServer`] spawns `verofield serve --listen 127.0.0.1:0`, waits for its
//!   `verofield listening on http://ADDR` line, and kills it on drop. Its stderr goes to a
//!   file in its data directory and is printed when a test fails.
//!
//! One module per concern, each re-exported here so the suites `use verofield_tests::*`:
//!
//! * `env`: the process-wide set-up (server binary, PostgreSQL admin URL).
//! * `temp`: temporary directories and databases, kept when a test fails.
//! * `server`: [`TestServer`] and [`ServerOptions`], the server process.
//! * `cli`: [`run_cli`], the `verofield` subcommands.
//! * `http`: [`Api`] and [`Resp`], the client and what the suites assert on.
//! * `fixtures`: tenants, owners and unique names.
//! * [`jwt`]: forging tokens the way an attacker (or the server) would.
//! * `guests`: the wasm fixtures and built-in modules, built once per process.
//! * `extensions`: uploading extensions and installing them at a point.
//! * `modules`: publishing a component and binding it for a tenant.
//! * `publishers`: a publisher and its uploads, and a tenant's consent to bind one.
//! * `scenario`: one-line steps ([`Scenario`] and requests on [`Api`]) for long stories.
//! * `python`: [`run_python`], the official Stripe and Standard Webhooks libraries as
//!   independent checks of our signatures.
//! * `receiver`: [`Receiver`], a local webhook receiver with programmable answers.
//! * `smtp`: [`SmtpServer`], a local mail server keeping what the server mails.
//! * `stripe`: [`StripeServer`], a local Stripe API and webhook sender for the payments suite.
//! * `wait`: [`eventually`], polling for the server's background work.

pub use reqwest::header::HeaderMap;
pub use reqwest::{Method, StatusCode};
pub use serde_json::{Value, json};

use std::time::Duration;

/// How long a server may take to print its listening line (migrations, a loaded machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Per HTTP request; generous because the machine may be busy compiling.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
pub const PROBLEM_JSON: &str = "application/problem+json";

mod cli;
mod env;
mod extensions;
mod fixtures;
mod guests;
mod http;
pub mod jwt;
mod modules;
mod publishers;
mod python;
mod receiver;
mod scenario;
mod server;
mod smtp;
mod stripe;
mod temp;
mod wait;

pub use cli::*;
use env::*;
pub use extensions::*;
pub use fixtures::*;
pub use guests::*;
pub use http::*;
pub use modules::*;
pub use publishers::*;
pub use python::*;
pub use receiver::*;
pub use scenario::*;
pub use server::*;
pub use smtp::*;
pub use stripe::*;
pub use temp::*;
pub use wait::*;
