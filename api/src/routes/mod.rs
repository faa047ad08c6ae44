//! HTTP handlers, one module per resource. Each handler states who may call
//! it; the foundation's endpoints are public.

pub mod auth;
pub mod codes;
pub mod documents;
pub mod health;
pub mod inspections;
pub mod keys;
pub mod orders;
pub mod packages;
pub mod participants;
pub mod products;
pub mod reference;
pub mod reports;

use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Any path no route matches.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
