//! The public scan, black-box: `GET /v1/codes/{code}` and the GS1 Digital
//! Link page, on both databases, with the in-process cache, with Redis (when
//! `TANBA_TEST_REDIS_URL` is set) and with Redis unreachable; every scan
//! recorded behind the answer; the `suspected_clone` verdict; a product's
//! change seen by the next scan.
//!
//! Codes are put into their statuses through the store's
//! `apply_operations` (the lifecycle rules), as the demo does: the document
//! flow that will move them over HTTP is issue 5.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Db, TestApp};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use tanba_api::ids::{OrderId, ParticipantId};
use tanba_api::settings::Settings;
use tanba_api::store::{Conformity, ConformityKind, EventSource, ProductCard, Store};
use tanba_core::crypto::EmissionKey;
use tanba_core::lifecycle::{Operation as Op, WithdrawalReason, WriteOffReason};
use tanba_core::{Gtin, MarkingCode, Serial};

/// A product whose names would run script if a page did not escape them.
fn hostile_product() -> ProductCard {
    ProductCard {
        gtin: Gtin::parse("04652352262009").expect("gtin"),
        name_kk: "<script>alert('kk')</script> Сүт & «Дала»".to_owned(),
        name_ru: "<img src=x onerror=alert(1)> Молоко \"Дала\"".to_owned(),
        product_group: "dairy".to_owned(),
        tnved: "0401201100".to_owned(),
        manufacturer_name: "ТОО <b>Сүт</b>".to_owned(),
        manufacturer_country: "KZ".to_owned(),
        importer_name: None,
        importer_bin: None,
        conformity: Conformity {
            kind: ConformityKind::Declaration,
            number: "ЕАЭС N KZ Д-TEST.00001".to_owned(),
            date: "2025-03-01".to_owned(),
        },
        test_certificate: None,
        recommended_price_tiyn: 65_050,
        photo_url: None,
    }
}

/// Stored codes by the verdict they must get, and codes that are not stored.
struct Seeded {
    app: TestApp,
    key: EmissionKey,
    owner: ParticipantId,
    order: OrderId,
    /// verdict → code, for stored codes (several may share a verdict).
    stored: Vec<(&'static str, MarkingCode)>,
}

impl Seeded {
    fn code(&self, label: &str) -> &MarkingCode {
        &self
            .stored
            .iter()
            .find(|(l, _)| *l == label)
            .expect("seeded label")
            .1
    }

    /// A real serial with another code's tail.
    fn forged(&self) -> MarkingCode {
        let genuine = self.code("genuine");
        let other = self.code("sold");
        MarkingCode::new(genuine.gtin().clone(), genuine.serial().clone()).with_crypto(
            genuine.key_id().expect("key").clone(),
            other.crypto_tail().expect("tail").clone(),
        )
    }

    /// Signed by the operator, never stored.
    fn unknown(&self, gtin: &str) -> MarkingCode {
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::from_entropy();
        self.key.sign(MarkingCode::new(
            Gtin::parse(gtin).expect("gtin"),
            Serial::generate(&mut rng),
        ))
    }
}

async fn seeded(settings: Settings) -> Seeded {
    let app = TestApp::spawn(settings.clone()).await;
    let (key, owner, order, stored) = seed_store(&settings).await;
    Seeded {
        app,
        key,
        owner,
        order,
        stored,
    }
}

/// Writes the hostile product and its codes, each brought to its status
/// through the lifecycle.
async fn seed_store(
    settings: &Settings,
) -> (
    EmissionKey,
    ParticipantId,
    OrderId,
    Vec<(&'static str, MarkingCode)>,
) {
    let store = Store::connect(settings).await.expect("store");
    let key = tanba_api::keys::load_or_generate(&settings.emission_key_file, false).expect("key");
    let owner = ParticipantId::new();
    let order = OrderId::new();
    let product = hostile_product();
    let plans: Vec<(&'static str, Vec<Op>)> = vec![
        ("genuine", vec![Op::Apply, Op::Introduce]),
        (
            "sold",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Withdraw(WithdrawalReason::Retail),
            ],
        ),
        (
            "sold",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Withdraw(WithdrawalReason::Distance),
            ],
        ),
        ("blocked", vec![Op::Apply, Op::Introduce, Op::Block]),
        ("not_in_circulation", vec![]),
        ("not_in_circulation", vec![Op::Apply]),
        (
            "not_in_circulation",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Withdraw(WithdrawalReason::EecExport),
            ],
        ),
        (
            "written_off",
            vec![Op::Apply, Op::WriteOff(WriteOffReason::KmSpoiled)],
        ),
        ("written_off", vec![Op::WriteOff(WriteOffReason::KmLost)]),
        // Blocked wins over the status, even a sold one (confiscation is
        // the one withdrawal a blocked code allows).
        (
            "blocked",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Block,
                Op::Withdraw(WithdrawalReason::Confiscation),
            ],
        ),
        // Sold, then brought back by a retail return: in circulation again.
        (
            "genuine",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Withdraw(WithdrawalReason::Retail),
                Op::Return,
            ],
        ),
    ];
    let codes = tanba_api::emission::sign_new(&key, &product.gtin, plans.len());
    let mut tx = store.begin().await.expect("tx");
    tx.create_product(owner, &product)
        .await
        .expect("product")
        .expect("new product");
    tx.insert_emitted(&codes, owner, order, 1_764_000_000)
        .await
        .expect("codes");
    let mut stored = Vec::new();
    for (code, (label, ops)) in codes.into_iter().zip(plans) {
        tx.apply_operations(code.gtin(), code.serial(), &ops, &EventSource::demo(), None)
            .await
            .expect("stored")
            .expect("allowed by the lifecycle");
        stored.push((label, code));
    }
    tx.commit().await.expect("commit");
    store.close().await;
    (key, owner, order, stored)
}

/// Today in Kazakhstan (UTC+5): the seeding's events happen now.
fn today() -> String {
    time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+5))
        .date()
        .to_string()
}

on_every_database!(
    the_life_line_shows_when_the_code_entered_circulation_and_was_sold,
    |db: Db| async move {
        let s = seeded(db.settings()).await;
        let life = |body: &Value| body["life"].clone();
        let (_, genuine) = scan(&s.app, &s.code("genuine").element_string(), "kk").await;
        assert_eq!(
            life(&genuine),
            serde_json::json!({"emitted": "2025-11-24", "introduced": today(), "sold": null})
        );
        let (_, sold) = scan(&s.app, &s.code("sold").element_string(), "kk").await;
        assert_eq!(
            life(&sold),
            serde_json::json!({"emitted": "2025-11-24", "introduced": today(), "sold": today()})
        );
        let returned = &s
            .stored
            .iter()
            .rev()
            .find(|(l, _)| *l == "genuine")
            .expect("returned")
            .1;
        let (_, returned) = scan(&s.app, &returned.element_string(), "kk").await;
        assert_eq!(returned["verdict"], "genuine");
        assert_eq!(
            returned["life"]["sold"],
            Value::Null,
            "a return clears the sale"
        );
        let (_, applied) = scan(&s.app, &s.code("not_in_circulation").element_string(), "kk").await;
        assert_eq!(applied["life"]["introduced"], Value::Null);
        s.app.stop().await;
    }
);

fn encoded(input: &str) -> String {
    utf8_percent_encode(input, NON_ALPHANUMERIC).to_string()
}

async fn scan(app: &TestApp, input: &str, lang: &str) -> (u16, Value) {
    app.get_json(&format!("/v1/codes/{}?lang={lang}", encoded(input)))
        .await
}

/// Scans every seeded code (and a forged and an unknown one) in both
/// languages and checks verdict, texts and privacy.
async fn every_verdict_is_right(s: &Seeded) {
    let mut cases: Vec<(&str, MarkingCode)> = s.stored.clone();
    cases.push(("invalid_signature", s.forged()));
    cases.push(("not_found", s.unknown("04652352262009")));
    // A GTIN no one registered: signed by the operator yet not stored.
    cases.push(("not_found", s.unknown("04600000000008")));
    let mut texts: BTreeMap<&str, (String, String)> = BTreeMap::new();
    for (expected, code) in &cases {
        let input = code.element_string();
        let (status_kk, kk) = scan(&s.app, &input, "kk").await;
        let (status_ru, ru) = scan(&s.app, &input, "ru").await;
        assert_eq!((status_kk, status_ru), (200, 200), "{kk} {ru}");
        assert_eq!(kk["verdict"], *expected, "{code:?}: {kk}");
        assert_eq!(ru["verdict"], *expected, "{code:?}: {ru}");
        let (tk, tr) = (
            kk["verdict_text"].as_str().expect("text").to_owned(),
            ru["verdict_text"].as_str().expect("text").to_owned(),
        );
        assert!(!tk.is_empty() && tk != tr, "{expected}: {tk} / {tr}");
        let key = format!("scan-verdict-{}", expected.replace('_', "-"));
        assert_eq!(tk, tanba_locales::text(tanba_locales::Lang::Kk, &key));
        assert_eq!(tr, tanba_locales::text(tanba_locales::Lang::Ru, &key));
        texts.insert(expected, (tk, tr));

        // No participant's private data, whatever the verdict.
        let body = format!("{kk}{ru}");
        for private in [s.owner.to_string(), s.order.to_string()] {
            assert!(!body.contains(&private), "{body}");
        }
        assert!(
            !body.contains("owner") && !body.contains("order_id"),
            "{body}"
        );
    }
    assert_eq!(
        texts.len(),
        7,
        "every verdict but suspected_clone: {texts:?}"
    );
}

on_every_database!(
    every_verdict_has_its_own_text_in_kazakh_and_in_russian,
    |db: Db| async move {
        let s = seeded(db.settings()).await;
        every_verdict_is_right(&s).await;
        // A second round is served from the cache and says the same.
        every_verdict_is_right(&s).await;

        let (_, genuine) = scan(&s.app, &s.code("genuine").element_string(), "ru").await;
        assert_eq!(genuine["status"], "INTRODUCED");
        assert_eq!(genuine["signature"], "valid");
        assert_eq!(
            genuine["product"]["product_group"]["name"],
            "Молочная продукция"
        );
        assert_eq!(genuine["product"]["country"]["name"], "Казахстан");
        assert_eq!(genuine["product"]["recommended_price"]["tiyn"], 65_050);
        assert_eq!(genuine["product"]["customs_declaration"], Value::Null);
        assert_eq!(genuine["life"]["emitted"], "2025-11-24");
        let (_, forged) = scan(&s.app, &s.forged().element_string(), "ru").await;
        assert_eq!(
            forged["product"],
            Value::Null,
            "a forged label shows no card"
        );
        s.app.stop().await;
    }
);

on_every_database!(
    a_code_in_any_form_gets_the_same_answer,
    |db: Db| async move {
        let s = seeded(db.settings()).await;
        let code = s.code("sold");
        let raw = code.element_string();
        let forms = [
            raw.clone(),
            format!("]d2{raw}"),
            format!("\u{1d}{raw}\n"),
            code.human_readable(),
            code.digital_link("https://id.tanba.kz"),
            code.digital_link("http://example.com/some/prefix"),
        ];
        let mut answers = Vec::new();
        for form in &forms {
            let (status, body) = scan(&s.app, form, "kk").await;
            assert_eq!(status, 200, "{form:?}: {body}");
            answers.push(body);
        }
        // Already percent-encoded once more by a careless client: the
        // Digital Link's own escapes survive.
        let (status, body) = s
            .app
            .get_json(&format!(
                "/v1/codes/{}",
                encoded(&code.digital_link("https://id.tanba.kz"))
            ))
            .await;
        assert_eq!(status, 200);
        answers.push(body);
        for a in &answers {
            assert_eq!(a, &answers[0]);
        }
        assert_eq!(answers[0]["verdict"], "sold");
        assert_eq!(answers[0]["code"]["canonical"], raw);
        s.app.stop().await;
    }
);

on_every_database!(
    bad_input_gets_a_localized_reason_never_a_server_error,
    |db: Db| async move {
        let s = seeded(db.settings()).await;
        let too_long = "0".repeat(3117);
        for (input, parse_code) in [
            ("hello", "expected_ai"),
            ("(01)04652352262008(21)abcdefghijklm", "bad_check_digit"),
            ("(01)04652352262009(21)short", "bad_serial_length"),
            (too_long.as_str(), "too_long"),
            ("", "empty"),
        ] {
            let path = format!("/v1/codes/{}", encoded(input));
            let (kk_status, kk) = s.app.get_json(&format!("{path}?lang=kk")).await;
            let (ru_status, ru) = s.app.get_json(&format!("{path}?lang=ru")).await;
            assert_eq!((kk_status, ru_status), (400, 400), "{input:.40}: {kk}");
            assert_eq!(kk["error"]["code"], "code_malformed");
            assert_eq!(kk["error"]["parse_error"]["code"], parse_code, "{kk}");
            assert_ne!(kk["error"]["message"], ru["error"]["message"]);
            assert!(!kk["error"]["message"].as_str().expect("message").is_empty());
        }
        let (status, sscc) = scan(&s.app, "(00)046523520000000014", "ru").await;
        assert_eq!(status, 400, "{sscc}");
        assert_eq!(sscc["error"]["code"], "code_not_a_unit");
        assert!(
            sscc["error"]["message"]
                .as_str()
                .expect("message")
                .contains("SSCC")
        );

        // A made-up tail, an unknown key id, no tail at all: verdicts.
        let genuine = s.code("genuine");
        let stranger = s.unknown("04600000000008");
        let cases = [
            (
                format!("(01)04600000000008(21){}", stranger.serial()),
                "invalid_signature",
            ),
            (
                format!(
                    "(01)04600000000008(21){}(91)ZZ99(92){}",
                    stranger.serial(),
                    stranger.crypto_tail().expect("tail")
                ),
                "invalid_signature",
            ),
            (s.forged().human_readable(), "invalid_signature"),
            // A stored code scanned without its tail is judged by its status.
            (
                format!("(01){}(21){}", genuine.gtin(), genuine.serial()),
                "genuine",
            ),
        ];
        for (input, verdict) in cases {
            let (status, body) = scan(&s.app, &input, "kk").await;
            assert_eq!(status, 200, "{input}: {body}");
            assert_eq!(body["verdict"], verdict, "{input}: {body}");
        }
        s.app.stop().await;
    }
);

on_every_database!(
    the_digital_link_page_shows_the_card_in_both_languages_and_escapes_hostile_text,
    |db: Db| async move {
        let s = seeded(db.settings()).await;
        let link = s.code("genuine").digital_link(&s.app.base);
        let page = |lang: &'static str| {
            let client = s.app.client.clone();
            let link = link.clone();
            async move {
                let resp = client
                    .get(format!("{link}&lang={lang}"))
                    .header("Accept", "text/html")
                    .send()
                    .await
                    .expect("page");
                assert_eq!(resp.status().as_u16(), 200);
                assert!(
                    resp.headers()["content-type"]
                        .to_str()
                        .expect("type")
                        .starts_with("text/html")
                );
                resp.text().await.expect("html")
            }
        };
        let kk = page("kk").await;
        let ru = page("ru").await;
        use tanba_locales::{Lang, text};
        assert!(kk.contains(&text(Lang::Kk, "scan-verdict-genuine")));
        assert!(ru.contains(&text(Lang::Ru, "scan-verdict-genuine")));
        assert!(kk.contains("<html lang=\"kk\">") && ru.contains("<html lang=\"ru\">"));
        assert!(kk.contains("class=\"verdict ok\""));
        // The switch leads to the same code in the other language.
        assert!(kk.contains("lang=ru\" hreflang=\"ru\""), "{kk}");
        assert!(ru.contains("lang=kk\" hreflang=\"kk\""), "{ru}");
        assert!(ru.contains(&text(Lang::Ru, "scan-label-manufacturer")));
        // Hostile names are shown as text, never as markup.
        assert!(kk.contains("&lt;script&gt;alert(&#39;kk&#39;)&lt;/script&gt; Сүт &amp; «Дала»"));
        assert!(ru.contains("&lt;img src=x onerror=alert(1)&gt; Молоко &quot;Дала&quot;"));
        assert!(kk.contains("ТОО &lt;b&gt;Сүт&lt;/b&gt;"));
        for html in [&kk, &ru] {
            assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>"));
        }

        // A sold code: a red banner.
        let sold = s
            .app
            .client
            .get(s.code("sold").digital_link(&s.app.base))
            .send()
            .await
            .expect("page");
        let sold = sold.text().await.expect("html");
        assert!(sold.contains("class=\"verdict bad\"") && sold.contains("data-verdict=\"sold\""));

        // JSON when asked for, the same answer as /v1/codes.
        let json: Value = s
            .app
            .client
            .get(format!("{link}&lang=ru"))
            .header("Accept", "application/json")
            .send()
            .await
            .expect("json")
            .json()
            .await
            .expect("a JSON body");
        let (_, direct) = scan(&s.app, &s.code("genuine").element_string(), "ru").await;
        assert_eq!(json, direct);

        // A malformed link: a localized page, not a crash.
        let bad = s
            .app
            .client
            .get(format!(
                "{}/01/04652352262008/21/abcdefghijklm?lang=ru",
                s.app.base
            ))
            .send()
            .await
            .expect("page");
        assert_eq!(bad.status().as_u16(), 400);
        assert!(
            bad.text()
                .await
                .expect("html")
                .contains("class=\"verdict bad\"")
        );
        s.app.stop().await;
    }
);

on_every_database!(
    with_redis_unreachable_a_scan_still_answers_from_the_database,
    |db: Db| async move {
        let mut settings = db.settings();
        // Nothing listens on port 1.
        settings.redis_url = Some("redis://127.0.0.1:1".to_owned());
        let s = seeded(settings).await;
        every_verdict_is_right(&s).await;
        every_verdict_is_right(&s).await;
        s.app.stop().await;
    }
);

on_every_database!(with_redis_the_answers_are_the_same, |db: Db| async move {
    let Ok(url) = std::env::var("TANBA_TEST_REDIS_URL") else {
        eprintln!("skipped: TANBA_TEST_REDIS_URL is not set");
        return;
    };
    let mut settings = db.settings();
    settings.redis_url = Some(url);
    settings.redis_prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let s = seeded(settings).await;
    every_verdict_is_right(&s).await;
    every_verdict_is_right(&s).await;
    s.app.stop().await;
});

on_every_database!(
    a_second_scan_is_a_cache_hit_and_a_status_change_shows_after_invalidate,
    |db: Db| async move {
        let settings = db.settings();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let app = tanba_api::startup::Application::build_on(settings.clone(), listener)
            .await
            .expect("app");
        let base = format!("http://{}", app.addr());
        let cards = app.cards();
        let server = app.handle();
        let running = tokio::spawn(app.run_until_stopped());
        let (_key, _owner, _order, stored) = seed_store(&settings).await;
        let code = &stored[0].1;
        let url = format!("{base}/v1/codes/{}", encoded(&code.element_string()));
        let get = || async {
            reqwest::get(&url)
                .await
                .expect("scan")
                .json::<Value>()
                .await
                .expect("json")
        };
        assert_eq!(get().await["verdict"], "genuine");
        let before = cards.stats();
        assert_eq!(get().await["verdict"], "genuine");
        let after = cards.stats();
        assert_eq!(after.code_loads, before.code_loads, "served from the cache");
        assert_eq!(after.hits, before.hits + 1);

        // A sale, committed, then the card invalidated: the next scan sees it.
        let store = Store::connect(&settings).await.expect("store");
        let mut tx = store.begin().await.expect("tx");
        tx.apply_operations(
            code.gtin(),
            code.serial(),
            &[Op::Withdraw(WithdrawalReason::Retail)],
            &EventSource::demo(),
            None,
        )
        .await
        .expect("stored")
        .expect("allowed");
        tx.commit().await.expect("commit");
        assert_eq!(get().await["verdict"], "genuine", "still cached");
        cards.invalidate(&code.identity()).await;
        assert_eq!(get().await["verdict"], "sold");
        assert_eq!(cards.stats().code_loads, after.code_loads + 1);

        // A refused transition writes nothing.
        let mut tx = store.begin().await.expect("tx");
        let refused = tx
            .apply_operations(
                code.gtin(),
                code.serial(),
                &[Op::Apply],
                &EventSource::demo(),
                None,
            )
            .await
            .expect("stored");
        assert!(refused.is_err(), "{refused:?}");
        drop(tx);
        store.close().await;
        server.stop(true).await;
        running.await.expect("task").expect("stopped");
    }
);

on_every_database!(
    accept_language_chooses_the_language_and_kazakh_is_the_default,
    |db: Db| async move {
        let s = seeded(db.settings()).await;
        let url = s.app.url(&format!(
            "/v1/codes/{}",
            encoded(&s.code("genuine").element_string())
        ));
        let answer = |accept: Option<&'static str>| {
            let mut request = s.app.client.get(&url);
            if let Some(accept) = accept {
                request = request.header("Accept-Language", accept);
            }
            async move {
                let resp = request.send().await.expect("scan");
                let language = resp.headers()["content-language"]
                    .to_str()
                    .expect("header")
                    .to_owned();
                let body: Value = resp.json().await.expect("json");
                (language, body["lang"].clone())
            }
        };
        assert_eq!(answer(None).await, ("kk".to_owned(), Value::from("kk")));
        assert_eq!(
            answer(Some("ru-RU,ru;q=0.9,en;q=0.8")).await,
            ("ru".to_owned(), Value::from("ru"))
        );
        assert_eq!(
            answer(Some("en-US")).await,
            ("kk".to_owned(), Value::from("kk"))
        );
        s.app.stop().await;
    }
);

on_every_database!(
    a_code_signed_by_a_key_rotated_in_after_start_is_checked,
    |db: Db| async move {
        let settings = db.settings();
        let s = seeded(settings.clone()).await;
        // Another instance registers a new key after this one started.
        let new_key = tanba_api::keys::generate(tanba_core::KeyId::parse("RT02").expect("id"));
        let store = Store::connect(&settings).await.expect("store");
        store
            .register_emission_key(&new_key.public().entry())
            .await
            .expect("registered");
        store.close().await;
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::from_entropy();
        let code = new_key.sign(MarkingCode::new(
            Gtin::parse("04652352262009").expect("gtin"),
            Serial::generate(&mut rng),
        ));
        // Keys are reloaded at most once a second.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (_, body) = scan(&s.app, &code.element_string(), "kk").await;
        assert_eq!(body["verdict"], "not_found", "{body}");
        assert_eq!(body["signature"], "valid");
        s.app.stop().await;
    }
);

on_every_database!(the_answer_keeps_its_wire_format, |db: Db| async move {
    let s = seeded(db.settings()).await;
    let (_, mut answer) = scan(&s.app, &s.code("genuine").element_string(), "ru").await;
    for field in ["serial", "canonical", "human_readable"] {
        answer["code"][field] = Value::from("…");
    }
    let expected = serde_json::json!({
        "verdict": "genuine",
        "verdict_text": "Подлинный: код зарегистрирован в системе Таңба, товар в законном обороте.",
        "suspicion": null,
        "signature": "valid",
        "status": "INTRODUCED",
        "status_text": "В обороте",
        "blocked": false,
        "code": {
            "gtin": "04652352262009",
            "serial": "…",
            "canonical": "…",
            "human_readable": "…"
        },
        "product": {
            "name": "<img src=x onerror=alert(1)> Молоко \"Дала\"",
            "product_group": {"code": "dairy", "name": "Молочная продукция"},
            "tnved": "0401201100",
            "manufacturer": "ТОО <b>Сүт</b>",
            "country": {"code": "KZ", "name": "Казахстан"},
            "importer": null,
            "customs_declaration": null,
            "production_place": null,
            "production_date": null,
            "conformity": {
                "kind": "declaration",
                "kind_text": "Декларация о соответствии",
                "number": "ЕАЭС N KZ Д-TEST.00001",
                "date": "2025-03-01"
            },
            "test_certificate": null,
            "recommended_price": {"tiyn": 65050, "text": "650.50 тенге"},
            "photo_url": null
        },
        "life": {"emitted": "2025-11-24", "introduced": today(), "sold": null},
        "lang": "ru"
    });
    assert_eq!(answer, expected, "{answer:#}");
    s.app.stop().await;
});

// ---------------------------------------------------------------------------
// Where and why a scan happens: `lat`, `lon`, `context`.

/// Almaty, with more digits than are kept: stored as 43.24, 76.95.
const ALMATY: (f64, f64) = (43.23871, 76.94559);
/// About 2 km from `ALMATY`: the same place for the clone rule.
const ALMATY_TOO: (f64, f64) = (43.25, 76.93);
/// Astana, about 970 km from Almaty.
const ASTANA: (f64, f64) = (51.16, 71.47);

/// `GET /v1/codes/{code}` with a place and a context.
async fn scan_with(
    app: &TestApp,
    code: &MarkingCode,
    place: Option<(f64, f64)>,
    context: Option<&str>,
    lang: &str,
) -> (u16, Value) {
    let mut query = format!("lang={lang}");
    if let Some((lat, lon)) = place {
        query.push_str(&format!("&lat={lat}&lon={lon}"));
    }
    if let Some(context) = context {
        query.push_str(&format!("&context={context}"));
    }
    app.get_json(&format!(
        "/v1/codes/{}?{query}",
        encoded(&code.element_string())
    ))
    .await
}

/// The verdict of a scan that must be answered.
async fn verdict_at(
    app: &TestApp,
    code: &MarkingCode,
    place: Option<(f64, f64)>,
    context: Option<&str>,
) -> String {
    let (status, body) = scan_with(app, code, place, context, "kk").await;
    assert_eq!(status, 200, "{body}");
    body["verdict"].as_str().expect("verdict").to_owned()
}

/// The recorded scans of a code, once at least `n` of them are written
/// (the recorder writes behind the answer).
async fn recorded(
    settings: &Settings,
    code: &MarkingCode,
    n: usize,
) -> Vec<tanba_api::store::RecordedScan> {
    let store = Store::connect(settings).await.expect("store");
    let store_ref = &store;
    let rows = common::eventually("scans recorded", Duration::from_secs(15), || async move {
        let rows = store_ref
            .recent_scans(code.gtin(), code.serial(), i64::MAX)
            .await
            .expect("scans");
        let mut rows = rows;
        rows.reverse();
        (rows.len() >= n).then_some(rows)
    })
    .await;
    store.close().await;
    rows
}

on_every_database!(
    every_scan_of_a_parsable_code_is_recorded_behind_the_answer,
    |db: Db| async move {
        let settings = db.settings();
        let s = seeded(settings.clone()).await;
        let genuine = s.code("genuine").clone();
        let sold = s.code("sold").clone();
        let unknown = s.unknown("04652352262009");

        // The app, with a place given to more digits than are kept.
        assert_eq!(
            verdict_at(&s.app, &genuine, Some(ALMATY), None).await,
            "genuine"
        );
        // The Digital Link page (JSON here), in context `check`.
        let link = format!(
            "{}&context=check&lat=43.24&lon=76.95",
            genuine.digital_link(&s.app.base)
        );
        let web: Value = s
            .app
            .client
            .get(&link)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("json");
        assert_eq!(web["verdict"], "genuine", "{web}");
        // Forged, sold in a shop, unknown: recorded with their verdicts.
        let (_, forged) = scan(&s.app, &s.forged().element_string(), "kk").await;
        assert_eq!(forged["verdict"], "invalid_signature");
        assert_eq!(
            verdict_at(&s.app, &sold, None, Some("shop")).await,
            "suspected_clone"
        );
        assert_eq!(verdict_at(&s.app, &unknown, None, None).await, "not_found");
        // Not codes of a unit: answered, never recorded.
        assert_eq!(scan(&s.app, "hello", "kk").await.0, 400);
        assert_eq!(scan(&s.app, "(00)046523520000000014", "kk").await.0, 400);
        for _ in 0..10 {
            assert_eq!(verdict_at(&s.app, &genuine, None, None).await, "genuine");
        }

        let rows = recorded(&settings, &genuine, 13).await;
        assert_eq!(rows.len(), 13, "{rows:?}");
        let shape = |r: &tanba_api::store::RecordedScan| {
            (
                r.channel.clone(),
                r.context.clone(),
                r.verdict.clone(),
                r.lat,
                r.lon,
            )
        };
        let app_check = |verdict: &str| {
            (
                "app".to_owned(),
                "check".to_owned(),
                verdict.to_owned(),
                None,
                None,
            )
        };
        assert_eq!(
            shape(&rows[0]),
            (
                "app".to_owned(),
                "check".to_owned(),
                "genuine".to_owned(),
                Some(43.24),
                Some(76.95)
            )
        );
        assert_eq!(
            shape(&rows[1]),
            (
                "web".to_owned(),
                "check".to_owned(),
                "genuine".to_owned(),
                Some(43.24),
                Some(76.95)
            )
        );
        assert_eq!(shape(&rows[2]), app_check("invalid_signature"));
        for row in &rows[3..] {
            assert_eq!(shape(row), app_check("genuine"));
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        assert!(
            rows.iter().all(|r| (now - r.at).abs() < 120_000),
            "{rows:?}"
        );
        let sold_rows = recorded(&settings, &sold, 1).await;
        assert_eq!(
            (
                sold_rows[0].channel.as_str(),
                sold_rows[0].context.as_str(),
                sold_rows[0].verdict.as_str()
            ),
            ("app", "shop", "suspected_clone")
        );
        assert_eq!(
            recorded(&settings, &unknown, 1).await[0].verdict,
            "not_found"
        );

        let scans = s.app.scans.clone();
        s.app.stop().await;
        let stats = scans.stats();
        assert_eq!(stats.recorded, 15, "{stats:?}");
        assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
        assert!(
            stats.batches < stats.recorded,
            "written in batches, not one INSERT a scan: {stats:?}"
        );
    }
);

/// Holds the scans table so that the recorder's next `INSERT` waits: on
/// SQLite a write transaction (the database's one write lock), on
/// PostgreSQL a lock that conflicts with inserts only.
enum TableHeld {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl TableHeld {
    async fn take(db: &Db) -> TableHeld {
        use sqlx::Connection as _;
        if db.label == "sqlite" {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("sqlite");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .expect("begin");
            TableHeld::Sqlite(c)
        } else {
            let mut c = sqlx::PgConnection::connect(&db.url)
                .await
                .expect("postgres");
            sqlx::query("BEGIN").execute(&mut c).await.expect("begin");
            sqlx::query("LOCK TABLE scans IN SHARE MODE")
                .execute(&mut c)
                .await
                .expect("lock");
            TableHeld::Postgres(c)
        }
    }

    async fn release(self) {
        match self {
            TableHeld::Sqlite(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
            TableHeld::Postgres(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
        }
    }
}

on_every_database!(
    a_full_record_queue_drops_and_counts_but_every_scan_is_answered,
    |db: Db| async move {
        let mut settings = db.settings();
        settings.scan_record_queue = 1;
        let s = seeded(settings.clone()).await;
        let genuine = s.code("genuine").clone();
        assert_eq!(verdict_at(&s.app, &genuine, None, None).await, "genuine");
        let scans = s.app.scans.clone();
        let scans_ref = &scans;
        common::eventually(
            "the first scan written",
            Duration::from_secs(15),
            || async move { (scans_ref.stats().recorded == 1).then_some(()) },
        )
        .await;

        // The database stops taking scans: the writer waits in its INSERT,
        // the queue of one fills, and further records are dropped.
        let held = TableHeld::take(&db).await;
        let mut answered = 1;
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        while scans.stats().dropped < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing dropped: {:?}",
                scans.stats()
            );
            assert_eq!(verdict_at(&s.app, &genuine, None, None).await, "genuine");
            answered += 1;
        }
        held.release().await;

        // What was queued is written once the database takes it again.
        common::eventually(
            "the queue written",
            Duration::from_secs(15),
            || async move {
                let stats = scans_ref.stats();
                (stats.recorded + stats.dropped == answered).then_some(())
            },
        )
        .await;
        let stats = scans.stats();
        assert_eq!(stats.failed, 0, "{stats:?}");
        let rows = recorded(&settings, &genuine, 0).await;
        assert_eq!(rows.len() as u64, stats.recorded, "{stats:?}");
        s.app.stop().await;
    }
);

on_every_database!(
    with_scan_record_off_nothing_is_recorded,
    |db: Db| async move {
        let mut settings = db.settings();
        settings.scan_record = false;
        let s = seeded(settings.clone()).await;
        let genuine = s.code("genuine").clone();
        for _ in 0..3 {
            assert_eq!(
                verdict_at(&s.app, &genuine, Some(ALMATY), None).await,
                "genuine"
            );
        }
        // Clone detection does not need the table.
        assert_eq!(
            verdict_at(&s.app, &genuine, Some(ASTANA), None).await,
            "suspected_clone"
        );
        let scans = s.app.scans.clone();
        s.app.stop().await;
        assert_eq!(scans.stats(), Default::default());
        assert!(recorded(&settings, &genuine, 0).await.is_empty());
    }
);

on_every_database!(
    a_bad_place_or_context_is_refused_in_kazakh_and_in_russian,
    |db: Db| async move {
        use tanba_locales::{Lang, text};
        let s = seeded(db.settings()).await;
        let genuine = s.code("genuine").clone();
        let cases = [
            ("lat=43.2", "scan_place_invalid"),
            ("lon=76.9", "scan_place_invalid"),
            ("lat=43.2&lon=", "scan_place_invalid"),
            ("lat=north&lon=76.9", "scan_place_invalid"),
            ("lat=90.5&lon=76.9", "scan_place_invalid"),
            ("lat=43.2&lon=-180.01", "scan_place_invalid"),
            ("lat=NaN&lon=76.9", "scan_place_invalid"),
            ("lat=inf&lon=76.9", "scan_place_invalid"),
            ("lat=43.2&lat=51.1&lon=76.9", "scan_place_invalid"),
            ("context=sale", "scan_context_invalid"),
            ("context=SHOP", "scan_context_invalid"),
            ("context=shop&context=check", "scan_context_invalid"),
        ];
        let app_path = format!("/v1/codes/{}", encoded(&genuine.element_string()));
        let link = genuine.digital_link(&s.app.base);
        for (query, code) in cases {
            let key = format!("error-{}", code.replace('_', "-"));
            for lang in [Lang::Kk, Lang::Ru] {
                let (status, body) = s
                    .app
                    .get_json(&format!("{app_path}?{query}&lang={lang}"))
                    .await;
                assert_eq!(status, 400, "{query}: {body}");
                assert_eq!(body["error"]["code"], code, "{query}: {body}");
                assert_eq!(body["error"]["message"], text(lang, &key), "{query}");

                // The Digital Link: JSON when asked, a page otherwise.
                let resp = s
                    .app
                    .client
                    .get(format!("{link}&{query}&lang={lang}"))
                    .header("Accept", "application/json")
                    .send()
                    .await
                    .expect("json");
                assert_eq!(resp.status().as_u16(), 400, "{query}");
                let body: Value = resp.json().await.expect("json");
                assert_eq!(body["error"]["code"], code, "{query}: {body}");
                let page = s
                    .app
                    .client
                    .get(format!("{link}&{query}&lang={lang}"))
                    .send()
                    .await
                    .expect("page");
                assert_eq!(page.status().as_u16(), 400, "{query}");
                let page = page.text().await.expect("html");
                assert!(page.contains(&tanba_api::routes::codes::escape(&text(lang, &key))));
            }
        }
        // Blank coordinates and a blank context are not given at all.
        let (status, body) = s
            .app
            .get_json(&format!("{app_path}?lat=&lon=&context="))
            .await;
        assert_eq!((status, &body["verdict"]), (200, &Value::from("genuine")));
        let scans = s.app.scans.clone();
        s.app.stop().await;
        assert_eq!(scans.stats().recorded, 1, "refused scans are not recorded");
    }
);

/// The first clone rule, on a fresh service with `settings`.
async fn far_apart_scans_of_a_code_make_it_a_suspected_clone(settings: Settings) {
    use tanba_locales::{Lang, text, text_with};
    let s = seeded(settings.clone()).await;
    let genuine = s.code("genuine").clone();
    assert_eq!(
        verdict_at(&s.app, &genuine, Some(ALMATY), None).await,
        "genuine"
    );
    // The same place, give or take a kilometre or two; or no place at all.
    assert_eq!(
        verdict_at(&s.app, &genuine, Some(ALMATY_TOO), None).await,
        "genuine"
    );
    assert_eq!(verdict_at(&s.app, &genuine, None, None).await, "genuine");
    // 970 km away within the hour.
    let (_, kk) = scan_with(&s.app, &genuine, Some(ASTANA), None, "kk").await;
    let (_, ru) = scan_with(&s.app, &genuine, Some(ASTANA), None, "ru").await;
    for (lang, body) in [(Lang::Kk, &kk), (Lang::Ru, &ru)] {
        assert_eq!(body["verdict"], "suspected_clone", "{body}");
        assert_eq!(
            body["verdict_text"],
            text(lang, "scan-verdict-suspected-clone")
        );
        assert_eq!(body["suspicion"]["reason"], "far_apart", "{body}");
        assert_eq!(
            body["suspicion"]["text"],
            text_with(lang, "scan-clone-far-apart", [("km", "300")])
        );
        // The card is still the code's own.
        assert_eq!(body["status"], "INTRODUCED");
        assert!(body["product"].is_object());
    }
    assert_ne!(kk["suspicion"]["text"], ru["suspicion"]["text"]);
    // The page says it, and why.
    let page = s
        .app
        .client
        .get(format!(
            "{}&lat={}&lon={}&lang=ru",
            genuine.digital_link(&s.app.base),
            ASTANA.0,
            ASTANA.1
        ))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("data-verdict=\"suspected_clone\""), "{page}");
    assert!(page.contains(&tanba_api::routes::codes::escape(&text_with(
        Lang::Ru,
        "scan-clone-far-apart",
        [("km", "300")]
    ))));
    // The sighting that revealed the clone is recorded with its verdict.
    let rows = recorded(&settings, &genuine, 6).await;
    assert_eq!(rows[3].verdict, "suspected_clone", "{rows:?}");
    assert_eq!((rows[3].lat, rows[3].lon), (Some(51.16), Some(71.47)));

    // A blocked, a forged or a withdrawn code keeps its own verdict.
    for (label, expected) in [
        ("blocked", "blocked"),
        ("not_in_circulation", "not_in_circulation"),
        ("written_off", "written_off"),
    ] {
        let code = s.code(label).clone();
        assert_eq!(
            verdict_at(&s.app, &code, Some(ALMATY), None).await,
            expected
        );
        assert_eq!(
            verdict_at(&s.app, &code, Some(ASTANA), None).await,
            expected
        );
    }
    assert_eq!(
        verdict_at(&s.app, &s.forged(), Some(ALMATY), None).await,
        "invalid_signature"
    );
    // A sold code seen far apart is suspected too.
    let sold = s.code("sold").clone();
    assert_eq!(verdict_at(&s.app, &sold, Some(ASTANA), None).await, "sold");
    assert_eq!(
        verdict_at(&s.app, &sold, Some(ALMATY), None).await,
        "suspected_clone"
    );
    s.app.stop().await;
}

on_every_database!(
    scans_far_apart_within_the_window_make_a_suspected_clone,
    |db: Db| async move {
        far_apart_scans_of_a_code_make_it_a_suspected_clone(db.settings()).await;
    }
);

on_every_database!(
    with_redis_scans_far_apart_within_the_window_make_a_suspected_clone,
    |db: Db| async move {
        if let Some(settings) = with_redis(db.settings()) {
            far_apart_scans_of_a_code_make_it_a_suspected_clone(settings).await;
        }
    }
);

on_every_database!(
    with_redis_unreachable_scans_far_apart_still_make_a_suspected_clone,
    |db: Db| async move {
        // Nothing listens on port 1: the sightings are kept in process.
        let mut settings = db.settings();
        settings.redis_url = Some("redis://127.0.0.1:1".to_owned());
        far_apart_scans_of_a_code_make_it_a_suspected_clone(settings).await;
    }
);

/// Far apart, but not within the window.
async fn far_apart_scans_outside_the_window_are_genuine(mut settings: Settings) {
    settings.clone_window_secs = 1;
    let s = seeded(settings).await;
    let genuine = s.code("genuine").clone();
    assert_eq!(
        verdict_at(&s.app, &genuine, Some(ALMATY), None).await,
        "genuine"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        verdict_at(&s.app, &genuine, Some(ASTANA), None).await,
        "genuine"
    );
    s.app.stop().await;
}

on_every_database!(
    scans_far_apart_outside_the_window_are_genuine,
    |db: Db| async move {
        far_apart_scans_outside_the_window_are_genuine(db.settings()).await;
    }
);

on_every_database!(
    with_redis_scans_far_apart_outside_the_window_are_genuine,
    |db: Db| async move {
        if let Some(settings) = with_redis(db.settings()) {
            far_apart_scans_outside_the_window_are_genuine(settings).await;
        }
    }
);

on_every_database!(
    with_redis_two_instances_see_each_others_sightings,
    |db: Db| async move {
        let Some(settings) = with_redis(db.settings()) else {
            return;
        };
        let s = seeded(settings.clone()).await;
        let other = TestApp::spawn(settings).await;
        let genuine = s.code("genuine").clone();
        assert_eq!(
            verdict_at(&s.app, &genuine, Some(ALMATY), None).await,
            "genuine"
        );
        assert_eq!(
            verdict_at(&other, &genuine, Some(ASTANA), None).await,
            "suspected_clone"
        );
        other.stop().await;
        s.app.stop().await;
    }
);

on_every_database!(
    without_redis_two_instances_do_not_share_sightings,
    |db: Db| async move {
        let settings = db.settings();
        let s = seeded(settings.clone()).await;
        let other = TestApp::spawn(settings).await;
        let genuine = s.code("genuine").clone();
        assert_eq!(
            verdict_at(&s.app, &genuine, Some(ALMATY), None).await,
            "genuine"
        );
        // The documented limit of the in-process default: one instance.
        assert_eq!(
            verdict_at(&other, &genuine, Some(ASTANA), None).await,
            "genuine"
        );
        other.stop().await;
        s.app.stop().await;
    }
);

on_every_database!(
    a_sold_code_checked_as_offered_for_sale_is_a_suspected_clone,
    |db: Db| async move {
        use tanba_locales::{Lang, text};
        let s = seeded(db.settings()).await;
        let sold = s.code("sold").clone();
        assert_eq!(verdict_at(&s.app, &sold, None, None).await, "sold");
        assert_eq!(verdict_at(&s.app, &sold, None, Some("check")).await, "sold");
        for lang in [Lang::Kk, Lang::Ru] {
            let (status, body) = scan_with(&s.app, &sold, None, Some("shop"), lang.as_str()).await;
            assert_eq!(status, 200);
            assert_eq!(body["verdict"], "suspected_clone", "{body}");
            assert_eq!(body["suspicion"]["reason"], "offered_after_sale");
            assert_eq!(
                body["suspicion"]["text"],
                text(lang, "scan-clone-offered-after-sale")
            );
            assert_eq!(body["status"], "RETIRED");
        }
        // The page from a label's QR code, checked in a shop.
        let page = s
            .app
            .client
            .get(format!(
                "{}&context=shop&lang=kk",
                sold.digital_link(&s.app.base)
            ))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert!(page.contains("data-verdict=\"suspected_clone\""), "{page}");
        assert!(page.contains(&tanba_api::routes::codes::escape(&text(
            Lang::Kk,
            "scan-clone-offered-after-sale"
        ))));
        // In a shop is where a genuine code belongs; the others keep theirs.
        for (label, expected) in [
            ("genuine", "genuine"),
            ("blocked", "blocked"),
            ("not_in_circulation", "not_in_circulation"),
            ("written_off", "written_off"),
        ] {
            let code = s.code(label).clone();
            assert_eq!(
                verdict_at(&s.app, &code, None, Some("shop")).await,
                expected
            );
        }
        assert_eq!(
            verdict_at(&s.app, &s.forged(), None, Some("shop")).await,
            "invalid_signature"
        );
        s.app.stop().await;
    }
);

/// With Redis configured at `url` but not answering, rounds of concurrent
/// scans all answer correctly, and none waits for a connection attempt.
///
/// Not a benchmark: the connect timeout is set to 2 s, and a scan is only
/// required to answer within half of it. A scan that waited for a connect
/// would take the whole 2 s (that was the bug: every scan queued behind a
/// connect attempt once a second), while a scan that does not wait takes
/// milliseconds, even on two busy cores.
async fn no_scan_waits_for_redis(db: Db, url: String) {
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    let mut settings = db.settings();
    settings.redis_url = Some(url);
    settings.redis_timeout_ms = CONNECT_TIMEOUT.as_millis() as u64;
    let s = seeded(settings).await;
    let genuine = s.code("genuine").clone();
    let path = format!("/v1/codes/{}", encoded(&genuine.element_string()));
    // Three rounds, spread over the background task's reconnect attempts
    // (one a second, each taking up to the connect timeout).
    for round in 0..3 {
        let mut scans = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (client, url) = (s.app.client.clone(), s.app.url(&path));
            scans.spawn(async move {
                let started = std::time::Instant::now();
                let body: Value = client
                    .get(url)
                    .send()
                    .await
                    .expect("scan")
                    .json()
                    .await
                    .expect("json");
                (started.elapsed(), body)
            });
        }
        while let Some(done) = scans.join_next().await {
            let (took, body) = done.expect("task");
            assert_eq!(body["verdict"], "genuine", "{body}");
            assert!(
                took < CONNECT_TIMEOUT / 2,
                "round {round}: a scan took {took:?}, as if it waited for Redis"
            );
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    s.app.stop().await;
}

on_every_database!(
    no_scan_waits_for_redis_when_its_port_is_closed,
    |db: Db| async move {
        // Nothing listens on port 1: every connect is refused at once.
        no_scan_waits_for_redis(db, "redis://127.0.0.1:1".to_owned()).await;
    }
);

on_every_database!(
    no_scan_waits_for_redis_when_it_accepts_and_never_answers,
    |db: Db| async move {
        // A socket that accepts connections (the kernel does, into the
        // backlog) and never says a word: every connect runs to its timeout.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        no_scan_waits_for_redis(db, format!("redis://127.0.0.1:{port}")).await;
        drop(silent);
    }
);

/// Settings with the test Redis and a prefix of their own, or `None` (and a
/// note) when `TANBA_TEST_REDIS_URL` is not set.
fn with_redis(mut settings: Settings) -> Option<Settings> {
    let Ok(url) = std::env::var("TANBA_TEST_REDIS_URL") else {
        eprintln!("skipped: TANBA_TEST_REDIS_URL is not set");
        return None;
    };
    settings.redis_url = Some(url);
    settings.redis_prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    Some(settings)
}

/// A product card as a participant sends it.
fn milk_card(name_ru: &str) -> Value {
    serde_json::json!({
        "gtin": "04652352262009",
        "name_kk": "Сүт «Дала»",
        "name_ru": name_ru,
        "product_group": "dairy",
        "tnved": "0401201100",
        "manufacturer_name": "ТОО Сүт",
        "manufacturer_country": "KZ",
        "conformity": {"kind": "declaration", "number": "ЕАЭС N KZ Д-TEST.00001", "date": "2025-03-01"},
        "recommended_price": 650.5
    })
}

/// A manufacturer registers a product over HTTP and gets a code of it in
/// circulation; a scan shows the card; the manufacturer renames the
/// product; the very next scan shows the new name.
async fn a_product_change_shows_in_the_next_scan(mut settings: Settings) {
    use common::eds::{
        KeyKind, TestCa, admin, call, register_and_approve_participant, sign_in, test_bin, test_iin,
    };
    let ca = TestCa::new();
    ca.trust(&mut settings);
    let app = TestApp::spawn(settings.clone()).await;
    let (_, admin_token) = admin(&app, &settings, &ca).await;
    let maker = ca.issue_legal_entity(
        &test_bin(41),
        &test_iin(41),
        "Асан Асанов",
        "ТОО Сүт",
        KeyKind::Rsa,
    );
    let id = register_and_approve_participant(&app, &admin_token, &maker, &["manufacturer"]).await;
    let token = sign_in(&app, &maker).await;
    let (status, body) = call(
        &app,
        "POST",
        "/v1/products",
        Some(&token),
        Some(&milk_card("Молоко «Дала»")),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // A code of it, emitted and brought into circulation.
    let owner: ParticipantId = id.parse().expect("participant id");
    let key = tanba_api::keys::load_or_generate(&settings.emission_key_file, false).expect("key");
    let gtin = Gtin::parse("04652352262009").expect("gtin");
    let code = tanba_api::emission::sign_new(&key, &gtin, 1)
        .pop()
        .expect("a code");
    let store = Store::connect(&settings).await.expect("store");
    let mut tx = store.begin().await.expect("tx");
    tx.insert_emitted(
        std::slice::from_ref(&code),
        owner,
        OrderId::new(),
        1_764_000_000,
    )
    .await
    .expect("codes");
    tx.apply_operations(
        code.gtin(),
        code.serial(),
        &[Op::Apply, Op::Introduce],
        &EventSource::demo(),
        None,
    )
    .await
    .expect("stored")
    .expect("allowed");
    tx.commit().await.expect("commit");
    store.close().await;

    let name = |body: &Value| body["product"]["name"].as_str().map(str::to_owned);
    let (_, first) = scan(&app, &code.element_string(), "ru").await;
    assert_eq!(name(&first).as_deref(), Some("Молоко «Дала»"), "{first}");
    let (_, again) = scan(&app, &code.element_string(), "ru").await;
    assert_eq!(name(&again).as_deref(), Some("Молоко «Дала»"));
    let loads = app.cards.stats();

    let (status, body) = call(
        &app,
        "PUT",
        "/v1/products/04652352262009",
        Some(&token),
        Some(&milk_card("Молоко «Дала» 3,2 %")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, after) = scan(&app, &code.element_string(), "ru").await;
    assert_eq!(
        name(&after).as_deref(),
        Some("Молоко «Дала» 3,2 %"),
        "{after}"
    );
    let (_, kk) = scan(&app, &code.element_string(), "kk").await;
    assert_eq!(name(&kk).as_deref(), Some("Сүт «Дала»"));
    // Only the product was read again, not the code.
    let stats = app.cards.stats();
    assert_eq!(stats.code_loads, loads.code_loads, "{stats:?}");
    assert_eq!(stats.product_loads, loads.product_loads + 1, "{stats:?}");
    app.stop().await;
}

on_every_database!(
    a_renamed_product_shows_its_new_name_in_the_next_scan,
    |db: Db| async move {
        a_product_change_shows_in_the_next_scan(db.settings()).await;
    }
);

on_every_database!(
    with_redis_a_renamed_product_shows_its_new_name_in_the_next_scan,
    |db: Db| async move {
        if let Some(settings) = with_redis(db.settings()) {
            a_product_change_shows_in_the_next_scan(settings).await;
        }
    }
);
