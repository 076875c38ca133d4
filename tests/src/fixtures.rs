//! Fixtures: the tenants and owners the suites create, and unique names for them.

use uuid::Uuid;

use crate::*;

#[derive(Debug, Clone)]
pub struct TenantFixture {
    pub id: Uuid,
    pub slug: String,
    pub owner_id: Uuid,
    pub owner_email: String,
    pub owner_password: String,
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl From<&Resp> for Tokens {
    fn from(response: &Resp) -> Self {
        let field = |name: &str| {
            response.json[name]
                .as_str()
                .unwrap_or_else(|| panic!("no `{name}` in {}", response.text))
                .to_owned()
        };
        Self {
            access: field("access_token"),
            refresh: field("refresh_token"),
        }
    }
}

/// A random alphanumeric suffix for unique names.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::new_v4().simple().to_string()[..10])
}
