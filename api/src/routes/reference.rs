//! `GET /v1/reference` and `GET /v1/reference/{name}`: the reference data
//! (НСИ), one source for every participant and every part of Tanba (decree,
//! criterion 18). Public: reference data is no secret, and participants'
//! systems cache it to check their own input before they send it.
//!
//! A dictionary answers with its version, every current entry with both
//! names (`name_kk`, `name_ru`) and its own fields, and `name` in the
//! request's language (`?lang=`, cookie, `Accept-Language`). Entries a later
//! version dropped are left out unless `?include_retired=true`; they then
//! carry `"active": false` and the version that retired them.
//!
//! Caching: dictionaries change only with a new version, so answers carry an
//! `ETag` made of name, version and language and may be cached for an hour;
//! `If-None-Match` with the current tag gets `304 Not Modified`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use serde_json::{Map, Value};
use tanba_locales::Lang;

use crate::error::ApiError;
use crate::lang::RequestLang;
use crate::reference::{Dictionary, Entry};
use crate::state::AppState;

/// Registers this module's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(dictionary);
}

#[derive(Serialize)]
struct ListBody {
    lang: &'static str,
    dictionaries: Vec<DictionarySummary>,
}

#[derive(Serialize)]
struct DictionarySummary {
    name: &'static str,
    /// The dictionary's title in the request's language.
    title: String,
    version: i64,
    /// Current entries.
    entries: usize,
    /// RFC 3339, UTC.
    updated_at: String,
}

#[derive(Serialize)]
struct DictionaryBody {
    name: &'static str,
    title: String,
    version: i64,
    updated_at: String,
    lang: &'static str,
    entries: Vec<Value>,
}

/// `?include_retired=true` (or `1`). Read by hand, so that any other query
/// parameter (such as `lang`) or value is simply not this flag.
fn include_retired(req: &HttpRequest) -> bool {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "include_retired" && (v == "true" || v == "1"))
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// An entry on the wire: code, both names, the name in `lang`, whether it is
/// current, and the dictionary's own fields next to them.
fn entry_json(e: &Entry, lang: Lang) -> Value {
    let mut m = Map::new();
    m.insert("code".into(), e.code.clone().into());
    m.insert("name".into(), e.name(lang).into());
    m.insert("name_kk".into(), e.name_kk.clone().into());
    m.insert("name_ru".into(), e.name_ru.clone().into());
    m.insert("active".into(), e.is_active().into());
    if let Some(v) = e.valid_to {
        m.insert("valid_to".into(), v.into());
    }
    for (k, v) in &e.attributes {
        m.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(m)
}

/// Whether the request's `If-None-Match` names `etag` (or `*`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn cached(mut resp: HttpResponse, etag: &str) -> HttpResponse {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    // The language may come from the cookie or Accept-Language, not only the URL.
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    resp
}

/// Every dictionary with its version. Public.
#[get("/v1/reference")]
#[tracing::instrument(skip_all)]
async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    lang: RequestLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let mut dictionaries = Vec::new();
    for d in Dictionary::ALL {
        let Some(loaded) = state.reference.dictionary(d) else {
            continue;
        };
        dictionaries.push(DictionarySummary {
            name: d.name(),
            title: tanba_locales::text(lang, &d.title_key()),
            version: loaded.version,
            entries: loaded.active().count(),
            updated_at: rfc3339(loaded.updated_at),
        });
    }
    let versions: Vec<String> = dictionaries
        .iter()
        .map(|d| format!("{}.{}", d.name, d.version))
        .collect();
    let etag = format!("\"{}-{}\"", versions.join("-"), lang.as_str());
    if not_modified(&req, &etag) {
        return Ok(cached(HttpResponse::NotModified().finish(), &etag));
    }
    let resp = HttpResponse::Ok().json(ListBody {
        lang: lang.as_str(),
        dictionaries,
    });
    Ok(cached(resp, &etag))
}

/// One dictionary's entries with its version. Public.
#[get("/v1/reference/{name}")]
#[tracing::instrument(skip(req, state, lang))]
async fn dictionary(
    req: HttpRequest,
    state: web::Data<AppState>,
    lang: RequestLang,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let include_retired = include_retired(&req);
    let not_found = || {
        // The name is echoed back only when it is short and plain, so the
        // message cannot carry arbitrary text.
        let shown: String = name.chars().take(64).collect();
        ApiError::new(StatusCode::NOT_FOUND, "reference_not_found").arg("name", shown)
    };
    let d = Dictionary::from_name(&name).ok_or_else(not_found)?;
    let loaded = state.reference.dictionary(d).ok_or_else(not_found)?;
    let etag = format!(
        "\"{}.{}-{}{}\"",
        d.name(),
        loaded.version,
        lang.as_str(),
        if include_retired { "-all" } else { "" }
    );
    if not_modified(&req, &etag) {
        return Ok(cached(HttpResponse::NotModified().finish(), &etag));
    }
    let entries = loaded
        .entries
        .iter()
        .filter(|e| include_retired || e.is_active())
        .map(|e| entry_json(e, lang))
        .collect();
    let resp = HttpResponse::Ok()
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .json(DictionaryBody {
            name: d.name(),
            title: tanba_locales::text(lang, &d.title_key()),
            version: loaded.version,
            updated_at: rfc3339(loaded.updated_at),
            lang: lang.as_str(),
            entries,
        });
    Ok(cached(resp, &etag))
}
