//! Storage of the product catalogue: one row per GTIN, owned by the
//! participant that registered it.
//!
//! What is stored has passed the format-logical control in
//! `routes::products`; storage only keeps it and enforces the one rule the
//! database is needed for: a GTIN has one owner.

use serde::Serialize;
use tanba_core::Gtin;
use time::OffsetDateTime;

use super::{Pool, Store, Tx};
use crate::ids::ParticipantId;

/// Certificate or declaration of conformity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConformityKind {
    Certificate,
    Declaration,
}

impl ConformityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::Declaration => "declaration",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "certificate" => Some(Self::Certificate),
            "declaration" => Some(Self::Declaration),
            _ => None,
        }
    }
}

/// A document with a number and a date of issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberedDocument {
    pub number: String,
    /// ISO 8601 date, `YYYY-MM-DD`.
    pub date: String,
}

/// The certificate or declaration of conformity of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conformity {
    pub kind: ConformityKind,
    pub number: String,
    /// ISO 8601 date, `YYYY-MM-DD`.
    pub date: String,
}

/// The fields of a product card (decree, criterion 5): what a participant
/// registers and a citizen sees after a scan. Reference fields hold codes;
/// names in a language come from the reference data when shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductCard {
    pub gtin: Gtin,
    pub name_kk: String,
    pub name_ru: String,
    /// A `product_groups` code.
    pub product_group: String,
    /// A `tnved` code of that group.
    pub tnved: String,
    pub manufacturer_name: String,
    /// A `countries` code: where the manufacturer is, the country of origin.
    pub manufacturer_country: String,
    pub importer_name: Option<String>,
    /// The importer's BIN (checked).
    pub importer_bin: Option<String>,
    pub conformity: Conformity,
    pub test_certificate: Option<NumberedDocument>,
    /// Recommended retail price in tiyn (1 tenge = 100 tiyn).
    pub recommended_price_tiyn: i64,
    pub photo_url: Option<String>,
}

/// A stored product: its card, its owner, and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub card: ProductCard,
    pub owner: ParticipantId,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// Why a product was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRefused {
    /// The GTIN is already registered by this participant.
    AlreadyYours,
    /// The GTIN is registered by another participant.
    TakenBy(ParticipantId),
}

/// The columns of a product row, in the order [`product_from_row`] reads them
/// by name (a macro, so that `concat!` can build whole statements).
macro_rules! columns {
    () => {
        "gtin, owner, name_kk, name_ru, product_group, tnved, manufacturer_name, \
     manufacturer_country, importer_name, importer_bin, conformity_kind, conformity_number, \
     conformity_date, test_certificate_number, test_certificate_date, recommended_price_tiyn, \
     photo_url, created_at, updated_at"
    };
}

const BY_GTIN: &str = concat!("SELECT ", columns!(), " FROM products WHERE gtin = $1");
const OF_OWNER: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM products WHERE owner = $1 AND gtin > $2 ORDER BY gtin LIMIT $3"
);

const INSERT: &str = "INSERT INTO products (gtin, owner, name_kk, name_ru, product_group, tnved, \
     manufacturer_name, manufacturer_country, importer_name, importer_bin, conformity_kind, \
     conformity_number, conformity_date, test_certificate_number, test_certificate_date, \
     recommended_price_tiyn, photo_url, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
     ON CONFLICT (gtin) DO NOTHING";

const UPDATE: &str = "UPDATE products SET name_kk = $3, name_ru = $4, product_group = $5, \
     tnved = $6, manufacturer_name = $7, manufacturer_country = $8, importer_name = $9, \
     importer_bin = $10, conformity_kind = $11, conformity_number = $12, conformity_date = $13, \
     test_certificate_number = $14, test_certificate_date = $15, recommended_price_tiyn = $16, \
     photo_url = $17, updated_at = $18 \
     WHERE gtin = $1 AND owner = $2";

const OWNER: &str = "SELECT owner FROM products WHERE gtin = $1";

fn product_from_row<R>(r: &R) -> anyhow::Result<Product>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let gtin: String = r.try_get("gtin")?;
    let owner: String = r.try_get("owner")?;
    let kind: String = r.try_get("conformity_kind")?;
    let test_number: Option<String> = r.try_get("test_certificate_number")?;
    let test_date: Option<String> = r.try_get("test_certificate_date")?;
    Ok(Product {
        card: ProductCard {
            gtin: Gtin::parse(&gtin)
                .map_err(|e| anyhow::anyhow!("stored GTIN {gtin:?} is not valid: {e}"))?,
            name_kk: r.try_get("name_kk")?,
            name_ru: r.try_get("name_ru")?,
            product_group: r.try_get("product_group")?,
            tnved: r.try_get("tnved")?,
            manufacturer_name: r.try_get("manufacturer_name")?,
            manufacturer_country: r.try_get("manufacturer_country")?,
            importer_name: r.try_get("importer_name")?,
            importer_bin: r.try_get("importer_bin")?,
            conformity: Conformity {
                kind: ConformityKind::parse(&kind)
                    .ok_or_else(|| anyhow::anyhow!("stored conformity kind {kind:?}"))?,
                number: r.try_get("conformity_number")?,
                date: r.try_get("conformity_date")?,
            },
            test_certificate: match (test_number, test_date) {
                (Some(number), Some(date)) => Some(NumberedDocument { number, date }),
                _ => None,
            },
            recommended_price_tiyn: r.try_get("recommended_price_tiyn")?,
            photo_url: r.try_get("photo_url")?,
        },
        owner: owner
            .parse()
            .map_err(|e| anyhow::anyhow!("stored owner {owner:?} is not an id: {e}"))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Binds a card's columns after `gtin` ($1) and `owner` ($2), in the order
/// of [`INSERT`] and [`UPDATE`], then the time ($18).
macro_rules! bind_card {
    ($query:expr, $owner:expr, $card:expr, $now:expr) => {{
        let card: &ProductCard = $card;
        $query
            .bind(card.gtin.as_str())
            .bind($owner.to_string())
            .bind(&card.name_kk)
            .bind(&card.name_ru)
            .bind(&card.product_group)
            .bind(&card.tnved)
            .bind(&card.manufacturer_name)
            .bind(&card.manufacturer_country)
            .bind(&card.importer_name)
            .bind(&card.importer_bin)
            .bind(card.conformity.kind.as_str())
            .bind(&card.conformity.number)
            .bind(&card.conformity.date)
            .bind(card.test_certificate.as_ref().map(|t| t.number.clone()))
            .bind(card.test_certificate.as_ref().map(|t| t.date.clone()))
            .bind(card.recommended_price_tiyn)
            .bind(&card.photo_url)
            .bind($now)
    }};
}

impl Tx {
    /// Registers a product for `owner`, unless its GTIN is registered already.
    pub async fn create_product(
        &mut self,
        owner: ParticipantId,
        card: &ProductCard,
    ) -> anyhow::Result<Result<(), CreateRefused>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let inserted = with_tx!(self, c => {
            bind_card!(sqlx::query(INSERT), owner, card, now)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if inserted == 1 {
            return Ok(Ok(()));
        }
        let existing: String = with_tx!(self, c => {
            sqlx::query_scalar(OWNER)
                .bind(card.gtin.as_str())
                .fetch_one(&mut *c)
                .await?
        });
        let existing: ParticipantId = existing
            .parse()
            .map_err(|e| anyhow::anyhow!("stored owner {existing:?} is not an id: {e}"))?;
        Ok(Err(if existing == owner {
            CreateRefused::AlreadyYours
        } else {
            CreateRefused::TakenBy(existing)
        }))
    }

    /// The product with this GTIN, read inside the transaction.
    pub async fn product(&mut self, gtin: &Gtin) -> anyhow::Result<Option<Product>> {
        let row = with_tx!(self, c => {
            match sqlx::query(BY_GTIN)
                .bind(gtin.as_str())
                .fetch_optional(&mut *c)
                .await?
            {
                Some(r) => Some(product_from_row(&r)?),
                None => None,
            }
        });
        Ok(row)
    }

    /// Replaces the card of a product `owner` owns; `false` when it does not
    /// own it (or it does not exist).
    pub async fn update_product(
        &mut self,
        owner: ParticipantId,
        card: &ProductCard,
    ) -> anyhow::Result<bool> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let updated = with_tx!(self, c => {
            bind_card!(sqlx::query(UPDATE), owner, card, now)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }
}

impl Store {
    /// Who owns a GTIN: the participant that registered it, or `None` when it
    /// is not in the catalogue. For emission orders, which may only name the
    /// caller's own GTINs.
    #[tracing::instrument(skip(self), fields(gtin = %gtin))]
    pub async fn product_owner(&self, gtin: &Gtin) -> anyhow::Result<Option<ParticipantId>> {
        let owner: Option<String> = with_pool!(self, p => {
            sqlx::query_scalar(OWNER)
                .bind(gtin.as_str())
                .fetch_optional(p)
                .await?
        });
        owner
            .map(|o| {
                o.parse()
                    .map_err(|e| anyhow::anyhow!("stored owner {o:?} is not an id: {e}"))
            })
            .transpose()
    }

    /// The stored product with its owner.
    #[tracing::instrument(skip(self), fields(gtin = %gtin))]
    pub async fn product(&self, gtin: &Gtin) -> anyhow::Result<Option<Product>> {
        let row = with_pool!(self, p => {
            match sqlx::query(BY_GTIN)
                .bind(gtin.as_str())
                .fetch_optional(p)
                .await?
            {
                Some(r) => Some(product_from_row(&r)?),
                None => None,
            }
        });
        Ok(row)
    }

    /// The card of a GTIN, for the public scan: the fields a citizen sees,
    /// without the owner.
    pub async fn product_card(&self, gtin: &Gtin) -> anyhow::Result<Option<ProductCard>> {
        Ok(self.product(gtin).await?.map(|p| p.card))
    }

    /// A participant's products in GTIN order, at most `limit`, starting after
    /// `after` (keyset pagination: stable while products are added).
    #[tracing::instrument(skip(self))]
    pub async fn products_of(
        &self,
        owner: ParticipantId,
        after: Option<&Gtin>,
        limit: i64,
    ) -> anyhow::Result<Vec<Product>> {
        let rows = with_pool!(self, p => {
            sqlx::query(OF_OWNER)
                .bind(owner.to_string())
                .bind(after.map(|g| g.as_str()).unwrap_or(""))
                .bind(limit)
                .fetch_all(p)
                .await?
                .iter()
                .map(product_from_row)
                .collect::<anyhow::Result<Vec<_>>>()?
        });
        Ok(rows)
    }
}
