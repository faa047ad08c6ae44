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
use tanba_core::lifecycle::{CodeState, Status, WithdrawalReason, WriteOffReason};
use tanba_core::{CryptoTail, Gtin, KeyId, MarkingCode, Serial};

use super::{Pool, Store, Tx};
use crate::ids::{OrderId, ParticipantId};

/// Status numbers as stored (`codes.status`). Stable: never renumber, only
/// add. `codes.reason` is the index of the reason in
/// [`WithdrawalReason::ALL`] (for RETIRED) or [`WriteOffReason::ALL`] (for
/// WRITTEN_OFF), and NULL for every other status; those arrays are stable
/// too (new reasons go at their end). `status_numbers_are_stable` pins both.
pub const STATUS_EMITTED: i16 = 0;
pub const STATUS_APPLIED: i16 = 1;
pub const STATUS_INTRODUCED: i16 = 2;
pub const STATUS_RETIRED: i16 = 3;
pub const STATUS_WRITTEN_OFF: i16 = 4;

/// A code's owner as SQL, over `codes c` left-joined to its row in
/// `package_codes pc` and that package's row in `packages p`: a packed
/// code's owner is its package's. A shipment of packages moves the
/// packages, not each code inside them (and every package in a package
/// has that package's owner), so `codes.owner` of a packed code is the
/// owner it had when it was packed, until it leaves the package
/// ([`Tx::dissolve_package`]).
pub const OWNER: &str = "COALESCE(p.owner, c.owner)";

/// The joins [`OWNER`] reads through, after `FROM codes c`.
pub const OWNER_JOINS: &str = "LEFT JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
    LEFT JOIN packages p ON p.sscc = pc.package";

/// A status as its stored columns: (`codes.status`, `codes.reason`).
pub fn status_columns(status: Status) -> (i16, Option<i16>) {
    fn index<T: PartialEq>(all: &[T], x: &T) -> Option<i16> {
        all.iter().position(|y| y == x).map(|i| i as i16)
    }
    match status {
        Status::Emitted => (STATUS_EMITTED, None),
        Status::Applied => (STATUS_APPLIED, None),
        Status::Introduced => (STATUS_INTRODUCED, None),
        Status::Retired(r) => (STATUS_RETIRED, index(&WithdrawalReason::ALL, &r)),
        Status::WrittenOff(r) => (STATUS_WRITTEN_OFF, index(&WriteOffReason::ALL, &r)),
    }
}

/// The status stored as (`codes.status`, `codes.reason`); an error for
/// numbers this build does not know (a newer build wrote them, or damage).
pub fn status_from_columns(status: i16, reason: Option<i16>) -> anyhow::Result<Status> {
    let reason_at = |len: usize| -> anyhow::Result<usize> {
        reason
            .and_then(|r| usize::try_from(r).ok())
            .filter(|&r| r < len)
            .ok_or_else(|| anyhow::anyhow!("stored status {status} with reason {reason:?}"))
    };
    Ok(match status {
        STATUS_EMITTED => Status::Emitted,
        STATUS_APPLIED => Status::Applied,
        STATUS_INTRODUCED => Status::Introduced,
        STATUS_RETIRED => {
            Status::Retired(WithdrawalReason::ALL[reason_at(WithdrawalReason::ALL.len())?])
        }
        STATUS_WRITTEN_OFF => {
            Status::WrittenOff(WriteOffReason::ALL[reason_at(WriteOffReason::ALL.len())?])
        }
        other => anyhow::bail!("unknown stored status {other}"),
    })
}

/// A code's state as stored in (`codes.status`, `codes.reason`,
/// `codes.blocked`), and the same columns of its events.
pub fn state_from_columns(
    status: i16,
    reason: Option<i16>,
    blocked: bool,
) -> anyhow::Result<CodeState> {
    Ok(CodeState {
        status: status_from_columns(status, reason)?,
        blocked,
    })
}

/// Rows per SQLite statement: 8 parameters a row stays well under SQLite's
/// limit of 32,766 parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 2_000;

pub(super) fn gtin_number(gtin: &Gtin) -> anyhow::Result<i64> {
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
    pub async fn order_codes(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are in every stored row: changing one silently changes
    /// the status of stored codes.
    #[test]
    fn status_numbers_are_stable() {
        use WithdrawalReason as W;
        use WriteOffReason as O;
        let pinned = [
            (Status::Emitted, (0, None)),
            (Status::Applied, (1, None)),
            (Status::Introduced, (2, None)),
            (Status::Retired(W::Retail), (3, Some(0))),
            (Status::Retired(W::Distance), (3, Some(1))),
            (Status::Retired(W::EecExport), (3, Some(2))),
            (Status::Retired(W::BeyondEecExport), (3, Some(3))),
            (Status::Retired(W::OwnUse), (3, Some(4))),
            (Status::Retired(W::Donation), (3, Some(5))),
            (Status::Retired(W::StateContract), (3, Some(6))),
            (Status::Retired(W::DamageLoss), (3, Some(7))),
            (Status::Retired(W::Destruction), (3, Some(8))),
            (Status::Retired(W::Confiscation), (3, Some(9))),
            (Status::Retired(W::Defect), (3, Some(10))),
            (Status::Retired(W::Expiry), (3, Some(11))),
            (Status::WrittenOff(O::KmSpoiled), (4, Some(0))),
            (Status::WrittenOff(O::KmLost), (4, Some(1))),
            (Status::WrittenOff(O::KmDestroyed), (4, Some(2))),
        ];
        assert_eq!(pinned.len(), 3 + W::ALL.len() + O::ALL.len());
        for (status, columns) in pinned {
            assert_eq!(status_columns(status), columns, "{status}");
            assert_eq!(status_from_columns(columns.0, columns.1).unwrap(), status);
        }
        assert!(status_from_columns(5, None).is_err());
        assert!(status_from_columns(STATUS_RETIRED, None).is_err());
        assert!(status_from_columns(STATUS_RETIRED, Some(12)).is_err());
    }
}
