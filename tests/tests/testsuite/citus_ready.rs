//! What can be proved without a Citus cluster that the schema and the host's SQL distribute by
//! `tenant_id` (docs/CITUS.md says what only a real cluster can show):
//!
//! * the catalog of a freshly migrated database: every primary key, unique constraint and
//!   foreign key of a tenant table leads with `tenant_id`; no RESTRICTIVE policy (Citus
//!   recreates shard policies without it); no policy with a subquery; no trigger on a tenant
//!   table beyond the documented ones; no `ON DELETE SET NULL (column)` on a key that holds
//!   the distribution column;
//! * the host's source: no non-immutable function in the `RETURNING` or
//!   `ON CONFLICT ... DO UPDATE SET` of a statement (Citus refuses both on distributed and
//!   reference tables; the host binds the clock as a parameter instead).

use std::path::{Path, PathBuf};

use verofield_tests::*;

/// Triggers on tenant tables that distribution must allow (`citus.enable_unsafe_triggers`),
/// each with why it is still a trigger; docs/CITUS.md lists the same ones.
const DOCUMENTED_TRIGGERS: &[&str] = &[
    "store.job_assignments.scope",
    "store.job_assignments.scope_changed",
    "store.job_status_history.scope",
    "store.jobs.jobs_derived_columns",
    "store.technicians.scope_changed",
];

/// A migrated database, as the admin, with the tenant tables' query bound to `$1`.
async fn migrated() -> (TestDb, sqlx::PgConnection) {
    let db = TestDb::create().await;
    let data = TempDir::new("citus");
    let migrated = run_cli(data.path(), Some(&db), &["migrate"], &[]).await;
    assert!(migrated.status.success(), "{migrated:#?}");
    let admin = db.connect().await;
    (db, admin)
}

/// The tables `migrations/citus/distribute.sql` distributes: those of `public`, `store` and the
/// module collection schemas with a `tenant_id` column. (`payments` maps Stripe's ids to
/// tenants and becomes reference tables; `dispatch` holds cross-tenant hints and stays on the
/// coordinator.)
const TENANT_TABLES: &str = "
    SELECT c.oid FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE (n.nspname IN ('public', 'store') OR n.nspname LIKE 'mod\\_%') AND c.relkind IN ('r', 'p')";

async fn names(admin: &mut sqlx::PgConnection, query: &str) -> Vec<String> {
    sqlx::query_scalar(query)
        .fetch_all(admin)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

#[tokio::test]
async fn every_key_of_a_tenant_table_leads_with_tenant_id() {
    let (_db, mut admin) = migrated().await;
    // A foreign key to a global table (no tenant_id: a reference table) is the exception.
    let offenders = names(
        &mut admin,
        &format!(
            "SELECT k.conrelid::regclass::text || ': ' || pg_get_constraintdef(k.oid)
             FROM pg_constraint k
             WHERE k.conrelid IN ({TENANT_TABLES}) AND k.contype IN ('p', 'u', 'f')
               AND (SELECT attname FROM pg_attribute
                    WHERE attrelid = k.conrelid AND attnum = k.conkey[1]) <> 'tenant_id'
               AND NOT (k.contype = 'f' AND NOT EXISTS (
                   SELECT 1 FROM pg_attribute fa
                   WHERE fa.attrelid = k.confrelid AND fa.attname = 'tenant_id'))
             ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(offenders, Vec::<String>::new());
}

#[tokio::test]
async fn every_unique_index_of_a_tenant_table_leads_with_tenant_id() {
    let (_db, mut admin) = migrated().await;
    let offenders = names(
        &mut admin,
        &format!(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
             WHERE i.indisunique AND i.indrelid IN ({TENANT_TABLES})
               AND (SELECT attname FROM pg_attribute
                    WHERE attrelid = i.indrelid AND attnum = i.indkey[0]) IS DISTINCT FROM 'tenant_id'
             ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(offenders, Vec::<String>::new());
}

#[tokio::test]
async fn no_foreign_key_sets_part_of_a_distributed_key_to_null() {
    let (_db, mut admin) = migrated().await;
    let offenders = names(
        &mut admin,
        &format!(
            "SELECT k.conrelid::regclass::text || ': ' || pg_get_constraintdef(k.oid)
             FROM pg_constraint k
             WHERE k.conrelid IN ({TENANT_TABLES}) AND k.contype = 'f'
               AND k.confdeltype IN ('n', 'd') ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(offenders, Vec::<String>::new());
}

#[tokio::test]
async fn policies_are_permissive_and_hold_no_subquery() {
    let (_db, mut admin) = migrated().await;
    let offenders = names(
        &mut admin,
        "SELECT p.polrelid::regclass::text || '.' || p.polname FROM pg_policy p
         WHERE NOT p.polpermissive
            OR coalesce(p.polqual::text, '') LIKE '%{SUBLINK%'
            OR coalesce(p.polwithcheck::text, '') LIKE '%{SUBLINK%'
         ORDER BY 1",
    )
    .await;
    assert_eq!(offenders, Vec::<String>::new());
}

#[tokio::test]
async fn only_the_documented_triggers_sit_on_tenant_tables() {
    let (_db, mut admin) = migrated().await;
    let triggers = names(
        &mut admin,
        &format!(
            "SELECT t.tgrelid::regclass::text || '.' || t.tgname FROM pg_trigger t
             WHERE NOT t.tgisinternal AND t.tgrelid IN ({TENANT_TABLES}) ORDER BY 1"
        ),
    )
    .await;
    assert_eq!(triggers, DOCUMENTED_TRIGGERS);
    let doc = std::fs::read_to_string(repo_root().join("docs/CITUS.md")).unwrap();
    for trigger in DOCUMENTED_TRIGGERS {
        assert!(
            doc.contains(trigger),
            "docs/CITUS.md does not explain {trigger}"
        );
    }
}

#[test]
fn no_statement_computes_a_non_immutable_function_in_returning_or_do_update() {
    let mut offenders = Vec::new();
    for file in rust_files(&repo_root().join("host/src")) {
        let source = std::fs::read_to_string(&file).unwrap();
        for found in refused_calls(&source) {
            offenders.push(format!("{}: {found}", file.display()));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn the_source_scan_finds_what_citus_refuses() {
    let upsert = r#"let q = "INSERT INTO t VALUES ($1) ON CONFLICT (k) DO UPDATE SET at = now() RETURNING id";"#;
    assert_eq!(
        refused_calls(upsert).len(),
        1,
        "{:?}",
        refused_calls(upsert)
    );
    let update = r##"sqlx::query(r#"UPDATE t SET a = $2 RETURNING to_jsonb(t.*)"#)"##;
    assert_eq!(refused_calls(update).len(), 1);
    let hidden = r#"format!("UPDATE t SET a = $2 RETURNING {COLUMNS}")"#;
    assert_eq!(refused_calls(hidden).len(), 1);
    let constant = r#"format!("... DO UPDATE SET a = 1 WHERE at < $2 - interval '{HOURS}'")"#;
    assert_eq!(refused_calls(constant), Vec::<String>::new());
    let fine = r#"let q = "WITH w AS (UPDATE t SET at = $3 WHERE tenant_id = $1 RETURNING t.*)
                            SELECT {ROW}, to_jsonb(w.*) FROM w"; // RETURNING now()"#;
    assert_eq!(refused_calls(fine), Vec::<String>::new());
}

/// Every refused call in the SQL of one Rust source file.
fn refused_calls(source: &str) -> Vec<String> {
    string_literals(source)
        .iter()
        .flat_map(|literal| sql_clauses(literal))
        .filter_map(|clause| non_immutable_call(&clause).map(|f| format!("{f} in {clause:?}")))
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The string literals of Rust source (plain and raw), comments skipped. Enough of Rust's
/// lexer for SQL held in literals: char literals and lifetimes are told apart by their quote.
fn string_literals(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            '\'' => {
                // 'x', '\n', '\'' are chars; 'a (no closing quote after one char) a lifetime.
                if chars.get(i + 1) == Some(&'\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if matches!(chars.get(i + 1), Some('"') | Some('#'))
                && (i == 0 || !chars[i - 1].is_alphanumeric() && chars[i - 1] != '_') =>
            {
                let mut hashes = 0;
                let mut j = i + 1;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let mut k = start;
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                while k < chars.len() && chars[k..].iter().take(close.len()).ne(close.iter()) {
                    k += 1;
                }
                literals.push(chars[start..k.min(chars.len())].iter().collect());
                i = k + close.len();
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                        if chars.get(i) == Some(&'\n') {
                            // A line continuation: the next line's indentation is dropped.
                            while chars.get(i + 1).is_some_and(|c| c.is_whitespace()) {
                                i += 1;
                            }
                            text.push(' ');
                        } else if let Some(&c) = chars.get(i) {
                            text.push(c);
                        }
                    } else {
                        text.push(chars[i]);
                    }
                    i += 1;
                }
                literals.push(text);
                i += 1;
            }
            _ => i += 1,
        }
    }
    literals
}

/// The `RETURNING ...` and `DO UPDATE SET ...` parts of one SQL text: each ends at the
/// statement's end (`;`, the text's end, or the `)` closing a CTE), an update's also at its
/// `RETURNING`.
fn sql_clauses(sql: &str) -> Vec<String> {
    let upper = sql.to_uppercase();
    let mut clauses = Vec::new();
    for keyword in ["RETURNING", "DO UPDATE"] {
        let mut from = 0;
        while let Some(at) = upper[from..].find(keyword).map(|at| at + from) {
            let body = at + keyword.len();
            let mut depth = 0i32;
            let mut end = sql.len();
            for (offset, c) in upper[body..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = body + offset;
                        break;
                    }
                    ')' => depth -= 1,
                    ';' => {
                        end = body + offset;
                        break;
                    }
                    _ if keyword == "DO UPDATE"
                        && upper[body + offset..].starts_with("RETURNING") =>
                    {
                        end = body + offset;
                        break;
                    }
                    _ => {}
                }
            }
            clauses.push(sql[at..end].to_owned());
            from = body;
        }
    }
    clauses
}

/// The first non-immutable function (or a `{placeholder}` that could hide one) in a clause,
/// outside its SQL string constants.
fn non_immutable_call(clause: &str) -> Option<String> {
    const REFUSED: &[&str] = &[
        "now(",
        "current_timestamp",
        "current_date",
        "current_time",
        "localtimestamp",
        "clock_timestamp(",
        "statement_timestamp(",
        "transaction_timestamp(",
        "random(",
        "gen_random_uuid(",
        "nextval(",
        "current_setting(",
        "to_jsonb(",
        "to_json(",
        "row_to_json(",
        "jsonb_build_object(",
        "txid_current(",
        "pg_current_xact_id(",
    ];
    // SQL string constants ('24 hours', '{}') are values, not calls: left out.
    let lower: String = clause
        .to_lowercase()
        .split('\'')
        .step_by(2)
        .collect::<Vec<_>>()
        .join("''");
    if let Some(function) = REFUSED.iter().find(|f| lower.contains(*f)) {
        return Some((*function).to_owned());
    }
    let placeholder = lower.find('{')?;
    let rest = &lower[placeholder..];
    let name = &rest[..rest.find('}').unwrap_or(rest.len()).min(rest.len())];
    Some(format!("{name}}} (a placeholder: spell the columns out)"))
}
