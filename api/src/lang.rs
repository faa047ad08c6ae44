//! The language of a request: `?lang=`, then the `lang` cookie, then
//! `Accept-Language`, then Kazakh.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::ACCEPT_LANGUAGE;
use actix_web::{FromRequest, HttpRequest};
use tanba_locales::Lang;

/// The language a person asked for, as an extractor for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLang(pub Lang);

impl RequestLang {
    pub fn of(req: &HttpRequest) -> Lang {
        let from_query = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::from_tag(&v));
        if let Some(lang) = from_query {
            return lang;
        }
        if let Some(lang) = req.cookie("lang").and_then(|c| Lang::from_tag(c.value())) {
            return lang;
        }
        req.headers()
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::negotiate)
            .unwrap_or_default()
    }
}

impl FromRequest for RequestLang {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(RequestLang(Self::of(req))))
    }
}
