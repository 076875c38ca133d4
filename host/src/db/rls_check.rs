//! The start-up self-check of the RLS rules in DESIGN.md, read from pg_catalog.
//!
//! A tenant table is any table in `public`, `store` or a module's collection schema (`mod_*`)
//! with a `tenant_id` column. The host refuses to
//! serve when one of them, or the app role, breaks a rule: a migration mistake must stop
//! the deploy, not leak a tenant's rows. Each violation names the table and the rule.
//! Objects an extension owns (Citus's `citus_tables` view, its functions) are the
//! extension's, not ours, and are skipped.

use anyhow::Result;
use sqlx::PgPool;

pub const APP_ROLE: &str = "verofield_app";
/// Module collection schemas (`storage::collections::schema`), for `LIKE`.
const MODULE_SCHEMAS: &str = crate::storage::collections::schema::LIKE_PATTERN;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub object: String,
    pub rule: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.rule)
    }
}

/// Returns every violation found; empty means the database may be served.
pub async fn check(pool: &PgPool) -> Result<Vec<Violation>> {
    let mut violations = Vec::new();
    let mut violate = |object: &str, rule: &'static str| {
        violations.push(Violation {
            object: object.to_owned(),
            rule,
        })
    };

    let role: Option<(bool, bool, bool)> = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1",
    )
    .bind(APP_ROLE)
    .fetch_optional(pool)
    .await?;
    match role {
        None => violate(APP_ROLE, "the app role does not exist"),
        Some((superuser, bypassrls, can_login)) => {
            if superuser {
                violate(APP_ROLE, "the app role is a superuser");
            }
            if bypassrls {
                violate(APP_ROLE, "the app role has BYPASSRLS");
            }
            if can_login {
                // Citus deployments need LOGIN on the workers; still never BYPASSRLS.
                tracing::warn!("{APP_ROLE} can log in; expected only in a Citus deployment");
            }
        }
    }
    let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'MEMBER')")
        .bind(APP_ROLE)
        .fetch_one(pool)
        .await
        .unwrap_or(false);
    if !member {
        violate(APP_ROLE, "the login role cannot SET ROLE to the app role");
    }

    let owned: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
         WHERE r.rolname = $1",
    )
    .bind(APP_ROLE)
    .fetch_all(pool)
    .await?;
    for relation in owned {
        violate(&relation, "owned by the app role (it must own nothing)");
    }

    let definers: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND has_function_privilege($1, p.oid, 'EXECUTE')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    )
    .bind(APP_ROLE)
    .fetch_all(pool)
    .await?;
    for function in definers {
        violate(
            &function,
            "a SECURITY DEFINER function the app role can execute",
        );
    }

    let views: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE (n.nspname IN ('public', 'store') OR n.nspname LIKE $1) AND c.relkind IN ('v', 'm')
           AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')",
    )
    .bind(MODULE_SCHEMAS)
    .fetch_all(pool)
    .await?;
    for view in views {
        violate(&view, "a view without security_invoker");
    }

    let tables: Vec<TenantTable> = sqlx::query_as(TENANT_TABLES)
        .bind(TENANT_PREDICATE)
        .bind(format!("({TENANT_PREDICATE} AND "))
        .bind(MODULE_SCHEMAS)
        .fetch_all(pool)
        .await?;
    for table in tables {
        let name = table.name.as_str();
        if !table.tenant_id_not_null {
            violate(name, "tenant_id is nullable");
        }
        if !table.rls_enabled {
            violate(name, "row level security is not enabled");
        }
        if !table.rls_forced {
            violate(
                name,
                "row level security is not forced (FORCE ROW LEVEL SECURITY)",
            );
        }
        if !table.has_tenant_policy {
            violate(
                name,
                "no policy compares tenant_id with app.tenant_id in both USING and WITH CHECK",
            );
        }
        if table.restrictive_policies > 0 {
            violate(
                name,
                "a RESTRICTIVE policy (Citus recreates shard policies as permissive: AND the scope into the tenant policy instead)",
            );
        }
        if table.other_permissive_policies > 0 {
            violate(
                name,
                "a permissive policy other than the tenant policy (permissive policies are OR-ed: it would open other tenants' rows)",
            );
        }
        if table.policies_with_subquery > 0 {
            violate(
                name,
                "a policy with a subquery (Citus rejects them on distributed tables; scope with a column instead)",
            );
        }
        if !table.pk_leads_with_tenant {
            violate(name, "the primary key does not start with tenant_id");
        }
        if table.constraints_without_tenant > 0 {
            violate(
                name,
                "a unique or foreign key constraint does not include tenant_id",
            );
        }
    }
    Ok(violations)
}

/// The tenant predicate as PostgreSQL prints it back (`pg_get_expr`), compared exactly: a
/// pattern match would accept `tenant_id = ... OR true`. A permissive policy may also be this
/// predicate AND-ed with a narrower condition, printed as `(<predicate> AND ...)`: the
/// deparser parenthesises every boolean node, so that prefix means the whole expression is a
/// conjunction whose first term is the tenant check.
const TENANT_PREDICATE: &str =
    "(tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)";

#[derive(sqlx::FromRow)]
struct TenantTable {
    name: String,
    tenant_id_not_null: bool,
    rls_enabled: bool,
    rls_forced: bool,
    has_tenant_policy: bool,
    restrictive_policies: i64,
    other_permissive_policies: i64,
    policies_with_subquery: i64,
    pk_leads_with_tenant: bool,
    constraints_without_tenant: i64,
}

const TENANT_TABLES: &str = r#"
SELECT CASE WHEN n.nspname LIKE $3 THEN n.nspname || '.' || c.relname ELSE c.relname::text END AS name,
       a.attnotnull AS tenant_id_not_null,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       -- Tenant-anchored permissive policies for all four commands: one `FOR ALL`, or one
       -- per command where a scope narrows it (0030).
       (SELECT count(DISTINCT cmd) FROM pg_policy p
        CROSS JOIN LATERAL unnest(CASE p.polcmd WHEN '*' THEN '{r,a,w,d}'::"char"[]
                                                ELSE ARRAY[p.polcmd] END) AS cmd
        CROSS JOIN LATERAL (
            SELECT pg_get_expr(p.polqual, p.polrelid) AS qual,
                   pg_get_expr(p.polwithcheck, p.polrelid) AS checks
        ) e
        WHERE p.polrelid = c.oid AND p.polpermissive AND p.polroles = '{0}'
          AND (e.qual IS NOT NULL OR e.checks IS NOT NULL)
          AND (e.qual IS NULL OR e.qual = $1 OR starts_with(e.qual, $2))
          AND (e.checks IS NULL OR e.checks = $1 OR starts_with(e.checks, $2))
       ) = 4 AS has_tenant_policy,
       (SELECT count(*) FROM pg_policy p
        WHERE p.polrelid = c.oid AND NOT p.polpermissive) AS restrictive_policies,
       (SELECT count(*) FROM pg_policy p
        CROSS JOIN LATERAL (
            SELECT coalesce(pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)) AS qual,
                   coalesce(pg_get_expr(p.polwithcheck, p.polrelid), pg_get_expr(p.polqual, p.polrelid)) AS checks
        ) e
        WHERE p.polrelid = c.oid AND p.polpermissive
          AND NOT (e.qual IS NOT NULL
                   AND (e.qual = $1 OR starts_with(e.qual, $2))
                   AND (e.checks = $1 OR starts_with(e.checks, $2)))
       ) AS other_permissive_policies,
       (SELECT count(*) FROM pg_policy p
        WHERE p.polrelid = c.oid
          AND (coalesce(p.polqual::text, '') LIKE '%{SUBLINK%'
               OR coalesce(p.polwithcheck::text, '') LIKE '%{SUBLINK%')
       ) AS policies_with_subquery,
       EXISTS (
           SELECT 1 FROM pg_constraint k
           WHERE k.conrelid = c.oid AND k.contype = 'p' AND k.conkey[1] = a.attnum
       ) AS pk_leads_with_tenant,
       (SELECT count(*) FROM pg_constraint k
        WHERE k.conrelid = c.oid AND k.contype IN ('u', 'f')
          AND NOT a.attnum = ANY (k.conkey)
          -- a foreign key to a global table (no tenant_id: a Citus reference table) is fine
          AND NOT (k.contype = 'f' AND NOT EXISTS (
              SELECT 1 FROM pg_attribute fa
              WHERE fa.attrelid = k.confrelid AND fa.attname = 'tenant_id'))) AS constraints_without_tenant
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE (n.nspname IN ('public', 'store') OR n.nspname LIKE $3) AND c.relkind IN ('r', 'p')
ORDER BY 1
"#;
