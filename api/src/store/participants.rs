//! Storage for participants of trade, operator staff and sign-in challenges.
//!
//! A participant row is written once at registration (PENDING) and changed
//! once by the operator's decision (APPROVED or REFUSED); the decision only
//! applies to a PENDING row, so two administrators deciding at once cannot
//! both win. A challenge is consumed by one `UPDATE … WHERE used_at IS NULL`,
//! so of two sign-ins racing with the same challenge exactly one gets it.

use serde::Serialize;
use sqlx::Row as _;
use time::OffsetDateTime;

use super::{Pool, Store, Tx};
use crate::auth::{Role, roles_from_text, roles_to_text};
use crate::ids::{ParticipantId, StaffId};

/// Where a participant's registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParticipantStatus {
    Pending,
    Approved,
    Refused,
}

impl ParticipantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Refused => "REFUSED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Refused]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A registered participant.
#[derive(Debug, Clone, Serialize)]
pub struct Participant {
    pub id: ParticipantId,
    /// The BIN or IIN it registered with.
    pub taxpayer_id: String,
    pub name_kk: String,
    pub name_ru: String,
    pub roles: Vec<Role>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: ParticipantStatus,
    pub refusal_reason: Option<String>,
    /// The IIN of the person whose certificate signed the registration.
    pub signer_iin: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

/// A registration that passed format-logical control and whose signature
/// was checked.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    pub taxpayer_id: String,
    pub name_kk: String,
    pub name_ru: String,
    pub roles: Vec<Role>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The exact signed bytes (UTF-8 JSON) and the base64 CMS over them.
    pub registration: String,
    pub signature: String,
    pub signer_iin: Option<String>,
}

/// An operator staff account.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub id: StaffId,
    pub iin: String,
    pub name: String,
    pub roles: Vec<Role>,
}

/// What consuming a challenge found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// Unused and unexpired; now marked used. Carries its creation time.
    Taken {
        created_at: i64,
    },
    Unknown,
    Expired,
    Used,
}

/// A row with this taxpayer id (or staff IIN) already exists.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0} is already registered")]
pub struct AlreadyExists(pub String);

const PARTICIPANT_COLUMNS: &str = "id, taxpayer_id, name_kk, name_ru, roles, email, phone, status, \
     refusal_reason, signer_iin, created_at, decided_at";

fn participant_from_row<R>(r: &R) -> Result<Participant, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let bad = |what: &str| sqlx::Error::Decode(format!("participants.{what}").into());
    let id: String = r.try_get("id")?;
    let status: String = r.try_get("status")?;
    let roles: String = r.try_get("roles")?;
    Ok(Participant {
        id: id.parse().map_err(|_| bad("id"))?,
        taxpayer_id: r.try_get("taxpayer_id")?,
        name_kk: r.try_get("name_kk")?,
        name_ru: r.try_get("name_ru")?,
        roles: roles_from_text(&roles),
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        status: ParticipantStatus::parse(&status).ok_or_else(|| bad("status"))?,
        refusal_reason: r.try_get("refusal_reason")?,
        signer_iin: r.try_get("signer_iin")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

fn staff_from_row<R>(r: &R) -> Result<Staff, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get("id")?;
    let roles: String = r.try_get("roles")?;
    Ok(Staff {
        id: id
            .parse()
            .map_err(|_| sqlx::Error::Decode("staff.id".into()))?,
        iin: r.try_get("iin")?,
        name: r.try_get("name")?,
        roles: roles_from_text(&roles),
    })
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl Tx {
    /// Stores a new PENDING participant; `Err(AlreadyExists)` when the
    /// taxpayer id is taken (whatever that participant's status).
    #[tracing::instrument(skip_all, fields(taxpayer_id = %p.taxpayer_id))]
    pub async fn insert_participant(
        &mut self,
        p: &NewParticipant,
    ) -> anyhow::Result<Result<Participant, AlreadyExists>> {
        const SQL: &str = "INSERT INTO participants (id, taxpayer_id, name_kk, name_ru, roles, email, phone, \
             status, registration, signature, signer_iin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', $8, $9, $10, $11) \
             ON CONFLICT (taxpayer_id) DO NOTHING";
        let id = ParticipantId::new();
        let created_at = now();
        let inserted = with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(id.to_string())
                .bind(&p.taxpayer_id)
                .bind(&p.name_kk)
                .bind(&p.name_ru)
                .bind(roles_to_text(&p.roles))
                .bind(&p.email)
                .bind(&p.phone)
                .bind(&p.registration)
                .bind(&p.signature)
                .bind(&p.signer_iin)
                .bind(created_at)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if inserted == 0 {
            return Ok(Err(AlreadyExists(p.taxpayer_id.clone())));
        }
        Ok(Ok(Participant {
            id,
            taxpayer_id: p.taxpayer_id.clone(),
            name_kk: p.name_kk.clone(),
            name_ru: p.name_ru.clone(),
            roles: p.roles.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
            status: ParticipantStatus::Pending,
            refusal_reason: None,
            signer_iin: p.signer_iin.clone(),
            created_at,
            decided_at: None,
        }))
    }

    /// Approves (`reason` = None) or refuses a PENDING participant. `None`
    /// when there is no such participant or it is not PENDING any more.
    #[tracing::instrument(skip(self, reason))]
    pub async fn decide_participant(
        &mut self,
        id: ParticipantId,
        decision: ParticipantStatus,
        reason: Option<&str>,
        decided_by: &str,
    ) -> anyhow::Result<Option<Participant>> {
        anyhow::ensure!(
            decision != ParticipantStatus::Pending,
            "a decision approves or refuses"
        );
        const SQL: &str = "UPDATE participants SET status = $2, refusal_reason = $3, decided_at = $4, decided_by = $5 \
             WHERE id = $1 AND status = 'PENDING'";
        let select = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE id = $1");
        let row = with_tx!(self, c => {
            let changed = sqlx::query(SQL)
                .bind(id.to_string())
                .bind(decision.as_str())
                .bind(reason)
                .bind(now())
                .bind(decided_by)
                .execute(&mut *c)
                .await?
                .rows_affected();
            if changed == 0 {
                None
            } else {
                let r = sqlx::query(sqlx::AssertSqlSafe(select))
                    .bind(id.to_string())
                    .fetch_one(&mut *c)
                    .await?;
                Some(participant_from_row(&r)?)
            }
        });
        Ok(row)
    }

    /// Stores a new sign-in challenge.
    pub async fn create_challenge(
        &mut self,
        challenge: &str,
        ip: Option<&str>,
        ttl_secs: i64,
    ) -> anyhow::Result<i64> {
        const SQL: &str = "INSERT INTO auth_challenges (challenge, ip, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        let created_at = now();
        let expires_at = created_at + ttl_secs;
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(challenge)
                .bind(ip)
                .bind(created_at)
                .bind(expires_at)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(expires_at)
    }

    /// Marks a challenge used if it is unused and unexpired, and says what
    /// it found. Expired challenges older than a day are deleted on the way.
    pub async fn take_challenge(&mut self, challenge: &str) -> anyhow::Result<Challenge> {
        const TAKE: &str = "UPDATE auth_challenges SET used_at = $2 \
             WHERE challenge = $1 AND used_at IS NULL AND expires_at > $2";
        const LOOK: &str =
            "SELECT created_at, expires_at, used_at FROM auth_challenges WHERE challenge = $1";
        const PURGE: &str = "DELETE FROM auth_challenges WHERE expires_at < $1";
        let now = now();
        let found = with_tx!(self, c => {
            sqlx::query(PURGE).bind(now - 86_400).execute(&mut *c).await?;
            let taken = sqlx::query(TAKE)
                .bind(challenge)
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected();
            let row = sqlx::query(LOOK)
                .bind(challenge)
                .fetch_optional(&mut *c)
                .await?;
            match row {
                None => Challenge::Unknown,
                Some(r) => {
                    let created_at: i64 = r.try_get(0)?;
                    let expires_at: i64 = r.try_get(1)?;
                    if taken == 1 {
                        Challenge::Taken { created_at }
                    } else if expires_at <= now {
                        Challenge::Expired
                    } else {
                        Challenge::Used
                    }
                }
            }
        });
        Ok(found)
    }

    /// Adds a staff account; `Err(AlreadyExists)` when the IIN has one.
    #[tracing::instrument(skip(self, name))]
    pub async fn add_staff(
        &mut self,
        iin: &str,
        name: &str,
        roles: &[Role],
    ) -> anyhow::Result<Result<Staff, AlreadyExists>> {
        const SQL: &str = "INSERT INTO staff (id, iin, name, roles, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (iin) DO NOTHING";
        let id = StaffId::new();
        let inserted = with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(id.to_string())
                .bind(iin)
                .bind(name)
                .bind(roles_to_text(roles))
                .bind(now())
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if inserted == 0 {
            return Ok(Err(AlreadyExists(iin.to_owned())));
        }
        Ok(Ok(Staff {
            id,
            iin: iin.to_owned(),
            name: name.to_owned(),
            roles: roles.to_vec(),
        }))
    }
}

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn participant(&self, id: ParticipantId) -> anyhow::Result<Option<Participant>> {
        let sql = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE id = $1");
        let row = with_pool!(self, p => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
                .map(|r| participant_from_row(&r))
                .transpose()?
        });
        Ok(row)
    }

    #[tracing::instrument(skip(self))]
    pub async fn participant_by_taxpayer_id(
        &self,
        taxpayer_id: &str,
    ) -> anyhow::Result<Option<Participant>> {
        let sql = format!("SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE taxpayer_id = $1");
        let row = with_pool!(self, p => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(taxpayer_id)
                .fetch_optional(p)
                .await?
                .map(|r| participant_from_row(&r))
                .transpose()?
        });
        Ok(row)
    }

    /// Participants, oldest first, optionally only those in one status; at
    /// most `limit`, after the `offset` first.
    #[tracing::instrument(skip(self))]
    pub async fn participants(
        &self,
        status: Option<ParticipantStatus>,
        limit: i64,
        offset: i64,
    ) -> anyhow::Result<Vec<Participant>> {
        let sql = format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants \
             WHERE ($1 IS NULL OR status = $1) ORDER BY created_at, id LIMIT $2 OFFSET $3"
        );
        let status = status.map(|s| s.as_str().to_owned());
        let rows = with_pool!(self, p => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await?
                .iter()
                .map(participant_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// A staff member by id (an inspector a report is assigned to).
    #[tracing::instrument(skip(self))]
    pub async fn staff_by_id(&self, id: StaffId) -> anyhow::Result<Option<Staff>> {
        const SQL: &str = "SELECT id, iin, name, roles FROM staff WHERE id = $1";
        let row = with_pool!(self, p => {
            sqlx::query(SQL)
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
                .map(|r| staff_from_row(&r))
                .transpose()?
        });
        Ok(row)
    }

    #[tracing::instrument(skip(self))]
    pub async fn staff_by_iin(&self, iin: &str) -> anyhow::Result<Option<Staff>> {
        const SQL: &str = "SELECT id, iin, name, roles FROM staff WHERE iin = $1";
        let row = with_pool!(self, p => {
            sqlx::query(SQL)
                .bind(iin)
                .fetch_optional(p)
                .await?
                .map(|r| staff_from_row(&r))
                .transpose()?
        });
        Ok(row)
    }
}
