//! Emission orders: created by a participant, filled with codes by the
//! emission worker chunk by chunk, `READY` when the ordered number of unique
//! codes is stored.
//!
//! A chunk's codes and the order's `generated` counter are written in one
//! transaction, with the order row locked, so a crash between chunks loses
//! nothing and double-counts nothing: after a restart the worker reads
//! `generated` and makes exactly the rest. Uniqueness is the database's job:
//! the codes table is keyed by (GTIN, serial), a colliding serial is skipped
//! by `ON CONFLICT DO NOTHING` and simply not counted.

use sqlx::Row as _;
use tanba_core::MarkingCode;
use time::OffsetDateTime;

use super::{Pool, Store, Tx};
use crate::ids::{OrderId, ParticipantId};

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Created,
    Ready,
    Declined,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Ready => "READY",
            Self::Declined => "DECLINED",
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "CREATED" => Self::Created,
            "READY" => Self::Ready,
            "DECLINED" => Self::Declined,
            other => anyhow::bail!("unknown order status {other:?} in the database"),
        })
    }
}

/// An emission order as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Order {
    pub id: OrderId,
    pub participant: ParticipantId,
    pub gtin: String,
    pub quantity: i64,
    pub release_method: String,
    pub status: OrderStatus,
    pub generated: i64,
    pub decline_reason: Option<String>,
    pub created_at: i64,
    pub ready_at: Option<i64>,
}

/// How far a chunk took its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// Codes of this chunk that were stored (collisions are not).
    pub inserted: u64,
    /// Codes stored for the order so far.
    pub generated: i64,
    pub ready: bool,
}

const ORDER_COLUMNS: &str = "id, participant, gtin, quantity, release_method, status, generated, \
                             decline_reason, created_at, ready_at";

type OrderRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    Option<String>,
    i64,
    Option<i64>,
);

fn order_from_row(r: OrderRow) -> anyhow::Result<Order> {
    let (
        id,
        participant,
        gtin,
        quantity,
        release_method,
        status,
        generated,
        decline_reason,
        created_at,
        ready_at,
    ) = r;
    Ok(Order {
        id: id.parse()?,
        participant: participant.parse()?,
        gtin,
        quantity,
        release_method,
        status: OrderStatus::parse(&status)?,
        generated,
        decline_reason,
        created_at,
        ready_at,
    })
}

impl Tx {
    /// Stores a new order in `CREATED`.
    pub async fn create_order(
        &mut self,
        participant: ParticipantId,
        gtin: &tanba_core::Gtin,
        quantity: i64,
        release_method: &str,
    ) -> anyhow::Result<Order> {
        const SQL: &str = "INSERT INTO orders (id, participant, gtin, quantity, release_method, status, generated, created_at) \
                           VALUES ($1, $2, $3, $4, $5, 'CREATED', 0, $6)";
        let order = Order {
            id: OrderId::new(),
            participant,
            gtin: gtin.as_str().to_owned(),
            quantity,
            release_method: release_method.to_owned(),
            status: OrderStatus::Created,
            generated: 0,
            decline_reason: None,
            created_at: OffsetDateTime::now_utc().unix_timestamp(),
            ready_at: None,
        };
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(order.id.to_string())
                .bind(order.participant.to_string())
                .bind(&order.gtin)
                .bind(order.quantity)
                .bind(&order.release_method)
                .bind(order.created_at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(order)
    }

    /// Marks an order whose codes were stored by other means (the demo
    /// seeding) `READY` with `generated` codes, so the emission worker
    /// leaves it alone.
    pub async fn mark_order_ready(
        &mut self,
        id: OrderId,
        generated: i64,
        at: i64,
    ) -> anyhow::Result<()> {
        const SQL: &str =
            "UPDATE orders SET generated = $1, status = 'READY', ready_at = $2 WHERE id = $3";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(generated)
                .bind(at)
                .bind(id.to_string())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }
}

impl Store {
    pub async fn order(&self, id: OrderId) -> anyhow::Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
        let sql = sqlx::AssertSqlSafe(sql);
        let row: Option<OrderRow> = with_pool!(self, p => {
            sqlx::query_as(sql).bind(id.to_string()).fetch_optional(p).await?
        });
        row.map(order_from_row).transpose()
    }

    /// Orders still waiting for codes, oldest first.
    pub async fn pending_orders(&self) -> anyhow::Result<Vec<OrderId>> {
        const SQL: &str = "SELECT id FROM orders WHERE status = 'CREATED' ORDER BY created_at, id";
        let ids: Vec<String> = with_pool!(self, p => sqlx::query_scalar(SQL).fetch_all(p).await?);
        ids.iter().map(|s| Ok(s.parse()?)).collect()
    }

    /// Stores one chunk of signed codes for an order and advances it, in one
    /// transaction. Codes beyond what the order still needs are not stored.
    #[tracing::instrument(skip(self, codes), fields(order = %order_id, chunk = codes.len()))]
    pub async fn emit_chunk(
        &self,
        order_id: OrderId,
        owner: ParticipantId,
        codes: &[MarkingCode],
    ) -> anyhow::Result<ChunkOutcome> {
        let mut tx = self.begin().await?;
        let lock = match &tx {
            Tx::Postgres(_) => {
                "SELECT generated, quantity FROM orders WHERE id = $1 AND status = 'CREATED' FOR UPDATE"
            }
            Tx::Sqlite(_) => {
                "SELECT generated, quantity FROM orders WHERE id = $1 AND status = 'CREATED'"
            }
        };
        let row: Option<(i64, i64)> = with_tx!(&mut tx, c => {
            sqlx::query(lock)
                .bind(order_id.to_string())
                .fetch_optional(&mut *c)
                .await?
                .map(|r| -> Result<(i64, i64), sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?)) })
                .transpose()?
        });
        let Some((generated, quantity)) = row else {
            // Finished or declined meanwhile (another worker): nothing to do.
            return Ok(ChunkOutcome {
                inserted: 0,
                generated: 0,
                ready: true,
            });
        };
        let room = usize::try_from(quantity - generated).unwrap_or(0);
        let chunk = &codes[..codes.len().min(room)];
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let inserted = tx.insert_emitted(chunk, owner, order_id, now).await?;
        let generated = generated + i64::try_from(inserted)?;
        let ready = generated >= quantity;
        const ADVANCE: &str =
            "UPDATE orders SET generated = $1, status = $2, ready_at = $3 WHERE id = $4";
        with_tx!(&mut tx, c => {
            sqlx::query(ADVANCE)
                .bind(generated)
                .bind(if ready { "READY" } else { "CREATED" })
                .bind(ready.then_some(now))
                .bind(order_id.to_string())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        tx.commit().await?;
        Ok(ChunkOutcome {
            inserted,
            generated,
            ready,
        })
    }
}
