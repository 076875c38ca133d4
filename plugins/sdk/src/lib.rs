//! # verofield-sdk: write a VeroField domain module in a few pages of Rust
//!
//! A domain module is a WebAssembly component of the world `verofield:platform/domain-module`
//! (see `wit/platform.wit`). This crate wraps the raw bindings so that a module is a route
//! table of plain functions:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use verofield_sdk::store::{Filter, Select};
//! use verofield_sdk::{Events, Manifest, Module, Problem, Request, Resource, Response, Route};
//! use verofield_sdk::{Tables, Validator, etag, events};
//!
//! /// A table of the host's store this module writes (granted by the manifest, checked by
//! /// the host); here the CRM's contacts, whose rows have a `name`.
//! const NOTES: &str = "crm_contacts";
//! const NOTE: Resource = Resource::new(NOTES, "note");
//! const CREATED: &str = "note.created";
//!
//! struct Notes;
//!
//! impl Module for Notes {
//!     const MANIFEST: Manifest = Manifest {
//!         name: "notes",
//!         version: "1.0.0",
//!         slot: "notes",
//!         routes: &[
//!             Route::post("/notes", "notes.write", create),
//!             Route::get("/notes", "notes.read", list),
//!             Route::get("/notes/{id}", "notes.read", show),
//!             Route::delete("/notes/{id}", "notes.write", delete),
//!         ],
//!         tables: Tables { read: &[], write: &[NOTES] },
//!         events: Events::emitting(&[CREATED]),
//!         ..Manifest::EMPTY
//!     };
//! }
//!
//! /// A body: unknown fields are refused (422 naming them), as are wrong types.
//! #[derive(Deserialize, Serialize)]
//! #[serde(deny_unknown_fields)]
//! struct NoteFields {
//!     name: String,
//! }
//!
//! /// `POST /notes`: 201 with the row, its ETag and `Location`, and an event in the same
//! /// transaction.
//! fn create(request: &Request) -> Result<Response, Problem> {
//!     let fields: NoteFields = request.json()?;
//!     let mut check = Validator::default();
//!     check.length("name", Some(&fields.name), 1..=200);
//!     check.finish()?;
//!     let note = verofield_sdk::store::insert::<serde_json::Value>(NOTES, &fields)?;
//!     events::emit(CREATED, &serde_json::json!({"id": note.id}))?;
//!     Ok(Response::created(&format!("/v1/notes/notes/{}", note.id), &note))
//! }
//!
//! /// `GET /notes?q=&limit=&cursor=`: one page, filtered in the store.
//! fn list(request: &Request) -> Result<Response, Problem> {
//!     let mut select = Select::from(NOTES).page(request.paging()?);
//!     if let Some(q) = request.query("q") {
//!         select = select.filter(Filter::contains("name", q));
//!     }
//!     Ok(Response::json(200, &select.fetch::<serde_json::Value>()?))
//! }
//!
//! /// `GET /notes/{id}`: the row with its ETag, or 404 "no note with this id".
//! fn show(request: &Request) -> Result<Response, Problem> {
//!     Ok(Response::record(200, &NOTE.existing(request.id_param("id")?)?))
//! }
//!
//! /// `DELETE /notes/{id}`, honouring `If-Match` (412 when the row moved on).
//! fn delete(request: &Request) -> Result<Response, Problem> {
//!     etag::delete::<serde::de::IgnoredAny>(request, NOTES, request.id_param("id")?, "note")?;
//!     Ok(Response::no_content())
//! }
//!
//! verofield_sdk::export_module!(Notes);
//! # fn main() {
//! #     let manifest: serde_json::Value = serde_json::from_str(&Notes::MANIFEST.to_json()).unwrap();
//! #     assert_eq!(manifest["routes"].as_array().unwrap().len(), 4);
//! # }
//! ```
//!
//! This example is compiled and its manifest checked by `cargo test --doc` (CI runs the
//! plugins workspace's tests). A partner gets this crate and the WIT vendored into a new
//! module's folder by `verofield module new NAME --lang rust` (docs/PARTNERS.md).
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
pub mod custom;
pub mod deadline;
pub mod etag;
pub mod events;
pub mod extensions;
pub mod http;
pub mod log;
pub mod manifest;
pub mod money;
pub mod outbound;
pub mod patch;
pub mod payments;
pub mod problem;
pub mod resource;
pub mod router;
pub mod store;
pub mod validate;

pub use deadline::Deadline;
pub use http::{Request, Response};
pub use manifest::{
    Collection, Column, Config, Events, Limits, Manifest, Outbound, Route, Schedule, Tables,
};
pub use patch::Patch;
pub use problem::{FieldError, Problem};
pub use resource::Resource;
pub use store::{Filter, Page, Record};
pub use validate::Validator;
/// Gives every `Patch` field of a body struct its serde attribute (see [`patch`]).
pub use verofield_sdk_macros::patch_fields;

/// Re-exported so that modules name one version of them.
pub use schemars;
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
