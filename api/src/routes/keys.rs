//! `GET /v1/keys`: the operator's public emission keys, current and retired,
//! in the keyring-file form, so anyone (the mobile app, a cash register, a
//! peer system) can check codes offline. Public: these are public keys.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use tanba_core::crypto::PublicKeyEntry;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
struct KeyringBody {
    /// The key that signs new codes now.
    current: String,
    keys: Vec<PublicKeyEntry>,
}

#[get("/v1/keys")]
#[tracing::instrument(skip_all)]
pub async fn keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.store.emission_keys().await?;
    Ok(HttpResponse::Ok()
        // Keys change only on rotation; an hour of caching keeps phones offline-capable
        // without hammering us, and a new key still reaches them within the hour.
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .json(KeyringBody {
            current: state.emission_key.id().as_str().to_owned(),
            keys,
        }))
}
