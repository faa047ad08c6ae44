//! `GET /health`: whether the service can answer, including a database round
//! trip. Public: load balancers and monitoring call it without credentials.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    database: &'static str,
}

#[get("/health")]
#[tracing::instrument(skip_all)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (status, code, database) = match state.store.ping().await {
        Ok(()) => ("ok", StatusCode::OK, "ok"),
        Err(err) => {
            tracing::warn!(error = ?err, "health check: database unreachable");
            ("degraded", StatusCode::SERVICE_UNAVAILABLE, "unreachable")
        }
    };
    HttpResponse::build(code).json(Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        database,
    })
}
