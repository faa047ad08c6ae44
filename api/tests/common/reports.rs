//! Helpers for the report and inspection suites: photos made in the test
//! (a JPEG with an EXIF segment carrying a GPS position, a PNG), a report
//! sent as `multipart/form-data`, codes seeded in the store, rows counted.

#![allow(dead_code)]

use std::io::Cursor;

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tanba_api::settings::{DatabaseKind, Settings};
use tanba_api::store::{Conformity, ConformityKind, EventSource, ProductCard, Store};
use tanba_core::lifecycle::Operation;
use tanba_core::{Gtin, MarkingCode};

use super::TestApp;

/// The position written into the test JPEG's EXIF: it must not survive.
pub const GPS_TEXT: &str = "GPS:43.238949,76.889709";

/// A PNG of `width` × `height` with a gradient (so it compresses like a photo
/// rather than to nothing).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG encodes");
    out.into_inner()
}

/// A JPEG of `width` × `height` with an APP1 "Exif" segment right after its
/// start: a little-endian TIFF whose IFD0 holds an image description with
/// [`GPS_TEXT`], orientation 1 (upright) and a GPS IFD (latitude ref `N`),
/// as a phone camera writes it.
pub fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    let mut plain = Cursor::new(Vec::new());
    img.write_to(&mut plain, image::ImageFormat::Jpeg)
        .expect("JPEG encodes");
    let plain = plain.into_inner();
    assert_eq!(&plain[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");

    let mut description = GPS_TEXT.as_bytes().to_vec();
    description.push(0);
    // Offsets inside the TIFF: header 8, IFD0 (3 entries) 2 + 36 + 4 = 42,
    // GPS IFD (1 entry) 2 + 12 + 4 = 18, then the description's text.
    let gps_ifd: u32 = 8 + 42;
    let text_at: u32 = gps_ifd + 18;
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&count.to_le_bytes());
        tiff.extend_from_slice(&value);
    };
    tiff.extend_from_slice(&3u16.to_le_bytes());
    // ImageDescription (ASCII, at an offset), Orientation (SHORT 1), GPS IFD.
    entry(
        &mut tiff,
        0x010E,
        2,
        description.len() as u32,
        text_at.to_le_bytes(),
    );
    entry(&mut tiff, 0x0112, 3, 1, [1, 0, 0, 0]);
    entry(&mut tiff, 0x8825, 4, 1, gps_ifd.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len() as u32, gps_ifd);
    tiff.extend_from_slice(&1u16.to_le_bytes());
    // GPSLatitudeRef: "N\0", inline.
    entry(&mut tiff, 0x0001, 2, 2, [b'N', 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len() as u32, text_at);
    tiff.extend_from_slice(&description);

    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);

    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The answer to a report: status, JSON body and `Retry-After`, if any.
#[derive(Debug)]
pub struct Sent {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
}

/// `POST /v1/reports{query}` with the JSON part `report`, the photos, and
/// headers (e.g. `X-Device-Id`).
pub async fn send(
    app: &TestApp,
    query: &str,
    report: &Value,
    photos: Vec<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Sent {
    let mut form = Form::new().part(
        "report",
        Part::text(report.to_string())
            .mime_str("application/json")
            .expect("mime"),
    );
    for (i, photo) in photos.into_iter().enumerate() {
        form = form.part(
            "photo",
            Part::bytes(photo).file_name(format!("photo{}.jpg", i + 1)),
        );
    }
    let mut req = app
        .client
        .post(app.url(&format!("/v1/reports{query}")))
        .multipart(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.json().await.expect("a JSON body");
    Sent {
        status,
        body,
        retry_after,
    }
}

/// `GET /v1/reports/{number}{query}` with the secret, if any.
pub async fn follow(
    app: &TestApp,
    number: &str,
    secret: Option<&str>,
    query: &str,
) -> (u16, Value) {
    let mut req = app
        .client
        .get(app.url(&format!("/v1/reports/{number}{query}")));
    if let Some(s) = secret {
        req = req.header("X-Report-Secret", s);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

/// Rows in a table of the app's database.
pub async fn count(settings: &Settings, table: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    match settings.database_kind() {
        DatabaseKind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&settings.database_url)
                .await
                .expect("SQLite");
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(&pool)
                .await
                .expect("count");
            pool.close().await;
            n
        }
        DatabaseKind::Postgres => {
            let pool = sqlx::PgPool::connect(&settings.database_url)
                .await
                .expect("PostgreSQL");
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(&pool)
                .await
                .expect("count");
            pool.close().await;
            n
        }
    }
}

/// Runs one statement on the app's database (e.g. to record a scan, whose
/// writer is another issue's).
pub async fn execute(settings: &Settings, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match settings.database_kind() {
        DatabaseKind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&settings.database_url)
                .await
                .expect("SQLite");
            sqlx::query(sql).execute(&pool).await.expect("statement");
            pool.close().await;
        }
        DatabaseKind::Postgres => {
            let pool = sqlx::PgPool::connect(&settings.database_url)
                .await
                .expect("PostgreSQL");
            sqlx::query(sql).execute(&pool).await.expect("statement");
            pool.close().await;
        }
    }
}

/// A dairy product in the catalogue.
pub fn milk(gtin: &str) -> ProductCard {
    ProductCard {
        gtin: Gtin::parse(gtin).expect("gtin"),
        name_kk: "Сүт 2,5%".to_owned(),
        name_ru: "Молоко 2,5%".to_owned(),
        product_group: "dairy".to_owned(),
        tnved: "0401201100".to_owned(),
        manufacturer_name: "ТОО «Сүт»".to_owned(),
        manufacturer_country: "KZ".to_owned(),
        importer_name: None,
        importer_bin: None,
        conformity: Conformity {
            kind: ConformityKind::Declaration,
            number: "ЕАЭС N KZ Д-TEST.00002".to_owned(),
            date: "2025-03-01".to_owned(),
        },
        test_certificate: None,
        recommended_price_tiyn: 65_000,
        photo_url: None,
    }
}

/// Stores the product and `n` codes of it in circulation (applied and
/// introduced through the lifecycle), signed with the app's key.
pub async fn genuine_codes(
    settings: &Settings,
    product: &ProductCard,
    n: usize,
) -> Vec<MarkingCode> {
    let store = Store::connect(settings).await.expect("store");
    let owner = tanba_api::ids::ParticipantId::new();
    let codes = genuine_codes_of(&store, settings, owner, product, n).await;
    store.close().await;
    codes
}

/// The same, for a given owner, in one transaction.
pub async fn genuine_codes_of(
    store: &Store,
    settings: &Settings,
    owner: tanba_api::ids::ParticipantId,
    product: &ProductCard,
    n: usize,
) -> Vec<MarkingCode> {
    let key = tanba_api::keys::load_or_generate(&settings.emission_key_file, false).expect("key");
    let codes = tanba_api::emission::sign_new(&key, &product.gtin, n);
    let mut tx = store.begin().await.expect("tx");
    tx.create_product(owner, product)
        .await
        .expect("product")
        .expect("new product");
    tx.insert_emitted(&codes, owner, tanba_api::ids::OrderId::new(), 1_764_000_000)
        .await
        .expect("codes");
    for code in &codes {
        tx.apply_operations(
            code.gtin(),
            code.serial(),
            &[Operation::Apply, Operation::Introduce],
            &EventSource::demo(),
            None,
        )
        .await
        .expect("stored")
        .expect("allowed");
    }
    tx.commit().await.expect("commit");
    codes
}
