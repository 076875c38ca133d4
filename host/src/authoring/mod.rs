//! The authoring kit's commands: `verofield module new` writes a ready-to-build module folder
//! in Rust or Python ([`scaffold`], from the [`vendored`] SDKs and WIT of this very host), and
//! `verofield module publish` uploads a component as a publisher and reports its validation
//! and conformance ([`publish`]). They run on a partner's machine: no database, no server.

pub mod publish;
pub mod scaffold;
pub mod vendored;
