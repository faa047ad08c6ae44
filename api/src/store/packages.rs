//! Packages as stored: transport packages and pallets by their SSCC, the
//! package each sits in, and the package each packed code sits in.
//!
//! Only the document worker writes here, in the transaction that applies an
//! aggregation, a disaggregation or the acceptance of a shipment, after
//! every code concerned passed `lifecycle::transition` in that same
//! transaction. A package's owner is the owner of everything inside it.

use tanba_core::{MarkingCode, Sscc};

use super::{Pool, Store, Tx};
use crate::ids::{DocumentId, ParticipantId};

/// A stored package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub sscc: Sscc,
    pub owner: ParticipantId,
    /// The package it sits in.
    pub parent: Option<Sscc>,
}

fn sscc_of(s: &str) -> anyhow::Result<Sscc> {
    Sscc::parse(s).map_err(|e| anyhow::anyhow!("stored SSCC {s:?}: {e}"))
}

fn now_ms() -> i64 {
    let ns = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ns).unwrap_or(i64::MAX)
}

impl Tx {
    /// The package, its row locked until the transaction ends (on
    /// PostgreSQL; SQLite's write transaction holds the database).
    pub async fn lock_package(&mut self, sscc: &Sscc) -> anyhow::Result<Option<Package>> {
        let sql = match self {
            Tx::Postgres(_) => "SELECT owner, parent FROM packages WHERE sscc = $1 FOR UPDATE",
            Tx::Sqlite(_) => "SELECT owner, parent FROM packages WHERE sscc = $1",
        };
        let row: Option<(uuid::Uuid, Option<String>)> = with_tx!(self, c => {
            sqlx::query_as(sql).bind(sscc.as_str()).fetch_optional(&mut *c).await?
        });
        row.map(|(owner, parent)| {
            Ok(Package {
                sscc: sscc.clone(),
                owner: owner.to_string().parse()?,
                parent: parent.as_deref().map(sscc_of).transpose()?,
            })
        })
        .transpose()
    }

    /// The packages `sscc` sits in, innermost first (without `sscc`).
    pub async fn package_ancestors(&mut self, sscc: &Sscc) -> anyhow::Result<Vec<Sscc>> {
        const SQL: &str = "SELECT parent FROM packages WHERE sscc = $1";
        let mut out: Vec<Sscc> = Vec::new();
        let mut at = sscc.clone();
        loop {
            let parent: Option<Option<String>> = with_tx!(self, c => {
                sqlx::query_scalar(SQL).bind(at.as_str()).fetch_optional(&mut *c).await?
            });
            match parent.flatten() {
                // The table cannot hold a cycle (the worker refuses them),
                // but a walk must end even if it did.
                Some(p) if !out.iter().any(|o| o.as_str() == p) && p != sscc.as_str() => {
                    at = sscc_of(&p)?;
                    out.push(at.clone());
                }
                _ => return Ok(out),
            }
        }
    }

    /// The codes directly in the package and the packages directly in it.
    pub async fn package_members(
        &mut self,
        sscc: &Sscc,
    ) -> anyhow::Result<(Vec<MarkingCode>, Vec<Sscc>)> {
        Ok((
            self.codes_in(std::slice::from_ref(sscc)).await?,
            self.package_children(sscc).await?,
        ))
    }

    /// The codes directly in each of `packages`, package by package.
    pub async fn codes_in(&mut self, packages: &[Sscc]) -> anyhow::Result<Vec<MarkingCode>> {
        const CODES: &str =
            "SELECT gtin, serial FROM package_codes WHERE package = $1 ORDER BY gtin, serial";
        let mut out = Vec::new();
        for p in packages {
            let codes: Vec<(i64, String)> = with_tx!(self, c => {
                sqlx::query_as(CODES).bind(p.as_str()).fetch_all(&mut *c).await?
            });
            for (g, s) in codes {
                out.push(super::documents::code_of(g, &s)?);
            }
        }
        Ok(out)
    }

    /// The packages directly in the package.
    async fn package_children(&mut self, sscc: &Sscc) -> anyhow::Result<Vec<Sscc>> {
        const CHILDREN: &str = "SELECT sscc FROM packages WHERE parent = $1 ORDER BY sscc";
        let children: Vec<String> = with_tx!(self, c => {
            sqlx::query_scalar(CHILDREN).bind(sscc.as_str()).fetch_all(&mut *c).await?
        });
        children.iter().map(|s| sscc_of(s)).collect()
    }

    /// The package and every package inside it at every depth, the package
    /// itself first.
    pub async fn package_tree(&mut self, sscc: &Sscc) -> anyhow::Result<Vec<Sscc>> {
        let mut packages = vec![sscc.clone()];
        let mut next = 0;
        while next < packages.len() {
            for child in self.package_children(&packages[next]).await? {
                if !packages.contains(&child) {
                    packages.push(child);
                }
            }
            next += 1;
        }
        Ok(packages)
    }

    /// Everything inside the package at every depth: the codes, and the
    /// packages (the package itself first).
    pub async fn package_contents(
        &mut self,
        sscc: &Sscc,
    ) -> anyhow::Result<(Vec<MarkingCode>, Vec<Sscc>)> {
        let packages = self.package_tree(sscc).await?;
        Ok((self.codes_in(&packages).await?, packages))
    }

    /// Stores a new package, at the top (its parent is set afterwards).
    pub async fn insert_package(
        &mut self,
        sscc: &Sscc,
        owner: ParticipantId,
        document: DocumentId,
    ) -> anyhow::Result<()> {
        const SQL: &str = "INSERT INTO packages (sscc, owner, parent, document, created_at) \
            VALUES ($1, $2, NULL, $3, $4)";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(sscc.as_str())
                .bind(owner.as_uuid())
                .bind(document.to_string())
                .bind(now_ms())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Puts a package into another.
    pub async fn set_package_parent(&mut self, sscc: &Sscc, parent: &Sscc) -> anyhow::Result<()> {
        const SQL: &str = "UPDATE packages SET parent = $2 WHERE sscc = $1";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(sscc.as_str())
                .bind(parent.as_str())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Puts each code of `codes` (GTIN as a number, serial) into its package
    /// (an SSCC), in one statement.
    pub async fn pack_codes(&mut self, codes: &[(i64, &str, &str)]) -> anyhow::Result<()> {
        if codes.is_empty() {
            return Ok(());
        }
        match self {
            Tx::Postgres(t) => {
                const SQL: &str = "INSERT INTO package_codes (gtin, serial, package) \
                    SELECT * FROM unnest($1::int8[], $2::text[], $3::text[])";
                sqlx::query(SQL)
                    .bind(codes.iter().map(|c| c.0).collect::<Vec<_>>())
                    .bind(codes.iter().map(|c| c.1).collect::<Vec<_>>())
                    .bind(codes.iter().map(|c| c.2).collect::<Vec<_>>())
                    .execute(&mut **t)
                    .await?;
            }
            Tx::Sqlite(t) => {
                const SQL: &str = "INSERT INTO package_codes (gtin, serial, package) \
                    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                      json_extract(value, '$[2]') FROM json_each($1)";
                let list: Vec<serde_json::Value> = codes
                    .iter()
                    .map(|(g, s, p)| serde_json::json!([g, s, p]))
                    .collect();
                sqlx::query(SQL)
                    .bind(serde_json::Value::Array(list).to_string())
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }

    /// Dissolves a package one level: its codes and the packages in it stand
    /// alone, and the package is removed (its SSCC may be packed again).
    /// Each code leaving it takes the package's owner, which it had only
    /// through the package while packed (see `codes::OWNER`); the packages
    /// in it have that owner already.
    pub async fn dissolve_package(&mut self, sscc: &Sscc) -> anyhow::Result<()> {
        const OWNERS: &str = "UPDATE codes SET owner = p.owner \
            FROM package_codes pc JOIN packages p ON p.sscc = pc.package \
            WHERE pc.package = $1 AND codes.gtin = pc.gtin AND codes.serial = pc.serial \
              AND codes.owner <> p.owner";
        const CODES: &str = "DELETE FROM package_codes WHERE package = $1";
        const CHILDREN: &str = "UPDATE packages SET parent = NULL WHERE parent = $1";
        const PACKAGE: &str = "DELETE FROM packages WHERE sscc = $1";
        for sql in [OWNERS, CODES, CHILDREN, PACKAGE] {
            with_tx!(self, c => {
                sqlx::query(sql).bind(sscc.as_str()).execute(&mut *c).await.map(|_| ())?
            });
        }
        Ok(())
    }

    /// Moves a package to a new owner: only on the acceptance of a shipment,
    /// with every code inside it.
    pub async fn set_package_owner(
        &mut self,
        sscc: &Sscc,
        owner: ParticipantId,
    ) -> anyhow::Result<()> {
        const SQL: &str = "UPDATE packages SET owner = $2 WHERE sscc = $1";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(sscc.as_str())
                .bind(owner.as_uuid())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Another shipment that lists this package while it waits for its buyer.
    pub async fn pending_shipment_with_package(
        &mut self,
        sscc: &Sscc,
        except: DocumentId,
    ) -> anyhow::Result<Option<DocumentId>> {
        const SQL: &str = "SELECT d.id FROM document_items i JOIN documents d ON d.id = i.document \
            WHERE i.sscc = $1 AND d.status = 'WAIT_ACCEPTANCE' AND d.id <> $2 LIMIT 1";
        let id: Option<String> = with_tx!(self, c => {
            sqlx::query_scalar(SQL)
                .bind(sscc.as_str())
                .bind(except.to_string())
                .fetch_optional(&mut *c)
                .await?
        });
        Ok(id.map(|i| i.parse()).transpose()?)
    }
}

/// A stored package as shown: what it is, who made it, and what is directly
/// in it.
#[derive(Debug, Clone)]
pub struct PackageView {
    pub package: Package,
    /// The aggregation document that made it.
    pub document: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub codes: Vec<MarkingCode>,
    pub packages: Vec<Sscc>,
}

impl Store {
    /// The package with what sits directly in it; `None` when not stored.
    pub async fn package(&self, sscc: &Sscc) -> anyhow::Result<Option<PackageView>> {
        const PACKAGE: &str =
            "SELECT owner, parent, document, created_at FROM packages WHERE sscc = $1";
        const CODES: &str =
            "SELECT gtin, serial FROM package_codes WHERE package = $1 ORDER BY gtin, serial";
        const CHILDREN: &str = "SELECT sscc FROM packages WHERE parent = $1 ORDER BY sscc";
        type Row = (uuid::Uuid, Option<String>, String, i64);
        let row: Option<Row> = with_pool!(self, p => {
            sqlx::query_as(PACKAGE).bind(sscc.as_str()).fetch_optional(p).await?
        });
        let Some((owner, parent, document, created_at)) = row else {
            return Ok(None);
        };
        let codes: Vec<(i64, String)> = with_pool!(self, p => {
            sqlx::query_as(CODES).bind(sscc.as_str()).fetch_all(p).await?
        });
        let children: Vec<String> = with_pool!(self, p => {
            sqlx::query_scalar(CHILDREN).bind(sscc.as_str()).fetch_all(p).await?
        });
        Ok(Some(PackageView {
            package: Package {
                sscc: sscc.clone(),
                owner: owner.to_string().parse()?,
                parent: parent.as_deref().map(sscc_of).transpose()?,
            },
            document,
            created_at,
            codes: codes
                .into_iter()
                .map(|(g, s)| super::documents::code_of(g, &s))
                .collect::<anyhow::Result<_>>()?,
            packages: children
                .iter()
                .map(|s| sscc_of(s))
                .collect::<anyhow::Result<_>>()?,
        }))
    }
}
