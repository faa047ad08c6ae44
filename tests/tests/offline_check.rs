//! The phone checks codes offline with the keyring the service publishes:
//! a code signed with the operator's emission key is genuine on the phone, a
//! forged tail is not, and a code from a key the service never published is
//! unknown. Service, core and mobile SDK together, nothing mocked.

use std::net::TcpListener;

use tanba_api::settings::Settings;
use tanba_api::startup::Application;
use tanba_core::crypto::{Keyring, SignatureStatus};
use tanba_core::{Gtin, MarkingCode, Serial};

#[tokio::test]
async fn the_phone_verifies_codes_with_the_keyring_the_service_publishes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: format!("sqlite://{}", dir.path().join("tanba.db").display()),
        emission_key_file: dir.path().join("emission.key"),
        ..Settings::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let app = Application::build_on(settings.clone(), listener)
        .await
        .expect("service builds");
    let base = format!("http://{}", app.addr());
    let server = app.handle();
    let running = tokio::spawn(app.run_until_stopped());

    // What the app downloads and caches.
    let published = reqwest::get(format!("{base}/v1/keys"))
        .await
        .expect("keys")
        .text()
        .await
        .expect("body");
    let keyring = Keyring::from_json(&published).expect("the published keyring parses");

    // The operator signs a code with the key the service loaded.
    let key = tanba_api::keys::load(&settings.emission_key_file).expect("operator key");
    let gtin = Gtin::parse("04652352262009").expect("gtin");
    let genuine = key.sign(MarkingCode::new(
        gtin.clone(),
        Serial::generate(&mut rand::rngs::OsRng),
    ));

    // Scanned as a phone camera hands it over.
    let scan = format!("]d2{}", genuine.element_string());
    let check = tanba_mobile_sdk::check_offline(&scan, &keyring);
    assert_eq!(check.signature, Some(SignatureStatus::Valid));
    assert_eq!(
        check.canonical.as_deref(),
        Some(genuine.element_string().as_str())
    );

    // The tail copied onto another serial is a forgery.
    let forged = MarkingCode::new(gtin.clone(), Serial::generate(&mut rand::rngs::OsRng))
        .with_crypto(
            genuine.key_id().expect("key id").clone(),
            genuine.crypto_tail().expect("tail").clone(),
        );
    let check = tanba_mobile_sdk::check_offline(&forged.element_string(), &keyring);
    assert_eq!(check.signature, Some(SignatureStatus::Invalid));

    // A key the operator never published.
    let stranger = tanba_api::keys::generate(tanba_core::KeyId::parse("XX01").expect("id"));
    let foreign = stranger.sign(MarkingCode::new(
        gtin,
        Serial::generate(&mut rand::rngs::OsRng),
    ));
    let check =
        tanba_mobile_sdk::check_offline(&foreign.digital_link(&settings.public_base_url), &keyring);
    assert_eq!(check.signature, Some(SignatureStatus::UnknownKey));

    // The printer prints what the phone reads: GTIN and serial in clear.
    let label = tanba_printer_agent::label_text(&genuine);
    assert_eq!(label[1], format!("(21){}", genuine.serial().as_str()));

    server.stop(true).await;
    running.await.expect("task").expect("stopped cleanly");
}
