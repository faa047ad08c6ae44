//! Packages (transport packages and pallets, by SSCC), as aggregation
//! documents made them.
//!
//! - `GET /v1/packages/{sscc}` — the package's owner, inspectors,
//!   administrators: its owner, the package around it, the document that
//!   made it, and what sits directly in it (codes and packages). `{sscc}`
//!   is the bare 18 digits or any scanner form, percent-encoded. Another
//!   participant's package is the same 404 as an unknown one.

use actix_web::{HttpResponse, web};
use serde_json::json;
use tanba_core::ScannedCode;

use crate::auth::{Actor, Caller, Role};
use crate::error::ApiError;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/packages/{sscc}", web::get().to(get));
}

/// Who may ask about a package: participants (their own only), inspectors
/// and administrators.
const READERS: [Role; 6] = Role::TRADE_AND_CONTROL;

/// `GET /v1/packages/{sscc}` — its owner, inspectors, administrators.
#[tracing::instrument(skip_all)]
async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&READERS)?;
    let Ok(ScannedCode::Sscc(sscc)) = crate::documents::scan(&path) else {
        return Err(ApiError::not_found());
    };
    let view = state
        .store
        .package(&sscc)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Actor::Participant(p) = caller.actor
        && p != view.package.owner
    {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "sscc": view.package.sscc.as_str(),
            "owner": view.package.owner.to_string(),
            "parent": view.package.parent.as_ref().map(|p| p.as_str()),
            "document": view.document,
            "created_at": view.created_at,
            "codes": view.codes.iter().map(|c| c.element_string()).collect::<Vec<_>>(),
            "packages": view.packages.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        })))
}
