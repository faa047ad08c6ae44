//! The scaffolding of the document suites (`documents`,
//! `documents_streamed`): a service with an administrator and the tests'
//! CA, signed-in participants, a product with codes ordered and ready, and
//! the reads every suite makes (a document once settled, a scan, a code's
//! history).

use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::eds::{self, Identity, KeyKind, TestCa};
use super::{Db, TestApp};

/// The service with its administrator, the CA that issues participants'
/// certificates, and the settings the service runs on.
pub struct World {
    pub app: TestApp,
    pub ca: TestCa,
    pub admin: String,
    pub settings: tanba_api::settings::Settings,
}

pub async fn world(db: &Db) -> World {
    let (app, ca, settings, admin) = eds::spawn_with_admin(db).await;
    World {
        app,
        ca,
        admin,
        settings,
    }
}

/// A signed-in participant.
pub struct Party {
    pub identity: Identity,
    pub token: String,
    pub bin: String,
}

pub async fn party(w: &World, n: u32, roles: &[&str]) -> Party {
    let identity = w.ca.issue_legal_entity(
        &eds::test_bin(n),
        &eds::test_iin(n),
        &format!("Қатысушы {n}"),
        &format!("ЖШС «Қатысушы {n}»"),
        KeyKind::EcP256,
    );
    eds::register_and_approve_participant(&w.app, &w.admin, &identity, roles).await;
    let token = eds::sign_in(&w.app, &identity).await;
    Party {
        bin: identity.taxpayer_id(),
        identity,
        token,
    }
}

pub fn product(gtin: &str) -> Value {
    json!({
        "gtin": gtin,
        "name_kk": "Темекі «Дала», 20 дана",
        "name_ru": "Сигареты «Дала», 20 штук",
        "product_group": "tobacco",
        "tnved": "2402209000",
        "manufacturer_name": "ТОО «Дала Тобакко»",
        "manufacturer_country": "KZ",
        "conformity": {"kind": "declaration", "number": "ЕАЭС N RU Д-KZ.АБ12.В.00123/24", "date": "2024-03-15"},
        "recommended_price": 1250.5
    })
}

pub const GTIN: &str = "04652352262009";
pub const OTHER_GTIN: &str = "04621827345578";

/// Registers `gtin` for `who`, orders `quantity` codes and returns them
/// (element strings), once they are ready.
pub async fn codes(w: &World, who: &Party, gtin: &str, quantity: u32) -> Vec<String> {
    let (status, body) = eds::call(
        &w.app,
        "POST",
        "/v1/products",
        Some(&who.token),
        Some(&product(gtin)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let resp = w
        .app
        .client
        .post(w.app.url("/v1/orders"))
        .bearer_auth(&who.token)
        .header("Idempotency-Key", format!("order-{gtin}"))
        .json(&json!({"gtin": gtin, "quantity": quantity, "release_method": "production"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 202);
    let order: Value = resp.json().await.expect("json");
    let id = order["id"].as_str().expect("id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = get(&w.app, &who.token, &format!("/v1/orders/{id}")).await;
        if body["status"] == "READY" {
            break;
        }
        assert!(Instant::now() < deadline, "order not ready: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, page) = get(&w.app, &who.token, &format!("/v1/orders/{id}/codes")).await;
    page["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect()
}

/// The document once the worker has done with it.
pub async fn settled(w: &World, token: &str, id: &str, lang: &str) -> Value {
    settled_within(w, token, id, lang, Duration::from_secs(30)).await
}

/// [`settled`], for a document that may take up to `limit`.
pub async fn settled_within(
    w: &World,
    token: &str,
    id: &str,
    lang: &str,
    limit: Duration,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = get(&w.app, token, &format!("/v1/documents/{id}?lang={lang}")).await;
        assert_eq!(status, 200, "{body}");
        if body["status"] != "IN_PROGRESS" {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "document still in progress: {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A code percent-encoded for a path.
pub fn encoded(code: &str) -> String {
    utf8_percent_encode(code, NON_ALPHANUMERIC).to_string()
}

/// The scan's status and verdict of a code.
pub async fn scan(app: &TestApp, code: &str) -> (String, String) {
    let (status, body) = app.get_json(&format!("/v1/codes/{}", encoded(code))).await;
    assert_eq!(status, 200, "{body}");
    (
        body["status"].as_str().unwrap_or("null").to_owned(),
        body["verdict"].as_str().expect("verdict").to_owned(),
    )
}

/// `GET /v1/codes/{code}/history{query}` as the holder of `token`.
pub async fn history(w: &World, token: &str, code: &str, query: &str) -> (u16, Value) {
    get(
        &w.app,
        token,
        &format!("/v1/codes/{}/history{query}", encoded(code)),
    )
    .await
}

/// `POST path` with an empty JSON object and `key` as its
/// `Idempotency-Key` (an acceptance, a rejection, a cancellation).
pub async fn post(w: &World, token: &str, path: &str, key: &str) -> (u16, Value) {
    let resp = w
        .app
        .client
        .post(w.app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// `who` accepts shipment `id` ([`post`] with `key`); the status and answer.
pub async fn accept(w: &World, who: &Party, id: &str, key: &str) -> (u16, Value) {
    post(w, &who.token, &format!("/v1/documents/{id}/accept"), key).await
}

/// An introduction of `codes` from local production.
pub fn production(codes: &[&String]) -> Value {
    json!({
        "kind": "introduction",
        "codes": codes,
        "release_method": "production",
        "production_date": "2026-01-15",
        "conformity": {"kind": "declaration", "number": "ЕАЭС N RU Д-KZ.АБ12.В.00123/24", "date": "2024-03-15"},
    })
}

/// The operations of a history answer, oldest first.
pub fn operations(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["operation"].as_str().expect("operation").to_owned())
        .collect()
}

/// `GET path` as the holder of `token`.
pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    eds::call(app, "GET", path, Some(token), None).await
}
