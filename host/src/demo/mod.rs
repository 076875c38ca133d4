//! The demo tenant for trying the API: created once, with a random owner password kept in
//! the data directory (mode 0600) so that every later run prints the same credentials.
//! `serve --demo` fills it with the small demo company when it creates it; `verofield demo
//! --size` creates a new tenant with a company of any size ([`create_company`]).
//!
//! - `company.rs`: the company drawn from a seed (a plan, no I/O).
//! - `seed.rs`: the plan created through the modules, as the tenant's owner.

pub mod company;
pub mod seed;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::http::AppState;
use crate::registry::acting::ActingUser;
use crate::secrets;
use crate::tenancy::provision::{CreatedTenant, NewTenant, create_tenant};
use company::{Company, Size};
use seed::Summary;

pub const SLUG: &str = "demo";
const EMAIL: &str = "owner@demo.verofield.test";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoCredentials {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

impl DemoCredentials {
    pub fn describe(&self) -> String {
        format!(
            "demo tenant `{}`: log in as {} with password {}",
            self.tenant, self.email, self.password
        )
    }

    /// What `serve --demo` tells a newcomer once it listens at `base_url`: where the console
    /// is and what to type into its sign-in form.
    pub fn console_hint(&self, base_url: &str) -> String {
        format!(
            "open the console at {base_url}/console and sign in with company `{}`, email {}, \
             password {}",
            self.tenant, self.email, self.password
        )
    }
}

/// The seed `serve --demo` draws its small company from.
pub const SERVE_SEED: u64 = 1;

/// The demo tenant's credentials; `Created` when this call made the tenant (and it is empty).
pub enum Ensured {
    Existing(DemoCredentials),
    Created(DemoCredentials, CreatedTenant),
}

impl Ensured {
    pub fn credentials(&self) -> &DemoCredentials {
        match self {
            Ensured::Existing(credentials) | Ensured::Created(credentials, _) => credentials,
        }
    }
}

/// `serve --demo`: the demo tenant's credentials printed at once and, the first time, the
/// small company created in it in the background, so that the server listens meanwhile (a
/// newcomer signing in during those seconds sees the company fill up). The summary line,
/// `demo company: ...`, says when it is done.
pub async fn ensure_for_serve(state: &AppState, data_dir: &Path) -> Result<DemoCredentials> {
    let ensured = ensure_tenant(&state.pool, data_dir).await?;
    let credentials = ensured.credentials().clone();
    println!("{}", credentials.describe());
    if let Ensured::Created(_, tenant) = ensured {
        let state = state.clone();
        tokio::spawn(async move {
            match fill(&state, &tenant, Size::Small, SERVE_SEED).await {
                Ok(summary) => println!("demo company: {}", summary.describe()),
                Err(error) => tracing::error!(%error, "creating the demo company failed"),
            }
        });
    }
    Ok(credentials)
}

pub async fn ensure(pool: &PgPool, data_dir: &Path) -> Result<DemoCredentials> {
    Ok(match ensure_tenant(pool, data_dir).await? {
        Ensured::Existing(credentials) | Ensured::Created(credentials, _) => credentials,
    })
}

/// A new tenant `slug` holding the company drawn from `(size, seed)`, with a random owner
/// password: what `verofield demo --size` prints.
pub async fn create_company(
    state: &AppState,
    slug: &str,
    size: Size,
    seed: u64,
) -> Result<(DemoCredentials, Summary)> {
    let credentials = DemoCredentials {
        tenant: slug.into(),
        email: EMAIL.into(),
        password: random_password(),
    };
    let tenant = create_tenant(
        &state.pool,
        NewTenant {
            name: "Demo Pest & Lawn".into(),
            slug: slug.into(),
            time_zone: Some(company::TIME_ZONE.into()),
            admin_email: EMAIL.into(),
            admin_password: credentials.password.clone(),
        },
        state.limits.statement_timeout,
    )
    .await
    .map_err(|error| anyhow::anyhow!("creating the demo tenant: {error}"))?;
    let summary = fill(state, &tenant, size, seed).await?;
    Ok((credentials, summary))
}

/// Creates the company drawn from `(size, seed)` in `tenant`, as its owner.
async fn fill(state: &AppState, tenant: &CreatedTenant, size: Size, seed: u64) -> Result<Summary> {
    let owner = ActingUser::load(state, tenant.tenant_id, tenant.admin_user_id)
        .await
        .map_err(|error| anyhow::anyhow!("acting as the demo owner: {error}"))?;
    let today = chrono::Utc::now()
        .with_timezone(
            &company::TIME_ZONE
                .parse::<chrono_tz::Tz>()
                .expect("a known zone"),
        )
        .date_naive();
    let drawn = Company::draw(size, seed, today);
    seed::create(&owner, &drawn, today)
        .await
        .map_err(|error| anyhow::anyhow!("creating the demo company: {error}"))
}

fn random_password() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>())
}

async fn ensure_tenant(pool: &PgPool, data_dir: &Path) -> Result<Ensured> {
    let path = data_dir.join("secrets").join("demo-credentials.json");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE slug = $1)")
        .bind(SLUG)
        .fetch_one(pool)
        .await?;
    if exists {
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "the demo tenant exists but its credentials file {} is missing",
                path.display()
            )
        })?;
        return Ok(Ensured::Existing(serde_json::from_str(&text)?));
    }
    let _ = std::fs::remove_file(&path);
    let password = random_password();
    let credentials = DemoCredentials {
        tenant: SLUG.into(),
        email: EMAIL.into(),
        password,
    };
    let text = serde_json::to_string_pretty(&credentials)?;
    secrets::load_or_generate(&path, || text)?;
    let tenant = create_tenant(
        pool,
        NewTenant {
            name: "Demo Pest & Lawn".into(),
            slug: SLUG.into(),
            time_zone: Some(company::TIME_ZONE.into()),
            admin_email: EMAIL.into(),
            admin_password: credentials.password.clone(),
        },
        Duration::from_secs(30),
    )
    .await
    .map_err(|error| anyhow::anyhow!("creating the demo tenant: {error}"))?;
    Ok(Ensured::Created(credentials, tenant))
}
