//! Sign-in with an electronic digital signature, as in the region's marking
//! systems: the server hands out a random challenge, the caller signs it with
//! its EDS (a detached CMS made by NCALayer) and trades the signature for a
//! short-lived bearer token.
//!
//! ```text
//! POST /v1/auth/challenge            → {"challenge": "tanba-sign-in:…", "expires_at": 1700000300}
//! POST /v1/auth/token
//!   {"challenge": "tanba-sign-in:…",    the challenge as received
//!    "signature": "MIIG…",              base64 DER CMS, detached, over the challenge's UTF-8 bytes
//!    "actor": "participant" | "staff"}  optional, see below
//!                                     → {"token", "expires_at", "actor": {"kind", "id"}, "roles", "name"}
//! ```
//!
//! Who signs in: the certificate's BIN (a legal entity's employee) or else
//! its IIN (a sole proprietor) names a participant, which must be APPROVED;
//! its IIN names a staff account. Without `actor`, a participant is looked
//! for first, then staff; a person who is both says which.
//!
//! A challenge is single use: it is marked used before the signature is
//! checked, so a refused attempt burns it too. Every attempt, granted or
//! refused, is written to the audit log with the client's address.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

use crate::auth::eds::{CLOCK_SKEW_SECS, EdsError, SignerIdentity};
use crate::auth::{Actor, Role, client_ip, new_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEntry, Challenge, Outcome, ParticipantStatus};

/// How long a challenge may wait for its signature.
pub const CHALLENGE_TTL_SECS: i64 = 300;

/// What every challenge starts with, so that a sign-in signature can never
/// be passed off as a signed document, nor the reverse.
pub const CHALLENGE_PREFIX: &str = "tanba-sign-in:";

/// Registers this module's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/auth/challenge", web::post().to(challenge))
        .route("/v1/auth/token", web::post().to(token));
}

#[derive(Serialize)]
struct ChallengeBody {
    challenge: String,
    /// Unix seconds.
    expires_at: i64,
}

/// `POST /v1/auth/challenge`: a fresh random challenge to sign.
/// Public: anyone may ask (it is the first step of signing in).
#[tracing::instrument(skip_all)]
async fn challenge(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let challenge = format!("{CHALLENGE_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let ip = client_ip(&req);
    let mut tx = state.store.begin().await?;
    let expires_at = tx
        .create_challenge(&challenge, ip.as_deref(), CHALLENGE_TTL_SECS)
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ChallengeBody {
        challenge,
        expires_at,
    }))
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ActorKind {
    Participant,
    Staff,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    challenge: String,
    signature: String,
    #[serde(default)]
    actor: Option<ActorKind>,
}

#[derive(Serialize)]
struct TokenBody {
    token: String,
    /// Unix seconds.
    expires_at: i64,
    actor: Actor,
    roles: Vec<Role>,
    /// The participant's or staff member's name.
    name: String,
}

/// The HTTP error for a refused signature. Spelled out per code so that
/// every code has its literal here (the messages test reads them).
pub fn eds_error(e: &EdsError) -> ApiError {
    let s = StatusCode::UNAUTHORIZED;
    match e {
        EdsError::Malformed(_) => ApiError::new(s, "eds_malformed"),
        EdsError::BadSignature => ApiError::new(s, "eds_bad_signature"),
        EdsError::Untrusted(_) => ApiError::new(s, "eds_untrusted"),
        EdsError::Expired => ApiError::new(s, "eds_expired"),
        EdsError::NotYetValid => ApiError::new(s, "eds_not_yet_valid"),
        EdsError::Revoked => ApiError::new(s, "eds_revoked"),
        EdsError::RevocationUnknown => ApiError::new(s, "eds_revocation_unknown"),
        EdsError::SigningTimeInFuture => ApiError::new(s, "eds_bad_signing_time"),
        EdsError::NoTaxpayerId(_) => ApiError::new(s, "eds_no_taxpayer_id"),
    }
}

/// A refused attempt: written to the audit log in a transaction of its own,
/// then answered with `err`.
async fn refuse(
    state: &AppState,
    ip: Option<String>,
    actor: Option<String>,
    detail: serde_json::Value,
    err: ApiError,
) -> ApiError {
    let mut entry = AuditEntry::new("auth.sign_in");
    entry.actor = actor;
    entry.ip = ip;
    entry.outcome = Outcome::Refused(err.code().to_owned());
    entry.detail = detail;
    if let Err(e) = state.store.audit(entry).await {
        return ApiError::internal(e.context("auditing a refused sign-in"));
    }
    err
}

fn signer_detail(signer: &SignerIdentity) -> serde_json::Value {
    serde_json::json!({
        "taxpayer_id": signer.taxpayer_id.as_str(),
        "iin": signer.iin.as_ref().map(|i| i.as_str()),
        "certificate_serial": signer.certificate_serial,
        "issuer": signer.issuer,
    })
}

/// `POST /v1/auth/token`: a bearer token for a signed challenge.
/// Public: the signature is the credential.
#[tracing::instrument(skip_all)]
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let TokenRequest {
        challenge,
        signature,
        actor,
    } = body.into_inner();
    let ip = client_ip(&req);
    let unauthorized = StatusCode::UNAUTHORIZED;

    let found = if challenge.len() > 128 {
        Challenge::Unknown
    } else {
        let mut tx = state.store.begin().await?;
        let found = tx.take_challenge(&challenge).await?;
        tx.commit().await?;
        found
    };
    let created_at = match found {
        Challenge::Taken { created_at } => created_at,
        other => {
            let err = match other {
                Challenge::Expired => ApiError::new(unauthorized, "auth_challenge_expired"),
                Challenge::Used => ApiError::new(unauthorized, "auth_challenge_used"),
                _ => ApiError::new(unauthorized, "auth_challenge_unknown"),
            };
            return Err(refuse(&state, ip, None, serde_json::Value::Null, err).await);
        }
    };

    let signer = match state
        .eds
        .verify_detached(signature.as_bytes(), challenge.as_bytes())
    {
        Ok(signer) => signer,
        Err(e) => {
            let detail = serde_json::json!({"reason": e.to_string()});
            return Err(refuse(&state, ip, None, detail, eds_error(&e)).await);
        }
    };
    // The signing time is the signer's claim; a sign-in signature cannot be
    // older than its challenge, so a backdated one (to use a certificate
    // after it expired) is refused.
    if signer
        .signing_time
        .is_some_and(|t| t.unix_timestamp() < created_at - CLOCK_SKEW_SECS)
    {
        let err = ApiError::new(unauthorized, "eds_bad_signing_time");
        return Err(refuse(&state, ip, None, signer_detail(&signer), err).await);
    }

    let (actor, roles, name) = match find_actor(&state, &signer, actor).await? {
        Ok(found) => found,
        Err((who, err)) => {
            return Err(refuse(&state, ip, who, signer_detail(&signer), err).await);
        }
    };

    let (token, hash) = new_token();
    let ttl = i64::try_from(state.settings.session_ttl_secs).unwrap_or(3600);
    let mut tx = state.store.begin().await?;
    let expires_at = tx.create_session(&hash, actor, &roles, ttl).await?;
    let mut entry = AuditEntry::new("auth.sign_in");
    entry.actor = Some(actor.id());
    entry.role = Some(crate::auth::roles_to_text(&roles));
    entry.object = Some(actor.id());
    entry.ip = ip;
    entry.detail = signer_detail(&signer);
    tx.audit(entry).await?;
    tx.commit().await?;
    tracing::info!(actor = %actor.id(), kind = actor.kind(), "signed in");
    Ok(HttpResponse::Ok().json(TokenBody {
        token,
        expires_at,
        actor,
        roles,
        name,
    }))
}

type Found = (Actor, Vec<Role>, String);
type NotFound = (Option<String>, ApiError);

/// The participant or staff account the certificate names.
async fn find_actor(
    state: &AppState,
    signer: &SignerIdentity,
    wanted: Option<ActorKind>,
) -> anyhow::Result<Result<Found, NotFound>> {
    if wanted != Some(ActorKind::Staff)
        && let Some(p) = state
            .store
            .participant_by_taxpayer_id(signer.taxpayer_id.as_str())
            .await?
    {
        if p.status != ParticipantStatus::Approved {
            let err = ApiError::new(StatusCode::FORBIDDEN, "participant_not_approved");
            return Ok(Err((Some(p.id.to_string()), err)));
        }
        return Ok(Ok((Actor::Participant(p.id), p.roles, p.name_kk)));
    }
    if wanted != Some(ActorKind::Participant)
        && let Some(iin) = &signer.iin
        && let Some(s) = state.store.staff_by_iin(iin.as_str()).await?
    {
        return Ok(Ok((Actor::Staff(s.id), s.roles, s.name)));
    }
    Ok(Err((
        None,
        ApiError::new(StatusCode::UNAUTHORIZED, "auth_not_registered"),
    )))
}
