//! Liveness, readiness and Prometheus metrics, unauthenticated.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppState;

/// What liveness and readiness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    status: &'static str,
    /// Set when not ready: what is unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
}

impl Health {
    const fn status(status: &'static str) -> axum::Json<Self> {
        axum::Json(Self {
            status,
            database: None,
        })
    }
}

pub async fn healthz() -> impl IntoResponse {
    Health::status("ok")
}

/// Ready when the database answers (and, later, the modules are loaded).
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, Health::status("ready")),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(Health {
                    status: "unavailable",
                    database: Some("unreachable"),
                }),
            )
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("db_pool_connections").set(state.pool.size() as f64);
    metrics::gauge!("db_pool_idle_connections").set(state.pool.num_idle() as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}
