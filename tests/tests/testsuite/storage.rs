//! The store backend against a real PostgreSQL: structured calls compiled to SQL in a tenant
//! transaction. Covers filters, keyset cursors, optimistic versions, aggregates, constraint
//! errors that leave the transaction usable, hostile identifiers and values, and another
//! tenant reaching for the rows.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;
use verofield::runtime::capabilities::store::{
    AggregateFunction, AggregateQuery, Aggregation, DateBucket, Direction, Filter, GroupKey,
    JsonObject, OrderBy, SelectQuery, StoreBackend, StoreError,
};
use verofield::storage::{Catalog, PgStore, SharedTx};
use verofield::tenancy::provision::{NewTenant, create_tenant};
use verofield::tenancy::{TenantScope, TenantTx};
use verofield_tests::TestDb;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Fixture {
    _db: TestDb,
    pool: PgPool,
    catalog: Arc<Catalog>,
    tenant_a: Uuid,
    tenant_b: Uuid,
}

async fn fixture() -> Fixture {
    let db = TestDb::create().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    verofield::db::MIGRATOR.run(&pool).await.unwrap();
    let mut tenants = Vec::new();
    for slug in ["store-a", "store-b"] {
        let created = create_tenant(
            &pool,
            NewTenant {
                name: slug.into(),
                slug: slug.into(),
                time_zone: None,
                admin_email: format!("owner@{slug}.test"),
                admin_password: "correct horse battery".into(),
            },
            TIMEOUT,
        )
        .await
        .unwrap();
        tenants.push(created.tenant_id);
    }
    let catalog = Arc::new(Catalog::load(&pool).await.unwrap());
    Fixture {
        _db: db,
        pool,
        catalog,
        tenant_a: tenants[0],
        tenant_b: tenants[1],
    }
}

impl Fixture {
    async fn store(&self, tenant_id: Uuid) -> (PgStore, SharedTx) {
        let scope = TenantScope {
            tenant_id,
            user_id: None,
        };
        let tx = TenantTx::begin(&self.pool, scope, TIMEOUT).await.unwrap();
        let shared: SharedTx = Arc::new(Mutex::new(Some(tx)));
        (PgStore::new(shared.clone(), self.catalog.clone()), shared)
    }
}

async fn commit(shared: SharedTx) {
    shared.lock().await.take().unwrap().commit().await.unwrap();
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        _ => panic!("not an object"),
    }
}

fn query(
    filter: Option<&str>,
    order: Vec<OrderBy>,
    cursor: Option<String>,
    limit: u32,
) -> SelectQuery {
    SelectQuery {
        table: "crm_customers".into(),
        filter: filter.map(|f| Filter::parse(f).unwrap()),
        order,
        cursor,
        limit,
    }
}

#[tokio::test]
async fn crud_filters_cursor_versions_and_aggregates() {
    let f = fixture().await;
    let (mut store, shared) = f.store(f.tenant_a).await;
    let names = [
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
        "Edsger Dijkstra",
        "Barbara Liskov",
    ];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let row = store
            .insert(
                "crm_customers",
                object(json!({
                    "name": name,
                    "email": format!("c{i}@example.com"),
                    "status": if i % 2 == 0 { "active" } else { "lead" },
                    "tags": if i < 2 { json!(["vip"]) } else { json!([]) },
                    "balance_minor": i as i64 * 100,
                })),
            )
            .await
            .unwrap();
        assert_eq!(row.version, 1);
        assert_eq!(row.values["name"], json!(name));
        assert!(
            row.values.get("tenant_id").is_none(),
            "the tenant never reaches a module"
        );
        ids.push(row.id);
    }

    // Filters: and/or/like/in/array membership.
    let page = store
        .select(query(
            Some(r#"{"and":[{"column":"status","op":"eq","value":"active"},{"or":[{"column":"name","op":"like","value":"%a%"},{"column":"tags","op":"eq","value":"vip"}]}]}"#),
            vec![OrderBy { column: "name".into(), direction: Direction::Asc }],
            None,
            10,
        ))
        .await
        .unwrap();
    let got: Vec<&str> = page
        .rows
        .iter()
        .map(|r| r.values["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["Ada Lovelace", "Alan Turing", "Barbara Liskov"]);
    let vip = store
        .select(query(
            Some(r#"{"column":"tags","op":"eq","value":"vip"}"#),
            vec![],
            None,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(vip.rows.len(), 2);

    // Keyset pagination, descending on a non-unique column, visits every row exactly once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let order = vec![OrderBy {
            column: "status".into(),
            direction: Direction::Desc,
        }];
        let page = store.select(query(None, order, cursor, 2)).await.unwrap();
        seen.extend(page.rows.iter().map(|r| r.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    assert_eq!(sorted_seen, expected);

    // Optimistic concurrency.
    let updated = store
        .update(
            "crm_customers",
            ids[0],
            1,
            object(json!({"notes": "prefers mornings"})),
        )
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.values["notes"], json!("prefers mornings"));
    let stale = store
        .update("crm_customers", ids[0], 1, object(json!({"notes": "x"})))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(2))), "{stale:?}");
    let missing = store
        .update(
            "crm_customers",
            Uuid::now_v7(),
            1,
            object(json!({"notes": "x"})),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));

    // Constraint errors are store errors and leave the transaction usable.
    let bad_status = store
        .insert(
            "crm_customers",
            object(json!({"name": "X", "status": "vip"})),
        )
        .await;
    // Each names the column from the catalog, never PostgreSQL's own message.
    let invalid = |why: &str| Err(StoreError::Invalid(why.into()));
    assert_eq!(
        bad_status.map(|_| ()),
        invalid("column `status`: breaks the column's rule")
    );
    let orphan = store
        .insert(
            "crm_locations",
            object(json!({"customer_id": Uuid::now_v7().to_string()})),
        )
        .await;
    assert_eq!(
        orphan.map(|_| ()),
        invalid("column `customer_id`: refers to no existing row")
    );
    let nameless = store
        .insert("crm_customers", object(json!({"email": "x@example.com"})))
        .await;
    assert_eq!(
        nameless.map(|_| ()),
        invalid("column `name`: may not be null")
    );
    let again = store
        .insert(
            "crm_customers",
            object(json!({"id": ids[1].to_string(), "name": "Twin"})),
        )
        .await;
    assert_eq!(again.map(|_| ()), Err(StoreError::Duplicate("id".into())));
    // Text PostgreSQL cannot store is refused before the statement, in a read too.
    let nul = store
        .select(query(
            Some(r#"{"column": "name", "op": "like", "value": "%\u0000%"}"#),
            vec![],
            None,
            10,
        ))
        .await;
    assert_eq!(
        nul.map(|_| ()),
        invalid("column `name`: may not contain the NUL character")
    );
    assert!(store.get("crm_customers", ids[1]).await.unwrap().is_some());

    // Aggregates with a date bucket.
    let groups = store
        .aggregate(AggregateQuery {
            table: "crm_customers".into(),
            filter: None,
            group_by: vec![
                GroupKey {
                    column: "status".into(),
                    bucket: None,
                },
                GroupKey {
                    column: "created_at".into(),
                    bucket: Some(DateBucket::Day),
                },
            ],
            aggregates: vec![
                Aggregation {
                    function: AggregateFunction::Count,
                    column: None,
                    alias: "customers".into(),
                },
                Aggregation {
                    function: AggregateFunction::Sum,
                    column: Some("balance_minor".into()),
                    alias: "balance".into(),
                },
            ],
            limit: 100,
        })
        .await
        .unwrap();
    let active = groups
        .iter()
        .find(|g| g["status"] == json!("active"))
        .unwrap();
    assert_eq!(active["customers"], json!(3));
    assert_eq!(active["balance"], json!(600));

    store
        .delete("crm_customers", ids[4], Some(1))
        .await
        .unwrap();
    assert!(store.get("crm_customers", ids[4]).await.unwrap().is_none());
    assert!(matches!(
        store.delete("crm_customers", ids[4], None).await,
        Err(StoreError::NotFound)
    ));
    commit(shared).await;
}

#[tokio::test]
async fn hostile_identifiers_and_values_change_nothing() {
    let f = fixture().await;
    let (mut store, shared) = f.store(f.tenant_a).await;
    let row = store
        .insert("crm_customers", object(json!({"name": "Target"})))
        .await
        .unwrap();

    let hostile_columns = [
        "name; drop table users",
        "name\" = 'x' OR \"1",
        "set_config('app.tenant_id', '00000000-0000-0000-0000-000000000000', true)",
        "tenant_id",
    ];
    for column in hostile_columns {
        let filter = json!({"column": column, "op": "eq", "value": "x"}).to_string();
        let result = store.select(query(Some(&filter), vec![], None, 10)).await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{column}: {result:?}"
        );
        let result = store
            .insert("crm_customers", object(json!({ column: "x", "name": "Y" })))
            .await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{column}: {result:?}"
        );
    }
    for table in ["users", "crm_customers; drop table users", "../users"] {
        let result = store.get(table, row.id).await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{table}: {result:?}"
        );
    }
    // A value carrying SQL is just a value.
    let filter = json!({"column": "name", "op": "eq", "value": "x' OR '1'='1"}).to_string();
    let page = store
        .select(query(Some(&filter), vec![], None, 10))
        .await
        .unwrap();
    assert!(page.rows.is_empty());
    // A wrongly typed value is refused before it reaches PostgreSQL.
    let filter = json!({"column": "balance_minor", "op": "gt", "value": "1; select 1"}).to_string();
    assert!(matches!(
        store.select(query(Some(&filter), vec![], None, 10)).await,
        Err(StoreError::Invalid(_))
    ));
    // The transaction is still usable after all of that.
    assert_eq!(
        store
            .get("crm_customers", row.id)
            .await
            .unwrap()
            .unwrap()
            .values["name"],
        json!("Target")
    );
    commit(shared).await;

    let mut admin = f._db.connect().await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'users'")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(tables, 1);
    let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM store.crm_customers")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(customers, 1);
}

#[tokio::test]
async fn another_tenant_cannot_reach_the_rows() {
    let f = fixture().await;
    let (mut store_a, shared_a) = f.store(f.tenant_a).await;
    let row = store_a
        .insert("crm_customers", object(json!({"name": "Private"})))
        .await
        .unwrap();
    commit(shared_a).await;

    let (mut store_b, shared_b) = f.store(f.tenant_b).await;
    assert!(
        store_b
            .get("crm_customers", row.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store_b
            .select(query(None, vec![], None, 100))
            .await
            .unwrap()
            .rows
            .is_empty()
    );
    let update = store_b
        .update(
            "crm_customers",
            row.id,
            1,
            object(json!({"name": "Stolen"})),
        )
        .await;
    assert!(matches!(update, Err(StoreError::NotFound)), "{update:?}");
    assert!(matches!(
        store_b.delete("crm_customers", row.id, None).await,
        Err(StoreError::NotFound)
    ));
    // Claiming A's id for a new row in B creates B's own row, never touches A's.
    let own = store_b
        .insert(
            "crm_customers",
            object(json!({"id": row.id.to_string(), "name": "Mine"})),
        )
        .await
        .unwrap();
    assert_eq!(own.id, row.id);
    let counted = store_b
        .aggregate(AggregateQuery {
            table: "crm_customers".into(),
            filter: None,
            group_by: vec![],
            aggregates: vec![Aggregation {
                function: AggregateFunction::Count,
                column: None,
                alias: "n".into(),
            }],
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(counted[0]["n"], json!(1));
    commit(shared_b).await;

    let mut admin = f._db.connect().await;
    let name: String =
        sqlx::query_scalar("SELECT name FROM store.crm_customers WHERE tenant_id = $1 AND id = $2")
            .bind(f.tenant_a)
            .bind(row.id)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(name, "Private");
}
