//! Documents sent as NDJSON or CSV, on both databases. NDJSON: the
//! document's object without `codes` on the first line, one item a line.
//! CSV: the fields' names and values in two rows, the items' columns in the
//! third, one item a row. An introduction and a shipment go through as
//! their JSON twins do; a bad item is named `codes[i]` as in JSON, a line
//! that is not JSON or a row that does not fit is named by its number, an
//! aggregation is refused as NDJSON (as CSV it is one row per member), any other content type is 415,
//! and a forged signature over the lines stores nothing. A CSV saved in
//! Windows-1251 goes through when its content type says so, signed over the
//! bytes as sent.

mod common;

use std::time::Duration;

use common::Db;
use common::eds;
use common::trade::{
    GTIN, Party, World, accept, codes, history, operations, party, scan, settled, world,
};
use serde_json::{Value, json};

/// NDJSON bytes: `head` on the first line, then one line per item.
fn lines(head: &Value, items: &[Value]) -> Vec<u8> {
    let mut out = serde_json::to_vec(head).expect("json");
    for item in items {
        out.push(b'\n');
        out.extend(serde_json::to_vec(item).expect("json"));
    }
    out.push(b'\n');
    out
}

/// `POST /v1/documents` with `bytes` as `content_type`, signed with
/// `signature` (none when `None`).
async fn post_raw(
    w: &World,
    who: &Party,
    key: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    signature: Option<&str>,
) -> (u16, Value) {
    let mut req = w
        .app
        .client
        .post(w.app.url("/v1/documents"))
        .bearer_auth(&who.token)
        .header("Idempotency-Key", key)
        .body(bytes.to_vec());
    if let Some(t) = content_type {
        req = req.header("Content-Type", t);
    }
    if let Some(s) = signature {
        req = req.header("X-Signature", s);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// Sends `bytes` as `content_type`, signed by its sender.
async fn send(w: &World, who: &Party, key: &str, content_type: &str, bytes: &[u8]) -> (u16, Value) {
    let signature = eds::sign_detached(&who.identity, bytes);
    post_raw(w, who, key, Some(content_type), bytes, Some(&signature)).await
}

async fn submit(w: &World, who: &Party, key: &str, content_type: &str, bytes: &[u8]) -> Value {
    let (status, body) = send(w, who, key, content_type, bytes).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    settled(w, &who.token, &id, "kk").await
}

/// The buyer accepts shipment `id`; the operations in `code`'s history.
async fn accept_and_read_history(w: &World, shop: &Party, id: &str, code: &str) -> Vec<String> {
    let (status, accepted) = accept(w, shop, id, "accept").await;
    assert_eq!(status, 200, "{accepted}");
    let (status, story) = history(w, &shop.token, code, "").await;
    assert_eq!(status, 200, "{story}");
    operations(&story)
}

fn production_head() -> Value {
    json!({
        "kind": "introduction",
        "release_method": "production",
        "production_date": "2026-01-15",
        "conformity": {"kind": "declaration", "number": "ЕАЭС N RU Д-KZ.АБ12.В.00123/24", "date": "2024-03-15"},
    })
}

const NDJSON: &str = "application/x-ndjson";

on_every_database!(
    an_introduction_and_a_shipment_as_ndjson_move_codes_as_json_does,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = party(&w, 1, &["manufacturer"]).await;
        let shop = party(&w, 2, &["retailer"]).await;
        let all = codes(&w, &maker, GTIN, 3).await;
        let items: Vec<Value> = all.iter().map(|c| json!(c)).collect();

        let applied = submit(
            &w,
            &maker,
            "apply",
            "application/ndjson",
            &lines(&json!({"kind": "application"}), &items),
        )
        .await;
        assert_eq!(applied["status"], "CHECKED_OK", "{applied}");
        assert_eq!(scan(&w.app, &all[2]).await.0, "APPLIED");

        // CRLF line ends and blank lines are fine.
        let mut body = lines(&production_head(), &items);
        body = String::from_utf8(body)
            .expect("utf-8")
            .replace('\n', "\r\n\r\n")
            .into_bytes();
        let introduced = submit(&w, &maker, "intro", NDJSON, &body).await;
        assert_eq!(introduced["status"], "CHECKED_OK", "{introduced}");
        assert_eq!(introduced["codes"].as_array().map(Vec::len), Some(3));
        assert_eq!(introduced["codes"][1]["code"], all[1].as_str());
        for code in &all {
            assert_eq!(scan(&w.app, code).await.0, "INTRODUCED");
        }

        let shipped = submit(
            &w,
            &maker,
            "ship",
            "application/x-ndjson; charset=utf-8",
            &lines(
                &json!({"kind": "shipment", "receiver": shop.bin}),
                &[
                    json!({"code": all[0], "price": 1100.50}),
                    json!({"code": all[1], "price": "99"}),
                ],
            ),
        )
        .await;
        assert_eq!(shipped["status"], "WAIT_ACCEPTANCE", "{shipped}");
        assert_eq!(shipped["codes"][0]["price"], "1100.50");
        assert_eq!(shipped["codes"][1]["price"], "99.00");
        let id = shipped["id"].as_str().expect("id");
        let ops = accept_and_read_history(&w, &shop, id, &all[0]).await;
        assert_eq!(ops, ["apply", "introduce", "ship", "accept"]);
    }
);

on_every_database!(
    a_bad_ndjson_body_is_refused_by_item_line_kind_or_content_type,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = party(&w, 1, &["manufacturer"]).await;
        let all = codes(&w, &maker, GTIN, 2).await;

        // Bad items are named as in JSON: codes[i], items counted from 0.
        let body = lines(
            &json!({"kind": "application"}),
            &[
                json!(all[0]),
                json!(42),
                json!({"code": all[1], "price": 1}),
                json!(" "),
            ],
        );
        let (code, body) = send(&w, &maker, "bad-items", NDJSON, &body).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(body["error"]["code"], "validation_failed");
        let found = common::field_errors(&body);
        assert_eq!(
            found,
            [
                ("codes[1]", "not_text"),
                ("codes[2].price", "unknown_field"),
                ("codes[3]", "required"),
            ]
        );

        // A shipment item without a price, as in JSON.
        let body = lines(
            &json!({"kind": "shipment", "receiver": eds::test_bin(2)}),
            &[json!(all[0])],
        );
        let (code, body) = send(&w, &maker, "no-price", NDJSON, &body).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "codes[0]");
        assert_eq!(body["error"]["details"][0]["code"], "price_required");

        // A line that is not JSON: 400 malformed_json, its number in the message.
        let mut body = lines(&json!({"kind": "application"}), &[json!(all[0])]);
        body.extend(b"\n\"unterminated\n");
        let (code, answer) = send(&w, &maker, "malformed", NDJSON, &body).await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "malformed_json");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains('4'), "{message}");

        // Aggregation is JSON only.
        let body = lines(&json!({"kind": "aggregation"}), &[json!(all[0])]);
        let (code, body) = send(&w, &maker, "agg", NDJSON, &body).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "kind");
        assert_eq!(body["error"]["details"][0]["code"], "not_streamable");

        // Codes in the first line are not how NDJSON lists them.
        let body = lines(
            &json!({"kind": "application", "codes": [all[0]]}),
            &[json!(all[1])],
        );
        let (code, body) = send(&w, &maker, "codes-head", NDJSON, &body).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "codes");

        // Any other content type, or none: 415, in the caller's language.
        let json_body =
            serde_json::to_vec(&json!({"kind": "application", "codes": all})).expect("json");
        for (n, content_type) in [Some("text/plain"), Some("application/xml"), None]
            .into_iter()
            .enumerate()
        {
            let signature = eds::sign_detached(&maker.identity, &json_body);
            let (code, body) = post_raw(
                &w,
                &maker,
                &format!("type-{n}"),
                content_type,
                &json_body,
                Some(&signature),
            )
            .await;
            assert_eq!(code, 415, "{content_type:?}: {body}");
            assert_eq!(body["error"]["code"], "unsupported_media_type");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("application/x-ndjson")),
                "{body}"
            );
        }

        // Nothing was stored or changed.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(scan(&w.app, &all[0]).await.0, "EMITTED");
        let audit = eds::audit_entries(&w.settings).await;
        assert!(
            !audit
                .iter()
                .any(|e| e.action == "document.create" && e.outcome == "ok")
        );
    }
);

on_every_database!(
    a_forged_signature_over_ndjson_is_refused_and_nothing_is_stored,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = party(&w, 1, &["manufacturer"]).await;
        let all = codes(&w, &maker, GTIN, 2).await;
        let items: Vec<Value> = all.iter().map(|c| json!(c)).collect();
        let body = lines(&json!({"kind": "application"}), &items);
        let good = eds::sign_detached(&maker.identity, &body);

        // Tampered, or a signature over other bytes: the same lines as JSON,
        // or the lines without their last newline.
        let as_json =
            serde_json::to_vec(&json!({"kind": "application", "codes": all})).expect("json");
        let cases = [
            eds::tamper(&good),
            eds::sign_detached(&maker.identity, &as_json),
            eds::sign_detached(&maker.identity, &body[..body.len() - 1]),
        ];
        for (n, signature) in cases.iter().enumerate() {
            let (code, answer) = post_raw(
                &w,
                &maker,
                &format!("forged-{n}"),
                Some(NDJSON),
                &body,
                Some(signature),
            )
            .await;
            assert_eq!(code, 401, "{answer}");
            assert_eq!(answer["error"]["code"], "eds_bad_signature");
        }
        let (code, answer) = post_raw(&w, &maker, "unsigned", Some(NDJSON), &body, None).await;
        assert_eq!(code, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "document_signature_missing");

        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(scan(&w.app, &all[0]).await.0, "EMITTED");
        let audit = eds::audit_entries(&w.settings).await;
        let creates: Vec<&str> = audit
            .iter()
            .filter(|e| e.action == "document.create")
            .map(|e| e.outcome.as_str())
            .collect();
        assert_eq!(creates.len(), cases.len() + 1, "{creates:?}");
        assert!(
            creates.iter().all(|o| o.starts_with("refused:")),
            "{creates:?}"
        );

        // Signed by its sender over the exact bytes, it goes through.
        let done = submit(&w, &maker, "good", NDJSON, &body).await;
        assert_eq!(done["status"], "CHECKED_OK", "{done}");
        assert_eq!(scan(&w.app, &all[1]).await.0, "APPLIED");
    }
);

const CSV: &str = "text/csv";

/// A unit code's GTIN and serial, however it is written.
fn identity(code: &str) -> String {
    match tanba_core::parse(code).expect("code") {
        tanba_core::ScannedCode::Unit(c) => {
            format!("{}/{}", c.gtin().as_str(), c.serial().as_str())
        }
        other => panic!("not a unit code: {other}"),
    }
}

/// CSV bytes: the fields' names and values, the items' columns, the items.
fn table(delimiter: u8, head: &[(&str, &str)], columns: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    out.write_record(head.iter().map(|(name, _)| name))
        .expect("names");
    out.write_record(head.iter().map(|(_, value)| value))
        .expect("values");
    out.write_record(columns).expect("columns");
    for row in rows {
        out.write_record(row).expect("row");
    }
    out.into_inner().expect("csv")
}

on_every_database!(
    an_introduction_and_a_shipment_as_csv_move_codes_as_json_does,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = party(&w, 1, &["manufacturer"]).await;
        let shop = party(&w, 2, &["retailer"]).await;
        let all = codes(&w, &maker, GTIN, 5).await;
        let rows: Vec<Vec<String>> = all.iter().map(|c| vec![c.clone()]).collect();

        let body = table(b',', &[("kind", "application")], &["code"], &rows);
        let applied = submit(&w, &maker, "apply", CSV, &body).await;
        assert_eq!(applied["status"], "CHECKED_OK", "{applied}");
        assert_eq!(scan(&w.app, &all[2]).await.0, "APPLIED");

        // Nested fields by dotted names; a comma inside a quoted cell.
        let head = [
            ("kind", "introduction"),
            ("release_method", "production"),
            ("production_date", "2026-01-15"),
            ("conformity.kind", "declaration"),
            (
                "conformity.number",
                "ЕАЭС N RU Д-KZ.АБ12.В.00123/24, изм. 1",
            ),
            ("conformity.date", "2024-03-15"),
        ];
        let body = table(b',', &head, &["code"], &rows);
        let introduced = submit(&w, &maker, "intro", "text/csv; charset=utf-8", &body).await;
        assert_eq!(introduced["status"], "CHECKED_OK", "{introduced}");
        assert_eq!(
            introduced["fields"]["conformity"]["number"], "ЕАЭС N RU Д-KZ.АБ12.В.00123/24, изм. 1",
            "{introduced}"
        );
        assert_eq!(introduced["codes"][1]["code"], all[1].as_str());
        for code in &all {
            assert_eq!(scan(&w.app, code).await.0, "INTRODUCED");
        }

        // An aggregation: one row per member, with its package. A
        // package's rows need not be together, nor its SSCC written alike;
        // the document lists the members package by package.
        let (box1, box2) = ("048700010000000011", "048700010000000028");
        let body = table(
            b',',
            &[("kind", "aggregation")],
            &["package", "code"],
            &[
                vec![format!("(00){box1}"), all[2].clone()],
                vec![box2.to_owned(), all[3].clone()],
                vec![box1.to_owned(), all[4].clone()],
            ],
        );
        let packed = submit(&w, &maker, "pack", CSV, &body).await;
        assert_eq!(packed["status"], "CHECKED_OK", "{packed}");
        let listed: Vec<&str> = packed["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .filter_map(|c| c["code"].as_str())
            .collect();
        assert_eq!(listed, [&all[2], &all[4], &all[3]], "{packed}");
        for (sscc, members) in [(box1, vec![&all[2], &all[4]]), (box2, vec![&all[3]])] {
            let path = format!("/v1/packages/{sscc}");
            let (code, package) = eds::call(&w.app, "GET", &path, Some(&maker.token), None).await;
            assert_eq!(code, 200, "{package}");
            let mut inside: Vec<String> = package["codes"]
                .as_array()
                .expect("codes")
                .iter()
                .filter_map(Value::as_str)
                .map(identity)
                .collect();
            inside.sort();
            let mut expected: Vec<String> = members.iter().map(|c| identity(c)).collect();
            expected.sort();
            assert_eq!(inside, expected, "{sscc}: {package}");
            assert_eq!(package["document"], packed["id"]);
        }

        // As a spreadsheet set to Russian saves it: `;` and a decimal comma.
        let body = table(
            b';',
            &[("kind", "shipment"), ("receiver", &shop.bin)],
            &["code", "price"],
            &[
                vec![all[0].clone(), "1100,50".into()],
                vec![all[1].clone(), "99".into()],
            ],
        );
        let shipped = submit(&w, &maker, "ship", CSV, &body).await;
        assert_eq!(shipped["status"], "WAIT_ACCEPTANCE", "{shipped}");
        assert_eq!(shipped["codes"][0]["price"], "1100.50");
        assert_eq!(shipped["codes"][1]["price"], "99.00");
        let id = shipped["id"].as_str().expect("id");
        let ops = accept_and_read_history(&w, &shop, id, &all[1]).await;
        assert_eq!(scan(&w.app, &all[0]).await.0, "INTRODUCED");
        assert_eq!(ops, ["apply", "introduce", "ship", "accept"]);
    }
);

on_every_database!(
    a_bad_csv_body_is_refused_by_item_column_or_row_and_stores_nothing,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = party(&w, 1, &["manufacturer"]).await;
        let all = codes(&w, &maker, GTIN, 2).await;

        // Bad items are named as in JSON; columns once, not per row.
        let body = table(
            b',',
            &[("kind", "shipment"), ("receiver", &eds::test_bin(2))],
            &["code", "price"],
            &[
                vec![all[0].clone(), "-1".into()],
                vec![String::new(), "5".into()],
            ],
        );
        let (code, answer) = send(&w, &maker, "bad-items", CSV, &body).await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(
            common::field_errors(&answer),
            [
                ("codes[0].price", "price_negative"),
                ("codes[1].code", "required"),
            ]
        );
        let body = table(
            b',',
            &[("kind", "application")],
            &["code", "grade"],
            &[vec![all[0].clone(), "A".into()]],
        );
        let (code, answer) = send(&w, &maker, "bad-column", CSV, &body).await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(
            common::field_errors(&answer),
            [("codes.grade", "unknown_field")]
        );

        // A row with a cell too many: 400 malformed_csv with its line, in
        // the caller's language.
        let mut body = table(
            b',',
            &[("kind", "application")],
            &["code"],
            &[vec![all[0].clone()]],
        );
        body.extend(format!("{},{}\n", all[1], all[0]).into_bytes());
        let signature = eds::sign_detached(&maker.identity, &body);
        let resp = w
            .app
            .client
            .post(w.app.url("/v1/documents"))
            .bearer_auth(&maker.token)
            .header("Idempotency-Key", "ragged")
            .header("Content-Type", CSV)
            .header("Accept-Language", "ru")
            .header("X-Signature", signature)
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 400);
        let answer: Value = resp.json().await.expect("json");
        assert_eq!(answer["error"]["code"], "malformed_csv", "{answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.starts_with("Строка 5 "), "{message}");

        // An aggregation's rows name their package.
        let body = table(
            b',',
            &[("kind", "aggregation")],
            &["code"],
            &[vec![all[0].clone()]],
        );
        let (code, answer) = send(&w, &maker, "agg", CSV, &body).await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(
            common::field_errors(&answer),
            [("codes.package", "required")]
        );

        // A forged signature over good rows.
        let body = table(
            b',',
            &[("kind", "application")],
            &["code"],
            &[vec![all[0].clone()]],
        );
        let forged = eds::tamper(&eds::sign_detached(&maker.identity, &body));
        let (code, answer) = post_raw(&w, &maker, "forged", Some(CSV), &body, Some(&forged)).await;
        assert_eq!(code, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "eds_bad_signature");

        // Nothing was stored or changed.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(scan(&w.app, &all[0]).await.0, "EMITTED");
        let audit = eds::audit_entries(&w.settings).await;
        assert!(
            !audit
                .iter()
                .any(|e| e.action == "document.create" && e.outcome == "ok")
        );
    }
);

on_every_database!(
    a_csv_in_windows_1251_goes_through_when_its_charset_is_given,
    |db: Db| async move {
        let w = world(&db).await;
        let maker = party(&w, 1, &["manufacturer"]).await;
        let all = codes(&w, &maker, GTIN, 1).await;
        let rows = vec![vec![all[0].clone()]];
        let body = table(b';', &[("kind", "application")], &["code"], &rows);
        let applied = submit(&w, &maker, "apply", CSV, &body).await;
        assert_eq!(applied["status"], "CHECKED_OK", "{applied}");

        // What a spreadsheet set to Russian saves as plain "CSV".
        let number = "ЕАЭС N RU Д-KZ.АБ12.В.00123/24";
        let head = [
            ("kind", "introduction"),
            ("release_method", "production"),
            ("production_date", "2026-01-15"),
            ("conformity.kind", "declaration"),
            ("conformity.number", number),
            ("conformity.date", "2024-03-15"),
        ];
        let utf8 = table(b';', &head, &["code"], &rows);
        let text = std::str::from_utf8(&utf8).expect("utf-8");
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(text);
        assert!(!unmappable);
        assert_ne!(bytes.as_ref(), utf8.as_slice());

        // Without its charset it is not UTF-8; a charset other than
        // Windows-1251 or UTF-8, or Windows-1251 on JSON, is not read.
        let (code, answer) = send(&w, &maker, "no-charset", CSV, &bytes).await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "malformed_csv", "{answer}");
        let koi8 = "text/csv; charset=koi8-r";
        let (code, answer) = send(&w, &maker, "koi8", koi8, &bytes).await;
        assert_eq!(code, 415, "{answer}");
        assert_eq!(answer["error"]["code"], "unsupported_charset", "{answer}");
        let json = "application/json; charset=windows-1251";
        let (code, answer) = send(&w, &maker, "json-1251", json, b"{}").await;
        assert_eq!(code, 415, "{answer}");
        assert_eq!(answer["error"]["code"], "unsupported_charset", "{answer}");
        // A signature over the decoded text is not one over what was sent.
        let cp1251 = "text/csv; charset=windows-1251";
        let wrong = eds::sign_detached(&maker.identity, &utf8);
        let (code, answer) =
            post_raw(&w, &maker, "wrong", Some(cp1251), &bytes, Some(&wrong)).await;
        assert_eq!(code, 401, "{answer}");
        assert_eq!(scan(&w.app, &all[0]).await.0, "APPLIED");

        // With its charset (any label of it), signed over the bytes sent.
        let given = "text/csv; Charset=\"CP1251\"";
        let done = submit(&w, &maker, "intro", given, &bytes).await;
        assert_eq!(done["status"], "CHECKED_OK", "{done}");
        assert_eq!(done["fields"]["conformity"]["number"], number, "{done}");
        assert_eq!(done["fields"]["charset"], "windows-1251", "{done}");
        assert_eq!(scan(&w.app, &all[0]).await.0, "INTRODUCED");
        // The digest is of the bytes signed; the body is kept as text that
        // gives them back.
        use sha2::Digest as _;
        let digest = format!("{:x}", sha2::Sha256::digest(&bytes));
        assert_eq!(done["body_digest"], digest.as_str(), "{done}");
        let id = done["id"].as_str().expect("id");
        let stored = stored_body(&db, id).await;
        assert_eq!(stored, text);
        let (again, _, _) = encoding_rs::WINDOWS_1251.encode(&stored);
        assert_eq!(again, bytes);
    }
);

/// A document's body as stored, read from the database itself.
async fn stored_body(db: &Db, id: &str) -> String {
    use sqlx::Connection as _;
    const SQL: &str = "SELECT body FROM documents WHERE id = $1";
    if db.label == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
        sqlx::query_scalar(SQL)
            .bind(id)
            .fetch_one(&mut c)
            .await
            .expect("body")
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("connect");
        sqlx::query_scalar(SQL)
            .bind(id)
            .fetch_one(&mut c)
            .await
            .expect("body")
    }
}
