//! Bearer-token sessions: the hash of the token, who it stands for, with which
//! roles, until when.

use sqlx::Row as _;
use time::OffsetDateTime;

use super::{Pool, Store, Tx};
use crate::auth::{Actor, Role, roles_from_text, roles_to_text};

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub roles: Vec<Role>,
    pub expires_at: i64,
}

impl Tx {
    /// Stores a session for `token_hash`, valid for `ttl_secs`.
    pub async fn create_session(
        &mut self,
        token_hash: &str,
        actor: Actor,
        roles: &[Role],
        ttl_secs: i64,
    ) -> anyhow::Result<i64> {
        const SQL: &str = "INSERT INTO sessions (token_hash, actor_kind, actor, roles, created_at, expires_at) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let expires_at = now + ttl_secs;
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(token_hash)
                .bind(actor.kind())
                .bind(actor.id())
                .bind(roles_to_text(roles))
                .bind(now)
                .bind(expires_at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(expires_at)
    }
}

impl Store {
    /// The unexpired session stored under `token_hash`.
    #[tracing::instrument(skip_all)]
    pub async fn session(&self, token_hash: &str) -> anyhow::Result<Option<Session>> {
        const SQL: &str = "SELECT actor_kind, actor, roles, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2";
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let row = with_pool!(self, p => {
            sqlx::query(SQL)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(p)
                .await?
                .map(|r| -> Result<(String, String, String, i64), sqlx::Error> {
                    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
                })
                .transpose()?
        });
        Ok(row.and_then(|(kind, id, roles, expires_at)| {
            Some(Session {
                actor: Actor::parse(&kind, &id)?,
                roles: roles_from_text(&roles),
                expires_at,
            })
        }))
    }
}
