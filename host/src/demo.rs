//! The demo tenant for trying the API: created once, with a random owner password kept in
//! the data directory (mode 0600) so that every later run prints the same credentials.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::secrets;
use crate::tenancy::provision::{NewTenant, create_tenant};

pub const SLUG: &str = "demo";
const EMAIL: &str = "owner@demo.verofield.test";

#[derive(Debug, Serialize, Deserialize)]
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
}

pub async fn ensure(pool: &PgPool, data_dir: &Path) -> Result<DemoCredentials> {
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
        return Ok(serde_json::from_str(&text)?);
    }
    let _ = std::fs::remove_file(&path);
    let password =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
    let credentials = DemoCredentials {
        tenant: SLUG.into(),
        email: EMAIL.into(),
        password,
    };
    let text = serde_json::to_string_pretty(&credentials)?;
    secrets::load_or_generate(&path, || text)?;
    create_tenant(
        pool,
        NewTenant {
            name: "Demo Pest & Lawn".into(),
            slug: SLUG.into(),
            time_zone: Some("America/Chicago".into()),
            admin_email: EMAIL.into(),
            admin_password: credentials.password.clone(),
        },
        Duration::from_secs(30),
    )
    .await
    .map_err(|error| anyhow::anyhow!("creating the demo tenant: {error}"))?;
    Ok(credentials)
}
