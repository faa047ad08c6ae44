//! The product catalogue: participants register their GTINs with the fields
//! of the citizen's product card (decree, criterion 5) — names in Kazakh and
//! Russian, product group, TN VED code, manufacturer and its country,
//! importer, conformity document, test certificate, recommended retail price,
//! photo.
//!
//! - `POST /v1/products`: a manufacturer or importer registers a GTIN; from
//!   then on the GTIN is theirs. A GTIN another participant registered is
//!   `409 gtin_taken`, one the caller registered already `409 product_exists`.
//! - `GET /v1/products/{gtin}`: the owner or an administrator.
//! - `GET /v1/products?limit=&after=`: the caller's own, in GTIN order.
//! - `PUT /v1/products/{gtin}`: the owner replaces the card.
//!
//! Every input passes format-logical control (decree, functional requirement
//! 17 and criterion 14) before anything is stored: every field is checked
//! against every rule that applies to it, and all the problems are answered
//! at once in one `400 validation_failed`, each naming the field (a JSON path
//! such as `conformity.date`) and the rule, with a message in the caller's
//! language. Reference fields are checked against the reference data, and a
//! TN VED code must belong to the product group given with it.
//!
//! Every change is written to the audit log in the transaction that makes it,
//! and, once committed, the GTIN's card is dropped from the scan cache
//! (`CardCache::invalidate_product`), so the next scan shows it.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tanba_core::participant::{Bin, TaxpayerIdError};
use tanba_core::{Gtin, ParseErrorKind};
use tanba_locales::Lang;
use time::Date;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, FieldError, given, unknown_fields};
use crate::fields::Checker;
use crate::fields::today;
use crate::lang::RequestLang;
use crate::money::{format_tenge, parse_tiyn};
use crate::reference::{Dictionary, Reference};
use crate::state::AppState;
use crate::store::{
    Conformity, ConformityKind, CreateRefused, NumberedDocument, Product, ProductCard,
};

/// Registers this module's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(read)
        .service(update);
}

/// Longest product, manufacturer or importer name, in characters.
const MAX_NAME: usize = 500;
/// Longest document number, in characters.
const MAX_NUMBER: usize = 100;
/// Longest photo address, in characters.
const MAX_URL: usize = 2000;
/// Highest recommended price, in tenge. Far above any marked product; a
/// price beyond it is a typing slip (an extra zero or two).
const MAX_PRICE_TENGE: i64 = 10_000_000_000;
/// Page size of `GET /v1/products`: default and most.
const PAGE_DEFAULT: i64 = 50;
const PAGE_MAX: i64 = 500;

/// The fields a product card may carry, in the order they are checked.
const FIELDS: [&str; 13] = [
    "gtin",
    "name_kk",
    "name_ru",
    "product_group",
    "tnved",
    "manufacturer_name",
    "manufacturer_country",
    "importer_name",
    "importer_bin",
    "conformity",
    "test_certificate",
    "recommended_price",
    "photo_url",
];

/// Format-logical control of a product card: every problem found, or the
/// card. `path_gtin` is the GTIN of the URL, for an update; the body's GTIN
/// may then be left out, and must match when given.
pub fn check_card(
    body: &Value,
    reference: &Reference,
    today: Date,
    path_gtin: Option<&Gtin>,
) -> Result<ProductCard, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new("not_object", "$")]);
    };
    let mut c = Checker::new(today);
    c.errors.extend(unknown_fields(obj, None, &FIELDS));

    let gtin = match path_gtin {
        None => c.gtin(obj, "gtin", true),
        Some(path) => {
            let given = c.gtin(obj, "gtin", false);
            if given.as_ref().is_some_and(|g| g != path) {
                c.fail(FieldError::new("gtin_mismatch", "gtin").arg("expected", path));
            }
            Some(path.clone())
        }
    };
    let name_kk = c.text(obj, "name_kk", "name_kk", true, MAX_NAME);
    let name_ru = c.text(obj, "name_ru", "name_ru", true, MAX_NAME);

    let product_group = c.text(obj, "product_group", "product_group", true, 64);
    if let Some(g) = &product_group
        && !reference.has(Dictionary::ProductGroups, g)
    {
        c.fail(FieldError::new("unknown_product_group", "product_group").arg("value", g.clone()));
    }
    let tnved = c.text(obj, "tnved", "tnved", true, 64);
    if let Some(t) = &tnved {
        if !reference.has(Dictionary::Tnved, t) {
            c.fail(FieldError::new("unknown_tnved", "tnved").arg("value", t.clone()));
        } else if let (Some(group), Some(own)) = (&product_group, reference.tnved_group(t))
            && own != group
        {
            // Also when the group given is unknown: the code is not of that
            // group either, and the caller learns which group it is of.
            c.fail(
                FieldError::new("tnved_not_in_group", "tnved")
                    .arg("value", t.clone())
                    .arg("group", own.to_owned())
                    .arg("expected", group.clone()),
            );
        }
    }

    let manufacturer_name = c.text(
        obj,
        "manufacturer_name",
        "manufacturer_name",
        true,
        MAX_NAME,
    );
    let manufacturer_country = c.text(obj, "manufacturer_country", "manufacturer_country", true, 8);
    if let Some(cc) = &manufacturer_country
        && !reference.has(Dictionary::Countries, cc)
    {
        c.fail(FieldError::new("unknown_country", "manufacturer_country").arg("value", cc.clone()));
    }

    let importer_name = c.text(obj, "importer_name", "importer_name", false, MAX_NAME);
    let importer_bin = c.text(obj, "importer_bin", "importer_bin", false, 64);
    if let Some(bin) = &importer_bin
        && let Err(e) = Bin::parse(bin)
    {
        let mut error = FieldError::new(e.code(), "importer_bin");
        if let TaxpayerIdError::ControlDigit { expected } = e {
            error = error.arg("expected", expected);
        }
        c.fail(error);
    }
    // An importer is named by both its name and its BIN, or not at all.
    let (name_given, bin_given) = (given(obj, "importer_name"), given(obj, "importer_bin"));
    if name_given && !bin_given {
        c.fail(FieldError::new("both_or_neither", "importer_bin").arg("other", "importer_name"));
    }
    if bin_given && !name_given {
        c.fail(FieldError::new("both_or_neither", "importer_name").arg("other", "importer_bin"));
    }

    let conformity = c.object(obj, "conformity", true).and_then(|o| {
        c.unknown_keys(o, "conformity", &["kind", "number", "date"]);
        let kind = c.text(o, "kind", "conformity.kind", true, 32);
        let kind = kind.and_then(|k| {
            let parsed = ConformityKind::parse(&k);
            if parsed.is_none() {
                c.fail(
                    FieldError::new("one_of", "conformity.kind")
                        .arg("allowed", "certificate, declaration"),
                );
            }
            parsed
        });
        let number = c.text(o, "number", "conformity.number", true, MAX_NUMBER);
        let date = c.date(o, "date", "conformity.date", true);
        Some(Conformity {
            kind: kind?,
            number: number?,
            date: date?,
        })
    });

    let test_certificate = c.object(obj, "test_certificate", false).and_then(|o| {
        c.unknown_keys(o, "test_certificate", &["number", "date"]);
        let number = c.text(o, "number", "test_certificate.number", true, MAX_NUMBER);
        let date = c.date(o, "date", "test_certificate.date", true);
        Some(NumberedDocument {
            number: number?,
            date: date?,
        })
    });

    let recommended_price_tiyn = c.price(obj, "recommended_price");
    let photo_url = c.text(obj, "photo_url", "photo_url", false, MAX_URL);
    if let Some(u) = &photo_url {
        let ok = url::Url::parse(u)
            .map(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
            .unwrap_or(false);
        if !ok {
            c.fail(FieldError::new("https_url", "photo_url"));
        }
    }

    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    // With no error, every required value is there; a `None` here would be
    // a checker that forgot to report, which the `expect`s would reveal in tests.
    match (
        gtin,
        name_kk,
        name_ru,
        product_group,
        tnved,
        manufacturer_name,
        manufacturer_country,
        conformity,
        recommended_price_tiyn,
    ) {
        (
            Some(gtin),
            Some(name_kk),
            Some(name_ru),
            Some(product_group),
            Some(tnved),
            Some(manufacturer_name),
            Some(manufacturer_country),
            Some(conformity),
            Some(recommended_price_tiyn),
        ) => Ok(ProductCard {
            gtin,
            name_kk,
            name_ru,
            product_group,
            tnved,
            manufacturer_name,
            manufacturer_country,
            importer_name,
            importer_bin,
            conformity,
            test_certificate,
            recommended_price_tiyn,
            photo_url,
        }),
        _ => Err(vec![FieldError::new("required", "$")]),
    }
}

impl Checker {
    fn gtin(&mut self, obj: &Map<String, Value>, key: &str, required: bool) -> Option<Gtin> {
        let text = self.text(obj, key, key, required, 64)?;
        match Gtin::parse(&text) {
            Ok(g) => Some(g),
            Err(e) if e.kind == ParseErrorKind::BadCheckDigit => {
                let mut error = FieldError::new("gtin_check_digit", key);
                for (k, v) in e.args() {
                    if k == "expected" || k == "found" {
                        error = error.arg(k, v);
                    }
                }
                self.fail(error);
                None
            }
            Err(_) => {
                self.fail(FieldError::new("gtin_format", key));
                None
            }
        }
    }

    /// A price in tenge — a JSON number or a decimal string with at most two
    /// digits after the point — as whole tiyn. Parsed from its decimal text,
    /// never through a float, so 19.99 is 1999 tiyn exactly.
    fn price(&mut self, obj: &Map<String, Value>, key: &str) -> Option<i64> {
        let text = match obj.get(key) {
            None | Some(Value::Null) => {
                self.fail(FieldError::new("required", key));
                return None;
            }
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(_) => {
                self.fail(FieldError::new("not_number", key));
                return None;
            }
        };
        match parse_tiyn(&text) {
            Some(t) if t <= 0 => {
                self.fail(FieldError::new("not_positive", key).arg("value", text));
                None
            }
            Some(t) if t > MAX_PRICE_TENGE * 100 => {
                self.fail(FieldError::new("price_too_large", key).arg("max", MAX_PRICE_TENGE));
                None
            }
            Some(t) => Some(t),
            None => {
                self.fail(FieldError::new("price_format", key));
                None
            }
        }
    }
}

/// A product on the wire: the card in the input's shape, the price also as
/// exact tiyn, the owner, the times, and the reference names in the
/// request's language.
#[derive(Serialize)]
struct ProductBody<'a> {
    #[serde(flatten)]
    card: &'a ProductCard,
    recommended_price: String,
    owner: String,
    created_at: String,
    updated_at: String,
    names: Names<'a>,
}

#[derive(Serialize)]
struct Names<'a> {
    product_group: Option<&'a str>,
    tnved: Option<&'a str>,
    manufacturer_country: Option<&'a str>,
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn product_body<'a>(p: &'a Product, reference: &'a Reference, lang: Lang) -> ProductBody<'a> {
    let card = &p.card;
    ProductBody {
        card,
        recommended_price: format_tenge(card.recommended_price_tiyn),
        owner: p.owner.to_string(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
        names: Names {
            product_group: reference.name(Dictionary::ProductGroups, &card.product_group, lang),
            tnved: reference.name(Dictionary::Tnved, &card.tnved, lang),
            manufacturer_country: reference.name(
                Dictionary::Countries,
                &card.manufacturer_country,
                lang,
            ),
        },
    }
}

fn path_gtin(text: &str) -> Result<Gtin, ApiError> {
    Gtin::parse(text).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_gtin"))
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "product_not_found")
}

/// The card as an audit detail: a JSON object of its fields.
fn card_json(card: &ProductCard) -> Map<String, Value> {
    match serde_json::to_value(card) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Registers a product. Manufacturers and importers.
#[post("/v1/products")]
#[tracing::instrument(skip_all)]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    lang: RequestLang,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Manufacturer, Role::Importer])?;
    let owner = caller.participant()?;
    let card = check_card(&body, &state.reference, today(), None).map_err(ApiError::validation)?;
    let gtin = card.gtin.to_string();
    let mut tx = state.store.begin().await?;
    let mut audit = caller.audit("product.create");
    audit.object = Some(gtin.clone());
    match tx.create_product(owner, &card).await? {
        Ok(()) => {
            audit.detail = Value::Object(card_json(&card));
            tx.audit(audit).await?;
            tx.commit().await?;
            // A scan just before may have cached "no such product".
            state.cards.invalidate_product(&card.gtin).await;
        }
        Err(CreateRefused::AlreadyYours) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "product_exists").arg("gtin", gtin));
        }
        Err(CreateRefused::TakenBy(_)) => {
            // An attempt to claim another participant's GTIN is worth a trace;
            // the insert did nothing, so committing stores only this entry.
            audit.outcome = crate::store::Outcome::Refused("gtin_taken".to_owned());
            tx.audit(audit).await?;
            tx.commit().await?;
            return Err(ApiError::new(StatusCode::CONFLICT, "gtin_taken").arg("gtin", gtin));
        }
    }
    let product = state
        .store
        .product(&card.gtin)
        .await?
        .ok_or_else(|| anyhow::anyhow!("product {gtin} vanished after its creation"))?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/products/{gtin}")))
        .json(product_body(&product, &state.reference, lang.0)))
}

/// One product. Its owner, or an administrator.
#[get("/v1/products/{gtin}")]
#[tracing::instrument(skip(state, caller, lang))]
async fn read(
    state: web::Data<AppState>,
    caller: Caller,
    lang: RequestLang,
    gtin: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let gtin = path_gtin(&gtin)?;
    let product = state.store.product(&gtin).await?.ok_or_else(not_found)?;
    let is_owner =
        matches!(caller.actor, crate::auth::Actor::Participant(id) if id == product.owner);
    if !is_owner {
        caller
            .require(&[Role::Admin])
            .map_err(|_| ApiError::new(StatusCode::FORBIDDEN, "not_product_owner"))?;
    }
    Ok(HttpResponse::Ok().json(product_body(&product, &state.reference, lang.0)))
}

#[derive(Serialize)]
struct Page<'a> {
    items: Vec<ProductBody<'a>>,
    /// Pass as `after` for the next page; `null` on the last one.
    next_after: Option<String>,
}

/// The caller's own products, `limit` (1–500, default 50) at a time after the
/// GTIN `after`. Any participant.
#[get("/v1/products")]
#[tracing::instrument(skip_all)]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    lang: RequestLang,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let owner = caller.participant()?;
    let mut errors = Vec::new();
    let mut limit = PAGE_DEFAULT;
    let mut after = None;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=PAGE_MAX).contains(&n) => limit = n,
                _ => errors.push(
                    FieldError::new("out_of_range", "limit")
                        .arg("min", 1)
                        .arg("max", PAGE_MAX),
                ),
            },
            "after" => match Gtin::parse(&v) {
                Ok(g) => after = Some(g),
                Err(_) => errors.push(FieldError::new("gtin_format", "after")),
            },
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut products = state
        .store
        .products_of(owner, after.as_ref(), limit + 1)
        .await?;
    let more = products.len() as i64 > limit;
    products.truncate(limit as usize);
    let next_after = more
        .then(|| products.last().map(|p| p.card.gtin.to_string()))
        .flatten();
    let items = products
        .iter()
        .map(|p| product_body(p, &state.reference, lang.0))
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, next_after }))
}

/// Replaces a product's card. Its owner only.
#[put("/v1/products/{gtin}")]
#[tracing::instrument(skip(state, caller, lang, body))]
async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    lang: RequestLang,
    gtin: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let gtin = path_gtin(&gtin)?;
    let owner = caller.participant()?;
    let current = state.store.product(&gtin).await?.ok_or_else(not_found)?;
    if current.owner != owner {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not_product_owner"));
    }
    let card =
        check_card(&body, &state.reference, today(), Some(&gtin)).map_err(ApiError::validation)?;
    let mut tx = state.store.begin().await?;
    let before = tx
        .product(&gtin)
        .await?
        .filter(|p| p.owner == owner)
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "not_product_owner"))?;
    if !tx.update_product(owner, &card).await? {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not_product_owner"));
    }
    let (old, new) = (card_json(&before.card), card_json(&card));
    let changed: Map<String, Value> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                k.clone(),
                json!({"from": old.get(k).cloned().unwrap_or(Value::Null), "to": v}),
            )
        })
        .collect();
    let mut audit = caller.audit("product.update");
    audit.object = Some(gtin.to_string());
    audit.detail = json!({ "changed": changed });
    tx.audit(audit).await?;
    tx.commit().await?;
    // Scans show the new card from the next one on, not after cache_ttl_secs.
    state.cards.invalidate_product(&gtin).await;
    let product = state.store.product(&gtin).await?.ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(product_body(&product, &state.reference, lang.0)))
}
