//! Violation reports from citizens, black-box over HTTP on both databases:
//! `POST /v1/reports` (multipart, photos re-encoded without their metadata),
//! following a report with its secret in Kazakh and Russian, refusals that
//! store nothing, rate limits per device and per address, duplicates.

mod common;

use common::reports::{self as r, GPS_TEXT};
use common::{Db, TestApp, eds};
use serde_json::{Value, json};

fn report(kind: &str, address: &str) -> Value {
    json!({
        "kind": kind,
        "place": {"address": address},
        "comment": "Продают без маркировки.\nНа кассе чек не дают.",
        "contact": "+7 701 234 56 78",
    })
}

/// Settings with limits high enough not to matter.
fn roomy(db: &Db) -> tanba_api::settings::Settings {
    let mut s = db.settings();
    s.report_limit_per_ip_per_hour = 1000;
    s.report_limit_per_device_per_hour = 1000;
    s
}

async fn stored_rows(settings: &tanba_api::settings::Settings) -> [i64; 3] {
    [
        r::count(settings, "reports").await,
        r::count(settings, "report_photos").await,
        r::count(settings, "report_history").await,
    ]
}

on_every_database!(
    a_report_with_two_photos_is_stored_and_its_photos_come_back_as_jpegs_without_exif,
    |db: Db| async move {
        let ca = eds::TestCa::new();
        let mut settings = roomy(&db);
        ca.trust(&mut settings);
        let app = TestApp::spawn(settings.clone()).await;
        let (_, inspector) = eds::staff(
            &app,
            &settings,
            &ca,
            &eds::test_iin(77),
            "Инспектор",
            "inspector",
        )
        .await;

        let exif = r::jpeg_with_exif(3000, 1200);
        assert!(r::contains(&exif, b"Exif") && r::contains(&exif, GPS_TEXT.as_bytes()));
        let mut body = report("NO_MARKING", "Алматы, Абая 1");
        body["place"]["lat"] = json!(43.238949);
        body["place"]["lon"] = json!(76.889709);
        body["region"] = json!("750000000");
        body["shop"] = json!({"name": "ИП «Дала»"});
        let sent = r::send(&app, "", &body, vec![exif, r::png(640, 480)], &[]).await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        let number = sent.body["number"].as_str().expect("number").to_owned();
        let secret = sent.body["secret"].as_str().expect("secret");
        assert_eq!(sent.body["status"], "new");
        let (year, seq) = number.split_once('-').expect("YYYY-NNNNNN");
        assert_eq!((year.len(), seq), (4, "000001"), "{number}");
        assert!(secret.len() >= 22, "at least 128 bits: {secret}");

        let (status, detail) = eds::call(
            &app,
            "GET",
            &format!("/v1/inspections/reports/{number}"),
            Some(&inspector),
            None,
        )
        .await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["contact"], "+7 701 234 56 78");
        assert_eq!(detail["region"]["code"], "750000000");
        let photos = detail["photos"].as_array().expect("photos");
        assert_eq!(photos.len(), 2, "{detail}");
        assert_eq!(
            (photos[0]["width"].as_i64(), photos[0]["height"].as_i64()),
            (Some(2560), Some(1024))
        );
        assert_eq!(
            (photos[1]["width"].as_i64(), photos[1]["height"].as_i64()),
            (Some(640), Some(480))
        );

        for n in 1..=2 {
            let resp = app
                .client
                .get(app.url(&format!("/v1/inspections/reports/{number}/photos/{n}")))
                .bearer_auth(&inspector)
                .send()
                .await
                .expect("request sent");
            assert_eq!(resp.status().as_u16(), 200);
            assert_eq!(resp.headers()["content-type"], "image/jpeg");
            let bytes = resp.bytes().await.expect("bytes");
            assert_eq!(&bytes[..2], &[0xFF, 0xD8], "photo {n} is a JPEG");
            assert!(!r::contains(&bytes, b"Exif"), "photo {n} still has EXIF");
            assert!(
                !r::contains(&bytes, GPS_TEXT.as_bytes()),
                "photo {n} still has the GPS text"
            );
            assert_eq!(
                photos[n - 1]["size"].as_u64(),
                Some(bytes.len() as u64),
                "the stored size is the served size"
            );
        }
        let (status, _) = eds::call(
            &app,
            "GET",
            &format!("/v1/inspections/reports/{number}/photos/3"),
            Some(&inspector),
            None,
        )
        .await;
        assert_eq!(status, 404);

        // Audited as an anonymous act from the client's address.
        let entries = eds::audit_entries(&settings).await;
        let created = entries
            .iter()
            .find(|e| e.action == "report.create")
            .expect("audit entry for the report");
        assert_eq!(created.object.as_deref(), Some(number.as_str()));
        assert_eq!(created.actor.as_deref(), Some("anonymous"));
        assert_eq!(created.ip.as_deref(), Some("127.0.0.1"));
        assert!(
            !created.detail.contains("+7 701"),
            "no contact in the audit log"
        );
        app.stop().await;
    }
);

on_every_database!(
    refused_reports_say_why_and_store_nothing,
    |db: Db| async move {
        let settings = roomy(&db);
        let app = TestApp::spawn(settings.clone()).await;
        let ok = report("NO_MARKING", "Астана, Кенесары 5");

        // Every field problem at once.
        let mut bad = ok.clone();
        bad["kind"] = json!("NOT_A_KIND");
        bad["place"] = json!({"lat": 91.5, "lon": 76.9});
        bad["code"] = json!("(01)0465235226200(21)");
        bad["region"] = json!("123");
        bad["shop"] = json!({"bin": "123456789012"});
        bad["extra"] = json!(1);
        let sent = r::send(&app, "?lang=ru", &bad, vec![r::png(10, 10)], &[]).await;
        assert_eq!(sent.status, 400, "{}", sent.body);
        assert_eq!(sent.body["error"]["code"], "validation_failed");
        let found: Vec<(String, String)> = sent.body["error"]["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|d| {
                assert!(!d["message"].as_str().unwrap_or("").is_empty(), "{d}");
                (
                    d["field"].as_str().unwrap_or("").to_owned(),
                    d["code"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        for expected in [
            ("kind", "unknown_violation_kind"),
            ("place.lat", "coordinate_range"),
            ("code", "code_malformed"),
            ("region", "unknown_region"),
            ("extra", "unknown_field"),
        ] {
            assert!(
                found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} in {found:?}"
            );
        }
        assert!(found.iter().any(|(f, _)| f == "shop.bin"), "{found:?}");

        // (what, report, photos, status, code)
        type Case = (&'static str, Value, Vec<Vec<u8>>, u16, &'static str);
        let cases: Vec<Case> = vec![
            (
                "a text file as a photo",
                ok.clone(),
                vec![r::png(20, 20), b"GIF89a but really just text".to_vec()],
                400,
                "report_photo_not_image",
            ),
            (
                "a photo over 10 MB",
                ok.clone(),
                vec![vec![0x42; 10 * 1024 * 1024 + 1]],
                413,
                "report_photo_too_large",
            ),
            (
                "six photos",
                ok.clone(),
                (0..6).map(|_| r::png(8, 8)).collect(),
                400,
                "report_too_many_photos",
            ),
            (
                "an unknown kind",
                {
                    let mut b = ok.clone();
                    b["kind"] = json!("SOMETHING_ELSE");
                    b
                },
                vec![],
                400,
                "validation_failed",
            ),
            (
                "coordinates off the globe",
                {
                    let mut b = ok.clone();
                    b["place"] = json!({"lat": 43.2, "lon": -181});
                    b
                },
                vec![],
                400,
                "validation_failed",
            ),
            (
                "a malformed code",
                {
                    let mut b = ok.clone();
                    b["code"] = json!("not a code at all");
                    b
                },
                vec![],
                400,
                "validation_failed",
            ),
            (
                "no place",
                {
                    let mut b = ok.clone();
                    b["place"] = json!({});
                    b
                },
                vec![],
                400,
                "validation_failed",
            ),
        ];
        for (what, body, photos, status, code) in cases {
            let sent = r::send(&app, "", &body, photos, &[]).await;
            assert_eq!(sent.status, status, "{what}: {}", sent.body);
            assert_eq!(sent.body["error"]["code"], code, "{what}");
            assert!(
                !sent.body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty(),
                "{what}"
            );
            assert_eq!(
                stored_rows(&settings).await,
                [0, 0, 0],
                "{what} stored something"
            );
        }

        // Not multipart at all.
        let resp = app
            .client
            .post(app.url("/v1/reports"))
            .json(&ok)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 415);
        assert_eq!(stored_rows(&settings).await, [0, 0, 0]);

        // And the same report, right, is taken.
        let sent = r::send(&app, "", &ok, vec![r::png(20, 20)], &[]).await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        assert_eq!(stored_rows(&settings).await, [1, 1, 1]);
        app.stop().await;
    }
);

on_every_database!(
    a_reporter_follows_the_report_with_its_secret_in_kazakh_and_in_russian,
    |db: Db| async move {
        let app = TestApp::spawn(roomy(&db)).await;
        let sent = r::send(
            &app,
            "?lang=ru",
            &report("SOLD_CODE", "Шымкент, Тауке хана 10"),
            vec![],
            &[],
        )
        .await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        let number = sent.body["number"].as_str().expect("number");
        let secret = sent.body["secret"].as_str().expect("secret");

        // The reporter's language (Russian) unless asked otherwise.
        let (status, ru) = r::follow(&app, number, Some(secret), "").await;
        assert_eq!(status, 200, "{ru}");
        assert_eq!(ru["number"], number);
        assert_eq!(ru["lang"], "ru");
        assert_eq!(ru["status"]["code"], "new");
        assert_eq!(ru["status"]["text"], "Новое");
        assert_eq!(ru["kind"]["code"], "SOLD_CODE");
        assert_eq!(ru["kind"]["name"], "Продажа товара с уже проданным кодом");
        assert_eq!(ru["public_answer"], Value::Null);
        assert_eq!(ru["created"].as_str().map(str::len), Some(10));
        let (_, kk) = r::follow(&app, number, Some(secret), "?lang=kk").await;
        assert_eq!(kk["lang"], "kk");
        assert_eq!(kk["status"]["text"], "Жаңа");
        assert_eq!(kk["kind"]["name"], "Бұрын сатылған кодпен тауар сату");

        // Nothing private, whatever the language.
        for body in [&ru, &kk] {
            let text = body.to_string();
            for private in ["contact", "+7 701", "photos", "comment", "Продают"] {
                assert!(!text.contains(private), "{private} in {text}");
            }
        }

        // A wrong or missing secret is exactly an unknown number.
        let (s1, wrong) = r::follow(&app, number, Some("AAAAAAAAAAAAAAAAAAAAAAAA"), "").await;
        let (s2, missing) = r::follow(&app, number, None, "").await;
        let (s3, unknown) = r::follow(&app, "2099-999999", Some(secret), "").await;
        let (s4, nonsense) = r::follow(&app, "abc", Some(secret), "").await;
        assert_eq!((s1, s2, s3, s4), (404, 404, 404, 404));
        assert_eq!(wrong["error"]["code"], "report_not_found");
        assert_eq!(wrong, missing);
        assert_eq!(wrong, unknown);
        assert_eq!(wrong, nonsense);
        let (_, wrong_ru) = r::follow(&app, number, Some("x"), "?lang=ru").await;
        assert_ne!(wrong["error"]["message"], wrong_ru["error"]["message"]);
        app.stop().await;
    }
);

on_every_database!(
    a_device_over_its_hourly_limit_is_told_how_long_to_wait,
    |db: Db| async move {
        let mut settings = db.settings();
        settings.report_limit_per_device_per_hour = 2;
        settings.report_limit_per_ip_per_hour = 100;
        let app = TestApp::spawn(settings.clone()).await;
        let phone = [("X-Device-Id", "phone-a")];
        for street in ["Абая 1", "Абая 2"] {
            let sent = r::send(&app, "", &report("NO_MARKING", street), vec![], &phone).await;
            assert_eq!(sent.status, 201, "{}", sent.body);
        }
        let sent = r::send(
            &app,
            "?lang=ru",
            &report("NO_MARKING", "Абая 3"),
            vec![],
            &phone,
        )
        .await;
        assert_eq!(sent.status, 429, "{}", sent.body);
        assert_eq!(sent.body["error"]["code"], "report_rate_limited");
        // Two an hour: the next one in at most 30 minutes.
        let wait = sent.retry_after.expect("Retry-After");
        assert!((1..=1800).contains(&wait), "{wait}");
        let message = sent.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("минут"), "{message}");
        assert_eq!(r::count(&settings, "reports").await, 2);

        // Another phone behind the same address is not held back.
        let other = [("X-Device-Id", "phone-b")];
        let sent = r::send(&app, "", &report("NO_MARKING", "Абая 4"), vec![], &other).await;
        assert_eq!(sent.status, 201, "{}", sent.body);

        let bad = [("X-Device-Id", "a device id with spaces")];
        let sent = r::send(&app, "", &report("NO_MARKING", "Абая 5"), vec![], &bad).await;
        assert_eq!(sent.status, 400);
        assert_eq!(sent.body["error"]["code"], "report_bad_device_id");
        app.stop().await;
    }
);

on_every_database!(
    an_address_over_its_hourly_limit_is_told_how_long_to_wait,
    |db: Db| async move {
        let mut settings = db.settings();
        settings.report_limit_per_ip_per_hour = 3;
        let app = TestApp::spawn(settings.clone()).await;
        for street in ["Абая 1", "Абая 2", "Абая 3"] {
            let sent = r::send(&app, "", &report("NO_MARKING", street), vec![], &[]).await;
            assert_eq!(sent.status, 201, "{}", sent.body);
        }
        let sent = r::send(
            &app,
            "?lang=kk",
            &report("NO_MARKING", "Абая 4"),
            vec![],
            &[],
        )
        .await;
        assert_eq!(sent.status, 429, "{}", sent.body);
        assert_eq!(sent.body["error"]["code"], "report_rate_limited");
        assert!(sent.retry_after.is_some_and(|w| (1..=1200).contains(&w)));
        let message = sent.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("минуттан"), "{message}");
        assert_eq!(r::count(&settings, "reports").await, 3);
        app.stop().await;
    }
);

on_every_database!(
    behind_a_trusted_proxy_the_forwarded_address_is_limited_and_audited,
    |db: Db| async move {
        let mut settings = db.settings();
        settings.report_limit_per_ip_per_hour = 1;
        settings.report_limit_per_device_per_hour = 100;
        let forwarded = |ip: &'static str| [("X-Forwarded-For", ip)];

        // Nobody trusted: the header is the client's word and is ignored, so
        // two "different" clients are one address over its limit.
        let app = TestApp::spawn(settings.clone()).await;
        let first = r::send(
            &app,
            "",
            &report("NO_MARKING", "Абая 1"),
            vec![],
            &forwarded("203.0.113.7"),
        )
        .await;
        assert_eq!(first.status, 201, "{}", first.body);
        let second = r::send(
            &app,
            "",
            &report("NO_MARKING", "Абая 2"),
            vec![],
            &forwarded("198.51.100.4"),
        )
        .await;
        assert_eq!(second.status, 429, "{}", second.body);
        app.stop().await;

        // The test connects from loopback, here the trusted balancer.
        settings.trusted_proxies = tanba_api::settings::TrustedProxies(vec![
            "127.0.0.0/8".parse().expect("net"),
            "::1/128".parse().expect("net"),
        ]);
        let app = TestApp::spawn(settings.clone()).await;
        for (ip, street) in [("198.51.100.4", "Абая 3"), ("192.0.2.10", "Абая 4")] {
            let sent = r::send(
                &app,
                "",
                &report("NO_MARKING", street),
                vec![],
                &forwarded(ip),
            )
            .await;
            assert_eq!(sent.status, 201, "{ip}: {}", sent.body);
        }
        // The same client again, through a second trusted hop: over its limit.
        let again = r::send(
            &app,
            "",
            &report("NO_MARKING", "Абая 5"),
            vec![],
            &forwarded("198.51.100.4, 127.0.0.2"),
        )
        .await;
        assert_eq!(again.status, 429, "{}", again.body);

        let store = tanba_api::store::Store::connect(&settings)
            .await
            .expect("store");
        let mut audited: Vec<String> = store
            .audit_entries(0, 100)
            .await
            .expect("audit")
            .into_iter()
            .filter(|e| e.action == "report.create")
            .filter_map(|e| e.ip)
            .collect();
        audited.sort();
        assert_eq!(audited, ["127.0.0.1", "192.0.2.10", "198.51.100.4"]);
        store.close().await;
        app.stop().await;
    }
);

on_every_database!(
    the_same_report_within_a_day_is_a_duplicate_and_names_the_first,
    |db: Db| async move {
        let settings = roomy(&db);
        let app = TestApp::spawn(settings.clone()).await;
        let phone = [("X-Device-Id", "phone-dup")];
        let mut body = report("INVALID_CODE", "Алматы, Сейфуллина 500");
        body["code"] = json!("(01)04652352262009(21)k2Fpdfbwuq6gu");
        let first = r::send(&app, "", &body, vec![], &phone).await;
        assert_eq!(first.status, 201, "{}", first.body);
        let number = first.body["number"].as_str().expect("number");
        let secret = first.body["secret"].as_str().expect("secret");

        // Same device, kind and code, another address and comment.
        let mut again = body.clone();
        again["place"] = json!({"address": "somewhere else"});
        again["comment"] = json!("ещё раз");
        // The same code in another scanner form.
        again["code"] = json!("010465235226200921k2Fpdfbwuq6gu");
        let dup = r::send(&app, "?lang=ru", &again, vec![r::png(8, 8)], &phone).await;
        assert_eq!(dup.status, 409, "{}", dup.body);
        assert_eq!(dup.body["error"]["code"], "report_duplicate");
        let message = dup.body["error"]["message"].as_str().expect("message");
        assert!(message.contains(number), "{message}");
        assert!(!dup.body.to_string().contains(secret), "never the secret");
        assert_eq!(r::count(&settings, "reports").await, 1);
        assert_eq!(r::count(&settings, "report_photos").await, 0);

        // Another kind about the same code is another report.
        let mut other = body.clone();
        other["kind"] = json!("SOLD_CODE");
        let sent = r::send(&app, "", &other, vec![], &phone).await;
        assert_eq!(sent.status, 201, "{}", sent.body);

        // Without a device: the address, and the place, spelled loosely.
        let a = report("NO_MARKING", "Караганда,  Бухар-Жырау 12");
        let b = report("NO_MARKING", "караганда, бухар-жырау 12 ");
        assert_eq!(r::send(&app, "", &a, vec![], &[]).await.status, 201);
        let dup = r::send(&app, "", &b, vec![], &[]).await;
        assert_eq!(dup.status, 409, "{}", dup.body);
        assert_eq!(r::count(&settings, "reports").await, 3);
        app.stop().await;
    }
);

/// Starts a report upload by hand and then stops sending, as a client on a
/// dead connection (or a slow-loris attacker) would; returns the status
/// line and the body the service answers with.
async fn stall_upload(app: &TestApp, lang: &str) -> (String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let start = "--stall\r\nContent-Disposition: form-data; name=\"photo\"; \
                 filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{FF}";
    let head = format!(
        "POST /v1/reports?lang={lang} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: multipart/form-data; boundary=stall\r\n\
         Content-Length: 5000000\r\nX-Device-Id: slow-{lang}\r\n\r\n{start}"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    // The service answers and closes; the test gives it ample time.
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("an answer within 30 s")
    .expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    (status, serde_json::from_str(body).expect("a JSON body"))
}

on_every_database!(
    a_client_that_stops_sending_is_answered_408_and_nothing_is_kept,
    |db: Db| async move {
        let mut settings = roomy(&db);
        settings.report_upload_timeout_secs = 1;
        let app = TestApp::spawn(settings.clone()).await;
        let (ru, kk) = tokio::join!(stall_upload(&app, "ru"), stall_upload(&app, "kk"));
        for (status, body) in [&ru, &kk] {
            assert!(status.starts_with("HTTP/1.1 408"), "{status} {body}");
            assert_eq!(body["error"]["code"], "report_upload_timeout");
        }
        let message = |b: &Value| b["error"]["message"].as_str().expect("message").to_owned();
        assert!(message(&ru.1).contains("1 секунды"), "{}", message(&ru.1));
        assert!(message(&kk.1).contains("1 секунд"), "{}", message(&kk.1));
        assert_ne!(message(&ru.1), message(&kk.1));
        assert_eq!(stored_rows(&settings).await, [0, 0, 0], "nothing kept");

        // The stalled uploads held two of the upload slots; after their
        // answers a report goes through.
        let sent = r::send(
            &app,
            "",
            &report("NO_MARKING", "Абая 9"),
            vec![r::png(40, 30)],
            &[],
        )
        .await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        app.stop().await;
    }
);
