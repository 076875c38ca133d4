//! The black-box suites, one module each, linked into one test binary (as rust-lang/cargo's
//! `tests/testsuite/main.rs`). Each suite used to be a binary of its own that linked wasmtime
//! and the host again; one binary links them once, and one process shares the harness's
//! set-up (the server binary, the PostgreSQL cluster, the built fixtures) across suites.
//!
//! Run one suite with a name filter: `cargo test -p verofield-tests --test testsuite routing::`.

mod account;
mod api_keys;
mod api_schemas;
mod auth_abuse;
mod auth_flows;
mod authoring;
mod bad_input;
mod baseline;
mod billing;
mod catalog;
mod citus_ready;
mod cli;
mod collections;
mod conformance;
mod crm;
mod custom_fields;
mod custom_fields_visits;
mod customer_defaults;
mod demo;
mod embedded_pg;
mod events;
mod events_payloads;
mod extensions;
mod fairness;
mod field_ops;
mod imports;
mod isolation;
mod job_priority;
mod jwt;
mod kpis;
mod layouts;
mod lifecycle;
mod module_answers;
mod module_config;
mod modules;
mod outbound;
mod passwords;
mod payments;
mod price_lines;
mod publisher_lists;
mod publishers;
mod python_crm;
mod registry;
mod routing;
mod routing_day;
mod scheduler;
mod shadow;
mod storage;
mod usage;
mod webhooks;
