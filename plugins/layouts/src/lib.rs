//! The layouts module (slot `layouts`): per-user dashboards. A layout is a name and up to 50
//! widgets (a `/v1/kpis` metric, a chart type, its filters, a place and size on a 12-column
//! grid); a user keeps their own, marks one their default, shares one read-only with the
//! tenant or copies one they can read; admins (`settings.manage`) set a default per role.
//! `GET /v1/layouts/mine` is the dashboard a user opens: their default, else their role's,
//! else the built-in one of the 8 default KPIs.
//!
//! - `widgets.rs` is a widget and its checks (every problem named in one 422);
//! - `layouts.rs` is the routes and who may read or change what.
//!
//! Rows live in `store.dashboard_layouts` (migration 0025). Writes honour `If-Match`.

mod layouts;
mod widgets;

use layouts::{CopyBody, LAYOUTS, Layout, LayoutBody, Mine, RoleDefaultBody};
use verofield_sdk::{Manifest, Module, Page, Record, Route, Tables};

/// Reading and keeping one's own dashboards: whoever may read the KPIs they show.
const USE: &str = "kpi.read";
/// Setting a role's default.
const ADMIN: &str = "settings.manage";

struct Layouts;

impl Module for Layouts {
    const MANIFEST: Manifest = Manifest {
        name: "layouts",
        version: env!("CARGO_PKG_VERSION"),
        slot: "layouts",
        routes: &[
            Route::get("/mine", USE, layouts::mine)
                .summary("The caller's dashboard: their default, their role's, or the built-in one")
                .responds::<Mine>(200),
            Route::put("/defaults/{role}", ADMIN, layouts::set_role_default)
                .summary("Set a role's default layout (If-Match)")
                .request::<RoleDefaultBody>()
                .responds::<Record<Layout>>(200)
                .responds::<Record<Layout>>(201),
            Route::post("/", USE, layouts::create)
                .summary("Create a layout of one's own")
                .request::<LayoutBody>()
                .responds::<Record<Layout>>(201),
            Route::get("/", USE, layouts::list)
                .summary(
                    "One's layouts, those shared with the tenant and role defaults (cursor, limit)",
                )
                .responds::<Page<Layout>>(200),
            Route::get("/{id}", USE, layouts::show)
                .summary("A layout one may read (ETag)")
                .responds::<Record<Layout>>(200),
            Route::put("/{id}", USE, layouts::replace)
                .summary("Replace one's own layout (If-Match)")
                .request::<LayoutBody>()
                .responds::<Record<Layout>>(200),
            Route::delete("/{id}", USE, layouts::delete)
                .summary("Delete one's own layout (If-Match)"),
            Route::post("/{id}/copy", USE, layouts::copy)
                .summary("Copy a layout one may read into a private one of one's own")
                .request::<CopyBody>()
                .responds::<Record<Layout>>(201),
        ],
        tables: Tables {
            read: &[],
            write: &[LAYOUTS],
        },
        ..Manifest::EMPTY
    };
}

verofield_sdk::export_module!(Layouts);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_role_defaults_need_settings_manage() {
        let manifest: serde_json::Value =
            serde_json::from_str(&Layouts::MANIFEST.to_json()).unwrap();
        assert_eq!(manifest["slot"], "layouts");
        for route in manifest["routes"].as_array().unwrap() {
            let admin = route["path"].as_str().unwrap().starts_with("/defaults");
            assert_eq!(
                route["permission"],
                if admin { ADMIN } else { USE },
                "{route}"
            );
        }
    }
}
