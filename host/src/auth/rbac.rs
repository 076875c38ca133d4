//! Roles and permissions.
//!
//! A permission is a dotted name (`users.manage`, `crm.customers.read`). A role is a named
//! set of them, stored per tenant; the six built-in roles are seeded into every tenant and
//! cannot be edited, and tenants add custom roles. Module manifests name the permission of
//! each route, so custom roles may hold any well-formed name, not only the host's own.
//! `*` (the owner's) grants everything.

use std::collections::BTreeSet;

pub const ALL: &str = "*";

/// The host's own permissions, and those the built-in modules use.
pub mod perm {
    pub const USERS_READ: &str = "users.read";
    pub const USERS_MANAGE: &str = "users.manage";
    pub const ROLES_MANAGE: &str = "roles.manage";
    pub const AUDIT_READ: &str = "audit.read";
    pub const MODULES_MANAGE: &str = "modules.manage";
    pub const SETTINGS_MANAGE: &str = "settings.manage";
    /// Reading the company account (`/v1/account`): every built-in role holds it.
    pub const ACCOUNT_READ: &str = "account.read";
    pub const CRM_CUSTOMERS_READ: &str = "crm.customers.read";
    pub const CRM_CUSTOMERS_WRITE: &str = "crm.customers.write";
    pub const TECHNICIANS_READ: &str = "technicians.read";
    pub const TECHNICIANS_MANAGE: &str = "technicians.manage";
    pub const JOBS_READ: &str = "jobs.read";
    pub const JOBS_WRITE: &str = "jobs.write";
    pub const JOBS_OWN: &str = "jobs.own";
    pub const JOBS_ASSIGN_OVERRIDE: &str = "jobs.assign.override";
    pub const AGREEMENTS_READ: &str = "agreements.read";
    pub const AGREEMENTS_WRITE: &str = "agreements.write";
    pub const BILLING_READ: &str = "billing.read";
    pub const BILLING_WRITE: &str = "billing.write";
    pub const BILLING_REFUND: &str = "billing.refund";
    pub const ROUTING_OPTIMIZE: &str = "routing.optimize";
    pub const KPI_READ: &str = "kpi.read";
    pub const API_KEYS_MANAGE: &str = "api_keys.manage";
    pub const WEBHOOKS_MANAGE: &str = "webhooks.manage";
    pub const EVENTS_READ: &str = "events.read";
}

pub struct BuiltinRole {
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: &'static [&'static str],
}

use perm::*;

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "owner",
        description: "Everything, including the tenant's ownership",
        permissions: &[ALL],
    },
    BuiltinRole {
        name: "admin",
        description: "Runs the company account: users, roles, modules, settings and all data",
        permissions: &[
            ACCOUNT_READ,
            USERS_READ,
            USERS_MANAGE,
            ROLES_MANAGE,
            AUDIT_READ,
            MODULES_MANAGE,
            SETTINGS_MANAGE,
            API_KEYS_MANAGE,
            CRM_CUSTOMERS_READ,
            CRM_CUSTOMERS_WRITE,
            TECHNICIANS_READ,
            TECHNICIANS_MANAGE,
            JOBS_READ,
            JOBS_WRITE,
            JOBS_OWN,
            JOBS_ASSIGN_OVERRIDE,
            AGREEMENTS_READ,
            AGREEMENTS_WRITE,
            BILLING_READ,
            BILLING_WRITE,
            BILLING_REFUND,
            ROUTING_OPTIMIZE,
            KPI_READ,
            WEBHOOKS_MANAGE,
            EVENTS_READ,
        ],
    },
    BuiltinRole {
        name: "dispatcher",
        description: "Schedules and assigns work; manages customers",
        permissions: &[
            ACCOUNT_READ,
            USERS_READ,
            CRM_CUSTOMERS_READ,
            CRM_CUSTOMERS_WRITE,
            TECHNICIANS_READ,
            JOBS_READ,
            JOBS_WRITE,
            JOBS_ASSIGN_OVERRIDE,
            AGREEMENTS_READ,
            AGREEMENTS_WRITE,
            ROUTING_OPTIMIZE,
            KPI_READ,
        ],
    },
    BuiltinRole {
        name: "technician",
        description: "Sees and works the jobs assigned to them",
        permissions: &[ACCOUNT_READ, CRM_CUSTOMERS_READ, JOBS_OWN],
    },
    BuiltinRole {
        name: "accountant",
        description: "Invoices, payments and agreements",
        permissions: &[
            ACCOUNT_READ,
            CRM_CUSTOMERS_READ,
            AGREEMENTS_READ,
            BILLING_READ,
            BILLING_WRITE,
            JOBS_READ,
            KPI_READ,
        ],
    },
    BuiltinRole {
        name: "viewer",
        description: "Reads everything operational, changes nothing",
        permissions: &[
            ACCOUNT_READ,
            USERS_READ,
            CRM_CUSTOMERS_READ,
            TECHNICIANS_READ,
            JOBS_READ,
            AGREEMENTS_READ,
            BILLING_READ,
            KPI_READ,
        ],
    },
];

/// A resolved set of permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeSet<String>);

impl Permissions {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        Self(names.into_iter().collect())
    }

    pub fn allows(&self, permission: &str) -> bool {
        self.0.contains(ALL) || self.0.contains(permission)
    }

    /// Whether every permission in `other` is also held here: a user may only grant roles
    /// that give no more than they have themselves.
    pub fn covers(&self, other: &Permissions) -> bool {
        self.0.contains(ALL) || other.0.iter().all(|p| p != ALL && self.0.contains(p))
    }

    /// The permissions held both here and by `holder`: what an API key may do is what it
    /// carries and its creator still holds today.
    pub fn intersect(&self, holder: &Permissions) -> Permissions {
        Self(
            self.0
                .iter()
                .filter(|p| holder.allows(p))
                .cloned()
                .collect(),
        )
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// `a.b` or `a.b.c`, lower case: the shape module manifests must use too.
pub fn is_valid_permission(name: &str) -> bool {
    let mut parts = 0;
    for part in name.split('.') {
        parts += 1;
        let mut chars = part.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        if !first.is_ascii_lowercase()
            || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return false;
        }
    }
    (2..=5).contains(&parts) && name.len() <= 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_allows_everything_and_covers_all() {
        let owner = Permissions::new([ALL.to_owned()]);
        let admin = Permissions::new(BUILTIN_ROLES[1].permissions.iter().map(|p| p.to_string()));
        assert!(owner.allows("anything.at_all"));
        assert!(owner.covers(&admin));
        assert!(!admin.covers(&owner));
        assert!(admin.allows(USERS_MANAGE));
        assert!(!admin.allows("not.granted"));
    }

    #[test]
    fn intersection_keeps_what_both_hold() {
        let key = Permissions::new(["users.read".to_owned(), "audit.read".to_owned()]);
        let owner = Permissions::new([ALL.to_owned()]);
        let viewer = Permissions::new(BUILTIN_ROLES[5].permissions.iter().map(|p| p.to_string()));
        assert_eq!(key.intersect(&owner), key);
        assert_eq!(
            key.intersect(&viewer),
            Permissions::new(["users.read".to_owned()])
        );
        assert!(!key.intersect(&Permissions::default()).allows("users.read"));
    }

    #[test]
    fn permission_names() {
        assert!(is_valid_permission("crm.customers.read"));
        assert!(!is_valid_permission("crm"));
        assert!(!is_valid_permission("Crm.read"));
        assert!(!is_valid_permission("crm..read"));
        assert!(!is_valid_permission("crm.read; drop table"));
    }
}
