//! Who may call what, in one table: every protected endpoint is called with no
//! token (401) and with a token of a role it does not accept (403), and both
//! refusals are localized. A new protected endpoint belongs in `ENDPOINTS`.

mod common;

use common::Db;
use common::eds::{self, KeyKind};
use serde_json::{Value, json};

/// (method, path, who may call it, a role that may not)
const ENDPOINTS: &[(&str, &str, &str, Wrong)] = &[
    ("GET", "/v1/participants", "admin", Wrong::Manufacturer),
    (
        "POST",
        "/v1/participants/{participant}/approve",
        "admin",
        Wrong::Manufacturer,
    ),
    (
        "POST",
        "/v1/participants/{participant}/refuse",
        "admin",
        Wrong::Inspector,
    ),
    (
        "POST",
        "/v1/products",
        "manufacturer, importer",
        Wrong::Retailer,
    ),
    (
        "POST",
        "/v1/products",
        "manufacturer, importer",
        Wrong::Inspector,
    ),
    (
        "POST",
        "/v1/orders",
        "manufacturer, importer",
        Wrong::Retailer,
    ),
    ("POST", "/v1/orders", "manufacturer, importer", Wrong::Admin),
    (
        "GET",
        "/v1/orders/{order}",
        "the ordering participant",
        Wrong::Inspector,
    ),
    (
        "GET",
        "/v1/orders/{order}/codes",
        "the ordering participant",
        Wrong::Admin,
    ),
    ("GET", "/v1/inspections/reports", "inspector", Wrong::Admin),
    (
        "GET",
        "/v1/inspections/reports",
        "inspector",
        Wrong::Manufacturer,
    ),
    (
        "GET",
        "/v1/inspections/reports/{report}",
        "inspector",
        Wrong::Admin,
    ),
    (
        "GET",
        "/v1/inspections/reports/{report}/photos/1",
        "inspector",
        Wrong::Retailer,
    ),
    (
        "GET",
        "/v1/inspections/reports/{report}/photos/1",
        "inspector",
        Wrong::Admin,
    ),
    (
        "POST",
        "/v1/inspections/reports/{report}/assign",
        "inspector",
        Wrong::Admin,
    ),
    (
        "POST",
        "/v1/inspections/reports/{report}/status",
        "inspector",
        Wrong::Manufacturer,
    ),
    (
        "POST",
        "/v1/inspections/reports/{report}/comments",
        "inspector",
        Wrong::Admin,
    ),
    ("POST", "/v1/documents", "participants", Wrong::Inspector),
    ("POST", "/v1/documents", "participants", Wrong::Admin),
    (
        "GET",
        "/v1/documents/{document}",
        "its parties, inspector, admin",
        Wrong::Analyst,
    ),
    (
        "GET",
        "/v1/documents/{document}/epcis",
        "its parties, inspector, admin",
        Wrong::Analyst,
    ),
    (
        "POST",
        "/v1/documents/{document}/accept",
        "the buyer",
        Wrong::Inspector,
    ),
    (
        "POST",
        "/v1/documents/{document}/reject",
        "the buyer",
        Wrong::Admin,
    ),
    (
        "POST",
        "/v1/documents/{document}/cancel",
        "the seller",
        Wrong::Inspector,
    ),
    (
        "GET",
        "/v1/codes/{code}/history",
        "the owner, inspector",
        Wrong::Admin,
    ),
    (
        "GET",
        "/v1/codes/{code}/history",
        "the owner, inspector",
        Wrong::Analyst,
    ),
    (
        "GET",
        "/v1/packages/948731836164410274",
        "the owner, inspector, admin",
        Wrong::Analyst,
    ),
];

#[derive(Debug, Clone, Copy)]
enum Wrong {
    Manufacturer,
    Retailer,
    Inspector,
    Admin,
    Analyst,
}

on_every_database!(
    every_protected_endpoint_refuses_no_token_and_a_wrong_role,
    |db: Db| async move {
        let (app, ca, settings, admin) = eds::spawn_with_admin(&db).await;
        let (_, inspector) = eds::staff(
            &app,
            &settings,
            &ca,
            &eds::test_iin(77),
            "Инспектор",
            "inspector",
        )
        .await;
        let (_, analyst) = eds::staff(
            &app,
            &settings,
            &ca,
            &eds::test_iin(78),
            "Талдаушы",
            "analyst",
        )
        .await;
        let maker_id = ca.issue_legal_entity(
            &eds::test_bin(1),
            &eds::test_iin(1),
            "Өндіруші",
            "ЖШС «Өндіруші»",
            KeyKind::Rsa,
        );
        let shop_id = ca.issue_legal_entity(
            &eds::test_bin(2),
            &eds::test_iin(2),
            "Дүкен",
            "ЖШС «Дүкен»",
            KeyKind::EcP256,
        );
        let participant =
            eds::register_and_approve_participant(&app, &admin, &maker_id, &["manufacturer"]).await;
        eds::register_and_approve_participant(&app, &admin, &shop_id, &["retailer"]).await;
        let maker = eds::sign_in(&app, &maker_id).await;
        let shop = eds::sign_in(&app, &shop_id).await;
        let order = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f";
        // Any well-formed report number: the role is checked before the report.
        let report = "2026-000001";
        // Any id and any code: the role is checked before the document or code.
        let document = "0b7e4c1a-2f3d-4e5f-8a9b-1c2d3e4f5a6b";
        let code = "010465235226200921k2Fpdfbwuq6gu";

        for (method, template, who, wrong) in ENDPOINTS {
            let path = template
                .replace("{participant}", &participant)
                .replace("{order}", order)
                .replace("{report}", report)
                .replace("{document}", document)
                .replace("{code}", code);
            let body: Option<Value> = (*method == "POST").then(|| json!({}));

            let (status, kk) = eds::call(&app, method, &path, None, body.as_ref()).await;
            assert_eq!(status, 401, "{method} {path} without a token: {kk}");
            assert_eq!(kk["error"]["code"], "unauthenticated");
            let (_, ru) = eds::call(
                &app,
                method,
                &format!("{path}?lang=ru"),
                None,
                body.as_ref(),
            )
            .await;
            assert_ne!(
                kk["error"]["message"], ru["error"]["message"],
                "{method} {path}"
            );

            let token = match wrong {
                Wrong::Manufacturer => &maker,
                Wrong::Retailer => &shop,
                Wrong::Inspector => &inspector,
                Wrong::Admin => &admin,
                Wrong::Analyst => &analyst,
            };
            let (status, body) = eds::call(&app, method, &path, Some(token), body.as_ref()).await;
            assert_eq!(
                status, 403,
                "{method} {path} (for {who}) as {wrong:?}: {body}"
            );
            assert_eq!(body["error"]["code"], "forbidden", "{method} {path}");
        }
    }
);
