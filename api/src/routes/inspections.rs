//! Inspectors' review of violation reports. Every endpoint here is for the
//! `inspector` role only: no token is 401, any other role (an administrator
//! too) 403. Only here are photos and contacts shown.
//!
//! - `GET /v1/inspections/reports` — the queue, newest first. Filters:
//!   `kind`, `region`, `status`, `from` and `to` (dates, Kazakhstan time,
//!   both inclusive), `product_group`, `assignee` (`me`, `none` or a staff
//!   id); `limit` (1–100, default 50) and `cursor` (the `next_cursor` of the
//!   page before). A bad value is 400 with every problem by field.
//! - `GET /v1/inspections/reports/{number}` — everything: contact, photos,
//!   comments, history, and beside it the code's own story: its state, its
//!   emission date, its events, its last 100 scans and other reports about it.
//! - `GET /v1/inspections/reports/{number}/photos/{n}` — the JPEG.
//! - `POST /v1/inspections/reports/{number}/assign` —
//!   `{"inspector": "<staff id>" | null}`; null unassigns, no key means "me".
//! - `POST /v1/inspections/reports/{number}/status` —
//!   `{"status", "public_answer"?, "block_code"?}`; the moves are those of
//!   `reports::status` (409 `report_status_transition` otherwise).
//!   `block_code: true` goes with `confirmed` only and blocks the report's
//!   code through the lifecycle in the same transaction; a refused block
//!   refuses the whole request with the lifecycle's code.
//! - `POST /v1/inspections/reports/{number}/comments` — `{"text"}`, internal.
//!
//! Every change is written to the audit log (who, role, time, address) and
//! to the report's own history, in the transaction that makes it.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use tanba_core::MarkingCode;
use tanba_core::lifecycle::Operation;
use tanba_locales::Lang;
use time::Date;
use time::macros::{format_description, offset};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, FieldError, unknown_fields};
use crate::ids::StaffId;
use crate::lang::RequestLang;
use crate::reference::{Dictionary, Reference};
use crate::reports::check::{MAX_COMMENT, text};
use crate::reports::number::ReportNumber;
use crate::reports::status::ReportStatus;
use crate::routes::reports::kz_day;
use crate::state::AppState;
use crate::store::{
    AssigneeFilter, CodeNotFound, EventSource, HistoryEntry, QueueFilter, Report, ReportAction,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/inspections/reports", web::get().to(queue))
        .route("/v1/inspections/reports/{number}", web::get().to(read))
        .route(
            "/v1/inspections/reports/{number}/photos/{n}",
            web::get().to(photo),
        )
        .route(
            "/v1/inspections/reports/{number}/assign",
            web::post().to(assign),
        )
        .route(
            "/v1/inspections/reports/{number}/status",
            web::post().to(status),
        )
        .route(
            "/v1/inspections/reports/{number}/comments",
            web::post().to(comment),
        );
}

/// Page size of the queue: default and most.
const PAGE_DEFAULT: i64 = 50;
const PAGE_MAX: i64 = 100;
/// How many of the code's scans are shown beside a report.
const SCANS_SHOWN: i64 = 100;
/// How many other reports about the same code are shown.
const OTHER_REPORTS_SHOWN: i64 = 50;

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "report_not_found")
}

fn inspector(caller: &Caller) -> Result<String, ApiError> {
    caller.require(&[Role::Inspector])?;
    Ok(caller.actor.id())
}

fn number_of(path: &str) -> Result<ReportNumber, ApiError> {
    ReportNumber::parse(path).ok_or_else(not_found)
}

/// Midnight at the start of `date` in Kazakhstan (UTC+5), Unix ms.
fn kz_midnight_ms(date: Date) -> i64 {
    date.midnight().assume_offset(offset!(+5)).unix_timestamp() * 1000
}

/// The queue's filters from the query string, or every problem found.
fn queue_filter(
    query: &str,
    reference: &Reference,
    me: &str,
) -> Result<(QueueFilter, i64), Vec<FieldError>> {
    let mut f = QueueFilter::default();
    let mut limit = PAGE_DEFAULT;
    let mut errors = Vec::new();
    let (mut from, mut to) = (None, None);
    let date = |v: &str| Date::parse(v, format_description!("[year]-[month]-[day]")).ok();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = v.trim().to_owned();
        match k.as_ref() {
            "kind" => match reference.get(Dictionary::ViolationKinds, &v) {
                Some(_) => f.kind = Some(v),
                None => {
                    errors.push(FieldError::new("unknown_violation_kind", "kind").arg("value", v))
                }
            },
            "region" => match reference.get(Dictionary::Regions, &v) {
                Some(_) => f.region = Some(v),
                None => errors.push(FieldError::new("unknown_region", "region").arg("value", v)),
            },
            "status" => match ReportStatus::parse(&v) {
                Some(s) => f.status = Some(s),
                None => errors.push(
                    FieldError::new("one_of", "status")
                        .arg("allowed", ReportStatus::ALL.map(|s| s.as_str()).join(", ")),
                ),
            },
            "from" => match date(&v) {
                Some(d) => from = Some(d),
                None => errors.push(FieldError::new("date_format", "from")),
            },
            "to" => match date(&v) {
                Some(d) => to = Some(d),
                None => errors.push(FieldError::new("date_format", "to")),
            },
            "product_group" => match reference.get(Dictionary::ProductGroups, &v) {
                Some(_) => f.product_group = Some(v),
                None => errors.push(
                    FieldError::new("unknown_product_group", "product_group").arg("value", v),
                ),
            },
            "assignee" => match v.as_str() {
                "me" => f.assignee = Some(AssigneeFilter::Staff(me.to_owned())),
                "none" => f.assignee = Some(AssigneeFilter::Nobody),
                id => match id.parse::<StaffId>() {
                    Ok(id) => f.assignee = Some(AssigneeFilter::Staff(id.to_string())),
                    Err(_) => errors.push(FieldError::new("assignee_format", "assignee")),
                },
            },
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=PAGE_MAX).contains(&n) => limit = n,
                _ => errors.push(
                    FieldError::new("out_of_range", "limit")
                        .arg("min", 1)
                        .arg("max", PAGE_MAX),
                ),
            },
            "cursor" => match ReportNumber::parse(&v) {
                Some(n) => f.before = Some(n),
                None => errors.push(FieldError::new("cursor_format", "cursor")),
            },
            _ => {}
        }
    }
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        errors.push(FieldError::new("date_range", "to").arg("from", a));
    }
    f.from_ms = from.map(kz_midnight_ms);
    f.until_ms = to.and_then(|d| d.next_day()).map(kz_midnight_ms);
    if errors.is_empty() {
        Ok((f, limit))
    } else {
        Err(errors)
    }
}

fn named(reference: &Reference, d: Dictionary, code: Option<&str>, lang: Lang) -> Value {
    match code {
        Some(c) => json!({"code": c, "name": reference.name(d, c, lang).unwrap_or(c)}),
        None => Value::Null,
    }
}

fn status_json(status: ReportStatus, lang: Lang) -> Value {
    json!({
        "code": status.as_str(),
        "text": tanba_locales::text(lang, &status.message_key()),
    })
}

fn summary(r: &Report, reference: &Reference, lang: Lang) -> Value {
    json!({
        "number": r.number.to_string(),
        "kind": named(reference, Dictionary::ViolationKinds, Some(&r.kind), lang),
        "status": status_json(r.status, lang),
        "created_at": r.created_at,
        "created": kz_day(r.created_at),
        "updated_at": r.updated_at,
        "region": named(reference, Dictionary::Regions, r.region.as_deref(), lang),
        "product_group": named(reference, Dictionary::ProductGroups, r.product_group.as_deref(), lang),
        "code": r.code.as_ref().map(|c| c.identity()),
        "place": {"lat": r.lat, "lon": r.lon, "address": r.address},
        "shop": match (&r.shop_name, &r.shop_bin) {
            (None, None) => Value::Null,
            (name, bin) => json!({"name": name, "bin": bin}),
        },
        "assignee": r.assignee,
    })
}

/// `GET /v1/inspections/reports` — inspectors.
#[tracing::instrument(skip_all)]
async fn queue(
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let me = inspector(&caller)?;
    let (filter, limit) =
        queue_filter(req.query_string(), &state.reference, &me).map_err(ApiError::validation)?;
    let mut reports = state.store.report_queue(&filter, limit + 1).await?;
    let more = reports.len() as i64 > limit;
    reports.truncate(limit as usize);
    let next_cursor = more
        .then(|| reports.last().map(|r| r.number.to_string()))
        .flatten();
    let items: Vec<Value> = reports
        .iter()
        .map(|r| summary(r, &state.reference, lang.0))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

/// The code's story beside a report: state, emission, events, scans and
/// other reports about it. `null` when the report names no code.
async fn code_story(state: &AppState, report: &Report, lang: Lang) -> anyhow::Result<Value> {
    let Some(code) = &report.code else {
        return Ok(Value::Null);
    };
    let stored = state
        .store
        .code_for_scan(code.gtin(), code.serial())
        .await?;
    let events = state.store.code_events(code.gtin(), code.serial()).await?;
    let scans = state
        .store
        .recent_scans(code.gtin(), code.serial(), SCANS_SHOWN)
        .await?;
    let others = state
        .store
        .reports_about_code(code, report.number, OTHER_REPORTS_SHOWN)
        .await?;
    Ok(json!({
        "identity": code.identity(),
        "gtin": code.gtin().as_str(),
        "serial": code.serial().as_str(),
        "stored": stored.is_some(),
        "state": stored.as_ref().map(|s| json!({
            "status": crate::routes::codes::status_json(s.state.status, lang),
            "blocked": s.state.blocked,
        })),
        "emitted_at": stored.as_ref().map(|s| s.emitted_at * 1000),
        "emitted": stored.as_ref().map(|s| kz_day(s.emitted_at * 1000)),
        "events": events.iter().map(|e| json!({
            "at": e.at,
            "operation": e.operation,
            "status": crate::routes::codes::status_json(e.state.status, lang),
            "blocked": e.state.blocked,
            "actor": e.actor,
            "source": {"kind": e.source_kind, "id": e.source_id},
        })).collect::<Vec<_>>(),
        "scans": scans.iter().map(|s| json!({
            "at": s.at,
            "lat": s.lat,
            "lon": s.lon,
            "channel": s.channel,
            "context": s.context,
            "verdict": s.verdict,
        })).collect::<Vec<_>>(),
        "other_reports": others.iter().map(|r| json!({
            "number": r.number.to_string(),
            "kind": named(&state.reference, Dictionary::ViolationKinds, Some(&r.kind), lang),
            "status": status_json(r.status, lang),
            "created": kz_day(r.created_at),
        })).collect::<Vec<_>>(),
    }))
}

/// Everything about a report, for an inspector.
async fn detail(state: &AppState, number: ReportNumber, lang: Lang) -> Result<Value, ApiError> {
    let report = state.store.report(number).await?.ok_or_else(not_found)?;
    let photos = state.store.report_photos(number).await?;
    let history = state.store.report_history(number).await?;
    let mut body = summary(&report, &state.reference, lang);
    let comments: Vec<Value> = history
        .iter()
        .filter(|h| h.action == ReportAction::Comment.as_str())
        .map(|h| json!({"at": h.at, "author": h.actor, "text": h.text}))
        .collect();
    let extra = json!({
        "comment": report.comment,
        "contact": report.contact,
        "lang": report.lang,
        "public_answer": report.public_answer,
        "photos": photos.iter().map(|p| json!({
            "n": p.n,
            "width": p.width,
            "height": p.height,
            "size": p.size,
            "url": format!("/v1/inspections/reports/{number}/photos/{}", p.n),
        })).collect::<Vec<_>>(),
        "comments": comments,
        "history": history.iter().map(|h| json!({
            "at": h.at,
            "actor": h.actor,
            "action": h.action,
            "from": h.from_status,
            "to": h.to_status,
            "assignee": h.assignee,
            "text": h.text,
        })).collect::<Vec<_>>(),
        "code_story": code_story(state, &report, lang).await?,
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    Ok(body)
}

/// `GET /v1/inspections/reports/{number}` — inspectors.
#[tracing::instrument(skip_all)]
async fn read(
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    inspector(&caller)?;
    let number = number_of(&path)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(detail(&state, number, lang.0).await?))
}

/// `GET /v1/inspections/reports/{number}/photos/{n}` — inspectors.
#[tracing::instrument(skip_all)]
async fn photo(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    inspector(&caller)?;
    let (number, n) = path.into_inner();
    let number = number_of(&number)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "report_photo_not_found");
    let n: i64 = n.parse().map_err(|_| not_found())?;
    let bytes = state
        .store
        .report_photo(number, n)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(bytes))
}

/// A JSON object from a request body; an empty body is `{}`.
fn object(raw: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::validation(vec![FieldError::new(
            "not_object",
            "$",
        )])),
        Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", e)),
    }
}

/// `POST /v1/inspections/reports/{number}/assign` — inspectors.
#[tracing::instrument(skip_all)]
async fn assign(
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
    path: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let me = inspector(&caller)?;
    let number = number_of(&path)?;
    let body = object(&raw)?;
    let mut errors: Vec<FieldError> = unknown_fields(&body, None, &["inspector"]).collect();
    let assignee: Option<String> = match body.get("inspector") {
        None => Some(me.clone()),
        Some(Value::Null) => None,
        Some(Value::String(s)) => match s.trim().parse::<StaffId>() {
            Ok(id) => match state.store.staff_by_id(id).await? {
                Some(staff) if staff.roles.contains(&Role::Inspector) => Some(id.to_string()),
                _ => {
                    errors.push(FieldError::new("unknown_inspector", "inspector").arg("value", id));
                    None
                }
            },
            Err(_) => {
                errors.push(FieldError::new("assignee_format", "inspector"));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("not_text", "inspector"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut tx = state.store.begin().await?;
    let report = tx.report_for_update(number).await?.ok_or_else(not_found)?;
    if report.assignee != assignee {
        let now = now_ms();
        tx.set_report_assignee(number, assignee.as_deref(), now)
            .await?;
        let mut entry = HistoryEntry::new(ReportAction::Assigned, now, Some(me.clone()));
        entry.assignee = assignee.clone();
        tx.add_report_history(number, &entry).await?;
        let mut audit = caller.audit("report.assign");
        audit.object = Some(number.to_string());
        audit.detail = json!({"from": report.assignee, "to": assignee});
        tx.audit(audit).await?;
        tx.commit().await?;
    }
    Ok(HttpResponse::Ok().json(detail(&state, number, lang.0).await?))
}

/// `POST /v1/inspections/reports/{number}/status` — inspectors.
#[tracing::instrument(skip_all)]
async fn status(
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
    path: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let me = inspector(&caller)?;
    let number = number_of(&path)?;
    let body = object(&raw)?;
    let mut errors: Vec<FieldError> =
        unknown_fields(&body, None, &["status", "public_answer", "block_code"]).collect();
    let allowed = ReportStatus::ALL.map(|s| s.as_str()).join(", ");
    let to = match body.get("status") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("required", "status"));
            None
        }
        Some(Value::String(s)) => {
            let parsed = ReportStatus::parse(s.trim());
            if parsed.is_none() {
                errors.push(FieldError::new("one_of", "status").arg("allowed", &allowed));
            }
            parsed
        }
        Some(_) => {
            errors.push(FieldError::new("one_of", "status").arg("allowed", &allowed));
            None
        }
    };
    let public_answer = text(
        &body,
        "public_answer",
        "public_answer",
        false,
        MAX_COMMENT,
        true,
        &mut errors,
    );
    let block = match body.get("block_code") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new("not_boolean", "block_code"));
            false
        }
    };
    if block && to.is_some_and(|s| s != ReportStatus::Confirmed) {
        errors.push(FieldError::new("block_needs_confirmed", "block_code"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let Some(to) = to else {
        return Err(ApiError::validation(vec![FieldError::new(
            "required", "status",
        )]));
    };

    let mut tx = state.store.begin().await?;
    let report = tx.report_for_update(number).await?.ok_or_else(not_found)?;
    let from = report.status;
    if !from.can_move_to(to) {
        return Err(
            ApiError::new(StatusCode::CONFLICT, "report_status_transition")
                .arg("from", tanba_locales::text(lang.0, &from.message_key()))
                .arg("to", tanba_locales::text(lang.0, &to.message_key()))
                .arg("from_code", from.as_str())
                .arg("to_code", to.as_str()),
        );
    }
    let now = now_ms();
    let mut blocked: Option<MarkingCode> = None;
    if block {
        let code = report
            .code
            .clone()
            .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "report_no_code"))?;
        let applied = tx
            .apply_operations(
                code.gtin(),
                code.serial(),
                &[Operation::Block],
                &EventSource::report(number.to_string()),
                Some(&me),
            )
            .await;
        match applied {
            Ok(Ok(_)) => blocked = Some(code),
            Ok(Err(refused)) => {
                let key = format!("lifecycle-{}", refused.code().replace('_', "-"));
                return Err(ApiError::new(StatusCode::CONFLICT, refused.code()).with_key(key));
            }
            Err(e) if e.downcast_ref::<CodeNotFound>().is_some() => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "report_code_not_stored",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.set_report_status(number, to, public_answer.as_deref(), now)
        .await?;
    let mut entry = HistoryEntry::new(ReportAction::Status, now, Some(me.clone()));
    entry.from_status = Some(from.as_str().to_owned());
    entry.to_status = Some(to.as_str().to_owned());
    entry.text = public_answer.clone();
    tx.add_report_history(number, &entry).await?;
    let mut audit = caller.audit("report.status");
    audit.object = Some(number.to_string());
    audit.detail = json!({
        "from": from.as_str(),
        "to": to.as_str(),
        "public_answer": public_answer.is_some(),
        "block_code": block,
    });
    tx.audit(audit).await?;
    if let Some(code) = &blocked {
        let mut entry = HistoryEntry::new(ReportAction::CodeBlocked, now, Some(me.clone()));
        entry.text = Some(code.identity());
        tx.add_report_history(number, &entry).await?;
        let mut audit = caller.audit("code.block");
        audit.object = Some(code.identity());
        audit.detail = json!({"report": number.to_string()});
        tx.audit(audit).await?;
    }
    tx.commit().await?;
    if let Some(code) = &blocked {
        // After the commit, never before: a scan in between reloads the
        // committed state.
        state.cards.invalidate(&code.identity()).await;
    }
    Ok(HttpResponse::Ok().json(detail(&state, number, lang.0).await?))
}

/// `POST /v1/inspections/reports/{number}/comments` — inspectors.
#[tracing::instrument(skip_all)]
async fn comment(
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
    path: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let me = inspector(&caller)?;
    let number = number_of(&path)?;
    let body = object(&raw)?;
    let mut errors: Vec<FieldError> = unknown_fields(&body, None, &["text"]).collect();
    let comment = text(&body, "text", "text", true, MAX_COMMENT, true, &mut errors);
    let Some(comment) = comment.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let mut tx = state.store.begin().await?;
    tx.report_for_update(number).await?.ok_or_else(not_found)?;
    let now = now_ms();
    let mut entry = HistoryEntry::new(ReportAction::Comment, now, Some(me));
    let length = comment.chars().count();
    entry.text = Some(comment);
    tx.add_report_history(number, &entry).await?;
    tx.touch_report(number, now).await?;
    let mut audit = caller.audit("report.comment");
    audit.object = Some(number.to_string());
    audit.detail = json!({"length": length});
    tx.audit(audit).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(detail(&state, number, lang.0).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_in_kazakhstan_starts_at_19_utc_the_day_before() {
        let d = Date::from_calendar_date(2026, time::Month::March, 1).expect("date");
        // 2026-02-28T19:00:00Z
        assert_eq!(kz_midnight_ms(d), 1_772_305_200_000);
    }
}
