//! Violation reports from citizens (decree, functional requirement 7 and
//! criterion 5). Anyone may report; no token, no account.
//!
//! - `POST /v1/reports` — `multipart/form-data`: one part `report` (JSON, see
//!   `reports::check`) and up to five parts `photo`. Answer 201
//!   `{number, secret, status}`: the number to quote, the secret to follow
//!   the report with (shown once; only its hash is kept).
//! - `GET /v1/reports/{number}` with `X-Report-Secret: <secret>` — the
//!   report's kind, status, date and the inspector's public answer, in the
//!   reporter's language unless `?lang=` says otherwise. A missing or wrong
//!   secret answers exactly like an unknown number (404 `report_not_found`),
//!   so numbers cannot be probed. Never photos, contacts or inspectors'
//!   internal comments.
//!
//! A report is all or nothing: it is stored with its photos, its first
//! history row and its audit entry in one transaction, or not at all.
//!
//! Abuse: a rate limit per client address and per device (`X-Device-Id`),
//! checked before the body is read (429 `report_rate_limited` with
//! `Retry-After`); the same report from the same reporter within 24 hours is
//! 409 `report_duplicate` with the earlier number; each photo is read up to
//! 10 MB and no further (413 `report_photo_too_large`), at most five (400
//! `report_too_many_photos`), and decoded on one blocking thread for the
//! whole process (`reports::photos`), so a flood of reports cannot take the
//! cores the scan needs; at most 16 bodies are read at once
//! (`reports::limits::UPLOADS_IN_FLIGHT`), so it cannot take its memory
//! either.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tanba_locales::Lang;
use time::OffsetDateTime;
use time::macros::{format_description, offset};

use crate::auth::client_ip;
use crate::error::{ApiError, FieldError};
use crate::lang::RequestLang;
use crate::reference::Dictionary;
use crate::reports::check::check_report;
use crate::reports::limits::{DUPLICATE_WINDOW_MS, reporter_key, subject_key, valid_device_id};
use crate::reports::number::{ReportNumber, new_secret, secret_matches};
use crate::reports::photos::{MAX_PHOTO_BYTES, MAX_PHOTOS};
use crate::reports::status::ReportStatus;
use crate::state::AppState;
use crate::store::{AuditEntry, HistoryEntry, NewReport, ReportAction};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reports", web::post().to(create))
        .route("/v1/reports/{number}", web::get().to(follow));
}

/// Largest `report` part, in bytes: a 4000-character comment in Cyrillic is
/// 8 KB; the rest is room.
const MAX_JSON_BYTES: usize = 64 * 1024;
/// Most bytes one upload may carry in all: five photos at their limit, the
/// JSON, and room for the multipart framing. This route alone reads past
/// `max_body_bytes`; it reads part by part and never holds more than one
/// photo beyond the limit of each.
pub const MAX_UPLOAD_BYTES: usize = MAX_PHOTOS * MAX_PHOTO_BYTES + 2 * MAX_JSON_BYTES;

/// The header carrying the secret of a report being followed.
pub const SECRET_HEADER: &str = "x-report-secret";
/// The header the app sends its device id in.
pub const DEVICE_HEADER: &str = "x-device-id";

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A time as a date in Kazakhstan (one time zone, UTC+5, since March 2024).
pub fn kz_date(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset!(+5))
}

/// `YYYY-MM-DD` in Kazakhstan.
pub fn kz_day(ms: i64) -> String {
    kz_date(ms)
        .date()
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// A wait in whole seconds, rounded up, at least one.
fn wait_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// 429 `report_rate_limited`, the wait in its message: seconds under a
/// minute, whole minutes rounded up above. The handler adds `Retry-After`.
pub fn rate_limited(wait: Duration) -> ApiError {
    let secs = wait_secs(wait);
    let (unit, count) = if secs < 60 {
        ("seconds", secs)
    } else {
        ("minutes", secs.div_ceil(60))
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "report_rate_limited")
        .arg("unit", unit)
        .number("count", count as i64)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "report_not_found")
}

fn malformed(detail: impl ToString) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "report_malformed").arg("detail", detail)
}

fn upload_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "report_upload_too_large")
        .number("limit_mb", (MAX_UPLOAD_BYTES >> 20) as i64)
}

/// The client took longer than `report_upload_timeout_secs` to send its
/// upload. Nothing of it is kept.
fn upload_timeout(secs: u64) -> ApiError {
    ApiError::new(StatusCode::REQUEST_TIMEOUT, "report_upload_timeout").number("secs", secs as i64)
}

/// The parts of an upload, read.
#[derive(Default)]
struct Upload {
    report: Option<Vec<u8>>,
    photos: Vec<Vec<u8>>,
}

/// Reads the multipart body part by part. A part over its limit stops being
/// kept at the limit; the rest of the body is still read (and dropped), up
/// to [`MAX_UPLOAD_BYTES`], so that the client, which is still sending, gets
/// the answer instead of a reset connection. Past that the connection is
/// given up.
async fn read_upload(req: &HttpRequest, payload: web::Payload) -> Result<Upload, ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !multipart {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "report_not_multipart",
        ));
    }
    let mut parts = Multipart::new(req.headers(), payload);
    let mut upload = Upload::default();
    // The first reason to refuse; reading goes on to the end.
    let mut refusal: Option<ApiError> = None;
    let mut total = 0usize;
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().unwrap_or_default().to_owned();
        let keep = match name.as_str() {
            "report" if upload.report.is_some() => {
                refusal.get_or_insert_with(|| malformed("two parts named report"));
                false
            }
            "report" => true,
            "photo" if upload.photos.len() >= MAX_PHOTOS => {
                refusal.get_or_insert_with(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "report_too_many_photos")
                        .number("max", MAX_PHOTOS as i64)
                });
                false
            }
            "photo" => true,
            other => {
                refusal.get_or_insert_with(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "report_unknown_part")
                        .arg("name", other.chars().take(64).collect::<String>())
                });
                false
            }
        };
        let limit = if name == "report" {
            MAX_JSON_BYTES
        } else {
            MAX_PHOTO_BYTES
        };
        let mut buf = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(malformed)?;
            total += chunk.len();
            if total > MAX_UPLOAD_BYTES {
                return Err(refusal.unwrap_or_else(upload_too_large));
            }
            if !keep || over {
                continue;
            }
            if buf.len() + chunk.len() > limit {
                over = true;
                buf = Vec::new();
                let refused = if name == "report" {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
                        .arg("limit", limit)
                        .arg("length", format!("> {limit}"))
                } else {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "report_photo_too_large")
                        .number("n", upload.photos.len() as i64 + 1)
                        .number("max_mb", (MAX_PHOTO_BYTES >> 20) as i64)
                };
                refusal.get_or_insert(refused);
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        if keep && !over {
            match name.as_str() {
                "report" => upload.report = Some(buf),
                _ => upload.photos.push(buf),
            }
        } else if name == "photo" && over {
            // Counted, so the next photo's number in a message is right.
            upload.photos.push(Vec::new());
        }
    }
    match refusal {
        Some(e) => Err(e),
        None => Ok(upload),
    }
}

/// The `X-Device-Id` header: `None` when absent; 400 when it is not 1 to
/// 128 visible ASCII characters.
fn device_id(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(DEVICE_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(v) if valid_device_id(v.trim()) => Ok(Some(v.trim().to_owned())),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "report_bad_device_id",
        )),
    }
}

fn duplicate(earlier: ReportNumber) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "report_duplicate").arg("number", earlier)
}

/// `POST /v1/reports` — anyone.
#[tracing::instrument(skip_all)]
async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    lang: RequestLang,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req);
    let ip_key = ip.clone().unwrap_or_else(|| "unknown".to_owned());
    let device = device_id(&req)?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES) {
        return Err(upload_too_large());
    }
    if let Err(wait) = state.report_limits.check(&ip_key, device.as_deref()) {
        let mut refused = rate_limited(wait).error_response();
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait_secs(wait)));
        return Ok(refused);
    }
    let _slot = state.report_limits.upload_slot().await?;

    let upload = tokio::time::timeout(
        Duration::from_secs(state.settings.report_upload_timeout_secs),
        read_upload(&req, payload),
    )
    .await
    .map_err(|_| upload_timeout(state.settings.report_upload_timeout_secs))??;
    let json = upload
        .report
        .ok_or_else(|| ApiError::validation(vec![FieldError::new("required", "report")]))?;
    let body: Value = serde_json::from_slice(&json)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", e))?;
    let report = check_report(&body, &state.reference).map_err(ApiError::validation)?;

    let reporter = reporter_key(&ip_key, device.as_deref());
    let subject = subject_key(
        report.code.as_ref(),
        report.coordinates,
        report.address.as_deref(),
    );
    let now = now_ms();
    let since = now - DUPLICATE_WINDOW_MS;
    // Before the photos are decoded, so a resent report costs no CPU; checked
    // again in the transaction, where it is exact.
    if let Some(earlier) = state
        .store
        .duplicate_report(&reporter, &report.kind, &subject, since)
        .await?
    {
        return Err(duplicate(earlier));
    }

    let mut photos = Vec::with_capacity(upload.photos.len());
    for (i, bytes) in upload.photos.into_iter().enumerate() {
        match state.photos.reencode(bytes).await? {
            Ok(photo) => photos.push(photo),
            Err(e) => {
                tracing::info!(photo = i + 1, reason = %e, "report photo refused");
                return Err(
                    ApiError::new(StatusCode::BAD_REQUEST, "report_photo_not_image")
                        .number("n", i as i64 + 1),
                );
            }
        }
    }

    // The product group of a stored code's product, for the inspectors'
    // filter. A code that is not stored (forged, mistyped) has none.
    let product_group = match &report.code {
        Some(code) => match state
            .store
            .code_for_scan(code.gtin(), code.serial())
            .await?
        {
            Some(_) => state
                .store
                .product(code.gtin())
                .await?
                .map(|p| p.card.product_group),
            None => None,
        },
        None => None,
    };

    let (secret, secret_hash) = new_secret();
    let year = i64::from(kz_date(now).year());
    let mut tx = state.store.begin().await?;
    let seq = tx.next_report_seq(year).await?;
    if let Some(earlier) = tx
        .duplicate_report(&reporter, &report.kind, &subject, since)
        .await?
    {
        return Err(duplicate(earlier));
    }
    let number = ReportNumber::new(year, seq)
        .ok_or_else(|| anyhow::anyhow!("report number {year}-{seq} out of range"))?;
    let code_identity = report.code.as_ref().map(|c| c.identity());
    tx.insert_report(&NewReport {
        number,
        secret_hash,
        kind: report.kind.clone(),
        code: report.code,
        product_group,
        coordinates: report.coordinates,
        address: report.address,
        region: report.region,
        shop_name: report.shop_name,
        shop_bin: report.shop_bin,
        comment: report.comment,
        contact: report.contact,
        lang: lang.0.as_str().to_owned(),
        reporter_key: reporter,
        subject_key: subject,
        created_at: now,
    })
    .await?;
    for (i, photo) in photos.iter().enumerate() {
        tx.insert_report_photo(number, i as i64 + 1, photo).await?;
    }
    let mut created = HistoryEntry::new(ReportAction::Created, now, None);
    created.to_status = Some(ReportStatus::New.as_str().to_owned());
    tx.add_report_history(number, &created).await?;
    let mut audit = AuditEntry::new("report.create");
    audit.actor = Some("anonymous".to_owned());
    audit.ip = ip;
    audit.object = Some(number.to_string());
    audit.detail = json!({
        "kind": report.kind,
        "code": code_identity,
        "photos": photos.len(),
        "device": device.is_some(),
    });
    tx.audit(audit).await?;
    tx.commit().await?;

    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/reports/{number}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "number": number.to_string(),
            "secret": secret,
            "status": ReportStatus::New.as_str(),
        })))
}

/// `GET /v1/reports/{number}` — whoever holds the report's secret.
#[tracing::instrument(skip_all)]
async fn follow(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let secret = req
        .headers()
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let report = match ReportNumber::parse(&path) {
        Some(number) => state.store.report(number).await?,
        None => None,
    };
    if !secret_matches(secret, report.as_ref().map(|r| r.secret_hash.as_str())) {
        return Err(not_found());
    }
    let report = report.ok_or_else(not_found)?;
    let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_tag(&v));
    let lang = asked
        .or_else(|| Lang::from_tag(&report.lang))
        .unwrap_or_default();
    let kind_name = state
        .reference
        .name(Dictionary::ViolationKinds, &report.kind, lang)
        .unwrap_or(&report.kind);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "number": report.number.to_string(),
            "kind": {"code": report.kind, "name": kind_name},
            "status": {
                "code": report.status.as_str(),
                "text": tanba_locales::text(lang, &report.status.message_key()),
            },
            "created": kz_day(report.created_at),
            "updated": kz_day(report.updated_at),
            "public_answer": report.public_answer,
            "lang": lang.as_str(),
        })))
}
