//! Documents that move codes through their life, and a code's history.
//!
//! - `POST /v1/documents` — participants (application, introduction and
//!   write-off: manufacturers and importers). The body is the document (see
//!   `crate::documents` for its fields); the header `X-Signature` carries the
//!   participant's EDS over the exact body bytes: a detached CMS, base64 of
//!   DER, as sign-in's `signature`, checked by the same verifier, and the
//!   certificate's BIN (or IIN) must be the caller's. `Idempotency-Key`
//!   required. `Content-Type` is `application/json` or, for a long list of
//!   codes, `application/x-ndjson` (also `application/ndjson`): the
//!   document's object without `codes` on the first line, one item a line;
//!   or `text/csv`: the fields' names and values in two rows, the items'
//!   columns in the third, one item a row. Anything else is 415
//!   `unsupported_media_type`; a line that is not JSON is 400
//!   `malformed_json` with its `line`, a CSV row that does not fit 400
//!   `malformed_csv` with its `line`.
//!   Answer 202 `{id, kind, status: "IN_PROGRESS"}`; the worker
//!   then checks every code and applies the document, all or nothing.
//!   400 `validation_failed` with every problem of the body, 401 for a
//!   missing or refused signature (also one made more than a day before),
//!   403 for a signature by someone else.
//! - `GET /v1/documents/{id}` — its sender, its receiver, inspectors and
//!   administrators: status, fields, codes and, when refused, every error
//!   with the code it concerns and its reason in the request's language.
//!   Any other participant gets 404: whether a document exists is none of
//!   their business.
//! - `GET /v1/documents/{id}/epcis` — the same callers: the events the
//!   document caused, as an EPCIS 2.0 JSON document.
//! - `POST /v1/documents/{id}/accept`, `/reject` — the buyer of a shipment
//!   `WAIT_ACCEPTANCE`; `POST /v1/documents/{id}/cancel` — its seller, before
//!   the buyer answered. `Idempotency-Key` required. Acceptance moves every
//!   code to the buyer in one transaction (409 `document_accept_refused`
//!   when a code cannot move, with the errors on the document).
//! - `GET /v1/codes/{code}/history[?format=epcis]` — the code's owner and
//!   inspectors: the code's state and every event, oldest first, or the
//!   same as EPCIS 2.0 JSON. `{code}` is percent-encoded, as for the scan.
//!
//! Every change and every refused signature is written to the audit log
//! (who, role, time, address).

use std::collections::HashMap;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1251};
use serde_json::{Value, json};
use tanba_core::document::{Action, DocumentKind, DocumentStatus, DocumentStep, DocumentStepError};
use tanba_core::epcis::{self, Happening, Parent, Step};
use tanba_core::lifecycle::{CodeState, Status};
use tanba_core::{MarkingCode, ScannedCode, Sscc};
use tanba_locales::Lang;
use time::OffsetDateTime;

use crate::auth::{Actor, Caller, Role};
use crate::documents::worker::{Settled, settle};
use crate::documents::{self as docs, Form, Refused, summary};
use crate::error::{ApiError, FieldError};
use crate::fields::today;
use crate::idempotency::{Idempotency, Stored};
use crate::ids::DocumentId;
use crate::lang::RequestLang;
use crate::routes::auth::eds_error;
use crate::state::AppState;
use crate::store::{
    CodeEvent, Document, DocumentItem, EventCursor, NewDocument, Outcome, ParticipantStatus, Store,
};

/// The header that carries the signature of a document's body.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// How long after its signing a document may be sent: a day, for a
/// participant who signs in the evening and sends in the morning.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 24 * 3600;

/// A code's history, registered before the scan (see `startup`).
pub fn configure_history(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/codes/{code}/history", web::get().to(history));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/documents", web::post().to(create))
        .route("/v1/documents/{id}", web::get().to(get))
        .route("/v1/documents/{id}/epcis", web::get().to(epcis_export))
        .route(
            "/v1/documents/{id}/{answer:accept|reject|cancel}",
            web::post().to(answer),
        );
}

/// Who may read a document besides its parties.
const READERS: [Role; 6] = Role::TRADE_AND_CONTROL;

fn replayed(first: Stored) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK))
        .insert_header(("Idempotent-Replayed", "true"))
        .content_type("application/json")
        .body(first.body)
}

/// A refused document, in the audit log in a transaction of its own.
async fn refused(state: &AppState, caller: &Caller, detail: Value, err: ApiError) -> ApiError {
    let mut entry = caller.audit("document.create");
    entry.outcome = Outcome::Refused(err.code().to_owned());
    entry.detail = detail;
    if let Err(e) = state.store.audit(entry).await {
        return ApiError::internal(e.context("auditing a refused document"));
    }
    err
}

/// `POST /v1/documents` — participants.
#[tracing::instrument(skip_all)]
async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(&Role::PARTICIPANT)?;
    let participant = caller.participant()?;
    let (form, charset) = form_of(&req)?;
    let raw = read_body(&req, payload, state.settings.document_max_bytes).await?;
    let received = Instant::now();
    let idem = Idempotency::from_request(&req, &raw)?;
    let actor = caller.actor.id();
    if let Some(first) = idem.replay(&state.store, &actor).await? {
        return Ok(replayed(first));
    }
    // The signature and its digest stay over the bytes as sent; the checks
    // and the stored body read them as UTF-8.
    let text = decoded(&raw, charset);
    let checked = docs::check(&text, form, &state.reference, today()).map_err(|e| match e {
        Refused::Invalid(errors) => ApiError::validation(errors),
        Refused::Malformed { line: None, detail } => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", detail)
        }
        Refused::Malformed {
            line: Some(line),
            detail,
        } => {
            let (code, key) = match form {
                Form::Csv => ("malformed_csv", "error-malformed-csv-line"),
                Form::Json | Form::Ndjson => ("malformed_json", "error-malformed-json-line"),
            };
            ApiError::new(StatusCode::BAD_REQUEST, code)
                .with_key(key)
                .number("line", i64::try_from(line).unwrap_or(i64::MAX))
                .arg("detail", detail)
        }
    })?;
    caller.require(docs::roles_for(checked.kind))?;
    let checked_at = received.elapsed();

    // The SHA-256 of the bytes as sent, already taken for the idempotency key.
    let digest = idem.request_hash.clone();
    let detail = json!({"kind": checked.kind.as_str(), "body_digest": digest});
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let Some(signature) = signature else {
        let err = ApiError::new(StatusCode::UNAUTHORIZED, "document_signature_missing");
        return Err(refused(&state, &caller, detail, err).await);
    };
    let signer = match state.eds.verify_detached(signature.as_bytes(), &raw) {
        Ok(signer) => signer,
        Err(e) => {
            let detail = json!({"kind": checked.kind.as_str(), "body_digest": digest, "reason": e.to_string()});
            return Err(refused(&state, &caller, detail, eds_error(&e)).await);
        }
    };
    // The signing time is the signer's claim, and the certificate is
    // checked at that time: a document signed long ago (or backdated, to
    // use a certificate after it expired) is refused.
    let oldest = OffsetDateTime::now_utc().unix_timestamp() - MAX_SIGNATURE_AGE_SECS;
    if signer
        .signing_time
        .is_some_and(|t| t.unix_timestamp() < oldest)
    {
        let err = ApiError::new(StatusCode::UNAUTHORIZED, "eds_bad_signing_time");
        return Err(refused(&state, &caller, detail, err).await);
    }
    let me =
        state.store.participant(participant).await?.ok_or_else(|| {
            anyhow::anyhow!("the signed-in participant {participant} is not stored")
        })?;
    let detail = json!({
        "kind": checked.kind.as_str(),
        "body_digest": digest,
        "signer_taxpayer_id": signer.taxpayer_id.as_str(),
        "signer_iin": signer.iin.as_ref().map(|i| i.as_str()),
        "certificate_serial": signer.certificate_serial,
    });
    if signer.taxpayer_id.as_str() != me.taxpayer_id {
        let err = ApiError::new(StatusCode::FORBIDDEN, "document_signer_mismatch")
            .arg("taxpayer_id", &me.taxpayer_id)
            .arg("signer", signer.taxpayer_id.as_str());
        return Err(refused(&state, &caller, detail, err).await);
    }

    let receiver = match &checked.receiver {
        None => None,
        Some(taxpayer_id) => {
            let found = state
                .store
                .participant_by_taxpayer_id(taxpayer_id.as_str())
                .await?;
            match found {
                Some(p) if p.id == participant => {
                    return Err(ApiError::validation(vec![FieldError::new(
                        "receiver_is_sender",
                        "receiver",
                    )]));
                }
                Some(p) if p.status == ParticipantStatus::Approved => Some(p.id),
                _ => {
                    return Err(ApiError::validation(vec![
                        FieldError::new("unknown_receiver", "receiver")
                            .arg("value", taxpayer_id.as_str()),
                    ]));
                }
            }
        }
    };

    let codes = checked.count;
    let mut checked = checked;
    if charset != UTF_8 {
        // What the stored body must be encoded back in to give the signed
        // bytes.
        checked.fields["charset"] = json!(charset.name().to_ascii_lowercase());
    }
    let new = NewDocument {
        kind: checked.kind,
        sender: participant,
        receiver,
        body: String::from_utf8_lossy(&text),
        body_digest: digest,
        signature: signature.to_owned(),
        signer: signer.taxpayer_id.as_str().to_owned(),
        fields: checked.fields.clone(),
        items: Vec::new(),
    };
    let verified_at = received.elapsed();
    let mut tx = state.store.begin().await?;
    let doc = tx.insert_document(&new).await?;
    drop(new);
    let body_at = received.elapsed();
    docs::store_items(&mut tx, doc.id, text.clone(), checked).await?;
    let items_at = received.elapsed();
    let answer = summary(&doc).to_string();
    let mut audit = caller.audit("document.create");
    audit.object = Some(doc.id.to_string());
    audit.detail = detail;
    audit.detail["codes"] = json!(codes);
    tx.audit(audit).await?;
    if idem
        .save(&mut tx, &actor, StatusCode::ACCEPTED.as_u16(), &answer)
        .await
        .is_err()
    {
        // The same key committed meanwhile by a concurrent retry: its
        // answer stands, this attempt stores nothing.
        tx.rollback().await?;
        return match idem.replay(&state.store, &actor).await? {
            Some(first) => Ok(replayed(first)),
            None => Err(ApiError::internal(anyhow::anyhow!(
                "idempotency record vanished"
            ))),
        };
    }
    tx.commit().await?;
    state.documents.wake();
    // Where a large upload's time goes, from the whole body received:
    // each figure is the time elapsed at the end of that step.
    tracing::info!(
        document = %doc.id,
        codes,
        checked_ms = checked_at.as_millis(),
        verified_ms = verified_at.as_millis(),
        body_stored_ms = body_at.as_millis(),
        items_stored_ms = items_at.as_millis(),
        committed_ms = received.elapsed().as_millis(),
        "document received"
    );
    Ok(HttpResponse::Accepted()
        .insert_header((LOCATION, format!("/v1/documents/{}", doc.id)))
        .content_type("application/json")
        .body(answer))
}

/// The document, if the caller may read it: a party to it, an inspector or
/// an administrator. 404 for anyone else, as for an unknown id.
async fn readable(caller: &Caller, state: &AppState, id: &str) -> Result<Document, ApiError> {
    caller.require(&READERS)?;
    let id: DocumentId = id.parse().map_err(|_| ApiError::not_found())?;
    let doc = state
        .store
        .document(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match caller.actor {
        Actor::Participant(p) if p == doc.sender || Some(p) == doc.receiver => Ok(doc),
        Actor::Participant(_) => Err(ApiError::not_found()),
        // Staff passed `require` with inspector or admin.
        Actor::Staff(_) => Ok(doc),
    }
}

/// A stored message in a language.
fn message(lang: Lang, key: &str, args: &std::collections::BTreeMap<String, String>) -> String {
    tanba_locales::text_with(
        lang,
        key,
        args.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// How many codes (and errors) `GET /v1/documents/{id}` lists at once,
/// unless `limit` says otherwise, and at most.
const PAGE_DEFAULT: i64 = 1_000;
const PAGE_MAX: i64 = 10_000;

/// The numbers `wanted` of the query, each `(name, min, max, default)`:
/// the default where absent; every one out of its range is named in one 400
/// (`not_a_position` for a position without a top, else `out_of_range`).
fn numbers<const N: usize>(
    req: &HttpRequest,
    wanted: [(&'static str, i64, i64, i64); N],
) -> Result<[i64; N], ApiError> {
    let mut out = wanted.map(|(_, _, _, default)| default);
    let mut errors = Vec::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let Some(at) = wanted.iter().position(|(name, ..)| *name == k) else {
            continue;
        };
        let (name, min, max, _) = wanted[at];
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => out[at] = n,
            _ if max == i64::MAX => errors.push(FieldError::new("not_a_position", name)),
            _ => errors.push(
                FieldError::new("out_of_range", name)
                    .arg("min", min)
                    .arg("max", max),
            ),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// `GET /v1/documents/{id}[?from=&errors_from=&limit=]` — its parties,
/// inspectors, administrators. The codes and the errors come a page at a
/// time (`limit`, default 1,000, at most 10,000); `codes_next` and
/// `errors_next` are the `from` and `errors_from` of the next page, `null`
/// after the last.
#[tracing::instrument(skip_all)]
async fn get(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let doc = readable(&caller, &state, &path).await?;
    let [from, errors_from, limit] = numbers(
        &req,
        [
            ("from", 0, i64::MAX, 0),
            ("errors_from", 0, i64::MAX, 0),
            ("limit", 1, PAGE_MAX, PAGE_DEFAULT),
        ],
    )?;
    let store = &state.store;
    let mut items = store
        .document_items_page(doc.id, from, limit + 1, false)
        .await?;
    let codes_next = (items.len() as i64 > limit).then(|| from + limit);
    items.truncate(limit as usize);
    let mut errors = store
        .document_errors_page(doc.id, errors_from, limit + 1)
        .await?;
    let errors_next = (errors.len() as i64 > limit).then(|| errors_from + limit);
    errors.truncate(limit as usize);
    let lang = lang.0;
    let body = json!({
        "id": doc.id.to_string(),
        "kind": doc.kind.as_str(),
        "status": doc.status.as_str(),
        "sender": {"id": doc.sender.to_string(), "taxpayer_id": doc.signer},
        "receiver": doc.receiver.map(|r| json!({
            "id": r.to_string(),
            "taxpayer_id": doc.fields.get("receiver"),
        })),
        "fields": doc.fields,
        "body_digest": doc.body_digest,
        "codes_total": store.document_item_count(doc.id).await?,
        "codes_next": codes_next,
        "codes": items.iter().map(|(n, i)| json!({
            "index": n,
            "code": i.code,
            "identity": i.key.as_ref().map(|(g, s)| format!("01{g}21{s}")),
            "price": i.price.map(crate::money::format_tenge),
        })).collect::<Vec<_>>(),
        "errors_total": store.document_error_count(doc.id).await?,
        "errors_next": errors_next,
        "errors": errors.iter().map(|e| json!({
            "index": e.item,
            "code": e.code,
            "unit": e.args.get("unit"),
            "error": e.error,
            "message": message(lang, &e.message, &e.args),
        })).collect::<Vec<_>>(),
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .json(body))
}

/// The EPCIS step of a stored event, from its operation and the state after
/// it; `None` for what EPCIS does not say from one code alone.
fn epcis_step(operation: &str, state: CodeState) -> Option<Step> {
    Some(match (operation, state.status) {
        ("apply", _) => Step::Document(Action::Apply),
        ("introduce", _) => Step::Document(Action::Introduce),
        ("ship", _) => Step::Document(Action::Ship),
        ("accept", _) => Step::Accept,
        ("cancel_shipment", _) => Step::CancelShipment,
        ("withdraw", Status::Retired(r)) => Step::Document(Action::Withdraw(r)),
        ("return", _) => Step::Document(Action::Return),
        ("write_off", Status::WrittenOff(r)) => Step::Document(Action::WriteOff(r)),
        ("block", _) => Step::Block,
        ("unblock", _) => Step::Unblock,
        _ => return None,
    })
}

fn time_of(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The happening of `step` caused by `doc`, with its parties: the seller
/// (or owner) and, for a shipment and its acceptance, the buyer.
fn happening(
    step: Step,
    at: i64,
    codes: Vec<tanba_core::MarkingCode>,
    doc: Option<&Document>,
) -> Happening {
    let to = match step {
        Step::Document(Action::Ship) | Step::Accept | Step::CancelShipment => doc
            .and_then(|d| d.fields.get("receiver"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    Happening {
        step,
        at: time_of(at),
        codes,
        packages: Vec::new(),
        parent: None,
        document: doc.map(|d| d.id.to_string()),
        from: doc.map(|d| d.signer.clone()),
        to,
    }
}

/// A packing or unpacking in a code's history, as EPCIS sees it: an
/// AggregationEvent whose parent is the package the code went into (or
/// came out of), with the code as its child; or, when the code went in
/// inside packages of its own (a box onto a pallet, that pallet into a
/// container), with the one of them the document lists as the child.
/// `inside` follows the packages around the code as its history tells,
/// the one it sits in directly first. A package dissolved around the
/// code's own package leaves no event on the code, so an outer entry may
/// be stale: the innermost package the document lists is the one packed,
/// and what was outside it is dropped. `None` when the document names
/// neither the code nor any package around it.
async fn packing(
    store: &Store,
    doc: &Document,
    e: &CodeEvent,
    code: &MarkingCode,
    inside: &mut Vec<Sscc>,
) -> anyhow::Result<Option<Happening>> {
    let (step, parent, codes, packages) = if e.operation == "aggregate" {
        let step = Step::Document(Action::Aggregate);
        if let Some(n) = store
            .document_position(doc.id, code.gtin(), code.serial())
            .await?
        {
            let Some(parent) = package_at(doc, n) else {
                return Ok(None);
            };
            *inside = vec![parent.clone()];
            (step, parent, vec![code.clone()], Vec::new())
        } else {
            let mut listed = None;
            for (i, held) in inside.iter().enumerate() {
                if let Some(n) = store.document_position_of_sscc(doc.id, held).await? {
                    listed = Some((i, n));
                    break;
                }
            }
            let Some((i, n)) = listed else {
                return Ok(None);
            };
            let Some(parent) = package_at(doc, n) else {
                return Ok(None);
            };
            inside.truncate(i + 1);
            let held = inside[i].clone();
            inside.push(parent.clone());
            (step, parent, Vec::new(), vec![held])
        }
    } else {
        let Some(parent) = inside.first().cloned() else {
            return Ok(None);
        };
        if store
            .document_position_of_sscc(doc.id, &parent)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        inside.clear();
        let step = Step::Document(Action::Disaggregate);
        (step, parent, vec![code.clone()], Vec::new())
    };
    let mut h = happening(step, e.at, codes, Some(doc));
    h.parent = Some(Parent::Sscc(parent));
    h.packages = packages;
    Ok(Some(h))
}

/// The package of an aggregation that took its item at position `n`: the
/// fields list each package with the number of its members, which are the
/// items in order.
fn package_at(doc: &Document, n: i64) -> Option<Sscc> {
    let mut end = 0;
    for p in doc.fields.get("packages")?.as_array()? {
        end += p.get("members").and_then(Value::as_i64).unwrap_or(0);
        if n < end {
            return p
                .get("sscc")
                .and_then(Value::as_str)
                .and_then(|s| Sscc::parse(s).ok());
        }
    }
    None
}

fn epcis_response(events: Vec<Value>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/ld+json")
        .body(epcis::document(events, OffsetDateTime::now_utc()).to_string())
}

/// `GET /v1/documents/{id}/epcis[?perPage=&nextPageToken=]` — its parties,
/// inspectors, administrators. The events of `perPage` codes at most
/// (default and top 10,000) per answer; a `Link` header with `rel="next"`
/// names the next page, as EPCIS 2.0's query interface does.
#[tracing::instrument(skip_all)]
async fn epcis_export(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let doc = readable(&caller, &state, &path).await?;
    let [per_page] = numbers(&req, [("perPage", 1, PAGE_MAX, PAGE_MAX)])?;
    let after = match url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "nextPageToken")
    {
        Some((_, token)) => token.parse::<EventCursor>().map_err(|_| {
            ApiError::validation(vec![FieldError::new("not_a_position", "nextPageToken")])
        })?,
        None => EventCursor::default(),
    };
    let mut events = state
        .store
        .document_events_page(doc.id, after, per_page + 1)
        .await?;
    if matches!(
        doc.kind,
        DocumentKind::Aggregation | DocumentKind::Disaggregation
    ) {
        let at = events.first().map_or(doc.updated_at, |(_, e)| e.at);
        let items = state.store.document_items(doc.id).await?;
        let events = if doc.status == DocumentStatus::CheckedOk {
            package_events(&doc, &items, at)
        } else {
            // Refused or not yet applied: nothing happened.
            Vec::new()
        };
        return Ok(epcis_response(events));
    }
    // One EPCIS event per step of the document: its codes' events grouped
    // by operation and resulting state, in the order they were written.
    let next = (events.len() as i64 > per_page)
        .then(|| events.get(per_page as usize - 1).map(|(n, _)| *n))
        .flatten();
    events.truncate(per_page as usize);
    let mut groups: Vec<(Step, i64, Vec<tanba_core::MarkingCode>)> = Vec::new();
    for (_, e) in events {
        let Some(step) = epcis_step(&e.operation, e.state) else {
            continue;
        };
        match groups.iter_mut().find(|(s, _, _)| *s == step) {
            Some((_, _, codes)) => codes.push(e.code),
            None => groups.push((step, e.at, vec![e.code])),
        }
    }
    let events = groups
        .into_iter()
        .map(|(step, at, codes)| epcis::event(&happening(step, at, codes, Some(&doc))))
        .collect();
    let mut answer = epcis_response(events);
    if let Some(next) = next {
        // As EPCIS 2.0's query interface pages: the next page by `Link`.
        let link = format!(
            "</v1/documents/{}/epcis?perPage={per_page}&nextPageToken={next}>; rel=\"next\"",
            doc.id
        );
        answer.headers_mut().insert(
            header::LINK,
            header::HeaderValue::from_str(&link).map_err(anyhow::Error::from)?,
        );
    }
    Ok(answer)
}

/// The AggregationEvents of an applied aggregation or disaggregation, one
/// per package, from the document itself: an aggregation's fields list each
/// package with the number of its members, which are its items in order
/// (unit codes and SSCCs); a disaggregation lists the SSCCs it dissolved,
/// and EPCIS's DELETE without children means every child left the parent.
fn package_events(doc: &Document, items: &[DocumentItem], at: i64) -> Vec<Value> {
    let step = match doc.kind {
        DocumentKind::Aggregation => Step::Document(Action::Aggregate),
        _ => Step::Document(Action::Disaggregate),
    };
    let event = |parent: Sscc, codes: Vec<tanba_core::MarkingCode>, packages: Vec<Sscc>| {
        let mut h = happening(step, at, codes, Some(doc));
        h.parent = Some(Parent::Sscc(parent));
        h.packages = packages;
        epcis::event(&h)
    };
    if doc.kind == DocumentKind::Disaggregation {
        return items
            .iter()
            .filter_map(|i| match docs::scan(&i.code) {
                Ok(ScannedCode::Sscc(sscc)) => Some(event(sscc, Vec::new(), Vec::new())),
                _ => None,
            })
            .collect();
    }
    let packages = doc
        .fields
        .get("packages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut members = items.iter();
    let mut out = Vec::new();
    for p in packages {
        let count = p.get("members").and_then(Value::as_u64).unwrap_or(0);
        let (mut codes, mut children) = (Vec::new(), Vec::new());
        for item in members.by_ref().take(usize::try_from(count).unwrap_or(0)) {
            match docs::scan(&item.code) {
                Ok(ScannedCode::Sscc(sscc)) => children.push(sscc),
                Ok(ScannedCode::Unit(code)) => codes.push(code),
                _ => {}
            }
        }
        if let Some(sscc) = p
            .get("sscc")
            .and_then(Value::as_str)
            .and_then(|s| Sscc::parse(s).ok())
        {
            out.push(event(sscc, codes, children));
        }
    }
    out
}

/// The HTTP error of a step the document's status does not allow. Spelled
/// out per status so that every code has its literal here (the messages
/// test reads them).
fn step_error(e: &DocumentStepError) -> ApiError {
    let s = StatusCode::CONFLICT;
    let err = match e.from {
        DocumentStatus::InProgress => ApiError::new(s, "document_in_progress"),
        DocumentStatus::WaitAcceptance => ApiError::new(s, "document_waits_acceptance"),
        DocumentStatus::CheckedOk
        | DocumentStatus::CheckedNotOk
        | DocumentStatus::Accepted
        | DocumentStatus::Cancelled => ApiError::new(s, "document_final"),
    };
    err.arg("status", e.from.as_str())
}

/// How the body of a document is written, from its `Content-Type`:
/// `application/json`, NDJSON (`application/x-ndjson`,
/// `application/ndjson`) or `text/csv`, parameters such as `charset` aside. Anything
/// else, or none, is 415 `unsupported_media_type`.
fn form_of(req: &HttpRequest) -> Result<(Form, &'static Encoding), ApiError> {
    let given = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut parts = given.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let form = match essence.as_str() {
        "application/json" => Form::Json,
        "application/x-ndjson" | "application/ndjson" => Form::Ndjson,
        "text/csv" => Form::Csv,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .arg(
                "content_type",
                if given.is_empty() { "-".into() } else { given },
            ));
        }
    };
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"'));
    let Some(label) = charset else {
        return Ok((form, UTF_8));
    };
    // JSON is UTF-8 by its RFC; a CSV may also come as a spreadsheet set to
    // Russian saves it, in Windows-1251.
    match Encoding::for_label(label.as_bytes()) {
        Some(e) if e == UTF_8 => Ok((form, UTF_8)),
        Some(e) if e == WINDOWS_1251 && form == Form::Csv => Ok((form, WINDOWS_1251)),
        _ => Err(
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_charset")
                .arg("charset", label),
        ),
    }
}

/// The text the control reads: the body as sent, or a CSV in Windows-1251
/// decoded to UTF-8 (every byte has its character, so nothing is lost, and
/// encoding the text back gives the signed bytes).
fn decoded(raw: &web::Bytes, charset: &'static Encoding) -> web::Bytes {
    if charset == UTF_8 {
        return raw.clone();
    }
    let (text, _) = charset.decode_without_bom_handling(raw);
    web::Bytes::from(text.into_owned().into_bytes())
}

/// The body of a document, up to `limit` bytes (`document_max_bytes`, far
/// above the 1 MB other requests may send: a shipment lists every code).
/// A declared length over the limit is refused before anything is read.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt as _;
    let too_large = |length: String| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .arg("limit", limit)
            .arg("length", length)
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(length) = declared.filter(|&n| n > limit) {
        return Err(too_large(length.to_string()));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", e)
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(format!("> {limit}")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The answers to a shipment waiting for its buyer, one handler:
/// - `POST /v1/documents/{id}/accept` — the buyer: every code moves to it;
/// - `POST /v1/documents/{id}/reject` — the buyer: the codes stay the seller's;
/// - `POST /v1/documents/{id}/cancel` — the seller, before the buyer answered.
///
/// Anyone else who is not a party gets 404; a party answering for the other
/// side gets 403.
#[tracing::instrument(skip_all)]
async fn answer(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, answer) = path.into_inner();
    let step = match answer.as_str() {
        "accept" => DocumentStep::Accept,
        "reject" => DocumentStep::Reject,
        // The route's pattern admits nothing else.
        _ => DocumentStep::Cancel,
    };
    caller.require(&Role::PARTICIPANT)?;
    let me = caller.participant()?;
    let idem = Idempotency::from_request(&req, &raw)?;
    let actor = caller.actor.id();
    if let Some(first) = idem.replay(&state.store, &actor).await? {
        return Ok(replayed(first));
    }
    let id: DocumentId = id.parse().map_err(|_| ApiError::not_found())?;
    let doc = state
        .store
        .document(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let party = me == doc.sender || Some(me) == doc.receiver;
    let entitled = match step {
        DocumentStep::Accept | DocumentStep::Reject => Some(me) == doc.receiver,
        _ => me == doc.sender,
    };
    if !party {
        return Err(ApiError::not_found());
    }
    let action = match step {
        DocumentStep::Accept => "document.accept",
        DocumentStep::Reject => "document.reject",
        _ => "document.cancel",
    };
    let mut audit = caller.audit(action);
    audit.object = Some(id.to_string());
    if !entitled || doc.kind != DocumentKind::Shipment {
        let err = ApiError::new(StatusCode::FORBIDDEN, "forbidden");
        audit.outcome = Outcome::Refused(err.code().to_owned());
        state.store.audit(audit).await?;
        return Err(err);
    }
    // Two transactions over the same codes may deadlock on PostgreSQL (the
    // codes are locked in key order a chunk at a time, not across the
    // whole document); the one the server aborts is run again.
    let settled = crate::store::again_on_clash(SETTLE_TRIES, || {
        settle(
            &state.store,
            &state.cards,
            id,
            step,
            &actor,
            audit.clone(),
            &idem,
        )
    })
    .await?;
    match settled {
        Settled::Moved(_, answer) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(answer)),
        Settled::Raced => match idem.replay(&state.store, &actor).await? {
            Some(first) => Ok(replayed(first)),
            None => Err(ApiError::internal(anyhow::anyhow!(
                "idempotency record vanished"
            ))),
        },
        Settled::Step(e) => Err(step_error(&e)),
        Settled::Refused(errors) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "document_accept_refused",
        )
        .number("count", i64::try_from(errors.len()).unwrap_or(i64::MAX))),
        Settled::Gone => Err(ApiError::not_found()),
    }
}

/// How often in all an answer to a shipment is tried while its transaction
/// clashes with another (see [`crate::store::is_transient`]).
const SETTLE_TRIES: u32 = 4;

/// `GET /v1/codes/{code}/history[?format=json|epcis]` — the code's owner,
/// inspectors. Any other participant gets 404, as for a code not stored.
#[tracing::instrument(skip_all)]
async fn history(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    lang: RequestLang,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[
        Role::Manufacturer,
        Role::Importer,
        Role::Wholesaler,
        Role::Retailer,
        Role::Inspector,
    ])?;
    let mut epcis_format = false;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if k == "format" {
            match v.as_ref() {
                "json" => epcis_format = false,
                "epcis" => epcis_format = true,
                _ => {
                    return Err(ApiError::validation(vec![
                        FieldError::new("one_of", "format").arg("allowed", "json, epcis"),
                    ]));
                }
            }
        }
    }
    // The raw path, decoded here once, as the scan does.
    let raw = req
        .uri()
        .path()
        .strip_prefix("/v1/codes/")
        .and_then(|p| p.strip_suffix("/history"))
        .unwrap_or_default();
    let input = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let code = match tanba_core::parse(&input) {
        Ok(ScannedCode::Unit(code)) => code,
        Ok(ScannedCode::Sscc(_)) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "code_not_a_unit"));
        }
        Err(_) => return Err(ApiError::new(StatusCode::BAD_REQUEST, "code_malformed")),
    };
    let (gtin, serial) = (code.gtin(), code.serial());
    let owner = state
        .store
        .code_owner(gtin, serial)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Actor::Participant(p) = caller.actor
        && p != owner
    {
        return Err(ApiError::not_found());
    }
    let stored = state
        .store
        .code_for_scan(gtin, serial)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let events = state.store.code_events(gtin, serial).await?;

    if epcis_format {
        let mut documents: HashMap<String, Option<Document>> = HashMap::new();
        let mut out = Vec::new();
        // The packages around the code, as its history tells so far.
        let mut inside: Vec<Sscc> = Vec::new();
        for e in &events {
            let doc = match (e.source_kind.as_str(), &e.source_id) {
                ("document", Some(id)) => {
                    if !documents.contains_key(id) {
                        let found = match id.parse::<DocumentId>() {
                            Ok(d) => state.store.document(d).await?,
                            Err(_) => None,
                        };
                        documents.insert(id.clone(), found);
                    }
                    documents.get(id).and_then(Option::as_ref)
                }
                _ => None,
            };
            if let ("aggregate" | "disaggregate", Some(doc)) = (e.operation.as_str(), doc) {
                if let Some(h) = packing(&state.store, doc, e, &code, &mut inside).await? {
                    out.push(epcis::event(&h));
                }
                continue;
            }
            let Some(step) = epcis_step(&e.operation, e.state) else {
                continue;
            };
            out.push(epcis::event(&happening(
                step,
                e.at,
                vec![code.clone()],
                doc,
            )));
        }
        return Ok(epcis_response(out));
    }

    let lang = lang.0;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .json(json!({
            "code": code.identity(),
            "gtin": gtin.as_str(),
            "serial": serial.as_str(),
            "status": crate::routes::codes::status_json(stored.state.status, lang),
            "blocked": stored.state.blocked,
            "events": events.iter().map(|e| json!({
                "at": e.at,
                "operation": e.operation,
                "status": crate::routes::codes::status_json(e.state.status, lang),
                "blocked": e.state.blocked,
                "actor": e.actor,
                "source": {"kind": e.source_kind, "id": e.source_id},
            })).collect::<Vec<_>>(),
        })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tanba_core::lifecycle::{WithdrawalReason, WriteOffReason};

    #[test]
    fn every_document_operation_has_an_epcis_step() {
        let introduced = CodeState::new(Status::Introduced);
        for op in [
            "apply",
            "introduce",
            "ship",
            "accept",
            "cancel_shipment",
            "return",
            "block",
            "unblock",
        ] {
            assert!(epcis_step(op, introduced).is_some(), "{op}");
        }
        let sold = CodeState::new(Status::Retired(WithdrawalReason::Retail));
        assert_eq!(
            epcis_step("withdraw", sold),
            Some(Step::Document(Action::Withdraw(WithdrawalReason::Retail)))
        );
        let spoiled = CodeState::new(Status::WrittenOff(WriteOffReason::KmSpoiled));
        assert!(epcis_step("write_off", spoiled).is_some());
        assert_eq!(epcis_step("withdraw", introduced), None);
    }
}
