//! Emission orders, as the regional order stations have them: a participant
//! orders codes for one of its GTINs; the emission worker generates, signs and
//! stores them; the participant fetches them page by page.
//!
//! - `POST /v1/orders` — manufacturers and importers. Requires
//!   `Idempotency-Key`. Body `{"gtin", "quantity" (1..=2,000,000),
//!   "release_method": "production" | "import"}`; the GTIN must be registered
//!   in the catalogue by the caller. Answer 202 with the order (`CREATED`).
//! - `GET /v1/orders/{id}` — the ordering participant only: status
//!   (`CREATED`, `READY`, `DECLINED`) and how many codes are ready.
//! - `GET /v1/orders/{id}/codes?page=N&size=M` — the ordering participant
//!   only; `size` at most 150,000 (the regional limit per fetch), pages from 0,
//!   codes as canonical element strings in serial order.
//!
//! Anyone else gets 404 for an order that is not theirs: whether an order id
//! exists is none of their business.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use tanba_core::Gtin;

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::idempotency::Idempotency;
use crate::ids::OrderId;
use crate::state::AppState;
use crate::store::Order;

/// The most codes one order may ask for (one GTIN), as in the regional systems.
pub const MAX_QUANTITY: i64 = 2_000_000;
/// The most codes one page may carry.
pub const MAX_PAGE: i64 = 150_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/orders", web::post().to(create))
        .route("/v1/orders/{id}", web::get().to(get))
        .route("/v1/orders/{id}/codes", web::get().to(codes));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    gtin: String,
    quantity: i64,
    release_method: String,
}

#[derive(Debug, Serialize)]
struct OrderBody<'a> {
    id: String,
    gtin: &'a str,
    quantity: i64,
    release_method: &'a str,
    status: &'static str,
    ready: i64,
    decline_reason: Option<&'a str>,
    created_at: i64,
    ready_at: Option<i64>,
}

fn body(o: &Order) -> OrderBody<'_> {
    OrderBody {
        id: o.id.to_string(),
        gtin: &o.gtin,
        quantity: o.quantity,
        release_method: &o.release_method,
        status: o.status.as_str(),
        ready: o.generated,
        decline_reason: o.decline_reason.as_deref(),
        created_at: o.created_at,
        ready_at: o.ready_at,
    }
}

/// `POST /v1/orders` — manufacturer, importer.
#[tracing::instrument(skip_all)]
async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Manufacturer, Role::Importer])?;
    let participant = caller.participant()?;
    let idem = Idempotency::from_request(&req, &raw)?;
    let actor = caller.actor.id();
    if let Some(first) = idem.replay(&state.store, &actor).await? {
        return Ok(replayed(first));
    }
    let new: NewOrder = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", e))?;

    let gtin = Gtin::parse(new.gtin.trim())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "order_bad_gtin").arg("detail", e))?;
    if !(1..=MAX_QUANTITY).contains(&new.quantity) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "order_bad_quantity")
            .arg("max", MAX_QUANTITY)
            .arg("quantity", new.quantity));
    }
    if !matches!(new.release_method.as_str(), "production" | "import") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "order_bad_release_method",
        ));
    }
    match state.store.product_owner(&gtin).await? {
        None => {
            return Err(
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "order_unknown_gtin")
                    .arg("gtin", gtin.as_str()),
            );
        }
        Some(owner) if owner != participant => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "order_foreign_gtin")
                .arg("gtin", gtin.as_str()));
        }
        Some(_) => {}
    }

    let mut tx = state.store.begin().await?;
    let order = tx
        .create_order(participant, &gtin, new.quantity, &new.release_method)
        .await?;
    let answer = serde_json::to_string(&body(&order)).map_err(anyhow::Error::from)?;
    let mut audit = caller.audit("order.create");
    audit.object = Some(order.id.to_string());
    audit.detail = serde_json::json!({ "gtin": gtin.as_str(), "quantity": new.quantity });
    tx.audit(audit).await?;
    if idem
        .save(&mut tx, &actor, StatusCode::ACCEPTED.as_u16(), &answer)
        .await
        .is_err()
    {
        // The same key committed meanwhile by a concurrent retry: its answer
        // stands, this attempt changes nothing.
        drop(tx);
        return match idem.replay(&state.store, &actor).await? {
            Some(first) => Ok(replayed(first)),
            None => Err(ApiError::internal(anyhow::anyhow!(
                "idempotency record vanished"
            ))),
        };
    }
    tx.commit().await?;
    state.emission.wake();
    Ok(HttpResponse::Accepted()
        .content_type("application/json")
        .body(answer))
}

fn replayed(first: crate::idempotency::Stored) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK))
        .insert_header(("Idempotent-Replayed", "true"))
        .content_type("application/json")
        .body(first.body)
}

/// The caller's own order, or 404.
async fn own_order(caller: &Caller, state: &AppState, id: &str) -> Result<Order, ApiError> {
    caller.require(&[Role::Manufacturer, Role::Importer])?;
    let participant = caller.participant()?;
    let id: OrderId = id.parse().map_err(|_| ApiError::not_found())?;
    match state.store.order(id).await? {
        Some(order) if order.participant == participant => Ok(order),
        _ => Err(ApiError::not_found()),
    }
}

/// `GET /v1/orders/{id}` — the ordering participant.
#[tracing::instrument(skip_all)]
async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = own_order(&caller, &state, &path).await?;
    Ok(HttpResponse::Ok().json(body(&order)))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<i64>,
    size: Option<i64>,
}

#[derive(Debug, Serialize)]
struct CodesPage {
    order: String,
    page: i64,
    size: i64,
    total: i64,
    codes: Vec<String>,
}

/// `GET /v1/orders/{id}/codes` — the ordering participant.
#[tracing::instrument(skip_all)]
async fn codes(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let order = own_order(&caller, &state, &path).await?;
    let page = query.page.unwrap_or(0);
    let size = query.size.unwrap_or(MAX_PAGE);
    if page < 0 || !(1..=MAX_PAGE).contains(&size) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "order_bad_page").arg("max", MAX_PAGE));
    }
    let codes = state
        .store
        .order_codes(order.id, page.saturating_mul(size), size)
        .await?;
    Ok(HttpResponse::Ok().json(CodesPage {
        order: order.id.to_string(),
        page,
        size,
        total: order.generated,
        codes: codes.iter().map(|c| c.element_string()).collect(),
    }))
}
