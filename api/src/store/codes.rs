//! The codes table: one narrow row per code ever issued (see the migration for
//! the layout), written in bulk by emission and read page by page by the
//! ordering participant.
//!
//! Bulk writes differ by engine on purpose: PostgreSQL takes a whole chunk in
//! one statement through `UNNEST` of arrays (close to `COPY` speed, and unlike
//! `COPY` it honours `ON CONFLICT`); SQLite takes multi-row `VALUES` lists in
//! one transaction.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::QueryBuilder;
use tanba_core::{CryptoTail, Gtin, KeyId, MarkingCode, Serial};

use super::{Pool, Store, Tx};
use crate::ids::{OrderId, ParticipantId};

/// Status numbers as stored (`codes.status`). Stable: never renumber.
pub const STATUS_EMITTED: i16 = 0;

/// Rows per SQLite statement: 8 parameters a row stays well under SQLite's
/// limit of 32,766 parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 2_000;

fn gtin_number(gtin: &Gtin) -> anyhow::Result<i64> {
    Ok(gtin.as_str().parse()?)
}

/// The 64 signature bytes of a code's tail (our tails are always base64url of
/// a signature; a code without one is not ours to store).
fn signature_bytes(code: &MarkingCode) -> anyhow::Result<Vec<u8>> {
    let tail = code
        .crypto_tail()
        .ok_or_else(|| anyhow::anyhow!("an emitted code must be signed"))?;
    Ok(URL_SAFE_NO_PAD.decode(tail.as_str())?)
}

impl Tx {
    /// Inserts signed codes in status `EMITTED`; returns how many were new.
    pub async fn insert_emitted(
        &mut self,
        codes: &[MarkingCode],
        owner: ParticipantId,
        order_id: OrderId,
        emitted_at: i64,
    ) -> anyhow::Result<u64> {
        let Some(first) = codes.first() else {
            return Ok(0);
        };
        let key_id = first
            .key_id()
            .ok_or_else(|| anyhow::anyhow!("an emitted code must carry its key id"))?
            .as_str()
            .to_owned();
        match self {
            Tx::Postgres(t) => {
                // One GTIN per chunk: an order is for one GTIN.
                let gtins: Vec<i64> = codes
                    .iter()
                    .map(|c| gtin_number(c.gtin()))
                    .collect::<Result<_, _>>()?;
                let serials: Vec<&str> = codes.iter().map(|c| c.serial().as_str()).collect();
                let signatures: Vec<Vec<u8>> = codes
                    .iter()
                    .map(signature_bytes)
                    .collect::<Result<_, _>>()?;
                const SQL: &str = "INSERT INTO codes (gtin, serial, key_id, signature, status, blocked, owner, order_id, emitted_at) \
                    SELECT g, s, $4, sig, 0, FALSE, $5, $6, $7 \
                    FROM UNNEST($1::bigint[], $2::text[], $3::bytea[]) AS u(g, s, sig) \
                    ON CONFLICT DO NOTHING";
                let done = sqlx::query(SQL)
                    .bind(&gtins)
                    .bind(&serials)
                    .bind(&signatures)
                    .bind(&key_id)
                    .bind(owner.as_uuid())
                    .bind(order_id.as_uuid())
                    .bind(emitted_at)
                    .execute(&mut **t)
                    .await?;
                Ok(done.rows_affected())
            }
            Tx::Sqlite(t) => {
                let mut inserted = 0;
                for part in codes.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    let mut rows = Vec::with_capacity(part.len());
                    for c in part {
                        rows.push((
                            gtin_number(c.gtin())?,
                            c.serial().as_str(),
                            signature_bytes(c)?,
                        ));
                    }
                    let mut q = QueryBuilder::new(
                        "INSERT INTO codes (gtin, serial, key_id, signature, status, blocked, owner, order_id, emitted_at) ",
                    );
                    q.push_values(rows, |mut b, (gtin, serial, sig)| {
                        b.push_bind(gtin)
                            .push_bind(serial)
                            .push_bind(key_id.as_str())
                            .push_bind(sig)
                            .push_bind(STATUS_EMITTED)
                            .push_bind(false)
                            .push_bind(owner.as_uuid())
                            .push_bind(order_id.as_uuid())
                            .push_bind(emitted_at);
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    inserted += q.build().execute(&mut **t).await?.rows_affected();
                }
                Ok(inserted)
            }
        }
    }
}

impl Store {
    /// How many codes the order has, and how many distinct codes among them
    /// (equal unless the key were broken; checked by the crash tests).
    pub async fn count_order_codes(&self, order_id: OrderId) -> anyhow::Result<(i64, i64)> {
        const SQL: &str = "SELECT COUNT(*), COUNT(DISTINCT serial) FROM codes WHERE order_id = $1";
        Ok(with_pool!(self, p => {
            sqlx::query_as(SQL).bind(order_id.as_uuid()).fetch_one(p).await?
        }))
    }

    /// An order's codes in serial order, `limit` from `offset`.
    pub(super) async fn codes_of_order(
        &self,
        order_id: OrderId,
        offset: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<MarkingCode>> {
        const SQL: &str = "SELECT gtin, serial, key_id, signature FROM codes \
                           WHERE order_id = $1 ORDER BY serial LIMIT $2 OFFSET $3";
        let rows: Vec<(i64, String, String, Vec<u8>)> = with_pool!(self, p => {
            sqlx::query_as(SQL)
                .bind(order_id.as_uuid())
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?
        });
        rows.into_iter()
            .map(|(gtin, serial, key_id, signature)| {
                let code = MarkingCode::new(
                    Gtin::parse(&format!("{gtin:014}"))
                        .map_err(|e| anyhow::anyhow!("stored GTIN {gtin}: {e}"))?,
                    Serial::parse(&serial)
                        .map_err(|e| anyhow::anyhow!("stored serial {serial:?}: {e}"))?,
                )
                .with_crypto(
                    KeyId::parse(&key_id).map_err(|e| anyhow::anyhow!("stored key id: {e}"))?,
                    CryptoTail::parse(&URL_SAFE_NO_PAD.encode(signature))
                        .map_err(|e| anyhow::anyhow!("stored signature: {e}"))?,
                );
                Ok(code)
            })
            .collect()
    }
}
