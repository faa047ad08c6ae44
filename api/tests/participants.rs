//! Participants: signed registration, format-logical control with every
//! error at once, the operator's decision, and who may call what.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::Db;
use common::eds::*;
use serde_json::{Value, json};

/// Every participant endpoint an administrator may call, with a body.
fn admin_endpoints(id: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "/v1/participants".to_owned(), None),
        ("GET", "/v1/participants?status=PENDING".to_owned(), None),
        ("GET", format!("/v1/participants/{id}"), None),
        ("POST", format!("/v1/participants/{id}/approve"), None),
        (
            "POST",
            format!("/v1/participants/{id}/refuse"),
            Some(json!({"reason": "documents missing"})),
        ),
    ]
}

on_every_database!(
    registration_approval_and_sign_in_work_end_to_end,
    |db: Db| async move {
        let (app, ca, settings, admin) = spawn_with_admin(&db).await;
        let company = ca.issue_legal_entity(
            &test_bin(1),
            &test_iin(1),
            "Бауыржан Қасымов",
            "ТОО Жаңа",
            KeyKind::Rsa,
        );
        let (status, p) =
            register(&app, &company, &registration(&company, &["manufacturer"])).await;
        assert_eq!(status, 201, "{p}");
        assert_eq!(p["status"], "PENDING");
        assert_eq!(p["taxpayer_id"], test_bin(1));
        assert_eq!(p["phone"], "+77012345678", "the phone is stored normalized");
        assert_eq!(p["signer_iin"], test_iin(1));
        let id = p["id"].as_str().unwrap().to_owned();

        let (status, list) = call(
            &app,
            "GET",
            "/v1/participants?status=PENDING",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["participants"][0]["id"], id);

        let (status, p) = call(
            &app,
            "POST",
            &format!("/v1/participants/{id}/approve"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["status"], "APPROVED");
        let (_, pending) = call(
            &app,
            "GET",
            "/v1/participants?status=PENDING",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(pending["participants"], json!([]));

        let token = sign_in(&app, &company).await;
        let (status, me) = call(
            &app,
            "GET",
            &format!("/v1/participants/{id}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{me}");

        let log = audit_entries(&settings).await;
        let register_entry = log
            .iter()
            .find(|e| e.action == "participant.register")
            .expect("registration audited");
        assert_eq!(register_entry.object.as_deref(), Some(id.as_str()));
        let approve = log
            .iter()
            .find(|e| e.action == "participant.approve")
            .expect("approval audited");
        assert_eq!(approve.object.as_deref(), Some(id.as_str()));
        assert_eq!(approve.role.as_deref(), Some("admin"));
        assert_eq!(approve.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(approve.outcome, "ok");
    }
);

on_every_database!(
    a_refused_participant_keeps_the_reason_and_cannot_sign_in,
    |db: Db| async move {
        let (app, ca, settings, admin) = spawn_with_admin(&db).await;
        let who = ca.issue_person(&test_iin(1), "Ерлан", KeyKind::EcP256);
        let (_, p) = register(&app, &who, &registration(&who, &["retailer"])).await;
        let id = p["id"].as_str().unwrap();
        let path = format!("/v1/participants/{id}/refuse");
        let (status, body) = call(&app, "POST", &path, Some(&admin), Some(&json!({}))).await;
        assert_eq!(status, 400, "a reason is required: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "reason");
        let reason = json!({"reason": "Құжаттар толық емес"});
        let (status, p) = call(&app, "POST", &path, Some(&admin), Some(&reason)).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["status"], "REFUSED");
        assert_eq!(p["refusal_reason"], "Құжаттар толық емес");

        let approve = format!("/v1/participants/{id}/approve");
        let (status, body) = call(&app, "POST", &approve, Some(&admin), None).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "participant_already_decided");

        let (status, body) = try_sign_in(&app, &who).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "participant_not_approved");
        let log = audit_entries(&settings).await;
        assert!(
            log.iter()
                .any(|e| e.action == "participant.refuse" && e.outcome == "ok")
        );
        assert!(log.iter().any(|e| e.action == "participant.approve"
            && e.outcome == "refused:participant_already_decided"));
    }
);

on_every_database!(
    a_registration_with_several_bad_fields_lists_every_error_and_stores_nothing,
    |db: Db| async move {
        let (app, ca, settings, admin) = spawn_with_admin(&db).await;
        let who = ca.issue_person(&test_iin(1), "Қате", KeyKind::Rsa);
        let bad = json!({
            "taxpayer_id": "123456789012",
            "name_kk": "",
            "name_ru": "x".repeat(301),
            "roles": ["admin", "retailer", "retailer", 7],
            "contacts": {"email": "not-an-email", "phone": "12"},
            "extra": true,
        });
        let before = audit_entries(&settings).await.len();
        let mut messages = Vec::new();
        for lang in ["kk", "ru"] {
            let bytes = serde_json::to_vec(&bad).unwrap();
            let body = json!({
                "registration": STANDARD.encode(&bytes),
                "signature": sign_detached(&who, &bytes),
            });
            let resp = app
                .client
                .post(app.url(&format!("/v1/participants?lang={lang}")))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 400);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "validation_failed");
            let details = body["error"]["details"].as_array().unwrap().clone();
            let found: Vec<(String, String)> = details
                .iter()
                .map(|d| {
                    let message = d["message"].as_str().unwrap();
                    assert!(!message.starts_with("field-"), "message missing: {d}");
                    (
                        d["field"].as_str().unwrap().to_owned(),
                        d["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let expected = [
                ("extra", "unknown_field"),
                ("taxpayer_id", "taxpayer_id_control_digit"),
                ("name_kk", "required"),
                ("name_ru", "too_long"),
                ("roles[0]", "unknown_role"),
                ("roles[2]", "duplicate_role"),
                ("roles[3]", "not_text"),
                ("contacts.email", "email"),
                ("contacts.phone", "phone"),
            ];
            for (field, code) in expected {
                assert!(
                    found.contains(&(field.to_owned(), code.to_owned())),
                    "{field} {code} missing from {found:?}"
                );
            }
            assert_eq!(found.len(), expected.len(), "{found:?}");
            messages.push(details);
        }
        assert_ne!(messages[0], messages[1], "Kazakh and Russian differ");
        let (_, list) = call(&app, "GET", "/v1/participants", Some(&admin), None).await;
        assert_eq!(list["participants"], json!([]), "nothing stored");
        assert_eq!(audit_entries(&settings).await.len(), before);
    }
);

on_every_database!(
    a_registration_without_roles_or_contacts_is_refused,
    |db: Db| async move {
        let (app, ca, _settings, _admin) = spawn_with_admin(&db).await;
        let who = ca.issue_person(&test_iin(1), "Бос", KeyKind::Rsa);
        let doc = json!({
            "taxpayer_id": test_iin(1), "name_kk": "А", "name_ru": "А",
            "roles": [], "contacts": {},
        });
        let (status, body) = register(&app, &who, &doc).await;
        assert_eq!(status, 400, "{body}");
        let codes: Vec<_> = body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["field"].as_str().unwrap(), d["code"].as_str().unwrap()))
            .collect();
        assert_eq!(
            codes,
            [("roles", "required"), ("contacts", "contacts_required")]
        );
    }
);

on_every_database!(
    a_duplicate_registration_is_a_conflict,
    |db: Db| async move {
        let (app, ca, settings, _admin) = spawn_with_admin(&db).await;
        let who = ca.issue_person(&test_iin(1), "Екі рет", KeyKind::Rsa);
        let doc = registration(&who, &["importer"]);
        let (status, _) = register(&app, &who, &doc).await;
        assert_eq!(status, 201);
        let (status, body) = register(&app, &who, &doc).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "participant_exists");
        let log = audit_entries(&settings).await;
        assert_eq!(log.last().unwrap().outcome, "refused:participant_exists");
    }
);

on_every_database!(
    a_registration_signed_by_someone_else_is_refused,
    |db: Db| async move {
        let (app, ca, settings, admin) = spawn_with_admin(&db).await;
        let owner = ca.issue_person(&test_iin(1), "Owner", KeyKind::Rsa);
        let other = ca.issue_person(&test_iin(2), "Other", KeyKind::Rsa);
        let (status, body) = register(&app, &other, &registration(&owner, &["retailer"])).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "registration_signer_mismatch");

        let stranger_ca = TestCa::named("Stranger CA");
        let forged = stranger_ca.issue_person(&test_iin(1), "Owner", KeyKind::Rsa);
        let (status, body) = register(&app, &forged, &registration(&owner, &["retailer"])).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "eds_untrusted");
        let log = audit_entries(&settings).await;
        assert_eq!(log.last().unwrap().action, "participant.register");
        assert_eq!(log.last().unwrap().outcome, "refused:eds_untrusted");

        // The signature covers the exact bytes: a changed document is refused.
        let doc = registration(&owner, &["retailer"]);
        let bytes = serde_json::to_vec(&doc).unwrap();
        let signature = sign_detached(&owner, &bytes);
        let mut changed = doc.clone();
        changed["roles"] = json!(["manufacturer"]);
        let body = json!({
            "registration": STANDARD.encode(serde_json::to_vec(&changed).unwrap()),
            "signature": signature,
        });
        let (status, answer) = call(&app, "POST", "/v1/participants", None, Some(&body)).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["error"]["code"], "eds_bad_signature");
        let (_, list) = call(&app, "GET", "/v1/participants", Some(&admin), None).await;
        assert_eq!(list["participants"], json!([]));
    }
);

on_every_database!(
    malformed_and_oversized_registrations_get_clear_errors,
    |db: Db| async move {
        let (app, _ca, settings, admin) = spawn_with_admin(&db).await;
        let resp = app
            .client
            .post(app.url("/v1/participants"))
            .header("content-type", "application/json")
            .body("{\"registration\": [")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "malformed_json");

        let body = json!({"registration": "%%%", "signature": "x"});
        let (status, answer) = call(&app, "POST", "/v1/participants", None, Some(&body)).await;
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["details"][0]["code"], "base64");

        let body = json!({"registration": STANDARD.encode("[1, 2]"), "signature": "x"});
        let (status, answer) = call(&app, "POST", "/v1/participants", None, Some(&body)).await;
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["details"][0]["code"], "not_json_object");

        let huge = "A".repeat(settings.max_body_bytes + 10);
        let body = json!({"registration": huge, "signature": "x"});
        let (status, answer) = call(&app, "POST", "/v1/participants", None, Some(&body)).await;
        assert_eq!(status, 413, "{answer}");
        assert_eq!(answer["error"]["code"], "payload_too_large");

        let (_, list) = call(&app, "GET", "/v1/participants", Some(&admin), None).await;
        assert_eq!(list["participants"], json!([]));
    }
);

on_every_database!(
    every_participant_endpoint_refuses_no_token_and_a_wrong_role_in_both_languages,
    |db: Db| async move {
        let (app, ca, settings, admin) = spawn_with_admin(&db).await;
        let member = ca.issue_person(&test_iin(1), "Member", KeyKind::Rsa);
        register_and_approve_participant(&app, &admin, &member, &["retailer"]).await;
        let member_token = sign_in(&app, &member).await;
        let (_, inspector) = staff(
            &app,
            &settings,
            &ca,
            &test_iin(2),
            "Inspector",
            "inspector,analyst",
        )
        .await;
        let target = ca.issue_person(&test_iin(3), "Target", KeyKind::Rsa);
        let (_, p) = register(&app, &target, &registration(&target, &["importer"])).await;
        let id = p["id"].as_str().unwrap().to_owned();

        for (method, path, body) in admin_endpoints(&id) {
            for (token, status, code) in [
                (None, 401, "unauthenticated"),
                (Some(member_token.as_str()), 403, "forbidden"),
                (Some(inspector.as_str()), 403, "forbidden"),
            ] {
                let mut messages = Vec::new();
                for lang in ["kk", "ru"] {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let url = format!("{path}{sep}lang={lang}");
                    let (got, answer) = call(&app, method, &url, token, body.as_ref()).await;
                    assert_eq!(got, status, "{method} {url}: {answer}");
                    assert_eq!(answer["error"]["code"], code, "{method} {url}");
                    messages.push(answer["error"]["message"].as_str().unwrap().to_owned());
                }
                assert_ne!(
                    messages[0], messages[1],
                    "{method} {path}: kk and ru differ"
                );
            }
        }
        // Nothing was decided by the refused calls.
        let (_, p) = call(
            &app,
            "GET",
            &format!("/v1/participants/{id}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(p["status"], "PENDING");
    }
);

on_every_database!(
    a_participant_sees_itself_but_not_another,
    |db: Db| async move {
        let (app, ca, _settings, admin) = spawn_with_admin(&db).await;
        let a = ca.issue_person(&test_iin(1), "A", KeyKind::Rsa);
        let b = ca.issue_person(&test_iin(2), "B", KeyKind::EcP256);
        let a_id = register_and_approve_participant(&app, &admin, &a, &["retailer"]).await;
        let b_id = register_and_approve_participant(&app, &admin, &b, &["wholesaler"]).await;
        let a_token = sign_in(&app, &a).await;
        let (status, _) = call(
            &app,
            "GET",
            &format!("/v1/participants/{a_id}"),
            Some(&a_token),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(
            &app,
            "GET",
            &format!("/v1/participants/{b_id}"),
            Some(&a_token),
            None,
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let (status, _) = call(
            &app,
            "GET",
            "/v1/participants/00000000-0000-0000-0000-000000000000",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, body) = call(
            &app,
            "GET",
            "/v1/participants?status=MAYBE",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["code"], "unknown_status");
    }
);

/// Every `FieldError::new("code", …)` in the source has a `field-code`
/// message in Kazakh and Russian.
#[test]
fn every_field_error_code_has_a_message_in_kazakh_and_russian() {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut missing = Vec::new();
    let mut seen = 0;
    for text in &files {
        for (at, marker) in text.match_indices("FieldError::new(\"") {
            let rest = &text[at + marker.len()..];
            let code = &rest[..rest.find('"').unwrap()];
            seen += 1;
            let key = format!("field-{}", code.replace('_', "-"));
            for lang in tanba_locales::Lang::ALL {
                if !tanba_locales::has(lang, &key) {
                    missing.push(format!("{key} ({lang})"));
                }
            }
        }
    }
    assert!(seen > 10, "found only {seen} field errors");
    assert!(missing.is_empty(), "messages missing: {missing:?}");
}
