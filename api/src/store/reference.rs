//! Storage of the reference data: the dictionaries with their versions and
//! every entry any version ever listed.
//!
//! [`Store::sync_reference`] applies dictionary files in one transaction, with
//! these rules:
//! - a dictionary the database lacks is created at the file's version;
//! - a file with a higher version replaces the entries: new codes are added,
//!   changed names and attributes are updated, codes it no longer lists are
//!   retired (`valid_to` = the new version) and never deleted, because
//!   products and documents that named them must still resolve; a retired
//!   code listed again comes back;
//! - a file with the stored version and the same content changes nothing;
//!   with other content it is refused (the version must be raised);
//! - a file with a lower version (an older build) changes nothing.
//!
//! Every change is written to the audit log in the same transaction.

use std::collections::HashMap;

use sqlx::Row as _;
use time::OffsetDateTime;

use super::{AuditEntry, Pool, Store, Tx};
use crate::reference::{DictionaryFile, Entry, Loaded};

/// Key of the advisory lock that serializes syncs on PostgreSQL, so two
/// instances starting together do not both create a dictionary.
const SYNC_LOCK: i64 = 0x7461_6e62_6172_6566; // "tanbaref"

/// What a sync did to one dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// It was not in the database; now it is, at this version.
    Created { version: i64, entries: usize },
    /// A newer file replaced the entries.
    Upgraded {
        from: i64,
        to: i64,
        added: usize,
        changed: usize,
        retired: usize,
    },
    /// The same version and content were already there.
    Unchanged { version: i64 },
    /// The database holds a newer version than the file; it was kept.
    KeptNewer { stored: i64, file: i64 },
}

/// A file's content differs from what its version already stands for.
#[derive(Debug, thiserror::Error)]
#[error(
    "reference dictionary {name}: version {version} is already stored with other content; \
     raise the version in api/reference/{name}.json"
)]
pub struct VersionNotRaised {
    pub name: String,
    pub version: i64,
}

/// A dictionary's version, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictionaryVersion {
    pub name: String,
    pub version: i64,
    pub updated_at: i64,
}

const DICTIONARY: &str =
    "SELECT version, content_hash, updated_at FROM reference_dictionaries WHERE name = $1";
const INSERT_DICTIONARY: &str = "INSERT INTO reference_dictionaries (name, version, content_hash, updated_at) \
     VALUES ($1, $2, $3, $4)";
const UPDATE_DICTIONARY: &str = "UPDATE reference_dictionaries \
     SET version = $2, content_hash = $3, updated_at = $4 WHERE name = $1";
const ENTRIES: &str = "SELECT code, name_kk, name_ru, attributes, valid_from, valid_to \
     FROM reference_entries WHERE dictionary = $1 ORDER BY code";
const INSERT_ENTRY: &str = "INSERT INTO reference_entries \
     (dictionary, code, name_kk, name_ru, attributes, valid_from, valid_to) \
     VALUES ($1, $2, $3, $4, $5, $6, NULL)";
const UPDATE_ENTRY: &str = "UPDATE reference_entries \
     SET name_kk = $3, name_ru = $4, attributes = $5, valid_from = $6, valid_to = NULL \
     WHERE dictionary = $1 AND code = $2";
const RETIRE_ENTRY: &str =
    "UPDATE reference_entries SET valid_to = $3 WHERE dictionary = $1 AND code = $2";
const VERSIONS: &str = "SELECT name, version, updated_at FROM reference_dictionaries ORDER BY name";

fn entry_from_row<R>(r: &R) -> Result<Entry, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let attributes: String = r.try_get("attributes")?;
    Ok(Entry {
        code: r.try_get("code")?,
        name_kk: r.try_get("name_kk")?,
        name_ru: r.try_get("name_ru")?,
        attributes: serde_json::from_str(&attributes).map_err(|e| sqlx::Error::ColumnDecode {
            index: "attributes".to_owned(),
            source: Box::new(e),
        })?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
    })
}

impl Tx {
    async fn reference_entries(&mut self, name: &str) -> anyhow::Result<Vec<Entry>> {
        let entries = with_tx!(self, c => {
            sqlx::query(ENTRIES)
                .bind(name)
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(entry_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(entries)
    }

    async fn sync_dictionary(
        &mut self,
        file: &DictionaryFile,
        now: i64,
    ) -> anyhow::Result<SyncOutcome> {
        let hash = file.content_hash();
        let stored: Option<(i64, String)> = with_tx!(self, c => {
            sqlx::query(DICTIONARY)
                .bind(&file.name)
                .fetch_optional(&mut *c)
                .await?
                .map(|r| -> Result<(i64, String), sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?)) })
                .transpose()?
        });
        let outcome = match stored {
            None => {
                with_tx!(self, c => {
                    sqlx::query(INSERT_DICTIONARY)
                        .bind(&file.name)
                        .bind(file.version)
                        .bind(&hash)
                        .bind(now)
                        .execute(&mut *c)
                        .await
                        .map(|_| ())?
                });
                for e in &file.entries {
                    self.write_entry(INSERT_ENTRY, &file.name, e, file.version)
                        .await?;
                }
                SyncOutcome::Created {
                    version: file.version,
                    entries: file.entries.len(),
                }
            }
            Some((version, stored_hash)) if version == file.version => {
                if stored_hash != hash {
                    return Err(VersionNotRaised {
                        name: file.name.clone(),
                        version,
                    }
                    .into());
                }
                return Ok(SyncOutcome::Unchanged { version });
            }
            Some((version, _)) if version > file.version => {
                return Ok(SyncOutcome::KeptNewer {
                    stored: version,
                    file: file.version,
                });
            }
            Some((from, _)) => {
                let existing: HashMap<String, Entry> = self
                    .reference_entries(&file.name)
                    .await?
                    .into_iter()
                    .map(|e| (e.code.clone(), e))
                    .collect();
                let (mut added, mut changed, mut retired) = (0, 0, 0);
                for e in &file.entries {
                    match existing.get(&e.code) {
                        None => {
                            self.write_entry(INSERT_ENTRY, &file.name, e, file.version)
                                .await?;
                            added += 1;
                        }
                        Some(old) => {
                            let same = old.is_active()
                                && old.name_kk == e.name_kk
                                && old.name_ru == e.name_ru
                                && old.attributes == e.attributes;
                            if !same {
                                // A retired code listed again starts a new validity.
                                let valid_from = if old.is_active() {
                                    old.valid_from
                                } else {
                                    file.version
                                };
                                self.write_entry(UPDATE_ENTRY, &file.name, e, valid_from)
                                    .await?;
                                changed += 1;
                            }
                        }
                    }
                }
                let listed: std::collections::HashSet<&str> =
                    file.entries.iter().map(|e| e.code.as_str()).collect();
                for old in existing.values() {
                    if old.is_active() && !listed.contains(old.code.as_str()) {
                        with_tx!(self, c => {
                            sqlx::query(RETIRE_ENTRY)
                                .bind(&file.name)
                                .bind(&old.code)
                                .bind(file.version)
                                .execute(&mut *c)
                                .await
                                .map(|_| ())?
                        });
                        retired += 1;
                    }
                }
                with_tx!(self, c => {
                    sqlx::query(UPDATE_DICTIONARY)
                        .bind(&file.name)
                        .bind(file.version)
                        .bind(&hash)
                        .bind(now)
                        .execute(&mut *c)
                        .await
                        .map(|_| ())?
                });
                SyncOutcome::Upgraded {
                    from,
                    to: file.version,
                    added,
                    changed,
                    retired,
                }
            }
        };
        let mut audit = AuditEntry::new("reference.sync");
        audit.object = Some(file.name.clone());
        audit.detail = match &outcome {
            SyncOutcome::Created { version, entries } => {
                serde_json::json!({"created": {"version": version, "entries": entries}})
            }
            SyncOutcome::Upgraded {
                from,
                to,
                added,
                changed,
                retired,
            } => serde_json::json!({"upgraded": {
                "from": from, "to": to, "added": added, "changed": changed, "retired": retired
            }}),
            SyncOutcome::Unchanged { .. } | SyncOutcome::KeptNewer { .. } => {
                serde_json::Value::Null
            }
        };
        self.audit(audit).await?;
        Ok(outcome)
    }

    /// Writes one entry with `sql` (`INSERT_ENTRY` or `UPDATE_ENTRY`: both
    /// take the dictionary, code, names, attributes and a version, in that order).
    async fn write_entry(
        &mut self,
        sql: &'static str,
        dictionary: &str,
        e: &crate::reference::EntryFile,
        version: i64,
    ) -> anyhow::Result<()> {
        let attributes = serde_json::Value::Object(e.attributes.clone()).to_string();
        with_tx!(self, c => {
            sqlx::query(sql)
                .bind(dictionary)
                .bind(&e.code)
                .bind(&e.name_kk)
                .bind(&e.name_ru)
                .bind(&attributes)
                .bind(version)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }
}

impl Store {
    /// Brings the stored dictionaries up to `files` (rules in the module
    /// documentation), all in one transaction: either every dictionary is
    /// synced or none is.
    #[tracing::instrument(skip_all, fields(dictionaries = files.len()))]
    pub async fn sync_reference(
        &self,
        files: &[DictionaryFile],
    ) -> anyhow::Result<Vec<(String, SyncOutcome)>> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(t) = &mut tx {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SYNC_LOCK)
                .execute(&mut **t)
                .await?;
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut outcomes = Vec::with_capacity(files.len());
        for file in files {
            let outcome = tx.sync_dictionary(file, now).await?;
            match &outcome {
                SyncOutcome::KeptNewer { stored, file: v } => tracing::warn!(
                    dictionary = %file.name, stored, file = v,
                    "the database holds a newer reference dictionary than this build; kept it"
                ),
                SyncOutcome::Unchanged { .. } => {}
                other => {
                    tracing::info!(dictionary = %file.name, outcome = ?other, "reference dictionary synced")
                }
            }
            outcomes.push((file.name.clone(), outcome));
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Every stored dictionary with its version.
    #[tracing::instrument(skip(self))]
    pub async fn reference_versions(&self) -> anyhow::Result<Vec<DictionaryVersion>> {
        let rows = with_pool!(self, p => {
            sqlx::query(VERSIONS)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| -> Result<DictionaryVersion, sqlx::Error> {
                    Ok(DictionaryVersion {
                        name: r.try_get(0)?,
                        version: r.try_get(1)?,
                        updated_at: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// One stored dictionary with all its entries, retired ones included.
    #[tracing::instrument(skip(self))]
    pub async fn reference_dictionary(&self, name: &str) -> anyhow::Result<Option<Loaded>> {
        let found = with_pool!(self, p => {
            let head = sqlx::query(DICTIONARY)
                .bind(name)
                .fetch_optional(p)
                .await?
                .map(|r| -> Result<(i64, i64), sqlx::Error> { Ok((r.try_get(0)?, r.try_get(2)?)) })
                .transpose()?;
            match head {
                None => None,
                Some((version, updated_at)) => {
                    let entries = sqlx::query(ENTRIES)
                        .bind(name)
                        .fetch_all(p)
                        .await?
                        .iter()
                        .map(entry_from_row)
                        .collect::<Result<Vec<_>, _>>()?;
                    Some(Loaded::new(version, updated_at, entries))
                }
            }
        });
        Ok(found)
    }
}
