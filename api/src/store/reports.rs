//! Storage of violation reports: the reports, their photos, their own
//! history, and what inspectors read beside them (the code's scans).
//!
//! A report and everything that comes with it (photos, the `created` history
//! row, the audit entry) are written in one transaction, so a refused report
//! leaves nothing behind. Numbers come from `report_counters`, one row per
//! year, incremented in that same transaction: on PostgreSQL the row lock
//! also serializes concurrent reports, which is what makes the duplicate
//! check that follows it exact (see [`Tx::next_report_seq`]).

use tanba_core::{Gtin, MarkingCode, Serial};

use super::codes::gtin_number;
use super::{Pool, Store, Tx};
use crate::reports::number::ReportNumber;
use crate::reports::photos::Photo;
use crate::reports::status::ReportStatus;

/// A report to store, after control.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub number: ReportNumber,
    pub secret_hash: String,
    pub kind: String,
    pub code: Option<MarkingCode>,
    pub product_group: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    pub address: Option<String>,
    pub region: Option<String>,
    pub shop_name: Option<String>,
    pub shop_bin: Option<String>,
    pub comment: String,
    pub contact: Option<String>,
    pub lang: String,
    pub reporter_key: String,
    pub subject_key: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A stored report, everything included: callers choose what to show.
#[derive(Debug, Clone)]
pub struct Report {
    pub number: ReportNumber,
    pub secret_hash: String,
    pub kind: String,
    pub status: ReportStatus,
    /// GTIN and serial of the code the report names (no tail).
    pub code: Option<MarkingCode>,
    pub product_group: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub region: Option<String>,
    pub shop_name: Option<String>,
    pub shop_bin: Option<String>,
    pub comment: String,
    pub contact: Option<String>,
    pub lang: String,
    pub assignee: Option<String>,
    pub public_answer: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A photo's description, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoInfo {
    pub n: i64,
    pub width: i64,
    pub height: i64,
    pub size: i64,
}

/// What happened to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportAction {
    Created,
    Assigned,
    Status,
    Comment,
    CodeBlocked,
}

impl ReportAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Assigned => "assigned",
            Self::Status => "status",
            Self::Comment => "comment",
            Self::CodeBlocked => "code_blocked",
        }
    }
}

/// One row of a report's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Unix milliseconds.
    pub at: i64,
    /// Staff id; `None` for the reporter.
    pub actor: Option<String>,
    /// [`ReportAction::as_str`].
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub assignee: Option<String>,
    pub text: Option<String>,
}

impl HistoryEntry {
    pub fn new(action: ReportAction, at: i64, actor: Option<String>) -> Self {
        Self {
            at,
            actor,
            action: action.as_str().to_owned(),
            from_status: None,
            to_status: None,
            assignee: None,
            text: None,
        }
    }
}

/// Who a queue filter asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    Staff(String),
}

/// The inspectors' queue filters; `None` lets everything through.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub kind: Option<String>,
    pub region: Option<String>,
    pub status: Option<ReportStatus>,
    /// Created at or after (Unix ms).
    pub from_ms: Option<i64>,
    /// Created before (Unix ms).
    pub until_ms: Option<i64>,
    pub product_group: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    /// The page after this report (newest first).
    pub before: Option<ReportNumber>,
}

const REPORT_COLUMNS: &str = "number, year, seq, secret_hash, kind, status, gtin, serial, \
    product_group, lat, lon, address, region, shop_name, shop_bin, comment, contact, lang, \
    assignee, public_answer, created_at, updated_at";

fn report_from_row<R>(r: &R) -> anyhow::Result<Report>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<f64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let year: i64 = r.try_get("year")?;
    let seq: i64 = r.try_get("seq")?;
    let number = ReportNumber::new(year, seq)
        .ok_or_else(|| anyhow::anyhow!("stored report number {year}-{seq}"))?;
    let status: String = r.try_get("status")?;
    let gtin: Option<i64> = r.try_get("gtin")?;
    let serial: Option<String> = r.try_get("serial")?;
    let code = match (gtin, serial) {
        (Some(g), Some(s)) => Some(MarkingCode::new(
            Gtin::parse(&format!("{g:014}"))
                .map_err(|e| anyhow::anyhow!("stored report GTIN {g}: {e}"))?,
            Serial::parse(&s).map_err(|e| anyhow::anyhow!("stored report serial {s:?}: {e}"))?,
        )),
        _ => None,
    };
    Ok(Report {
        number,
        secret_hash: r.try_get("secret_hash")?,
        kind: r.try_get("kind")?,
        status: ReportStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("stored report status {status:?}"))?,
        code,
        product_group: r.try_get("product_group")?,
        lat: r.try_get("lat")?,
        lon: r.try_get("lon")?,
        address: r.try_get("address")?,
        region: r.try_get("region")?,
        shop_name: r.try_get("shop_name")?,
        shop_bin: r.try_get("shop_bin")?,
        comment: r.try_get("comment")?,
        contact: r.try_get("contact")?,
        lang: r.try_get("lang")?,
        assignee: r.try_get("assignee")?,
        public_answer: r.try_get("public_answer")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const DUPLICATE: &str = "SELECT year, seq FROM reports \
    WHERE reporter_key = $1 AND kind = $2 AND subject_key = $3 AND created_at >= $4 \
    ORDER BY created_at DESC LIMIT 1";

fn duplicate_number(row: Option<(i64, i64)>) -> anyhow::Result<Option<ReportNumber>> {
    row.map(|(year, seq)| {
        ReportNumber::new(year, seq)
            .ok_or_else(|| anyhow::anyhow!("stored report number {year}-{seq}"))
    })
    .transpose()
}

/// A bind value of a query built at run time.
enum Bind {
    Text(String),
    Int(i64),
}

impl Tx {
    /// The next sequence number of `year`. On PostgreSQL the upsert locks the
    /// year's row until commit, so reports are stored one after another:
    /// under READ COMMITTED, a duplicate check made after this call sees
    /// every report committed before, which is what makes it exact. SQLite's
    /// `BEGIN IMMEDIATE` serializes writers anyway. Reports are few next to
    /// scans, so the queue is short.
    pub async fn next_report_seq(&mut self, year: i64) -> anyhow::Result<i64> {
        const SQL: &str = "INSERT INTO report_counters (year, last) VALUES ($1, 1) \
            ON CONFLICT (year) DO UPDATE SET last = report_counters.last + 1 RETURNING last";
        let seq: i64 = with_tx!(self, c => {
            sqlx::query_scalar(SQL).bind(year).fetch_one(&mut *c).await?
        });
        Ok(seq)
    }

    /// The newest report by `reporter_key` of `kind` about `subject_key`
    /// created at or after `since_ms`.
    pub async fn duplicate_report(
        &mut self,
        reporter_key: &str,
        kind: &str,
        subject_key: &str,
        since_ms: i64,
    ) -> anyhow::Result<Option<ReportNumber>> {
        let row: Option<(i64, i64)> = with_tx!(self, c => {
            sqlx::query_as(DUPLICATE)
                .bind(reporter_key)
                .bind(kind)
                .bind(subject_key)
                .bind(since_ms)
                .fetch_optional(&mut *c)
                .await?
        });
        duplicate_number(row)
    }

    /// Stores a new report in status `new`.
    #[tracing::instrument(skip_all, fields(number = %r.number))]
    pub async fn insert_report(&mut self, r: &NewReport) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO reports (number, year, seq, secret_hash, kind, status, \
            gtin, serial, product_group, lat, lon, address, region, shop_name, shop_bin, \
            comment, contact, lang, reporter_key, subject_key, assignee, public_answer, \
            created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
            $13, $14, $15, $16, $17, $18, $19, $20, NULL, NULL, $21, $21)";
        let gtin = r.code.as_ref().map(|c| gtin_number(c.gtin())).transpose()?;
        let serial = r.code.as_ref().map(|c| c.serial().as_str());
        let (lat, lon) = match r.coordinates {
            Some((lat, lon)) => (Some(lat), Some(lon)),
            None => (None, None),
        };
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(r.number.to_string())
                .bind(r.number.year())
                .bind(r.number.seq())
                .bind(&r.secret_hash)
                .bind(&r.kind)
                .bind(ReportStatus::New.as_str())
                .bind(gtin)
                .bind(serial)
                .bind(&r.product_group)
                .bind(lat)
                .bind(lon)
                .bind(&r.address)
                .bind(&r.region)
                .bind(&r.shop_name)
                .bind(&r.shop_bin)
                .bind(&r.comment)
                .bind(&r.contact)
                .bind(&r.lang)
                .bind(&r.reporter_key)
                .bind(&r.subject_key)
                .bind(r.created_at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Stores photo `n` (1-based) of a report.
    pub async fn insert_report_photo(
        &mut self,
        number: ReportNumber,
        n: i64,
        photo: &Photo,
    ) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO report_photos (report, n, content, width, height, size) \
            VALUES ($1, $2, $3, $4, $5, $6)";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(number.to_string())
                .bind(n)
                .bind(&photo.jpeg)
                .bind(i64::from(photo.width))
                .bind(i64::from(photo.height))
                .bind(photo.jpeg.len() as i64)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Appends a row to a report's history.
    pub async fn add_report_history(
        &mut self,
        number: ReportNumber,
        e: &HistoryEntry,
    ) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO report_history \
            (report, at, actor, action, from_status, to_status, assignee, text) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(number.to_string())
                .bind(e.at)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.from_status)
                .bind(&e.to_status)
                .bind(&e.assignee)
                .bind(&e.text)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// The report, locked for this transaction on PostgreSQL (SQLite's write
    /// transaction holds the database), so a decision reads the status it
    /// changes.
    pub async fn report_for_update(
        &mut self,
        number: ReportNumber,
    ) -> anyhow::Result<Option<Report>> {
        let sql = match self {
            Tx::Postgres(_) => {
                format!("SELECT {REPORT_COLUMNS} FROM reports WHERE number = $1 FOR UPDATE")
            }
            Tx::Sqlite(_) => format!("SELECT {REPORT_COLUMNS} FROM reports WHERE number = $1"),
        };
        let sql = sqlx::AssertSqlSafe(sql);
        let report = with_tx!(self, c => {
            match sqlx::query(sql)
                .bind(number.to_string())
                .fetch_optional(&mut *c)
                .await?
            {
                Some(r) => Some(report_from_row(&r)?),
                None => None,
            }
        });
        Ok(report)
    }

    /// Sets the status and, when given, the public answer.
    pub async fn set_report_status(
        &mut self,
        number: ReportNumber,
        status: ReportStatus,
        public_answer: Option<&str>,
        at: i64,
    ) -> anyhow::Result<()> {
        const SQL: &str = "UPDATE reports SET status = $2, \
            public_answer = COALESCE($3, public_answer), updated_at = $4 WHERE number = $1";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(number.to_string())
                .bind(status.as_str())
                .bind(public_answer)
                .bind(at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Assigns the report to a staff member, or to nobody.
    pub async fn set_report_assignee(
        &mut self,
        number: ReportNumber,
        assignee: Option<&str>,
        at: i64,
    ) -> anyhow::Result<()> {
        const SQL: &str = "UPDATE reports SET assignee = $2, updated_at = $3 WHERE number = $1";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(number.to_string())
                .bind(assignee)
                .bind(at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Marks a report as updated (a comment changes nothing else).
    pub async fn touch_report(&mut self, number: ReportNumber, at: i64) -> anyhow::Result<()> {
        const SQL: &str = "UPDATE reports SET updated_at = $2 WHERE number = $1";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(number.to_string())
                .bind(at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }
}

impl Store {
    /// See [`Tx::duplicate_report`]; outside a transaction, to refuse a
    /// duplicate before its photos are decoded.
    pub async fn duplicate_report(
        &self,
        reporter_key: &str,
        kind: &str,
        subject_key: &str,
        since_ms: i64,
    ) -> anyhow::Result<Option<ReportNumber>> {
        let row: Option<(i64, i64)> = with_pool!(self, p => {
            sqlx::query_as(DUPLICATE)
                .bind(reporter_key)
                .bind(kind)
                .bind(subject_key)
                .bind(since_ms)
                .fetch_optional(p)
                .await?
        });
        duplicate_number(row)
    }

    #[tracing::instrument(skip(self), fields(number = %number))]
    pub async fn report(&self, number: ReportNumber) -> anyhow::Result<Option<Report>> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE number = $1");
        let sql = sqlx::AssertSqlSafe(sql);
        let report = with_pool!(self, p => {
            match sqlx::query(sql).bind(number.to_string()).fetch_optional(p).await? {
                Some(r) => Some(report_from_row(&r)?),
                None => None,
            }
        });
        Ok(report)
    }

    /// The photos of a report, in order, without their bytes.
    pub async fn report_photos(&self, number: ReportNumber) -> anyhow::Result<Vec<PhotoInfo>> {
        const SQL: &str =
            "SELECT n, width, height, size FROM report_photos WHERE report = $1 ORDER BY n";
        let rows: Vec<(i64, i64, i64, i64)> = with_pool!(self, p => {
            sqlx::query_as(SQL).bind(number.to_string()).fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(|(n, width, height, size)| PhotoInfo {
                n,
                width,
                height,
                size,
            })
            .collect())
    }

    /// The JPEG bytes of photo `n` of a report.
    pub async fn report_photo(
        &self,
        number: ReportNumber,
        n: i64,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        const SQL: &str = "SELECT content FROM report_photos WHERE report = $1 AND n = $2";
        let bytes: Option<Vec<u8>> = with_pool!(self, p => {
            sqlx::query_scalar(SQL)
                .bind(number.to_string())
                .bind(n)
                .fetch_optional(p)
                .await?
        });
        Ok(bytes)
    }

    /// A report's history, oldest first.
    pub async fn report_history(&self, number: ReportNumber) -> anyhow::Result<Vec<HistoryEntry>> {
        const SQL: &str = "SELECT at, actor, action, from_status, to_status, assignee, text \
            FROM report_history WHERE report = $1 ORDER BY id";
        type HistoryRow = (
            i64,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<HistoryRow> = with_pool!(self, p => {
            sqlx::query_as(SQL).bind(number.to_string()).fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(at, actor, action, from_status, to_status, assignee, text)| HistoryEntry {
                    at,
                    actor,
                    action,
                    from_status,
                    to_status,
                    assignee,
                    text,
                },
            )
            .collect())
    }

    /// The inspectors' queue: reports that pass `filter`, newest first, at
    /// most `limit`.
    #[tracing::instrument(skip(self))]
    pub async fn report_queue(
        &self,
        filter: &QueueFilter,
        limit: i64,
    ) -> anyhow::Result<Vec<Report>> {
        let mut sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut clause = |sql: &mut String, text: &str, bind: Bind| {
            binds.push(bind);
            sql.push_str(&text.replace('?', &format!("${}", binds.len())));
        };
        if let Some(kind) = &filter.kind {
            clause(&mut sql, " AND kind = ?", Bind::Text(kind.clone()));
        }
        if let Some(region) = &filter.region {
            clause(&mut sql, " AND region = ?", Bind::Text(region.clone()));
        }
        if let Some(status) = filter.status {
            clause(
                &mut sql,
                " AND status = ?",
                Bind::Text(status.as_str().to_owned()),
            );
        }
        if let Some(from) = filter.from_ms {
            clause(&mut sql, " AND created_at >= ?", Bind::Int(from));
        }
        if let Some(until) = filter.until_ms {
            clause(&mut sql, " AND created_at < ?", Bind::Int(until));
        }
        if let Some(group) = &filter.product_group {
            clause(
                &mut sql,
                " AND product_group = ?",
                Bind::Text(group.clone()),
            );
        }
        match &filter.assignee {
            None => {}
            Some(AssigneeFilter::Nobody) => sql.push_str(" AND assignee IS NULL"),
            Some(AssigneeFilter::Staff(id)) => {
                clause(&mut sql, " AND assignee = ?", Bind::Text(id.clone()));
            }
        }
        if let Some(before) = filter.before {
            clause(&mut sql, " AND (year < ?", Bind::Int(before.year()));
            clause(&mut sql, " OR (year = ?", Bind::Int(before.year()));
            clause(&mut sql, " AND seq < ?))", Bind::Int(before.seq()));
        }
        clause(
            &mut sql,
            " ORDER BY year DESC, seq DESC LIMIT ?",
            Bind::Int(limit),
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let reports = with_pool!(self, p => {
            let mut q = sqlx::query(sql);
            for b in &binds {
                q = match b {
                    Bind::Text(t) => q.bind(t.as_str()),
                    Bind::Int(i) => q.bind(*i),
                };
            }
            q.fetch_all(p)
                .await?
                .iter()
                .map(report_from_row)
                .collect::<anyhow::Result<Vec<_>>>()?
        });
        Ok(reports)
    }

    /// Other reports about the same code, newest first, at most `limit`.
    pub async fn reports_about_code(
        &self,
        code: &MarkingCode,
        except: ReportNumber,
        limit: i64,
    ) -> anyhow::Result<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE gtin = $1 AND serial = $2 \
             AND number <> $3 ORDER BY year DESC, seq DESC LIMIT $4"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let reports = with_pool!(self, p => {
            sqlx::query(sql)
                .bind(gtin_number(code.gtin())?)
                .bind(code.serial().as_str())
                .bind(except.to_string())
                .bind(limit)
                .fetch_all(p)
                .await?
                .iter()
                .map(report_from_row)
                .collect::<anyhow::Result<Vec<_>>>()?
        });
        Ok(reports)
    }
}
