//! Who is calling, and what they may do.
//!
//! Every caller signs in with an electronic digital signature (see `eds`, the
//! challenge and CMS check) and receives a short-lived bearer token. A token
//! stands for one actor — a participant of trade or an operator staff member,
//! later also machines (printer devices, fiscal operators, cash registers) —
//! with the roles that actor holds. Handlers take a [`Caller`] and state the
//! roles they accept with [`Caller::require`]; a missing, unknown or expired
//! token is 401, a wrong role is 403, both with a localized message.
//!
//! Tokens are 256 random bits; only their SHA-256 is stored, so a copy of the
//! database does not hand out sessions.

pub mod eds;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// A role an actor can hold. Participant roles come from registration and the
/// operator's approval; staff roles from the administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manufacturer,
    Importer,
    Wholesaler,
    Retailer,
    /// Operator administrator: reference data, keys, participants, printers.
    Admin,
    /// Reviews citizens' reports.
    Inspector,
    /// Reads statistics.
    Analyst,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Manufacturer,
        Role::Importer,
        Role::Wholesaler,
        Role::Retailer,
        Role::Admin,
        Role::Inspector,
        Role::Analyst,
    ];

    /// Roles a participant of trade may hold.
    pub const PARTICIPANT: [Role; 4] = [
        Role::Manufacturer,
        Role::Importer,
        Role::Wholesaler,
        Role::Retailer,
    ];

    /// Participants of trade, and the staff who control them: who may read
    /// documents and packages (participants their own only).
    pub const TRADE_AND_CONTROL: [Role; 6] = [
        Role::Manufacturer,
        Role::Importer,
        Role::Wholesaler,
        Role::Retailer,
        Role::Inspector,
        Role::Admin,
    ];

    /// Roles of operator staff.
    pub const STAFF: [Role; 3] = [Role::Admin, Role::Inspector, Role::Analyst];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manufacturer => "manufacturer",
            Role::Importer => "importer",
            Role::Wholesaler => "wholesaler",
            Role::Retailer => "retailer",
            Role::Admin => "admin",
            Role::Inspector => "inspector",
            Role::Analyst => "analyst",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// Roles as stored: comma-separated names.
pub fn roles_to_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn roles_from_text(text: &str) -> Vec<Role> {
    text.split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect()
}

/// Who an actor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    Participant(crate::ids::ParticipantId),
    Staff(crate::ids::StaffId),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Participant(_) => "participant",
            Actor::Staff(_) => "staff",
        }
    }

    pub fn id(&self) -> String {
        match self {
            Actor::Participant(id) => id.to_string(),
            Actor::Staff(id) => id.to_string(),
        }
    }

    pub fn parse(kind: &str, id: &str) -> Option<Actor> {
        match kind {
            "participant" => id.parse().ok().map(Actor::Participant),
            "staff" => id.parse().ok().map(Actor::Staff),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub roles: Vec<Role>,
    /// The client's address, for the audit log.
    pub ip: Option<String>,
}

impl Caller {
    /// 403 unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.roles.iter().any(|r| roles.contains(r)) {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden"))
        }
    }

    /// The participant behind the call; 403 for staff.
    pub fn participant(&self) -> Result<crate::ids::ParticipantId, ApiError> {
        match self.actor {
            Actor::Participant(id) => Ok(id),
            Actor::Staff(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden")),
        }
    }

    /// The first of the caller's roles that is among `roles`, for the audit log.
    pub fn role_among(&self, roles: &[Role]) -> Option<Role> {
        self.roles.iter().copied().find(|r| roles.contains(r))
    }

    /// An audit entry for an action of this caller.
    pub fn audit(&self, action: &str) -> crate::store::AuditEntry {
        let mut e = crate::store::AuditEntry::new(action);
        e.actor = Some(self.actor.id());
        e.role = Some(roles_to_text(&self.roles));
        e.ip = self.ip.clone();
        e
    }
}

/// A new bearer token and the hash under which it is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// The client's address: the peer of the connection, or, when that peer is
/// one of the `trusted_proxies`, the address it forwarded for
/// ([`crate::settings::TrustedProxies::client`]). `X-Forwarded-For` from
/// anyone else is ignored: a client can write any address in it.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(peer.to_string());
    };
    let proxies = &state.settings.trusted_proxies;
    if proxies.is_empty() {
        return Some(peer.to_string());
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    Some(proxies.client(peer, forwarded.into_iter()).to_string())
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let ip = client_ip(req);
        Box::pin(async move {
            let unauthenticated = || ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated");
            let token = token.ok_or_else(unauthenticated)?;
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let session = state
                .store
                .session(&token_hash(&token))
                .await?
                .ok_or_else(unauthenticated)?;
            Ok(Caller {
                actor: session.actor,
                roles: session.roles,
                ip,
            })
        })
    }
}
