//! Participants of trade: registration signed with the applicant's EDS, and
//! the operator's approval or refusal.
//!
//! Registration wire format. The applicant signs the exact bytes of a JSON
//! document and sends those bytes base64-encoded next to the signature, so
//! no canonical JSON form has to be agreed on — what was signed is what is
//! parsed and kept:
//!
//! ```text
//! POST /v1/participants
//! {"registration": "<base64 of the UTF-8 JSON document>",
//!  "signature":    "<base64 DER CMS, detached, over those same bytes>"}
//!
//! the document:
//! {"taxpayer_id": "971240001315",            BIN or IIN, control digit checked
//!  "name_kk": "…", "name_ru": "…",           legal name in Kazakh and Russian
//!  "roles": ["manufacturer", "importer"],    at least one of manufacturer, importer, wholesaler, retailer
//!  "contacts": {"email": "…", "phone": "+7 701 234 56 78"}}   at least one of the two
//! ```
//!
//! The signing certificate must carry the registered number: the BIN of a
//! legal entity (an employee's certificate), or the IIN of a sole proprietor.
//! Every field is checked and every problem is reported at once
//! (`validation_failed` with `details`); nothing is stored until all pass.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};
use tanba_core::participant::TaxpayerId;

use crate::auth::{Actor, Caller, Role, client_ip};
use crate::error::{ApiError, FieldError};
use crate::ids::ParticipantId;
use crate::routes::auth::eds_error;
use crate::state::AppState;
use crate::store::{AuditEntry, NewParticipant, Outcome, ParticipantStatus};

/// Longest legal name, in characters.
const MAX_NAME: usize = 300;
/// Longest refusal reason, in characters.
const MAX_REASON: usize = 1000;

/// Registers this module's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/participants", web::post().to(register))
        .route("/v1/participants", web::get().to(list))
        .route("/v1/participants/{id}", web::get().to(get))
        .route("/v1/participants/{id}/approve", web::post().to(approve))
        .route("/v1/participants/{id}/refuse", web::post().to(refuse));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    registration: String,
    signature: String,
}

/// A registration document that passed format-logical control.
#[derive(Debug)]
struct Registration {
    taxpayer_id: TaxpayerId,
    name_kk: String,
    name_ru: String,
    roles: Vec<Role>,
    email: Option<String>,
    phone: Option<String>,
}

/// Checks every field of a registration document and reports every problem.
fn validate(doc: &Map<String, Value>) -> Result<Registration, Vec<FieldError>> {
    let mut errors = Vec::new();
    for key in doc.keys() {
        if !["taxpayer_id", "name_kk", "name_ru", "roles", "contacts"].contains(&key.as_str()) {
            errors.push(FieldError::new("unknown_field", key.clone()));
        }
    }

    let taxpayer_id = match text(doc, "taxpayer_id", "taxpayer_id", &mut errors) {
        Some(t) => match TaxpayerId::parse(t.trim()) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(taxpayer_id_error(e));
                None
            }
        },
        None => None,
    };
    let name_kk = name(doc, "name_kk", &mut errors);
    let name_ru = name(doc, "name_ru", &mut errors);

    let mut roles = Vec::new();
    match doc.get("roles") {
        None | Some(Value::Null) => errors.push(FieldError::new("required", "roles")),
        Some(Value::Array(items)) => {
            if items.is_empty() {
                errors.push(FieldError::new("required", "roles"));
            }
            for (i, item) in items.iter().enumerate() {
                let field = format!("roles[{i}]");
                match item.as_str() {
                    None => errors.push(FieldError::new("not_text", field)),
                    Some(r) => match r.parse::<Role>() {
                        Ok(role) if Role::PARTICIPANT.contains(&role) => {
                            if roles.contains(&role) {
                                errors
                                    .push(FieldError::new("duplicate_role", field).arg("role", r));
                            } else {
                                roles.push(role);
                            }
                        }
                        _ => errors.push(FieldError::new("unknown_role", field).arg("role", r)),
                    },
                }
            }
        }
        Some(_) => errors.push(FieldError::new("not_list", "roles")),
    }

    let (mut email, mut phone) = (None, None);
    match doc.get("contacts") {
        None | Some(Value::Null) => errors.push(FieldError::new("contacts_required", "contacts")),
        Some(Value::Object(contacts)) => {
            for key in contacts.keys() {
                if !["email", "phone"].contains(&key.as_str()) {
                    errors.push(FieldError::new("unknown_field", format!("contacts.{key}")));
                }
            }
            let present = |k: &str| !matches!(contacts.get(k), None | Some(Value::Null));
            if !present("email") && !present("phone") {
                errors.push(FieldError::new("contacts_required", "contacts"));
            }
            if present("email")
                && let Some(e) = text(contacts, "email", "contacts.email", &mut errors)
            {
                match normalize_email(e) {
                    Some(e) => email = Some(e),
                    None => errors.push(FieldError::new("email", "contacts.email")),
                }
            }
            if present("phone")
                && let Some(p) = text(contacts, "phone", "contacts.phone", &mut errors)
            {
                match normalize_phone(p) {
                    Some(p) => phone = Some(p),
                    None => errors.push(FieldError::new("phone", "contacts.phone")),
                }
            }
        }
        Some(_) => errors.push(FieldError::new("not_object", "contacts")),
    }

    match (taxpayer_id, name_kk, name_ru) {
        (Some(taxpayer_id), Some(name_kk), Some(name_ru)) if errors.is_empty() => {
            Ok(Registration {
                taxpayer_id,
                name_kk,
                name_ru,
                roles,
                email,
                phone,
            })
        }
        _ => Err(errors),
    }
}

/// A required text field; records why it is missing or not text.
fn text<'a>(
    doc: &'a Map<String, Value>,
    key: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match doc.get(key) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("required", field));
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(FieldError::new("required", field));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(FieldError::new("not_text", field));
            None
        }
    }
}

fn name(doc: &Map<String, Value>, key: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = text(doc, key, key, errors)?.trim();
    if value.chars().count() > MAX_NAME {
        errors.push(FieldError::new("too_long", key).arg("max", MAX_NAME));
        return None;
    }
    if value.chars().any(char::is_control) {
        errors.push(FieldError::new("control_characters", key));
        return None;
    }
    Some(value.to_owned())
}

fn taxpayer_id_error(e: tanba_core::participant::TaxpayerIdError) -> FieldError {
    use tanba_core::participant::TaxpayerIdError as E;
    let field = "taxpayer_id";
    match e {
        E::Format => FieldError::new("taxpayer_id_format", field),
        E::ControlDigit { expected } => {
            FieldError::new("taxpayer_id_control_digit", field).arg("expected", expected)
        }
        E::NeverIssued => FieldError::new("taxpayer_id_never_issued", field),
        E::BirthDate => FieldError::new("iin_birth_date", field),
        E::Century => FieldError::new("iin_century", field),
        E::Month => FieldError::new("bin_month", field),
        E::EntityType => FieldError::new("bin_entity_type", field),
    }
}

/// A plausible mailbox address (one `@`, a dotted domain, no spaces), with
/// the domain in lower case; `None` otherwise.
fn normalize_email(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = text.split_once('@')?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return None;
    }
    Some(format!("{local}@{}", domain.to_lowercase()))
}

/// An international phone number in E.164 (`+` and 8 to 15 digits; for
/// Kazakhstan's `+7`, 11 digits), with spaces, dashes and brackets dropped;
/// a leading `8` of a Kazakh number is read as `+7`. `None` otherwise.
fn normalize_phone(text: &str) -> Option<String> {
    let kept: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}'))
        .collect();
    let digits = match kept.strip_prefix('+') {
        Some(rest) => rest.to_owned(),
        None if kept.len() == 11 && kept.starts_with('8') => format!("7{}", &kept[1..]),
        None => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(8..=15).contains(&digits.len()) {
        return None;
    }
    if digits.starts_with('7') && digits.len() != 11 {
        return None;
    }
    Some(format!("+{digits}"))
}

/// A refused registration attempt, in the audit log.
async fn audit_refused(
    state: &AppState,
    ip: Option<String>,
    detail: Value,
    err: ApiError,
) -> ApiError {
    let mut entry = AuditEntry::new("participant.register");
    entry.ip = ip;
    entry.outcome = Outcome::Refused(err.code().to_owned());
    entry.detail = detail;
    if let Err(e) = state.store.audit(entry).await {
        return ApiError::internal(e.context("auditing a refused registration"));
    }
    err
}

/// `POST /v1/participants`: registers a participant (status PENDING).
/// Public, but the registration must be signed by an EDS certificate
/// carrying the registered BIN or IIN (see the module docs for the format).
#[tracing::instrument(skip_all)]
async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Envelope>,
) -> Result<HttpResponse, ApiError> {
    let Envelope {
        registration,
        signature,
    } = body.into_inner();
    let ip = client_ip(&req);
    let bytes = STANDARD
        .decode(registration.trim())
        .map_err(|_| ApiError::validation(vec![FieldError::new("base64", "registration")]))?;
    let doc = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(doc)) => doc,
        _ => {
            return Err(ApiError::validation(vec![FieldError::new(
                "not_json_object",
                "registration",
            )]));
        }
    };
    let reg = validate(&doc).map_err(ApiError::validation)?;

    let signer = match state.eds.verify_detached(signature.as_bytes(), &bytes) {
        Ok(s) => s,
        Err(e) => {
            let detail = serde_json::json!({
                "taxpayer_id": reg.taxpayer_id.as_str(),
                "reason": e.to_string(),
            });
            return Err(audit_refused(&state, ip, detail, eds_error(&e)).await);
        }
    };
    let detail = serde_json::json!({
        "taxpayer_id": reg.taxpayer_id.as_str(),
        "signer_taxpayer_id": signer.taxpayer_id.as_str(),
        "signer_iin": signer.iin.as_ref().map(|i| i.as_str()),
        "certificate_serial": signer.certificate_serial,
    });
    if signer.taxpayer_id != reg.taxpayer_id {
        let err = ApiError::new(StatusCode::FORBIDDEN, "registration_signer_mismatch")
            .arg("taxpayer_id", reg.taxpayer_id.as_str())
            .arg("signer", signer.taxpayer_id.as_str());
        return Err(audit_refused(&state, ip, detail, err).await);
    }

    let new = NewParticipant {
        taxpayer_id: reg.taxpayer_id.as_str().to_owned(),
        name_kk: reg.name_kk,
        name_ru: reg.name_ru,
        roles: reg.roles,
        email: reg.email,
        phone: reg.phone,
        registration: String::from_utf8_lossy(&bytes).into_owned(),
        signature: signature.trim().to_owned(),
        signer_iin: signer.iin.as_ref().map(|i| i.as_str().to_owned()),
    };
    let mut tx = state.store.begin().await?;
    let participant = match tx.insert_participant(&new).await? {
        Ok(p) => p,
        Err(_) => {
            drop(tx);
            let err = ApiError::new(StatusCode::CONFLICT, "participant_exists")
                .arg("taxpayer_id", &new.taxpayer_id);
            return Err(audit_refused(&state, ip, detail, err).await);
        }
    };
    let mut entry = AuditEntry::new("participant.register");
    entry.actor = Some(participant.id.to_string());
    entry.object = Some(participant.id.to_string());
    entry.ip = ip;
    entry.detail = detail;
    tx.audit(entry).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/v1/participants/{}", participant.id)))
        .json(participant))
}

/// `GET /v1/participants?status=PENDING&limit=100&offset=0`: participants,
/// oldest first. Administrators only.
#[tracing::instrument(skip_all)]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let mut errors = Vec::new();
    let (mut status, mut limit, mut offset) = (None, 100i64, 0i64);
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match key.as_ref() {
            "status" => match ParticipantStatus::parse(&value) {
                Some(s) => status = Some(s),
                None => {
                    errors.push(FieldError::new("unknown_status", "status").arg("status", &value))
                }
            },
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => errors.push(
                    FieldError::new("out_of_range", "limit")
                        .arg("min", 1)
                        .arg("max", 1000),
                ),
            },
            "offset" => match value.parse::<i64>() {
                Ok(n) if n >= 0 => offset = n,
                _ => errors.push(
                    FieldError::new("out_of_range", "offset")
                        .arg("min", 0)
                        .arg("max", i64::MAX),
                ),
            },
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let participants = state.store.participants(status, limit, offset).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "participants": participants })))
}

fn parse_id(id: &str) -> Result<ParticipantId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// `GET /v1/participants/{id}`: one participant. Administrators, or the
/// participant itself.
#[tracing::instrument(skip_all)]
async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    if caller.actor != Actor::Participant(id) {
        caller.require(&[Role::Admin])?;
    }
    let participant = state
        .store
        .participant(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(participant))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefuseRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/participants/{id}/approve`: approves a PENDING participant; it
/// can then sign in with its roles. Administrators only.
#[tracing::instrument(skip_all)]
async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = parse_id(&path)?;
    decide(&state, &caller, id, ParticipantStatus::Approved, None).await
}

/// `POST /v1/participants/{id}/refuse` with `{"reason": "…"}`: refuses a
/// PENDING participant. Administrators only.
#[tracing::instrument(skip_all)]
async fn refuse(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The body is read as bytes and parsed after the role check, so a
    // caller without the role learns nothing from the body's validation.
    caller.require(&[Role::Admin])?;
    let id = parse_id(&path)?;
    let request: RefuseRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json").arg("detail", e))?;
    let reason = request.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "required", "reason",
        )]));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(ApiError::validation(vec![
            FieldError::new("too_long", "reason").arg("max", MAX_REASON),
        ]));
    }
    decide(
        &state,
        &caller,
        id,
        ParticipantStatus::Refused,
        Some(reason),
    )
    .await
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: ParticipantId,
    decision: ParticipantStatus,
    reason: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let action = match decision {
        ParticipantStatus::Approved => "participant.approve",
        _ => "participant.refuse",
    };
    let mut tx = state.store.begin().await?;
    let decided = tx
        .decide_participant(id, decision, reason, &caller.actor.id())
        .await?;
    let Some(participant) = decided else {
        drop(tx);
        let current = state.store.participant(id).await?;
        let err = match current {
            None => return Err(ApiError::not_found()),
            Some(p) => ApiError::new(StatusCode::CONFLICT, "participant_already_decided")
                .arg("status", p.status.as_str()),
        };
        let mut entry = caller.audit(action);
        entry.object = Some(id.to_string());
        entry.outcome = Outcome::Refused(err.code().to_owned());
        state.store.audit(entry).await?;
        return Err(err);
    };
    let mut entry = caller.audit(action);
    entry.object = Some(id.to_string());
    entry.detail = serde_json::json!({ "reason": reason });
    tx.audit(entry).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(participant))
}
