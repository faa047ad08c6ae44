//! The scans table (migration 0008): every scan of a parsable unit code,
//! with its time, coarse place, channel, context and the verdict answered.
//! Written behind the answer in batches by [`crate::scans`]; read for a
//! code's history and for statistics.
//!
//! A batch is one multi-row `INSERT` (`sqlx::QueryBuilder`), the same text on
//! both engines. Its statement is not kept prepared: batch sizes vary, and
//! each size would be another statement in every connection's cache.

use tanba_core::{Gtin, Serial};

use super::codes::gtin_number;
use super::{Pool, Store};

/// Rows in one `INSERT`: 8 values a row stays far below SQLite's 32,766
/// bound parameters (and PostgreSQL's 65,535).
pub const MAX_BATCH: usize = 1000;

/// Which door a scan came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `GET /v1/codes/{code}`: the app.
    App,
    /// `GET /01/{gtin}/21/{serial}`: the Digital Link page in a browser.
    Web,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Web => "web",
        }
    }
}

/// Why the code was checked, as the client says (`?context=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Context {
    /// A citizen's look, wherever the product is (the default).
    #[default]
    Check,
    /// The product is offered for sale in front of the person checking it.
    Shop,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Shop => "shop",
        }
    }

    /// `check` or `shop`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Context> {
        match text {
            "check" => Some(Self::Check),
            "shop" => Some(Self::Shop),
            _ => None,
        }
    }
}

/// One scan to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScan {
    pub gtin: Gtin,
    pub serial: Serial,
    /// Unix milliseconds.
    pub at: i64,
    /// Degrees, already rounded to 0.01° (`crate::sightings::Place`).
    pub place: Option<(f64, f64)>,
    pub channel: Channel,
    pub context: Context,
    /// The verdict answered, as on the wire (`genuine`, `suspected_clone`, …).
    pub verdict: &'static str,
}

/// A recorded scan, as read back.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecordedScan {
    /// Unix milliseconds.
    pub at: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub channel: String,
    pub context: String,
    pub verdict: String,
}

impl Store {
    /// Inserts `scans` in one statement. At most [`MAX_BATCH`] rows.
    #[tracing::instrument(skip_all, fields(rows = scans.len()))]
    pub async fn insert_scans(&self, scans: &[NewScan]) -> anyhow::Result<()> {
        const INSERT: &str =
            "INSERT INTO scans (gtin, serial, at, lat, lon, channel, context, verdict) ";
        anyhow::ensure!(
            scans.len() <= MAX_BATCH,
            "{} scans in one batch, at most {MAX_BATCH}",
            scans.len()
        );
        if scans.is_empty() {
            return Ok(());
        }
        let rows = scans
            .iter()
            .map(|s| Ok((gtin_number(&s.gtin)?, s)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        with_pool!(self, p => {
            let mut insert = sqlx::QueryBuilder::new(INSERT);
            insert.push_values(&rows, |mut row, (gtin, s)| {
                row.push_bind(*gtin)
                    .push_bind(s.serial.as_str())
                    .push_bind(s.at)
                    .push_bind(s.place.map(|(lat, _)| lat))
                    .push_bind(s.place.map(|(_, lon)| lon))
                    .push_bind(s.channel.as_str())
                    .push_bind(s.context.as_str())
                    .push_bind(s.verdict);
            });
            insert.build().persistent(false).execute(p).await?;
        });
        Ok(())
    }

    /// The latest `limit` recorded scans of one code, newest first (what
    /// inspectors see beside a report; tests read them back with it too).
    #[tracing::instrument(skip(self), fields(gtin = %gtin, serial = %serial))]
    pub async fn recent_scans(
        &self,
        gtin: &Gtin,
        serial: &Serial,
        limit: i64,
    ) -> anyhow::Result<Vec<RecordedScan>> {
        const SQL: &str = "SELECT at, lat, lon, channel, context, verdict FROM scans \
                           WHERE gtin = $1 AND serial = $2 ORDER BY at DESC, id DESC LIMIT $3";
        let number = gtin_number(gtin)?;
        let rows = with_pool!(self, p => {
            sqlx::query_as(SQL)
                .bind(number)
                .bind(serial.as_str())
                .bind(limit)
                .fetch_all(p)
                .await?
        });
        Ok(rows)
    }
}
