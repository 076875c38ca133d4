//! WASI 0.2, linked with no authority: no preopened directories, no environment or arguments,
//! no name lookup, every socket address denied (the default check), stdin closed; stdout and
//! stderr go to the capped module log. Modules in other languages import more of WASI than
//! Rust modules do, so all of it is linked, and all of it reaches nothing.

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::log::ModuleLog;
use crate::runtime::bindings::verofield::platform::log::Level;
use crate::runtime::instance::CallState;

pub struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiState {
    pub fn new(log: &ModuleLog) -> Self {
        let ctx = WasiCtxBuilder::new()
            .stdout(log.stream(Level::Info))
            .stderr(log.stream(Level::Warn))
            .allow_ip_name_lookup(false)
            .build();
        Self {
            ctx,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi.ctx,
            table: &mut self.wasi.table,
        }
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
}
