//! `Idempotency-Key`: a retried state-changing request gets the first answer
//! and changes nothing.
//!
//! The key is scoped to the caller. The first answer is stored in the same
//! transaction as the change it reports, so "changed but answer lost" cannot
//! happen; the request body's hash is stored with it, and the same key with a
//! different body is refused (422) rather than silently answered with the
//! first result.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::store::{Store, Tx};

/// The most characters a key may have.
const MAX_KEY: usize = 128;

/// A request's idempotency key and the hash of its body.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// A stored first answer.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub body: String,
}

impl Idempotency {
    /// Reads the `Idempotency-Key` header (required) and hashes the body.
    pub fn from_request(req: &HttpRequest, body: &[u8]) -> Result<Self, ApiError> {
        let key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "idempotency_key_required"))?;
        if key.len() > MAX_KEY || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(
                ApiError::new(StatusCode::BAD_REQUEST, "idempotency_key_invalid")
                    .arg("max", MAX_KEY),
            );
        }
        Ok(Self {
            key: key.to_owned(),
            request_hash: format!("{:x}", Sha256::digest(body)),
        })
    }

    /// The first answer to this key, if any; refused when the body differs.
    pub async fn replay(&self, store: &Store, actor: &str) -> Result<Option<Stored>, ApiError> {
        match store.idempotent_answer(actor, &self.key).await? {
            None => Ok(None),
            Some((hash, _, _)) if hash != self.request_hash => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
            )),
            Some((_, status, body)) => Ok(Some(Stored {
                status: u16::try_from(status).unwrap_or(200),
                body,
            })),
        }
    }

    /// Stores the answer inside the transaction of the change.
    pub async fn save(
        &self,
        tx: &mut Tx,
        actor: &str,
        status: u16,
        body: &str,
    ) -> anyhow::Result<()> {
        tx.save_idempotent_answer(actor, &self.key, &self.request_hash, status, body)
            .await
    }
}
