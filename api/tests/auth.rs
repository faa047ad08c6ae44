//! Sign-in with an EDS: a challenge signed as a detached CMS, checked against
//! the trusted test CA, traded for a bearer token; every refusal has its
//! machine code, a message in both languages and an audit entry.

mod common;

use common::eds::*;
use common::{Db, TestApp};
use serde_json::{Value, json};
use tanba_api::settings::Settings;

/// A service trusting a fresh test CA.
async fn spawn(db: &Db) -> (TestApp, TestCa, Settings) {
    let ca = TestCa::new();
    let mut settings = db.settings();
    ca.trust(&mut settings);
    let app = TestApp::spawn(settings.clone()).await;
    (app, ca, settings)
}

/// Asserts a refusal: status, code, a message that differs between Kazakh
/// and Russian, and a refused sign-in as the last audit entry.
async fn assert_refused(
    app: &TestApp,
    settings: &Settings,
    answer: (u16, Value),
    status: u16,
    code: &str,
) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(!message.starts_with("error-"), "message missing: {message}");
    let log = audit_entries(settings).await;
    let last = log.last().expect("an audit entry");
    assert_eq!(last.action, "auth.sign_in");
    assert_eq!(last.outcome, format!("refused:{code}"));
    assert_eq!(last.ip.as_deref(), Some("127.0.0.1"));
    let _ = app;
}

/// A signed challenge as a token request body.
async fn signed_challenge(app: &TestApp, who: &Identity) -> Value {
    let challenge = challenge(app).await;
    json!({"challenge": challenge, "signature": sign_detached(who, challenge.as_bytes())})
}

on_every_database!(
    a_participant_signs_in_with_an_rsa_certificate_and_the_token_works,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let (_, admin) = admin(&app, &settings, &ca).await;
        let person = ca.issue_person(&test_iin(1), "Серік Бекұлы", KeyKind::Rsa);
        let id = register_and_approve_participant(&app, &admin, &person, &["retailer"]).await;

        let (status, body) = try_sign_in(&app, &person).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actor"], json!({"kind": "participant", "id": id}));
        assert_eq!(body["roles"], json!(["retailer"]));
        assert!(body["expires_at"].as_i64().expect("expires_at") > 0);
        let token = body["token"].as_str().expect("token");

        let (status, me) = call(
            &app,
            "GET",
            &format!("/v1/participants/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["taxpayer_id"], person.taxpayer_id());

        let log = audit_entries(&settings).await;
        let last = log.last().expect("an entry");
        assert_eq!(last.action, "auth.sign_in");
        assert_eq!(last.outcome, "ok");
        assert_eq!(last.actor.as_deref(), Some(id.as_str()));
        assert_eq!(last.role.as_deref(), Some("retailer"));
        assert_eq!(last.ip.as_deref(), Some("127.0.0.1"));
        assert!(!last.detail.contains(token), "the token is never logged");
    }
);

on_every_database!(
    a_legal_entity_signs_in_with_an_ecdsa_p256_certificate_by_its_bin,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let (_, admin) = admin(&app, &settings, &ca).await;
        let employee = ca.issue_legal_entity(
            &test_bin(1),
            &test_iin(2),
            "Айгүл Серікова",
            "ТОО Тест",
            KeyKind::EcP256,
        );
        let id = register_and_approve_participant(
            &app,
            &admin,
            &employee,
            &["manufacturer", "importer"],
        )
        .await;
        let (status, body) = try_sign_in(&app, &employee).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actor"]["id"], id);
        assert_eq!(body["roles"], json!(["manufacturer", "importer"]));
    }
);

on_every_database!(
    staff_sign_in_with_their_iin_and_get_their_roles,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let iin = test_iin(3);
        let store = tanba_api::store::Store::connect(&settings).await.unwrap();
        tanba_api::cli::add_staff(&store, &iin, "Инспектор Ахметов", "inspector,analyst")
            .await
            .unwrap();
        let err = tanba_api::cli::add_staff(&store, &iin, "Again", "admin")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let err = tanba_api::cli::add_staff(&store, &test_iin(4), "X", "manufacturer")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a staff role"), "{err}");
        store.close().await;

        let inspector = ca.issue_person(&iin, "Инспектор Ахметов", KeyKind::EcP256);
        let (status, body) = try_sign_in(&app, &inspector).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["actor"]["kind"], "staff");
        assert_eq!(body["roles"], json!(["inspector", "analyst"]));

        let log = audit_entries(&settings).await;
        assert!(
            log.iter()
                .any(|e| e.action == "staff.add" && e.actor.as_deref() == Some("cli")),
            "staff.add by cli is audited"
        );
    }
);

on_every_database!(a_forged_signature_is_refused, |db: Db| async move {
    let (app, ca, settings) = spawn(&db).await;
    let who = ca.issue_person(&test_iin(1), "Forger", KeyKind::Rsa);
    let mut body = signed_challenge(&app, &who).await;
    body["signature"] = json!(tamper(body["signature"].as_str().unwrap()));
    let answer = post_token(&app, &body).await;
    assert_refused(&app, &settings, answer, 401, "eds_bad_signature").await;
});

on_every_database!(
    a_signature_over_another_challenge_is_refused,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let (_, admin) = admin(&app, &settings, &ca).await;
        let who = ca.issue_person(&test_iin(1), "Someone", KeyKind::Rsa);
        register_and_approve_participant(&app, &admin, &who, &["retailer"]).await;
        let first = challenge(&app).await;
        let second = challenge(&app).await;
        let body = json!({"challenge": second, "signature": sign_detached(&who, first.as_bytes())});
        let answer = post_token(&app, &body).await;
        assert_refused(&app, &settings, answer, 401, "eds_bad_signature").await;
    }
);

on_every_database!(a_reused_challenge_is_refused, |db: Db| async move {
    let (app, ca, settings) = spawn(&db).await;
    let (admin_identity, _) = admin(&app, &settings, &ca).await;
    let body = signed_challenge(&app, &admin_identity).await;
    let (status, first) = post_token(&app, &body).await;
    assert_eq!(status, 200, "{first}");
    let answer = post_token(&app, &body).await;
    assert_refused(&app, &settings, answer, 401, "auth_challenge_used").await;
});

on_every_database!(
    a_challenge_the_server_never_gave_is_refused,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let who = ca.issue_person(&test_iin(1), "Someone", KeyKind::Rsa);
        let made_up = "tanba-sign-in:made-up";
        let body =
            json!({"challenge": made_up, "signature": sign_detached(&who, made_up.as_bytes())});
        let answer = post_token(&app, &body).await;
        assert_refused(&app, &settings, answer, 401, "auth_challenge_unknown").await;
    }
);

on_every_database!(an_expired_certificate_is_refused, |db: Db| async move {
    let (app, ca, settings) = spawn(&db).await;
    let who = ca.issue_expired(&test_iin(1), "Expired");
    let answer = post_token(&app, &signed_challenge(&app, &who).await).await;
    assert_refused(&app, &settings, answer, 401, "eds_expired").await;
});

on_every_database!(
    a_certificate_not_yet_valid_is_refused,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let who = ca.issue_not_yet_valid(&test_iin(1), "Early");
        let answer = post_token(&app, &signed_challenge(&app, &who).await).await;
        assert_refused(&app, &settings, answer, 401, "eds_not_yet_valid").await;
    }
);

on_every_database!(
    a_certificate_from_an_untrusted_ca_is_refused,
    |db: Db| async move {
        let (app, _ca, settings) = spawn(&db).await;
        let other = TestCa::named("Some Other CA");
        let who = other.issue_person(&test_iin(1), "Stranger", KeyKind::Rsa);
        let answer = post_token(&app, &signed_challenge(&app, &who).await).await;
        assert_refused(&app, &settings, answer, 401, "eds_untrusted").await;
    }
);

on_every_database!(
    a_certificate_forged_in_the_trusted_cas_name_is_refused,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let (admin_identity, _) = admin(&app, &settings, &ca).await;
        // The administrator's IIN and name, but not the CA's key.
        let impostor = TestCa::impostor_of(&ca);
        let forged = impostor.issue_person(
            admin_identity.iin.as_deref().unwrap(),
            &admin_identity.name,
            KeyKind::Rsa,
        );
        let answer = post_token(&app, &signed_challenge(&app, &forged).await).await;
        assert_refused(&app, &settings, answer, 401, "eds_untrusted").await;
    }
);

on_every_database!(
    a_revoked_certificate_is_refused_and_others_still_sign_in,
    |db: Db| async move {
        let ca = TestCa::new();
        let revoked = ca.issue_person(&test_iin(1), "Revoked", KeyKind::Rsa);
        let good = ca.issue_person(&test_iin(2), "Good", KeyKind::EcP256);
        let mut settings = db.settings();
        ca.trust(&mut settings);
        settings.eds_crls.push(ca.crl_revoking(&[&revoked]));
        let app = TestApp::spawn(settings.clone()).await;
        let store = tanba_api::store::Store::connect(&settings).await.unwrap();
        for who in [&revoked, &good] {
            tanba_api::cli::add_staff(&store, who.iin.as_deref().unwrap(), &who.name, "analyst")
                .await
                .unwrap();
        }
        store.close().await;

        let answer = post_token(&app, &signed_challenge(&app, &revoked).await).await;
        assert_refused(&app, &settings, answer, 401, "eds_revoked").await;
        sign_in(&app, &good).await;
    }
);

on_every_database!(
    a_certificate_of_a_ca_without_a_configured_crl_is_refused_when_crls_are_checked,
    |db: Db| async move {
        let ca = TestCa::new();
        let second = TestCa::named("Second Trusted CA");
        let mut settings = db.settings();
        ca.trust(&mut settings);
        second.trust(&mut settings);
        settings.eds_crls.push(ca.crl_revoking(&[]));
        let app = TestApp::spawn(settings.clone()).await;
        let who = second.issue_person(&test_iin(1), "No CRL", KeyKind::Rsa);
        let answer = post_token(&app, &signed_challenge(&app, &who).await).await;
        assert_refused(&app, &settings, answer, 401, "eds_revocation_unknown").await;
    }
);

on_every_database!(
    a_certificate_without_an_iin_or_bin_is_refused,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let who = ca.issue(
            None,
            None,
            "Nobody",
            None,
            KeyKind::Rsa,
            now - 60,
            now + 3600,
        );
        let answer = post_token(&app, &signed_challenge(&app, &who).await).await;
        assert_refused(&app, &settings, answer, 401, "eds_no_taxpayer_id").await;
    }
);

on_every_database!(
    garbage_in_place_of_a_signature_is_refused,
    |db: Db| async move {
        let (app, _ca, settings) = spawn(&db).await;
        let challenge = challenge(&app).await;
        let answer = post_token(
            &app,
            &json!({"challenge": challenge, "signature": "bm90IGEgc2lnbmF0dXJl"}),
        )
        .await;
        assert_refused(&app, &settings, answer, 401, "eds_malformed").await;
    }
);

on_every_database!(
    a_valid_signature_of_someone_not_registered_is_refused,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let who = ca.issue_person(&test_iin(1), "Unknown", KeyKind::Rsa);
        let answer = try_sign_in(&app, &who).await;
        assert_refused(&app, &settings, answer, 401, "auth_not_registered").await;
    }
);

on_every_database!(
    a_registered_but_not_approved_participant_gets_403,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let who = ca.issue_person(&test_iin(1), "Pending", KeyKind::Rsa);
        let (status, body) = register(&app, &who, &registration(&who, &["wholesaler"])).await;
        assert_eq!(status, 201, "{body}");
        let answer = try_sign_in(&app, &who).await;
        assert_refused(&app, &settings, answer, 403, "participant_not_approved").await;
        let log = audit_entries(&settings).await;
        assert_eq!(log.last().unwrap().actor.as_deref(), body["id"].as_str());
    }
);

on_every_database!(
    refusals_are_told_in_kazakh_and_in_russian,
    |db: Db| async move {
        let (app, ca, _settings) = spawn(&db).await;
        let who = ca.issue_expired(&test_iin(1), "Expired");
        let mut messages = Vec::new();
        for lang in ["kk", "ru"] {
            let body = signed_challenge(&app, &who).await;
            let resp = app
                .client
                .post(app.url(&format!("/v1/auth/token?lang={lang}")))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 401);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "eds_expired");
            messages.push(body["error"]["message"].as_str().unwrap().to_owned());
        }
        assert_ne!(messages[0], messages[1]);
    }
);

on_every_database!(
    malformed_and_oversized_token_requests_get_clear_errors_and_store_nothing,
    |db: Db| async move {
        let (app, _ca, settings) = spawn(&db).await;
        let before = audit_entries(&settings).await.len();
        let resp = app
            .client
            .post(app.url("/v1/auth/token"))
            .header("content-type", "application/json")
            .body("{\"challenge\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "malformed_json");

        let (status, body) = post_token(&app, &json!({"challenge": "x"})).await;
        assert_eq!(status, 400, "a missing field: {body}");

        let huge = "A".repeat(settings.max_body_bytes + 1);
        let (status, body) = post_token(&app, &json!({"challenge": "x", "signature": huge})).await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(body["error"]["code"], "payload_too_large");
        assert_eq!(audit_entries(&settings).await.len(), before);
    }
);

on_every_database!(
    a_token_stops_working_for_a_wrong_or_missing_bearer,
    |db: Db| async move {
        let (app, ca, settings) = spawn(&db).await;
        let (_, admin) = admin(&app, &settings, &ca).await;
        let (status, _) = call(&app, "GET", "/v1/participants", Some(&admin), None).await;
        assert_eq!(status, 200);
        let (status, body) = call(&app, "GET", "/v1/participants", Some("not-a-token"), None).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
);

#[test]
fn the_service_refuses_to_start_with_an_unreadable_trust_root() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("root.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let err = tanba_api::auth::eds::Verifier::load(&[bad], &[]).unwrap_err();
    assert!(err.to_string().contains("eds_trust_roots"), "{err}");

    let ca = TestCa::new();
    let stranger = TestCa::named("Stranger");
    let crl = stranger.crl_revoking(&[]);
    let err = tanba_api::auth::eds::Verifier::load(&[ca.root_pem()], &[crl]).unwrap_err();
    assert!(err.to_string().contains("eds_crls"), "{err}");
}

#[test]
fn the_verifier_names_the_signer_of_a_legal_entity_certificate() {
    let ca = TestCa::new();
    let verifier = tanba_api::auth::eds::Verifier::load(&[ca.root_pem()], &[]).unwrap();
    let (bin, iin) = (test_bin(5), test_iin(5));
    let who = ca.issue_legal_entity(&bin, &iin, "Дана Нұрланқызы", "ТОО Дана", KeyKind::EcP256);
    let sig = sign_detached(&who, b"document");
    let signer = verifier
        .verify_detached(sig.as_bytes(), b"document")
        .unwrap();
    assert_eq!(signer.taxpayer_id.as_str(), bin);
    assert_eq!(signer.iin.as_ref().unwrap().as_str(), iin);
    assert_eq!(signer.common_name, "Дана Нұрланқызы");
    assert_eq!(signer.organization.as_deref(), Some("ТОО Дана"));
    assert!(signer.signing_time.is_some());
    // The same signature over other bytes is not the signer's.
    let err = verifier
        .verify_detached(sig.as_bytes(), b"documenT")
        .unwrap_err();
    assert_eq!(err.code(), "eds_bad_signature");
    // DER works as well as base64.
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&sig)
        .unwrap();
    assert!(verifier.verify_detached(&der, b"document").is_ok());
}

#[tokio::test]
async fn the_staff_add_command_creates_an_administrator_who_can_sign_in() {
    let db = Db::sqlite();
    let ca = TestCa::new();
    let mut settings = db.settings();
    ca.trust(&mut settings);
    let iin = test_iin(7);
    let run = |roles: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tanba"))
            .args([
                "staff",
                "add",
                "--iin",
                &iin,
                "--name",
                "Әкімші",
                "--roles",
                roles,
            ])
            .env("TANBA_DATABASE_URL", &settings.database_url)
            .current_dir(db.dir.path())
            .output()
            .expect("running tanba")
    };
    let out = run("admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(printed["roles"], json!(["admin"]));
    let again = run("admin");
    assert!(
        !again.status.success(),
        "a second account for the same IIN is refused"
    );

    let app = TestApp::spawn(settings.clone()).await;
    let admin = ca.issue_person(&iin, "Әкімші", KeyKind::Rsa);
    let token = sign_in(&app, &admin).await;
    let (status, _) = call(&app, "GET", "/v1/participants", Some(&token), None).await;
    assert_eq!(status, 200);
    let log = audit_entries(&settings).await;
    assert_eq!(log[0].action, "staff.add");
    assert_eq!(log[0].actor.as_deref(), Some("cli"));
}
