//! The authenticated caller, loaded fresh from the tenant's tables on every request.
//!
//! The access token only names a user and a tenant; roles and status are read inside the
//! request's own tenant transaction (one indexed query), so a role change, a deactivation
//! or a suspended tenant takes effect on the next request, not when the token expires.

use std::collections::HashMap;

use uuid::Uuid;

use super::rbac::Permissions;
use crate::tenancy::TenantTx;

#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: Uuid,
    /// The user; for a request made with an API key, the user who created the key.
    pub user_id: Uuid,
    /// The API key the request was made with, when it was (`auth::api_key`).
    pub api_key_id: Option<Uuid>,
    pub email: String,
    pub roles: Vec<String>,
    pub permissions: Permissions,
    /// The tenant's module bindings (slot -> digest), read in the same round trip: every
    /// module request needs them, and a query of their own cost a round trip per request.
    pub module_bindings: HashMap<String, String>,
    /// The tenant's running shadow runs (slot -> candidate), read in the same round trip:
    /// every module request asks whether its slot is shadowed (`crate::shadow`).
    pub module_shadows: HashMap<String, crate::shadow::Target>,
}

pub enum Lookup {
    /// Boxed: a principal is large, the other answers carry nothing.
    Found(Box<Principal>),
    /// No active user with that id in that tenant.
    NoSuchUser,
    TenantSuspended,
}

#[derive(sqlx::FromRow)]
struct Row {
    email: String,
    tenant_status: String,
    role: Option<String>,
    permissions: Option<Vec<String>>,
    module_bindings: sqlx::types::Json<HashMap<String, String>>,
    module_shadows: sqlx::types::Json<HashMap<String, crate::shadow::Target>>,
}

impl Principal {
    /// Loads the active user `user_id` of the transaction's tenant with their roles.
    pub async fn load(tx: &mut TenantTx, user_id: Uuid) -> Result<Lookup, sqlx::Error> {
        let tenant_id = tx.tenant_id();
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT u.email, t.status AS tenant_status, r.name AS role, r.permissions,
                    b.module_bindings, s.module_shadows
             FROM users u
             JOIN tenants t ON t.id = u.tenant_id
             -- Joined to the user row, not a select-list subquery (run once per role row).
             CROSS JOIN LATERAL (
                SELECT coalesce(jsonb_object_agg(slot, digest), '{}') AS module_bindings
                FROM (SELECT DISTINCT ON (slot) slot, digest FROM module_bindings
                       WHERE tenant_id = u.tenant_id ORDER BY slot, id DESC) latest
             ) b
             CROSS JOIN LATERAL (
                SELECT coalesce(jsonb_object_agg(slot, jsonb_build_object('run_id', run_id,
                           'digest', digest, 'sample_percent', sample_percent)), '{}')
                           AS module_shadows
                FROM module_shadows
                WHERE tenant_id = u.tenant_id AND ended_as IS NULL AND until > now()
             ) s
             LEFT JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id
             LEFT JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
             WHERE u.tenant_id = $1 AND u.id = $2 AND u.status = 'active'
             ORDER BY r.name",
        )
        .bind(tenant_id)
        .bind(user_id)
        .fetch_all(tx.conn())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(Lookup::NoSuchUser);
        };
        if first.tenant_status != "active" {
            return Ok(Lookup::TenantSuspended);
        }
        let email = first.email.clone();
        let module_bindings = first.module_bindings.0.clone();
        let module_shadows = first.module_shadows.0.clone();
        let mut roles = Vec::new();
        let mut permissions = Vec::new();
        for row in rows {
            roles.extend(row.role);
            permissions.extend(row.permissions.unwrap_or_default());
        }
        Ok(Lookup::Found(Box::new(Principal {
            tenant_id,
            user_id,
            api_key_id: None,
            email,
            roles,
            permissions: Permissions::new(permissions),
            module_bindings,
            module_shadows,
        })))
    }

    /// The principal of a request made with API key `key_id` carrying `carried`, created by
    /// this (freshly loaded) user: it may do what the key carries and its creator still holds.
    pub fn acting_through_key(self, key_id: Uuid, carried: Vec<String>) -> Self {
        Self {
            api_key_id: Some(key_id),
            permissions: Permissions::new(carried).intersect(&self.permissions),
            ..self
        }
    }
}
