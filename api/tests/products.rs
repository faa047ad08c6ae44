//! The product catalogue, black-box: participants signed in with their EDS
//! register GTINs with the fields of the product card; format-logical control
//! answers every mistake at once and stores nothing; GTINs belong to the
//! participant that registered them; every change is audited.

mod common;

use serde_json::{Value, json};
use tanba_api::settings::Settings;
use tanba_api::store::Store;

use common::eds::{
    KeyKind, TestCa, register_and_approve_participant, sign_in, spawn_with_admin, test_bin,
    test_iin,
};
use common::{Db, TestApp};

/// A GTIN-14 with a correct check digit: `04870000` and `n` on 5 digits.
fn gtin(n: u32) -> String {
    let body = format!("04870000{n:05}");
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The same GTIN with its check digit off by one.
fn gtin_with_bad_check_digit(n: u32) -> String {
    let good = gtin(n);
    let last = good.as_bytes()[13] - b'0';
    format!("{}{}", &good[..13], (last + 1) % 10)
}

/// A complete, valid card of a pack of cigarettes made in Kazakhstan.
fn card(gtin: &str) -> Value {
    json!({
        "gtin": gtin,
        "name_kk": "Темекі «Дала», 20 дана",
        "name_ru": "Сигареты «Дала», 20 штук",
        "product_group": "tobacco",
        "tnved": "2402209000",
        "manufacturer_name": "ТОО «Дала Тобакко»",
        "manufacturer_country": "KZ",
        "conformity": {"kind": "declaration", "number": "ЕАЭС N RU Д-KZ.АБ12.В.00123/24", "date": "2024-03-15"},
        "test_certificate": {"number": "KZ.T.02.0345", "date": "2024-02-01"},
        "recommended_price": 1250.5,
        "photo_url": "https://example.kz/dala.jpg"
    })
}

/// A signed-in participant of trade.
struct Participant {
    id: String,
    token: String,
}

struct World {
    app: TestApp,
    ca: TestCa,
    settings: Settings,
    admin: String,
}

impl World {
    async fn new(db: &Db) -> World {
        let (app, ca, settings, admin) = spawn_with_admin(db).await;
        World {
            app,
            ca,
            settings,
            admin,
        }
    }

    /// Registers participant number `n` with `roles`, approved and signed in.
    async fn participant(&self, n: u32, roles: &[&str]) -> Participant {
        let identity = self.ca.issue_legal_entity(
            &test_bin(n),
            &test_iin(n),
            "Асан Асанов",
            "ТОО Тест",
            KeyKind::Rsa,
        );
        let id = register_and_approve_participant(&self.app, &self.admin, &identity, roles).await;
        let token = sign_in(&self.app, &identity).await;
        Participant { id, token }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.app.client.request(method, self.app.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("a JSON body"))
    }

    async fn post(&self, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, "/v1/products", token, Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    async fn put(&self, gtin: &str, token: &str, body: &Value) -> (u16, Value) {
        let path = format!("/v1/products/{gtin}");
        self.send(reqwest::Method::PUT, &path, Some(token), Some(body))
            .await
    }

    /// The audit log's actions with their objects.
    async fn audit(&self) -> Vec<(String, Option<String>, String)> {
        let store = Store::connect(&self.settings).await.expect("store");
        let entries = store.audit_entries(0, 10_000).await.expect("audit");
        store.close().await;
        entries
            .into_iter()
            .map(|r| (r.action, r.object, r.outcome))
            .collect()
    }

    async fn products_of(&self, p: &Participant) -> Vec<Value> {
        let (status, body) = self.get("/v1/products", &p.token).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().expect("items").clone()
    }
}

on_every_database!(
    a_manufacturer_registers_a_product_and_reads_it_back,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(1, &["manufacturer"]).await;
        let g = gtin(1);
        let (status, created) = w.post(Some(&maker.token), &card(&g)).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["gtin"], g);
        assert_eq!(created["owner"], maker.id);
        assert_eq!(created["recommended_price"], "1250.50");
        assert_eq!(created["recommended_price_tiyn"], 125_050);
        assert_eq!(created["conformity"]["kind"], "declaration");

        let (status, read) = w
            .get(&format!("/v1/products/{g}?lang=ru"), &maker.token)
            .await;
        assert_eq!(status, 200, "{read}");
        for field in [
            "name_kk",
            "name_ru",
            "product_group",
            "tnved",
            "manufacturer_name",
            "manufacturer_country",
            "conformity",
            "test_certificate",
            "photo_url",
        ] {
            assert_eq!(read[field], card(&g)[field], "{field}");
        }
        assert_eq!(read["names"]["product_group"], "Табачные изделия");
        assert_eq!(read["names"]["manufacturer_country"], "Казахстан");
        assert_eq!(w.products_of(&maker).await.len(), 1);
        w.app.stop().await;
    }
);

on_every_database!(
    an_importer_registers_an_imported_product_with_its_bin,
    |db: Db| async move {
        let w = World::new(&db).await;
        let importer = w.participant(2, &["importer"]).await;
        let g = gtin(2);
        let mut body = card(&g);
        body["product_group"] = json!("footwear");
        body["tnved"] = json!("6404110000");
        body["manufacturer_name"] = json!("Anadolu Ayakkabı A.Ş.");
        body["manufacturer_country"] = json!("TR");
        body["importer_name"] = json!("ТОО «Тест Импорт»");
        body["importer_bin"] = json!(test_bin(2));
        body["conformity"]["kind"] = json!("certificate");
        body["recommended_price"] = json!("24990");
        let (status, created) = w.post(Some(&importer.token), &body).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["importer_bin"], test_bin(2));
        assert_eq!(created["recommended_price_tiyn"], 2_499_000);
        let (status, read) = w.get(&format!("/v1/products/{g}"), &importer.token).await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["names"]["manufacturer_country"], "Түркия");
        w.app.stop().await;
    }
);

on_every_database!(a_retailer_may_not_register_a_product, |db: Db| async move {
    let w = World::new(&db).await;
    let shop = w.participant(3, &["retailer"]).await;
    let (status, body) = w.post(Some(&shop.token), &card(&gtin(3))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(w.products_of(&shop).await.is_empty());
    w.app.stop().await;
});

on_every_database!(
    without_a_token_no_product_is_registered_or_read,
    |db: Db| async move {
        let w = World::new(&db).await;
        let (status, body) = w.post(None, &card(&gtin(4))).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthenticated");
        let (status, _) = w
            .send(reqwest::Method::GET, "/v1/products", None, None)
            .await;
        assert_eq!(status, 401);
        w.app.stop().await;
    }
);

on_every_database!(
    every_mistake_in_a_card_is_reported_at_once_and_nothing_is_stored,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(5, &["manufacturer"]).await;
        let mut body = card(&gtin_with_bad_check_digit(5));
        body["product_group"] = json!("spaceships");
        body["tnved"] = json!("6404110000");
        body["recommended_price"] = json!(-10);
        body.as_object_mut().expect("object").remove("name_ru");
        let resp = w
            .app
            .client
            .post(w.app.url("/v1/products?lang=ru"))
            .bearer_auth(&maker.token)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status().as_u16(), 400);
        let answer: Value = resp.json().await.expect("JSON");
        assert_eq!(answer["error"]["code"], "validation_failed", "{answer}");
        let details = answer["error"]["details"].as_array().expect("details");
        let found: Vec<(&str, &str)> = details
            .iter()
            .map(|d| {
                (
                    d["field"].as_str().expect("field"),
                    d["code"].as_str().expect("code"),
                )
            })
            .collect();
        for expected in [
            ("gtin", "gtin_check_digit"),
            ("name_ru", "required"),
            ("product_group", "unknown_product_group"),
            ("tnved", "tnved_not_in_group"),
            ("recommended_price", "not_positive"),
        ] {
            assert!(found.contains(&expected), "{expected:?} not in {found:?}");
        }
        assert_eq!(found.len(), 5, "{found:?}");
        // In the caller's language, and a message for each.
        let tnved = details
            .iter()
            .find(|d| d["field"] == "tnved")
            .expect("tnved");
        let message = tnved["message"].as_str().expect("message");
        assert!(
            message.contains("ТН ВЭД") && message.contains("footwear"),
            "{message}"
        );
        for d in details {
            let m = d["message"].as_str().expect("message");
            assert!(!m.is_empty() && !m.starts_with("field-"), "{d}");
        }

        assert!(w.products_of(&maker).await.is_empty());
        let audit = w.audit().await;
        assert!(
            !audit
                .iter()
                .any(|(action, _, _)| action.starts_with("product.")),
            "{audit:?}"
        );
        w.app.stop().await;
    }
);

on_every_database!(
    a_card_in_kazakh_names_each_broken_rule_in_kazakh,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(6, &["manufacturer"]).await;
        let mut body = card(&gtin(6));
        body["manufacturer_country"] = json!("XX");
        body["conformity"]["date"] = json!("2999-01-01");
        body["photo_url"] = json!("http://example.kz/a.jpg");
        body["importer_bin"] = json!("123456789012");
        body["colour"] = json!("red");
        let (status, answer) = w.post(Some(&maker.token), &body).await;
        assert_eq!(status, 400, "{answer}");
        let details = answer["error"]["details"].as_array().expect("details");
        let found: Vec<(&str, &str)> = details
            .iter()
            .map(|d| {
                (
                    d["field"].as_str().unwrap_or(""),
                    d["code"].as_str().unwrap_or(""),
                )
            })
            .collect();
        for expected in [
            ("colour", "unknown_field"),
            ("manufacturer_country", "unknown_country"),
            ("conformity.date", "date_in_future"),
            ("photo_url", "https_url"),
            ("importer_name", "both_or_neither"),
        ] {
            assert!(found.contains(&expected), "{expected:?} not in {found:?}");
        }
        assert!(
            found.iter().any(|(f, _)| *f == "importer_bin"),
            "the BIN is checked too: {found:?}"
        );
        let country = details
            .iter()
            .find(|d| d["field"] == "manufacturer_country")
            .expect("country");
        assert!(
            country["message"]
                .as_str()
                .expect("message")
                .contains("анықтамалықта жоқ"),
            "{country}"
        );
        w.app.stop().await;
    }
);

on_every_database!(
    a_gtin_registered_by_another_participant_is_refused,
    |db: Db| async move {
        let w = World::new(&db).await;
        let first = w.participant(7, &["manufacturer"]).await;
        let second = w.participant(8, &["manufacturer", "importer"]).await;
        let g = gtin(7);
        let (status, _) = w.post(Some(&first.token), &card(&g)).await;
        assert_eq!(status, 201);

        let mut claim = card(&g);
        claim["name_ru"] = json!("Чужие сигареты");
        let (status, body) = w.post(Some(&second.token), &claim).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "gtin_taken");
        let (status, body) = w.post(Some(&first.token), &claim).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "product_exists");

        let (_, read) = w.get(&format!("/v1/products/{g}"), &first.token).await;
        assert_eq!(read["name_ru"], card(&g)["name_ru"]);
        assert_eq!(read["owner"], first.id);
        assert!(w.products_of(&second).await.is_empty());
        let audit = w.audit().await;
        assert!(
            audit
                .iter()
                .any(|(action, object, outcome)| action == "product.create"
                    && object.as_deref() == Some(g.as_str())
                    && outcome == "refused:gtin_taken"),
            "{audit:?}"
        );
        w.app.stop().await;
    }
);

on_every_database!(
    another_participant_can_neither_read_nor_update_a_product_but_an_administrator_can_read_it,
    |db: Db| async move {
        let w = World::new(&db).await;
        let owner = w.participant(9, &["manufacturer"]).await;
        let other = w.participant(10, &["manufacturer"]).await;
        let g = gtin(9);
        w.post(Some(&owner.token), &card(&g)).await;
        let path = format!("/v1/products/{g}");

        let (status, body) = w.get(&path, &other.token).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "not_product_owner");
        let mut changed = card(&g);
        changed["recommended_price"] = json!(1);
        let (status, body) = w.put(&g, &other.token, &changed).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "not_product_owner");

        let (status, body) = w.get(&path, &w.admin).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["recommended_price"], "1250.50");
        w.app.stop().await;
    }
);

on_every_database!(
    the_owner_updates_a_product_and_every_change_is_audited,
    |db: Db| async move {
        let w = World::new(&db).await;
        let owner = w.participant(11, &["manufacturer"]).await;
        let g = gtin(11);
        let (status, _) = w.post(Some(&owner.token), &card(&g)).await;
        assert_eq!(status, 201);
        let mut changed = card(&g);
        changed["recommended_price"] = json!("1399.99");
        changed["name_kk"] = json!("Темекі «Дала Gold», 20 дана");
        let (status, body) = w.put(&g, &owner.token, &changed).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["recommended_price_tiyn"], 139_999);
        assert_eq!(body["name_kk"], "Темекі «Дала Gold», 20 дана");

        // A PUT with a broken card changes nothing.
        let mut broken = changed.clone();
        broken["recommended_price"] = json!(0);
        let (status, _) = w.put(&g, &owner.token, &broken).await;
        assert_eq!(status, 400);
        let (_, read) = w.get(&format!("/v1/products/{g}"), &owner.token).await;
        assert_eq!(read["recommended_price"], "1399.99");

        let store = Store::connect(&w.settings).await.expect("store");
        let entries = store.audit_entries(0, 10_000).await.expect("audit");
        store.close().await;
        let ours: Vec<_> = entries
            .iter()
            .filter(|r| r.object.as_deref() == Some(g.as_str()))
            .collect();
        let actions: Vec<&str> = ours.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["product.create", "product.update"]);
        assert!(
            ours.iter()
                .all(|r| r.actor.as_deref() == Some(owner.id.as_str()))
        );
        let detail: Value = serde_json::from_str(&ours[1].detail).expect("JSON detail");
        let changed_fields: Vec<&String> = detail["changed"]
            .as_object()
            .expect("changed")
            .keys()
            .collect();
        assert_eq!(changed_fields, ["name_kk", "recommended_price_tiyn"]);
        assert_eq!(store_verified(&w.settings).await, entries.len() as i64);
        w.app.stop().await;
    }
);

/// The audit chain holds.
async fn store_verified(settings: &Settings) -> i64 {
    let store = Store::connect(settings).await.expect("store");
    let n = store
        .verify_audit_chain()
        .await
        .expect("read")
        .expect("chain holds");
    store.close().await;
    n
}

on_every_database!(
    malformed_json_is_refused_and_nothing_is_stored,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(12, &["manufacturer"]).await;
        let resp = w
            .app
            .client
            .post(w.app.url("/v1/products"))
            .bearer_auth(&maker.token)
            .header("Content-Type", "application/json")
            .body(r#"{"gtin": "04870000000126", "name_kk": "#)
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status().as_u16(), 400);
        let body: Value = resp.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "malformed_json");
        let (status, body) = w.post(Some(&maker.token), &json!([1, 2, 3])).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["code"], "not_object");
        assert!(w.products_of(&maker).await.is_empty());
        w.app.stop().await;
    }
);

on_every_database!(
    an_oversized_body_is_refused_and_nothing_is_stored,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(13, &["manufacturer"]).await;
        let mut body = card(&gtin(13));
        body["name_ru"] = json!("я".repeat(w.settings.max_body_bytes));
        let (status, answer) = w.post(Some(&maker.token), &body).await;
        assert_eq!(status, 413, "{answer}");
        assert_eq!(answer["error"]["code"], "payload_too_large");
        assert!(w.products_of(&maker).await.is_empty());
        w.app.stop().await;
    }
);

on_every_database!(
    an_unknown_or_malformed_gtin_is_answered_clearly,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(14, &["manufacturer"]).await;
        let (status, body) = w
            .get(&format!("/v1/products/{}", gtin(14)), &maker.token)
            .await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "product_not_found");
        let (status, body) = w
            .get(
                &format!("/v1/products/{}", gtin_with_bad_check_digit(14)),
                &maker.token,
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_gtin");
        let (status, body) = w.put(&gtin(14), &maker.token, &card(&gtin(14))).await;
        assert_eq!(status, 404, "{body}");
        w.app.stop().await;
    }
);

on_every_database!(
    a_participant_pages_through_its_own_products,
    |db: Db| async move {
        let w = World::new(&db).await;
        let maker = w.participant(15, &["manufacturer"]).await;
        let other = w.participant(16, &["manufacturer"]).await;
        for n in [20, 21, 22] {
            let (status, body) = w.post(Some(&maker.token), &card(&gtin(n))).await;
            assert_eq!(status, 201, "{body}");
        }
        w.post(Some(&other.token), &card(&gtin(23))).await;

        let (status, page) = w.get("/v1/products?limit=2", &maker.token).await;
        assert_eq!(status, 200, "{page}");
        let first: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|p| p["gtin"].as_str())
            .collect();
        assert_eq!(first, [gtin(20), gtin(21)]);
        let next = page["next_after"].as_str().expect("a next page");
        let (_, page) = w
            .get(&format!("/v1/products?limit=2&after={next}"), &maker.token)
            .await;
        let second: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|p| p["gtin"].as_str())
            .collect();
        assert_eq!(second, [gtin(22)]);
        assert!(page["next_after"].is_null());

        let (status, body) = w.get("/v1/products?limit=0", &maker.token).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "limit");
        w.app.stop().await;
    }
);
