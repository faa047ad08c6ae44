//! Routes for products (being built; see issue 3).

use actix_web::web;

/// Registers this module's routes.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
