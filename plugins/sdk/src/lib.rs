//! # verofield-sdk: write a VeroField domain module in a few pages of Rust
//!
//! A domain module is a WebAssembly component of the world `verofield:platform/domain-module`
//! (see `wit/platform.wit`). This crate wraps the raw bindings so that a module is a route
//! table of plain functions:
//!
//! ```ignore
//! use verofield_sdk::{Collection, Column, Manifest, Module, Problem, Request, Response, Route};
//!
//! struct Notes;
//!
//! impl Module for Notes {
//!     const MANIFEST: Manifest = Manifest {
//!         name: "notes",
//!         version: "1.0.0",
//!         slot: "notes",
//!         routes: &[Route::get("/notes/{id}", "notes.read", show)],
//!         // The module's own table, created by the host at upload (no migration of ours).
//!         collections: &[Collection::new("notes", &[Column::text("body").required()])],
//!         ..Manifest::EMPTY
//!     };
//! }
//!
//! fn show(request: &Request) -> Result<Response, Problem> {
//!     let id = request.id_param("id")?;
//!     let note = verofield_sdk::store::get::<serde_json::Value>("notes", id)?
//!         .ok_or_else(|| Problem::not_found("note"))?;
//!     Ok(Response::record(200, &note))
//! }
//!
//! verofield_sdk::export_module!(Notes);
//! ```
//!
//! The same table answers `manifest()` and dispatches `handle()`, so the two cannot drift.
//! Failures are [`Problem`]s, rendered as the host renders its own: problem+json with a stable
//! `code` and, for validation, `errors: [{field, message}]`.
//!
//! Everything except the thin wrappers over host imports (`store`, `events`, `log`, `context`,
//! `payments`, `config`)
//! is plain Rust and unit-tested natively; the imports compile natively too but only work
//! inside the host.

pub mod config;
pub mod deadline;
pub mod etag;
pub mod events;
pub mod http;
pub mod log;
pub mod manifest;
pub mod money;
pub mod patch;
pub mod payments;
pub mod problem;
pub mod resource;
pub mod router;
pub mod store;
pub mod validate;

pub use deadline::Deadline;
pub use http::{Request, Response};
pub use manifest::{Collection, Column, Config, Events, Limits, Manifest, Route, Schedule, Tables};
pub use patch::Patch;
pub use problem::{FieldError, Problem};
pub use resource::Resource;
pub use store::{Filter, Page, Record};
pub use validate::Validator;
/// Gives every `Patch` field of a body struct its serde attribute (see [`patch`]).
pub use verofield_sdk_macros::patch_fields;

/// Re-exported so that modules name one version of them.
pub use serde;
pub use serde_json;

/// The raw wit-bindgen bindings of the world. Modules rarely need them; [`context`] is the
/// one import used as is.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "domain-module",
        pub_export_macro: true,
        default_bindings_module: "verofield_sdk::bindings",
    });
}

/// Tenant, caller, request id and the host's clock, as generated (already typed).
pub use bindings::verofield::platform::context;

/// A delivered domain event (see `on-event` in the WIT).
pub use bindings::exports::verofield::platform::module::Event;

/// What a module is: its manifest (with the route table) and, optionally, an event handler.
pub trait Module {
    const MANIFEST: Manifest;

    /// Handles one subscribed event; an error makes the host retry later. The default accepts
    /// every delivery, so a module that subscribes to nothing (see [`Events::emitting`])
    /// writes no `on_event`.
    fn on_event(event: Event) -> Result<(), String> {
        let _ = event;
        Ok(())
    }
}

/// Exports a [`Module`] as the component's `module` interface. Call once, at the crate root.
#[macro_export]
macro_rules! export_module {
    ($module:ident) => {
        impl $crate::bindings::exports::verofield::platform::module::Guest for $module {
            fn manifest() -> ::std::string::String {
                <$module as $crate::Module>::MANIFEST.to_json()
            }

            fn handle(
                request: $crate::bindings::exports::verofield::platform::module::Request,
            ) -> $crate::bindings::exports::verofield::platform::module::Response {
                $crate::router::dispatch(&<$module as $crate::Module>::MANIFEST, request.into())
                    .into()
            }

            fn on_event(
                event: $crate::bindings::exports::verofield::platform::module::Event,
            ) -> ::std::result::Result<(), ::std::string::String> {
                <$module as $crate::Module>::on_event(event)
            }
        }

        $crate::bindings::export!($module with_types_in $crate::bindings);
    };
}
