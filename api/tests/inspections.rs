//! Inspectors' review of violation reports, black-box over HTTP on both
//! databases: the queue and its filters, assignment, status moves allowed
//! and refused, comments, a decision that blocks the code (and the scan that
//! then says `blocked`), the code's history beside the report, who may see
//! what, and the audit trail of every change.

mod common;

use common::reports as r;
use common::{Db, TestApp, eds};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use std::time::Duration;
use tanba_api::settings::Settings;
use tanba_core::MarkingCode;

/// A running service with two inspectors and an administrator.
struct Desk {
    app: TestApp,
    ca: eds::TestCa,
    settings: Settings,
    admin: String,
    /// Token and staff id of each inspector.
    a: (String, String),
    b: (String, String),
}

async fn staff_id(settings: &Settings, iin: &str) -> String {
    let store = tanba_api::store::Store::connect(settings)
        .await
        .expect("store");
    let staff = store.staff_by_iin(iin).await.expect("read").expect("staff");
    store.close().await;
    staff.id.to_string()
}

async fn desk(db: &Db) -> Desk {
    let ca = eds::TestCa::new();
    let mut settings = db.settings();
    settings.report_limit_per_ip_per_hour = 1000;
    settings.report_limit_per_device_per_hour = 1000;
    ca.trust(&mut settings);
    let app = TestApp::spawn(settings.clone()).await;
    let (_, admin) = eds::admin(&app, &settings, &ca).await;
    let mut inspectors = Vec::new();
    for (n, name) in [(77, "Инспектор Әлия"), (78, "Инспектор Бауыржан")]
    {
        let iin = eds::test_iin(n);
        let (_, token) = eds::staff(&app, &settings, &ca, &iin, name, "inspector").await;
        inspectors.push((token, staff_id(&settings, &iin).await));
    }
    let b = inspectors.pop().expect("b");
    let a = inspectors.pop().expect("a");
    Desk {
        app,
        ca,
        settings,
        admin,
        a,
        b,
    }
}

/// Sends a report and returns its number and secret.
async fn reported(app: &TestApp, body: Value) -> (String, String) {
    let sent = r::send(app, "?lang=ru", &body, vec![r::png(32, 24)], &[]).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    (
        sent.body["number"].as_str().expect("number").to_owned(),
        sent.body["secret"].as_str().expect("secret").to_owned(),
    )
}

fn about(kind: &str, address: &str) -> Value {
    json!({
        "kind": kind,
        "place": {"address": address},
        "comment": "Проверьте, пожалуйста.",
        "contact": "aliya@example.kz",
    })
}

fn with_code(mut body: Value, code: &MarkingCode) -> Value {
    body["code"] = json!(code.human_readable());
    body
}

async fn queue(d: &Desk, query: &str) -> (u16, Value) {
    eds::call(
        &d.app,
        "GET",
        &format!("/v1/inspections/reports{query}"),
        Some(&d.a.0),
        None,
    )
    .await
}

/// The numbers a queue answer lists, in order.
fn numbers(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {page}"))
        .iter()
        .map(|i| i["number"].as_str().expect("number").to_owned())
        .collect()
}

async fn set_status(d: &Desk, number: &str, body: Value) -> (u16, Value) {
    eds::call(
        &d.app,
        "POST",
        &format!("/v1/inspections/reports/{number}/status?lang=ru"),
        Some(&d.a.0),
        Some(&body),
    )
    .await
}

async fn detail(d: &Desk, number: &str) -> Value {
    let (status, body) = eds::call(
        &d.app,
        "GET",
        &format!("/v1/inspections/reports/{number}"),
        Some(&d.a.0),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn scan(app: &TestApp, code: &MarkingCode) -> String {
    let path = utf8_percent_encode(&code.element_string(), NON_ALPHANUMERIC).to_string();
    let (status, body) = app.get_json(&format!("/v1/codes/{path}")).await;
    assert_eq!(status, 200, "{body}");
    body["verdict"].as_str().expect("verdict").to_owned()
}

fn ns(numbers: &[&String]) -> Vec<String> {
    numbers.iter().map(|n| (*n).clone()).collect()
}

fn today_kz() -> time::Date {
    time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+5))
        .date()
}

on_every_database!(
    each_queue_filter_narrows_the_list_and_pages_are_newest_first,
    |db: Db| async move {
        let d = desk(&db).await;
        let codes = r::genuine_codes(&d.settings, &r::milk("04652352262009"), 1).await;
        let mut one = about("NO_MARKING", "Алматы, Абая 1");
        one["region"] = json!("750000000");
        let (n1, _) = reported(&d.app, one).await;
        let mut two = with_code(about("SOLD_CODE", "Астана, Кенесары 2"), &codes[0]);
        two["region"] = json!("710000000");
        let (n2, _) = reported(&d.app, two).await;
        let (n3, _) = reported(&d.app, about("OTHER", "Шымкент, Тауке хана 3")).await;
        let mut four = about("NO_MARKING", "Астана, Кенесары 4");
        four["region"] = json!("710000000");
        let (n4, _) = reported(&d.app, four).await;

        let (status, all) = queue(&d, "").await;
        assert_eq!(status, 200, "{all}");
        assert_eq!(numbers(&all), ns(&[&n4, &n3, &n2, &n1]), "newest first");
        assert_eq!(all["next_cursor"], Value::Null);
        let item = &all["items"][2];
        assert_eq!(item["product_group"]["code"], "dairy", "{item}");
        assert_eq!(item["code"], codes[0].identity());

        let cases: Vec<(&str, Vec<&String>)> = vec![
            ("?kind=NO_MARKING", vec![&n4, &n1]),
            ("?region=710000000", vec![&n4, &n2]),
            ("?region=750000000&kind=NO_MARKING", vec![&n1]),
            ("?product_group=dairy", vec![&n2]),
            ("?product_group=tobacco", vec![]),
            ("?status=new", vec![&n4, &n3, &n2, &n1]),
            ("?status=in_review", vec![]),
            ("?assignee=none", vec![&n4, &n3, &n2, &n1]),
            ("?assignee=me", vec![]),
        ];
        for (query, expected) in &cases {
            let (status, page) = queue(&d, query).await;
            assert_eq!(status, 200, "{query}: {page}");
            assert_eq!(numbers(&page), ns(expected), "{query}");
        }

        // Status and assignment change what the filters find.
        let (status, _) = set_status(&d, &n1, json!({"status": "in_review"})).await;
        assert_eq!(status, 200);
        let (status, _) = eds::call(
            &d.app,
            "POST",
            &format!("/v1/inspections/reports/{n4}/assign"),
            Some(&d.a.0),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = eds::call(
            &d.app,
            "POST",
            &format!("/v1/inspections/reports/{n2}/assign"),
            Some(&d.a.0),
            Some(&json!({"inspector": d.b.1})),
        )
        .await;
        assert_eq!(status, 200);
        let today = today_kz();
        let (yesterday, tomorrow) = (
            today.previous_day().expect("day"),
            today.next_day().expect("day"),
        );
        let cases: Vec<(String, Vec<&String>)> = vec![
            ("?status=in_review".into(), vec![&n1]),
            ("?status=new".into(), vec![&n4, &n3, &n2]),
            ("?assignee=me".into(), vec![&n4]),
            (format!("?assignee={}", d.b.1), vec![&n2]),
            ("?assignee=none".into(), vec![&n3, &n1]),
            (
                format!("?from={today}&to={today}"),
                vec![&n4, &n3, &n2, &n1],
            ),
            (format!("?from={yesterday}"), vec![&n4, &n3, &n2, &n1]),
            (format!("?from={tomorrow}"), vec![]),
            (format!("?to={yesterday}"), vec![]),
        ];
        for (query, expected) in &cases {
            let (status, page) = queue(&d, query).await;
            assert_eq!(status, 200, "{query}: {page}");
            assert_eq!(numbers(&page), ns(expected), "{query}");
        }

        // Pages.
        let (_, first) = queue(&d, "?limit=3").await;
        assert_eq!(numbers(&first), ns(&[&n4, &n3, &n2]));
        let cursor = first["next_cursor"].as_str().expect("a next page");
        assert_eq!(cursor, n2);
        let (_, second) = queue(&d, &format!("?limit=3&cursor={cursor}")).await;
        assert_eq!(numbers(&second), ns(&[&n1]));
        assert_eq!(second["next_cursor"], Value::Null);

        // Every bad filter at once, each named.
        let (status, bad) = queue(
            &d,
            "?kind=NOPE&region=1&status=open&from=2026-13-01&product_group=nope\
             &assignee=bob&limit=0&cursor=zz&lang=ru",
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(bad["error"]["code"], "validation_failed");
        let mut fields: Vec<&str> = bad["error"]["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|e| e["field"].as_str().expect("field"))
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "assignee",
                "cursor",
                "from",
                "kind",
                "limit",
                "product_group",
                "region",
                "status"
            ]
        );
        let (status, bad) = queue(&d, &format!("?from={today}&to={yesterday}")).await;
        assert_eq!(status, 400);
        assert_eq!(bad["error"]["details"][0]["code"], "date_range");
        let (status, _) = queue(&d, "?limit=101").await;
        assert_eq!(status, 400);
        d.app.stop().await;
    }
);

on_every_database!(
    status_moves_follow_the_table_and_the_reporter_reads_the_answer,
    |db: Db| async move {
        let d = desk(&db).await;
        let (n, secret) = reported(&d.app, about("NO_RECEIPT", "Тараз, Толе би 7")).await;

        let refused = |from: &'static str, to: &'static str| (from, to);
        let (status, body) = set_status(&d, &n, json!({"status": "confirmed"})).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "report_status_transition");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("Новое") && message.contains("Подтверждено"),
            "{message}"
        );
        let moves = [
            ("in_review", Ok(())),
            ("closed", Err(refused("in_review", "closed"))),
            ("new", Err(refused("in_review", "new"))),
            ("inspection_scheduled", Ok(())),
            (
                "in_review",
                Err(refused("inspection_scheduled", "in_review")),
            ),
            ("closed", Err(refused("inspection_scheduled", "closed"))),
            ("confirmed", Ok(())),
            ("rejected", Err(refused("confirmed", "rejected"))),
            ("closed", Ok(())),
            ("new", Err(refused("closed", "new"))),
            ("in_review", Err(refused("closed", "in_review"))),
        ];
        for (to, expected) in moves {
            let mut body = json!({"status": to});
            if to == "confirmed" {
                body["public_answer"] = json!("Нарушение подтверждено, магазин проверен.");
            }
            let (status, answer) = set_status(&d, &n, body).await;
            match expected {
                Ok(()) => {
                    assert_eq!(status, 200, "-> {to}: {answer}");
                    assert_eq!(answer["status"]["code"], to);
                }
                Err((from, to)) => {
                    assert_eq!(status, 409, "{from} -> {to}: {answer}");
                    assert_eq!(answer["error"]["code"], "report_status_transition");
                }
            }
        }

        // Bad bodies: every problem by field.
        for (body, field, code) in [
            (json!({}), "status", "required"),
            (json!({"status": "open"}), "status", "one_of"),
            (
                json!({"status": "closed", "block_code": "yes"}),
                "block_code",
                "not_boolean",
            ),
            (
                json!({"status": "rejected", "block_code": true}),
                "block_code",
                "block_needs_confirmed",
            ),
            (json!({"status": "closed", "x": 1}), "x", "unknown_field"),
        ] {
            let (status, answer) = set_status(&d, &n, body.clone()).await;
            assert_eq!(status, 400, "{body}: {answer}");
            let details = answer["error"]["details"].as_array().expect("details");
            assert!(
                details
                    .iter()
                    .any(|e| e["field"] == field && e["code"] == code),
                "{body}: {answer}"
            );
        }

        // An internal comment.
        let (status, after) = eds::call(
            &d.app,
            "POST",
            &format!("/v1/inspections/reports/{n}/comments"),
            Some(&d.a.0),
            Some(&json!({"text": "Позвонить в магазин,\nуточнить кассу."})),
        )
        .await;
        assert_eq!(status, 201, "{after}");
        assert_eq!(
            after["comments"][0]["text"],
            "Позвонить в магазин,\nуточнить кассу."
        );
        assert_eq!(after["comments"][0]["author"], d.a.1);
        let (status, empty) = eds::call(
            &d.app,
            "POST",
            &format!("/v1/inspections/reports/{n}/comments"),
            Some(&d.a.0),
            Some(&json!({"text": "  "})),
        )
        .await;
        assert_eq!(status, 400, "{empty}");

        // The report's own history, in order.
        let history: Vec<(String, Value, Value)> = after["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|h| {
                (
                    h["action"].as_str().expect("action").to_owned(),
                    h["from"].clone(),
                    h["to"].clone(),
                )
            })
            .collect();
        let expected: Vec<(String, Value, Value)> = vec![
            ("created".into(), Value::Null, json!("new")),
            ("status".into(), json!("new"), json!("in_review")),
            (
                "status".into(),
                json!("in_review"),
                json!("inspection_scheduled"),
            ),
            (
                "status".into(),
                json!("inspection_scheduled"),
                json!("confirmed"),
            ),
            ("status".into(), json!("confirmed"), json!("closed")),
            ("comment".into(), Value::Null, Value::Null),
        ];
        assert_eq!(history, expected);

        // The reporter sees the status and the public answer, not the comment.
        let (status, public) = r::follow(&d.app, &n, Some(&secret), "").await;
        assert_eq!(status, 200, "{public}");
        assert_eq!(public["status"]["code"], "closed");
        assert_eq!(public["status"]["text"], "Закрыто");
        assert_eq!(
            public["public_answer"],
            "Нарушение подтверждено, магазин проверен."
        );
        assert!(!public.to_string().contains("Позвонить"), "{public}");
        d.app.stop().await;
    }
);

on_every_database!(
    a_confirmed_report_blocks_its_code_and_the_next_scan_says_blocked,
    |db: Db| async move {
        let d = desk(&db).await;
        let codes = r::genuine_codes(&d.settings, &r::milk("04652352262009"), 2).await;
        let code = &codes[0];
        assert_eq!(scan(&d.app, code).await, "genuine");
        // Two scans as the scan recorder (another issue) writes them.
        let (gtin, serial) = (
            code.gtin().as_str().parse::<i64>().expect("gtin"),
            code.serial(),
        );
        for (at, verdict) in [
            (1_770_000_000_000_i64, "genuine"),
            (1_770_000_060_000, "genuine"),
        ] {
            r::execute(
                &d.settings,
                &format!(
                    "INSERT INTO scans (gtin, serial, at, lat, lon, channel, context, verdict) \
                     VALUES ({gtin}, '{serial}', {at}, 43.24, 76.89, 'app', 'check', '{verdict}')"
                ),
            )
            .await;
        }

        let (first, _) = reported(
            &d.app,
            with_code(about("SOLD_CODE", "Алматы, Абая 10"), code),
        )
        .await;
        let mut again = with_code(about("INVALID_CODE", "Алматы, Абая 10"), code);
        again["comment"] = json!("Тот же код в другом магазине.");
        let (second, _) = reported(&d.app, again).await;
        let (no_code, _) = reported(&d.app, about("NO_MARKING", "Алматы, Абая 11")).await;
        let unknown = tanba_api::emission::sign_new(
            &tanba_api::keys::load_or_generate(&d.settings.emission_key_file, false).expect("key"),
            code.gtin(),
            1,
        )
        .remove(0);
        let (not_stored, _) = reported(
            &d.app,
            with_code(about("INVALID_CODE", "Алматы, Абая 12"), &unknown),
        )
        .await;
        for n in [&first, &second, &no_code, &not_stored] {
            let (status, body) = set_status(&d, n, json!({"status": "in_review"})).await;
            assert_eq!(status, 200, "{body}");
        }

        let (status, body) = set_status(
            &d,
            &first,
            json!({"status": "confirmed", "block_code": true, "public_answer": "Код заблокирован."}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"]["code"], "confirmed");
        assert_eq!(
            scan(&d.app, code).await,
            "blocked",
            "the card was invalidated"
        );
        assert_eq!(scan(&d.app, &codes[1]).await, "genuine", "only that code");

        // The code's story beside the report, once the scan recorder has
        // written the two real scans (it writes behind the answer).
        let detail_of_first = common::eventually(
            "both real scans recorded",
            Duration::from_secs(15),
            || async {
                let detail = detail(&d, &first).await;
                (detail["code_story"]["scans"].as_array().map(Vec::len) == Some(4))
                    .then_some(detail)
            },
        )
        .await;
        let story = &detail_of_first["code_story"];
        assert_eq!(story["identity"], code.identity());
        assert_eq!(story["stored"], true);
        assert_eq!(story["state"]["blocked"], true);
        assert_eq!(story["state"]["status"]["status"], "INTRODUCED");
        assert!(
            story["emitted"].as_str().is_some_and(|d| d.len() == 10),
            "{story}"
        );
        let events = story["events"].as_array().expect("events");
        let ops: Vec<&str> = events
            .iter()
            .map(|e| e["operation"].as_str().expect("operation"))
            .collect();
        assert_eq!(ops, ["apply", "introduce", "block"], "{story}");
        let block = &events[2];
        assert_eq!(block["source"]["kind"], "report");
        assert_eq!(block["source"]["id"], first.as_str());
        assert_eq!(block["actor"], d.a.1);
        assert_eq!(block["blocked"], true);
        assert_eq!(events[0]["source"]["kind"], "demo");
        let scans = story["scans"].as_array().expect("scans");
        let verdicts: Vec<&str> = scans
            .iter()
            .map(|s| s["verdict"].as_str().expect("verdict"))
            .collect();
        assert_eq!(
            verdicts,
            ["blocked", "genuine", "genuine", "genuine"],
            "newest first: {story}"
        );
        assert_eq!(scans[2]["at"], 1_770_000_060_000_i64, "newest first");
        assert_eq!(scans[2]["channel"], "app");
        assert_eq!(scans[2]["lat"], 43.24);
        let others: Vec<&str> = story["other_reports"]
            .as_array()
            .expect("other reports")
            .iter()
            .map(|o| o["number"].as_str().expect("number"))
            .collect();
        assert_eq!(others, [second.as_str()]);

        // Blocking an already blocked code refuses the whole decision.
        let (status, body) = set_status(
            &d,
            &second,
            json!({"status": "confirmed", "block_code": true}),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "already_blocked");
        assert!(!body["error"]["message"].as_str().unwrap_or("").is_empty());
        assert_eq!(detail(&d, &second).await["status"]["code"], "in_review");
        let again = detail(&d, &first).await;
        assert_eq!(
            again["code_story"]["events"].as_array().map(Vec::len),
            Some(3)
        );

        // No code, or a code Tanba never stored: nothing to block.
        let (status, body) = set_status(
            &d,
            &no_code,
            json!({"status": "confirmed", "block_code": true}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("report_no_code"))
        );
        let (status, body) = set_status(
            &d,
            &not_stored,
            json!({"status": "confirmed", "block_code": true}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("report_code_not_stored"))
        );
        assert_eq!(detail(&d, &not_stored).await["code_story"]["stored"], false);
        for n in [&no_code, &not_stored] {
            assert_eq!(detail(&d, n).await["status"]["code"], "in_review");
        }
        d.app.stop().await;
    }
);

on_every_database!(
    reports_are_assigned_to_inspectors_only,
    |db: Db| async move {
        let d = desk(&db).await;
        let (n, _) = reported(&d.app, about("EXPIRED", "Актобе, Абилкайыр хана 1")).await;
        let assign = |body: Option<Value>| {
            let (app, token, n) = (&d.app, d.a.0.clone(), n.clone());
            async move {
                eds::call(
                    app,
                    "POST",
                    &format!("/v1/inspections/reports/{n}/assign"),
                    Some(&token),
                    body.as_ref(),
                )
                .await
            }
        };
        let (status, body) = assign(Some(json!({}))).await;
        assert_eq!((status, &body["assignee"]), (200, &json!(d.a.1)), "{body}");
        let (status, body) = assign(Some(json!({"inspector": d.b.1}))).await;
        assert_eq!((status, &body["assignee"]), (200, &json!(d.b.1)), "{body}");
        let (status, body) = assign(Some(json!({"inspector": null}))).await;
        assert_eq!((status, &body["assignee"]), (200, &Value::Null), "{body}");

        let admin_id = staff_id(&d.settings, &eds::test_iin(9_001)).await;
        for (inspector, code) in [
            (json!(admin_id), "unknown_inspector"),
            (
                json!("6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"),
                "unknown_inspector",
            ),
            (json!("bob"), "assignee_format"),
            (json!(7), "not_text"),
        ] {
            let (status, body) = assign(Some(json!({"inspector": inspector}))).await;
            assert_eq!(status, 400, "{inspector}: {body}");
            assert_eq!(body["error"]["details"][0]["code"], code, "{inspector}");
        }
        let (status, body) = eds::call(
            &d.app,
            "POST",
            "/v1/inspections/reports/2099-999999/assign",
            Some(&d.a.0),
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("report_not_found"))
        );

        let history: Vec<Value> = detail(&d, &n).await["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|h| h["action"] == "assigned")
            .map(|h| h["assignee"].clone())
            .collect();
        assert_eq!(history, [json!(d.a.1), json!(d.b.1), Value::Null]);
        d.app.stop().await;
    }
);

on_every_database!(
    participants_and_administrators_see_no_report_and_no_photo,
    |db: Db| async move {
        let d = desk(&db).await;
        let (n, _) = reported(&d.app, about("OTHER", "Павлодар, Торайгырова 1")).await;
        let maker = d.ca.issue_legal_entity(
            &eds::test_bin(1),
            &eds::test_iin(1),
            "Өндіруші",
            "ЖШС «Өндіруші»",
            eds::KeyKind::Rsa,
        );
        eds::register_and_approve_participant(&d.app, &d.admin, &maker, &["manufacturer"]).await;
        let maker = eds::sign_in(&d.app, &maker).await;
        let paths = [
            ("GET", "/v1/inspections/reports".to_owned()),
            ("GET", format!("/v1/inspections/reports/{n}")),
            ("GET", format!("/v1/inspections/reports/{n}/photos/1")),
            ("POST", format!("/v1/inspections/reports/{n}/assign")),
            ("POST", format!("/v1/inspections/reports/{n}/status")),
            ("POST", format!("/v1/inspections/reports/{n}/comments")),
        ];
        for (method, path) in &paths {
            let body = (*method == "POST").then(|| json!({"status": "in_review", "text": "x"}));
            for token in [&d.admin, &maker] {
                let (status, answer) =
                    eds::call(&d.app, method, path, Some(token), body.as_ref()).await;
                assert_eq!(status, 403, "{method} {path}: {answer}");
                assert_eq!(answer["error"]["code"], "forbidden");
            }
            let (status, _) = eds::call(&d.app, method, path, None, body.as_ref()).await;
            assert_eq!(status, 401, "{method} {path}");
        }
        // Nothing changed, and the inspector still sees the photo.
        let seen = detail(&d, &n).await;
        assert_eq!(seen["status"]["code"], "new");
        assert_eq!(seen["assignee"], Value::Null);
        assert_eq!(seen["photos"].as_array().map(Vec::len), Some(1));
        d.app.stop().await;
    }
);

on_every_database!(
    every_inspector_change_is_audited_with_the_inspector_and_the_address,
    |db: Db| async move {
        let d = desk(&db).await;
        let codes = r::genuine_codes(&d.settings, &r::milk("04652352262009"), 1).await;
        let (n, _) = reported(
            &d.app,
            with_code(about("SOLD_CODE", "Орал, Достык 3"), &codes[0]),
        )
        .await;
        let calls = [
            ("assign", json!({})),
            ("comments", json!({"text": "Выехать на место."})),
            ("status", json!({"status": "in_review"})),
            ("status", json!({"status": "confirmed", "block_code": true})),
        ];
        for (what, body) in calls {
            let (status, answer) = eds::call(
                &d.app,
                "POST",
                &format!("/v1/inspections/reports/{n}/{what}"),
                Some(&d.a.0),
                Some(&body),
            )
            .await;
            assert!(status == 200 || status == 201, "{what}: {answer}");
        }
        let entries = eds::audit_entries(&d.settings).await;
        let ours: Vec<_> = entries
            .iter()
            .filter(|e| e.actor.as_deref() == Some(d.a.1.as_str()))
            .collect();
        let actions: Vec<&str> = ours.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "auth.sign_in",
                "report.assign",
                "report.comment",
                "report.status",
                "report.status",
                "code.block"
            ],
            "{ours:#?}"
        );
        for e in &ours[1..] {
            assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{e:?}");
            assert!(
                e.role.as_deref().is_some_and(|r| r.contains("inspector")),
                "{e:?}"
            );
            assert!(!e.at.is_empty());
        }
        let objects: Vec<Option<&str>> = ours[1..5].iter().map(|e| e.object.as_deref()).collect();
        assert_eq!(objects, [Some(n.as_str()); 4]);
        assert_eq!(
            ours[5].object.as_deref(),
            Some(codes[0].identity().as_str())
        );
        assert!(ours[5].detail.contains(&n), "{:?}", ours[5]);

        let store = tanba_api::store::Store::connect(&d.settings)
            .await
            .expect("store");
        assert_eq!(
            store.verify_audit_chain().await.expect("read"),
            Ok(entries.len() as i64)
        );
        store.close().await;
        let actions: Vec<String> = detail(&d, &n).await["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|h| h["action"].as_str().expect("action").to_owned())
            .collect();
        assert_eq!(
            actions,
            [
                "created",
                "assigned",
                "comment",
                "status",
                "status",
                "code_blocked"
            ]
        );
        d.app.stop().await;
    }
);
