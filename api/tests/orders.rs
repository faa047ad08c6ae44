//! Emission orders over HTTP, as a participant uses them: sign in with an EDS,
//! register a product, order codes with an `Idempotency-Key`, wait for
//! `READY`, fetch the codes page by page — and every refusal on the way, with
//! nothing stored. Runs on SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::eds::{self, KeyKind, TestCa};
use common::trade::{GTIN, OTHER_GTIN, product};
use common::{Db, TestApp};
use serde_json::{Value, json};
use tanba_core::crypto::{Keyring, SignatureStatus};

struct World {
    app: TestApp,
    ca: TestCa,
    admin: String,
    settings: tanba_api::settings::Settings,
}

async fn world(db: &Db) -> World {
    let (app, ca, settings, admin) = eds::spawn_with_admin(db).await;
    World {
        app,
        ca,
        admin,
        settings,
    }
}

/// A signed-in participant with `roles`, numbered `n` to keep BINs apart.
async fn participant(w: &World, n: u32, roles: &[&str]) -> String {
    let who = w.ca.issue_legal_entity(
        &eds::test_bin(n),
        &eds::test_iin(n),
        &format!("Қатысушы {n}"),
        &format!("ЖШС «Қатысушы {n}»"),
        KeyKind::EcP256,
    );
    eds::register_and_approve_participant(&w.app, &w.admin, &who, roles).await;
    eds::sign_in(&w.app, &who).await
}

async fn order(
    w: &World,
    token: Option<&str>,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value, bool) {
    let mut req = w.app.client.post(w.app.url("/v1/orders")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let replayed = resp.headers().contains_key("idempotent-replayed");
    (status, resp.json().await.expect("json"), replayed)
}

async fn wait_ready(w: &World, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = eds::call(
            &w.app,
            "GET",
            &format!("/v1/orders/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if body["status"] == "READY" {
            return body;
        }
        assert!(Instant::now() < deadline, "order not ready: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_every_database!(
    a_manufacturer_orders_codes_and_fetches_them_signed_and_unique,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = participant(&w, 1, &["manufacturer"]).await;
        let (status, body) = eds::call(
            &w.app,
            "POST",
            "/v1/products",
            Some(&maker),
            Some(&product(GTIN)),
        )
        .await;
        assert_eq!(status, 201, "{body}");

        let (status, created, _) = order(
            &w,
            Some(&maker),
            Some("order-1"),
            &json!({"gtin": GTIN, "quantity": 2500, "release_method": "production"}),
        )
        .await;
        assert_eq!(status, 202, "{created}");
        assert_eq!(created["status"], "CREATED");
        let id = created["id"].as_str().expect("id").to_owned();
        let ready = wait_ready(&w, &maker, &id).await;
        assert_eq!(ready["ready"], 2500);

        // Two pages of 2,000 and 500.
        let (status, first) = eds::call(
            &w.app,
            "GET",
            &format!("/v1/orders/{id}/codes?page=0&size=2000"),
            Some(&maker),
            None,
        )
        .await;
        assert_eq!(status, 200, "{first}");
        let (_, second) = eds::call(
            &w.app,
            "GET",
            &format!("/v1/orders/{id}/codes?page=1&size=2000"),
            Some(&maker),
            None,
        )
        .await;
        let mut codes: Vec<String> = first["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .chain(second["codes"].as_array().expect("codes"))
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        assert_eq!(codes.len(), 2500);

        // Every code parses, carries the ordered GTIN, and verifies against
        // the keyring the service publishes.
        let keys = w.app.get("/v1/keys").await.text().await.expect("keys");
        let ring = Keyring::from_json(&keys).expect("keyring");
        let parsed: Vec<_> = codes
            .iter()
            .map(|c| tanba_core::MarkingCode::parse(c).expect("a valid code"))
            .collect();
        assert!(parsed.iter().all(|c| c.gtin().as_str() == GTIN));
        assert!(
            ring.verify_batch(&parsed)
                .iter()
                .all(|s| *s == SignatureStatus::Valid)
        );
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 2500, "no code twice");

        // The order is in the audit log with who did it and from where.
        let log = eds::audit_entries(&w.settings).await;
        let entry = log
            .iter()
            .find(|e| e.action == "order.create")
            .expect("audited");
        assert_eq!(entry.object.as_deref(), Some(id.as_str()));
        assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
    }
);

on_every_database!(
    a_retried_order_returns_the_first_answer_and_orders_nothing_more,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = participant(&w, 2, &["manufacturer"]).await;
        eds::call(
            &w.app,
            "POST",
            "/v1/products",
            Some(&maker),
            Some(&product(GTIN)),
        )
        .await;
        let body = json!({"gtin": GTIN, "quantity": 10, "release_method": "production"});
        let (s1, first, replayed1) = order(&w, Some(&maker), Some("retry-me"), &body).await;
        let (s2, second, replayed2) = order(&w, Some(&maker), Some("retry-me"), &body).await;
        assert_eq!((s1, s2), (202, 202));
        assert!(!replayed1 && replayed2);
        assert_eq!(first, second);
        let log = eds::audit_entries(&w.settings).await;
        assert_eq!(log.iter().filter(|e| e.action == "order.create").count(), 1);

        // The same key for another request is refused, not answered with the first.
        let other = json!({"gtin": GTIN, "quantity": 11, "release_method": "production"});
        let (status, err, _) = order(&w, Some(&maker), Some("retry-me"), &other).await;
        assert_eq!(status, 422);
        assert_eq!(err["error"]["code"], "idempotency_key_reused");
    }
);

on_every_database!(
    bad_orders_are_refused_with_the_reason_and_nothing_is_stored,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = participant(&w, 3, &["manufacturer"]).await;
        let rival = participant(&w, 4, &["importer"]).await;
        let shop = participant(&w, 5, &["retailer"]).await;
        eds::call(
            &w.app,
            "POST",
            "/v1/products",
            Some(&maker),
            Some(&product(GTIN)),
        )
        .await;
        let good = json!({"gtin": GTIN, "quantity": 5, "release_method": "production"});

        // (token, Idempotency-Key, body, expected status, expected code)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Value, u16, &'a str);
        let cases: Vec<Case> = vec![
            (None, Some("k1"), good.clone(), 401, "unauthenticated"),
            (Some(&shop), Some("k2"), good.clone(), 403, "forbidden"),
            (Some(&w.admin), Some("k3"), good.clone(), 403, "forbidden"),
            (
                Some(&maker),
                None,
                good.clone(),
                400,
                "idempotency_key_required",
            ),
            (
                Some(&rival),
                Some("k4"),
                good.clone(),
                403,
                "order_foreign_gtin",
            ),
            (
                Some(&maker),
                Some("k5"),
                json!({"gtin": OTHER_GTIN, "quantity": 5, "release_method": "production"}),
                422,
                "order_unknown_gtin",
            ),
            (
                Some(&maker),
                Some("k6"),
                json!({"gtin": "04652352262008", "quantity": 5, "release_method": "production"}),
                400,
                "order_bad_gtin",
            ),
            (
                Some(&maker),
                Some("k7"),
                json!({"gtin": GTIN, "quantity": 0, "release_method": "production"}),
                400,
                "order_bad_quantity",
            ),
            (
                Some(&maker),
                Some("k8"),
                json!({"gtin": GTIN, "quantity": 2_000_001, "release_method": "production"}),
                400,
                "order_bad_quantity",
            ),
            (
                Some(&maker),
                Some("k9"),
                json!({"gtin": GTIN, "quantity": 5, "release_method": "barter"}),
                400,
                "order_bad_release_method",
            ),
            (
                Some(&maker),
                Some("k10"),
                json!({"gtin": GTIN}),
                400,
                "malformed_json",
            ),
        ];
        for (token, key, body, want_status, want_code) in cases {
            let (status, err, _) = order(&w, token, key, &body).await;
            assert_eq!(
                (status, err["error"]["code"].as_str()),
                (want_status, Some(want_code)),
                "{body}: {err}"
            );
            assert!(
                err["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.starts_with("error-")),
                "{err}"
            );
        }
        // Localized: the same refusal in Russian says something else.
        let kk = order(
            &w,
            Some(&maker),
            Some("k11"),
            &json!({"gtin": GTIN, "quantity": 0, "release_method": "production"}),
        )
        .await
        .1;
        let resp = w
            .app
            .client
            .post(w.app.url("/v1/orders?lang=ru"))
            .bearer_auth(&maker)
            .header("Idempotency-Key", "k12")
            .json(&json!({"gtin": GTIN, "quantity": 0, "release_method": "production"}))
            .send()
            .await
            .expect("sent");
        let ru: Value = resp.json().await.expect("json");
        assert_ne!(kk["error"]["message"], ru["error"]["message"]);

        // An oversized body is refused before it is read whole, in the same
        // shape and languages as every other error.
        let huge = json!({"gtin": GTIN, "quantity": 5, "release_method": "x".repeat(2 << 20)});
        let resp = w
            .app
            .client
            .post(w.app.url("/v1/orders?lang=ru"))
            .bearer_auth(&maker)
            .header("Idempotency-Key", "k13")
            .json(&huge)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 413);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "body_too_large");
        assert_eq!(
            body["error"]["message"],
            tanba_locales::text(tanba_locales::Lang::Ru, "error-body-too-large")
        );

        // Nothing was ordered.
        let log = eds::audit_entries(&w.settings).await;
        assert_eq!(log.iter().filter(|e| e.action == "order.create").count(), 0);
    }
);

on_every_database!(
    nobody_but_the_ordering_participant_sees_an_order_or_its_codes,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = participant(&w, 6, &["manufacturer"]).await;
        let other = participant(&w, 7, &["manufacturer"]).await;
        eds::call(
            &w.app,
            "POST",
            "/v1/products",
            Some(&maker),
            Some(&product(GTIN)),
        )
        .await;
        let (_, created, _) = order(
            &w,
            Some(&maker),
            Some("mine"),
            &json!({"gtin": GTIN, "quantity": 3, "release_method": "import"}),
        )
        .await;
        let id = created["id"].as_str().expect("id").to_owned();
        wait_ready(&w, &maker, &id).await;
        for path in [format!("/v1/orders/{id}"), format!("/v1/orders/{id}/codes")] {
            let (status, _) = eds::call(&w.app, "GET", &path, Some(&other), None).await;
            assert_eq!(status, 404, "{path}");
            let (status, _) = eds::call(&w.app, "GET", &path, None, None).await;
            assert_eq!(status, 401, "{path}");
            let (status, _) = eds::call(&w.app, "GET", &path, Some(&w.admin), None).await;
            assert_eq!(status, 403, "{path}");
        }
        let (status, body) = eds::call(
            &w.app,
            "GET",
            &format!("/v1/orders/{id}/codes?size=150001"),
            Some(&maker),
            None,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "order_bad_page");
    }
);
