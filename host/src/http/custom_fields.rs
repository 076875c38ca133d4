//! `/v1/tenant/custom-fields`: the tenant's custom-field definitions (`crate::custom_fields`),
//! read by anyone signed in to the tenant (a client building a form needs them), changed with
//! `settings.manage`. A definition is addressed by `{entity}/{key}` and versioned (ETag,
//! `If-Match`). Changing one never rewrites a stored value: label, required, default,
//! list visibility and new enum values change freely; a type change or a removed enum value
//! that rows still hold, and deleting a field rows still hold, are refused with 409 and the
//! number of rows (`custom_field_in_use`).

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::etag::{check_if_match, etag_header};
use super::extract::{Json, Path, Query, Tenant};
use super::pagination::Page;
use crate::auth::rbac::perm;
use crate::custom_fields::{self, Definition, TYPES, is_key, table_of_entity, values::misfit};
use crate::error::{Error, Result, Validator, is_unique_violation};
use crate::tenancy::TenantTx;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant/custom-fields", get(list).post(create))
        .route(
            "/v1/tenant/custom-fields/{entity}/{key}",
            patch(update).delete(remove),
        )
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Only this entity's fields: `customer`, `location`, `job` or `agreement`.
    entity: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CustomFieldCreate)]
#[serde(deny_unknown_fields)]
pub(super) struct Create {
    entity: String,
    key: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    required: bool,
    default: Option<Value>,
    #[serde(default)]
    enum_values: Vec<String>,
    #[serde(default)]
    shown_in_lists: bool,
}

/// Absent members keep their value; `"default": null` removes the default.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CustomFieldUpdate)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    label: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    required: Option<bool>,
    /// Absent: keep; `null`: remove; a value: the new default.
    #[serde(default, deserialize_with = "present")]
    default: Option<Value>,
    enum_values: Option<Vec<String>>,
    shown_in_lists: Option<bool>,
}

/// A member that is present, `null` included (plain `Option<Value>` reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// The checks every definition passes, whether new or changed.
fn check_definition(definition: &Definition) -> Result<()> {
    let mut check = Validator::new();
    check
        .check(
            (1..=100).contains(&definition.label.trim().chars().count()),
            "label",
            "must be 1 to 100 characters",
        )
        .check(
            TYPES.contains(&definition.kind.as_str()),
            "type",
            format!("must be one of {}", TYPES.join(", ")),
        );
    let enum_ok = match definition.kind.as_str() {
        "enum" => {
            (1..=100).contains(&definition.enum_values.len())
                && definition
                    .enum_values
                    .iter()
                    .all(|v| (1..=100).contains(&v.chars().count()) && !v.contains('\0'))
        }
        _ => definition.enum_values.is_empty(),
    };
    check.check(
        enum_ok,
        "enum_values",
        "an enum needs 1 to 100 values of 1 to 100 characters; other types take none",
    );
    if let Some(default) = &definition.default
        && TYPES.contains(&definition.kind.as_str())
        && let Some(why) = misfit(definition, default)
    {
        check.push("default", why);
    }
    check.finish()
}

fn check_entity(entity: &str) -> Result<&'static str> {
    table_of_entity(entity).ok_or_else(|| {
        Error::validation(vec![crate::error::FieldError::new(
            "entity",
            "must be customer, location, job or agreement",
        )])
    })
}

async fn list(mut ctx: Tenant, Query(query): Query<ListQuery>) -> Result<impl IntoResponse> {
    if let Some(entity) = &query.entity {
        check_entity(entity)?;
    }
    let items = custom_fields::load(ctx.tx.conn(), query.entity.as_deref()).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn load_one(tx: &mut TenantTx, entity: &str, key: &str) -> Result<Definition> {
    let found = sqlx::query_as(
        "SELECT entity, key, label, type, required, default_value, enum_values, shown_in_lists, \
         version FROM custom_field_definitions WHERE tenant_id = $1 AND entity = $2 AND key = $3 \
         FOR UPDATE",
    )
    .bind(tx.tenant_id())
    .bind(entity)
    .bind(key)
    .fetch_optional(tx.conn())
    .await?;
    found.ok_or_else(|| Error::not_found("custom field"))
}

async fn save(tx: &mut TenantTx, d: &Definition, inserting: bool) -> sqlx::Result<()> {
    let sql = match inserting {
        true => {
            "INSERT INTO custom_field_definitions (tenant_id, entity, key, label, type, required, \
             default_value, enum_values, shown_in_lists) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        }
        false => {
            "UPDATE custom_field_definitions SET label = $4, type = $5, required = $6, \
             default_value = $7, enum_values = $8, shown_in_lists = $9, version = version + 1, \
             updated_at = now() WHERE tenant_id = $1 AND entity = $2 AND key = $3"
        }
    };
    sqlx::query(sql)
        .bind(tx.tenant_id())
        .bind(&d.entity)
        .bind(&d.key)
        .bind(d.label.trim())
        .bind(&d.kind)
        .bind(d.required)
        .bind(&d.default)
        .bind(&d.enum_values)
        .bind(d.shown_in_lists)
        .execute(tx.conn())
        .await
        .map(|_| ())
}

/// Answers a definition with its ETag, after committing.
async fn answer(mut ctx: Tenant, entity: &str, key: &str, status: StatusCode) -> Result<Response> {
    let definition = load_one(&mut ctx.tx, entity, key).await?;
    ctx.commit().await?;
    Ok((
        status,
        [(header::ETAG, etag_header(definition.version))],
        Json(definition),
    )
        .into_response())
}

async fn create(mut ctx: Tenant, Json(body): Json<Create>) -> Result<Response> {
    ctx.require(perm::SETTINGS_MANAGE)?;
    check_entity(&body.entity)?;
    if !is_key(&body.key) {
        return Err(Error::validation(vec![crate::error::FieldError::new(
            "key",
            "must be a lower-case letter, then up to 39 lower-case letters, digits or '_'",
        )]));
    }
    let definition = Definition {
        entity: body.entity,
        key: body.key,
        label: body.label,
        kind: body.kind,
        required: body.required,
        default: body.default.filter(|d| !d.is_null()),
        enum_values: body.enum_values,
        shown_in_lists: body.shown_in_lists,
        version: 1,
    };
    check_definition(&definition)?;
    match save(&mut ctx.tx, &definition, true).await {
        Err(error) if is_unique_violation(&error, None) => {
            return Err(Error::conflict(
                "custom_field_exists",
                "this entity already has a custom field with this key",
            ));
        }
        other => other?,
    }
    ctx.audit(
        "custom_field.created",
        "custom_field",
        uuid::Uuid::nil(),
        serde_json::json!({"entity": definition.entity, "key": definition.key}),
    )
    .await?;
    answer(
        ctx,
        &definition.entity,
        &definition.key,
        StatusCode::CREATED,
    )
    .await
}

/// How many of the tenant's rows of the entity hold a value for `key` (any, or one of
/// `values`). The table comes from the fixed entity list; the key and values are bound.
async fn rows_holding(
    tx: &mut TenantTx,
    entity: &str,
    key: &str,
    values: Option<&[String]>,
) -> Result<i64> {
    let table = check_entity(entity)?;
    let count = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM store.{table} WHERE tenant_id = $1 AND custom ? $2 \
         AND ($3::text[] IS NULL OR custom ->> $2 = ANY($3))"
    ))
    .bind(tx.tenant_id())
    .bind(key)
    .bind(values)
    .fetch_one(tx.conn())
    .await?;
    Ok(count)
}

fn in_use(rows: i64, what: &str) -> Error {
    Error::conflict(
        "custom_field_in_use",
        format!("{rows} row(s) hold {what}; stored values are never rewritten"),
    )
}

async fn update(
    mut ctx: Tenant,
    Path((entity, key)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Update>,
) -> Result<Response> {
    ctx.require(perm::SETTINGS_MANAGE)?;
    check_entity(&entity)?;
    let current = load_one(&mut ctx.tx, &entity, &key).await?;
    check_if_match(&headers, current.version)?;
    let mut changed = current.clone();
    changed.label = body.label.unwrap_or(changed.label);
    changed.kind = body.kind.unwrap_or(changed.kind);
    changed.required = body.required.unwrap_or(changed.required);
    changed.default = match body.default {
        Some(default) => Some(default).filter(|d| !d.is_null()),
        None => changed.default,
    };
    changed.enum_values = match body.enum_values {
        Some(values) => values,
        // Leaving `enum` drops the values, which other types do not take.
        None if changed.kind != "enum" => Vec::new(),
        None => changed.enum_values,
    };
    changed.shown_in_lists = body.shown_in_lists.unwrap_or(changed.shown_in_lists);
    check_definition(&changed)?;
    if changed.kind != current.kind {
        let rows = rows_holding(&mut ctx.tx, &entity, &key, None).await?;
        if rows > 0 {
            return Err(in_use(rows, "a value of the current type"));
        }
    } else if current.kind == "enum" {
        let removed: Vec<String> = current
            .enum_values
            .iter()
            .filter(|v| !changed.enum_values.contains(v))
            .cloned()
            .collect();
        if !removed.is_empty() {
            let rows = rows_holding(&mut ctx.tx, &entity, &key, Some(&removed)).await?;
            if rows > 0 {
                return Err(in_use(
                    rows,
                    &format!("a removed value ({})", removed.join(", ")),
                ));
            }
        }
    }
    save(&mut ctx.tx, &changed, false).await?;
    ctx.audit(
        "custom_field.updated",
        "custom_field",
        uuid::Uuid::nil(),
        serde_json::json!({"entity": entity, "key": key}),
    )
    .await?;
    answer(ctx, &entity, &key, StatusCode::OK).await
}

async fn remove(
    mut ctx: Tenant,
    Path((entity, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    ctx.require(perm::SETTINGS_MANAGE)?;
    check_entity(&entity)?;
    let current = load_one(&mut ctx.tx, &entity, &key).await?;
    check_if_match(&headers, current.version)?;
    let rows = rows_holding(&mut ctx.tx, &entity, &key, None).await?;
    if rows > 0 {
        return Err(in_use(rows, "a value for this field"));
    }
    sqlx::query(
        "DELETE FROM custom_field_definitions WHERE tenant_id = $1 AND entity = $2 AND key = $3",
    )
    .bind(ctx.tx.tenant_id())
    .bind(&entity)
    .bind(&key)
    .execute(ctx.tx.conn())
    .await?;
    ctx.audit(
        "custom_field.deleted",
        "custom_field",
        uuid::Uuid::nil(),
        serde_json::json!({"entity": entity, "key": key}),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
