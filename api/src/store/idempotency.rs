//! Stored first answers to requests by `Idempotency-Key` (see
//! `crate::idempotency` for the rules).

use time::OffsetDateTime;

use super::{Pool, Store, Tx};

impl Store {
    /// `(request_hash, status, body)` of the first answer to `key` by `actor`.
    pub async fn idempotent_answer(
        &self,
        actor: &str,
        key: &str,
    ) -> anyhow::Result<Option<(String, i32, String)>> {
        const SQL: &str =
            "SELECT request_hash, status, body FROM idempotency_keys WHERE actor = $1 AND key = $2";
        Ok(with_pool!(self, p => {
            sqlx::query_as(SQL).bind(actor).bind(key).fetch_optional(p).await?
        }))
    }
}

impl Tx {
    /// Stores the first answer; fails if the key was used meanwhile.
    pub async fn save_idempotent_answer(
        &mut self,
        actor: &str,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
    ) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO idempotency_keys (actor, key, request_hash, status, body, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(actor)
                .bind(key)
                .bind(request_hash)
                .bind(i32::from(status))
                .bind(body)
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }
}
