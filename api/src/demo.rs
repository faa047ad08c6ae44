//! `tanba serve --demo`: a demo manufacturer, two products and codes in every
//! status a scan can show, so a newcomer can try the scan at once.
//!
//! Seeding is idempotent: it runs only when the demo participant (its BIN,
//! [`demo_bin`]) is absent; later starts list the codes seeded before. Codes
//! reach their status through [`crate::store::Tx::apply_operations`], that
//! is through `lifecycle::transition`, as documents will move them; the demo
//! writes no status the rules would refuse. Every name says it is demo data.
//!
//! Besides the stored codes it prints two that are not: a forged one (a real
//! serial with another code's tail: `invalid_signature`) and one validly
//! signed but never stored (`not_found`), made afresh on each start.

use std::net::SocketAddr;

use anyhow::Context as _;
use tanba_core::lifecycle::{CodeState, Operation, Status, WithdrawalReason, WriteOffReason};
use tanba_core::participant::Bin;
use tanba_core::{Gtin, MarkingCode};
use time::OffsetDateTime;

use crate::auth::Role;
use crate::ids::ParticipantId;
use crate::settings::Settings;
use crate::store::{
    Conformity, ConformityKind, EventSource, NewParticipant, NumberedDocument, ParticipantStatus,
    ProductCard, Store,
};

/// The demo manufacturer's BIN: made up, with a valid control digit (the
/// service checks it like any other).
pub fn demo_bin() -> String {
    with_control_digit("99044099990")
}

/// The demo importer's BIN on the water's card.
fn importer_bin() -> String {
    with_control_digit("99054099991")
}

/// The first of `body` and its neighbours that has a control digit (a few
/// bodies have none), with that digit.
fn with_control_digit(body: &str) -> String {
    let start: u64 = body.parse().unwrap_or(0);
    for n in start..start + 20 {
        let b = format!("{n:011}");
        let mut d = [0u8; 11];
        for (o, c) in d.iter_mut().zip(b.bytes()) {
            *o = c - b'0';
        }
        if let Some(cd) = tanba_core::participant::control_digit(&d) {
            let bin = format!("{b}{cd}");
            if Bin::parse(&bin).is_ok() {
                return bin;
            }
        }
    }
    unreachable!("twenty bodies in a row without a control digit")
}

/// A GTIN-14 with the Kazakhstan GS1 prefix 487 and a demo item number.
fn gtin(item: &str) -> Gtin {
    let body = format!("0487999{item}");
    let check = tanba_core::gs1::check_digit(&body).unwrap_or(0);
    Gtin::parse(&format!("{body}{check}")).expect("a demo GTIN is valid")
}

fn milk() -> ProductCard {
    ProductCard {
        gtin: gtin("000010"),
        name_kk: "«Демо Дала» сүті, майлылығы 2,5%, 1 л (демо)".to_owned(),
        name_ru: "Молоко «Демо Дала» 2,5%, 1 л (демо)".to_owned(),
        product_group: "dairy".to_owned(),
        tnved: "0401201100".to_owned(),
        manufacturer_name: "ТОО «Демо Сүт» (демо)".to_owned(),
        manufacturer_country: "KZ".to_owned(),
        importer_name: None,
        importer_bin: None,
        conformity: Conformity {
            kind: ConformityKind::Declaration,
            number: "ЕАЭС N KZ Д-DEMO.00001".to_owned(),
            date: "2025-03-01".to_owned(),
        },
        test_certificate: None,
        recommended_price_tiyn: 65_000,
        photo_url: None,
    }
}

fn water() -> ProductCard {
    ProductCard {
        gtin: gtin("000027"),
        name_kk: "«Демо Бұлақ» минералды суы, газдалған, 0,5 л (демо)".to_owned(),
        name_ru: "Минеральная вода «Демо Булак» газированная, 0,5 л (демо)".to_owned(),
        product_group: "water".to_owned(),
        tnved: "2201101900".to_owned(),
        manufacturer_name: "Demo Springs LLC (demo)".to_owned(),
        manufacturer_country: "GE".to_owned(),
        importer_name: Some("ТОО «Демо Импорт» (демо)".to_owned()),
        importer_bin: Some(importer_bin()),
        conformity: Conformity {
            kind: ConformityKind::Certificate,
            number: "ЕАЭС KZ.DEMO.02.01.00002".to_owned(),
            date: "2025-05-15".to_owned(),
        },
        test_certificate: Some(NumberedDocument {
            number: "ИЛ-DEMO-0042".to_owned(),
            date: "2025-05-10".to_owned(),
        }),
        recommended_price_tiyn: 35_050,
        photo_url: None,
    }
}

/// The operations that bring a fresh code to each demo status.
fn plans() -> Vec<(&'static str, Vec<Operation>)> {
    use Operation as Op;
    vec![
        ("genuine", vec![Op::Apply, Op::Introduce]),
        (
            "sold",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Withdraw(WithdrawalReason::Retail),
            ],
        ),
        ("blocked", vec![Op::Apply, Op::Introduce, Op::Block]),
        ("emitted", vec![]),
        ("applied", vec![Op::Apply]),
        (
            "written_off",
            vec![Op::Apply, Op::WriteOff(WriteOffReason::KmSpoiled)],
        ),
        (
            "exported",
            vec![
                Op::Apply,
                Op::Introduce,
                Op::Withdraw(WithdrawalReason::EecExport),
            ],
        ),
    ]
}

/// The verdict a scan gives a stored code in this state.
fn expected_verdict(state: CodeState) -> &'static str {
    if state.blocked {
        return "blocked";
    }
    match state.status {
        Status::Introduced => "genuine",
        Status::Retired(r) if r.is_sale() => "sold",
        Status::WrittenOff(_) => "written_off",
        _ => "not_in_circulation",
    }
}

/// Seeds the demo data unless it is there, and prints codes to try, as
/// Digital Link URLs on the local address `addr`.
pub async fn seed_and_print(settings: &Settings, addr: SocketAddr) -> anyhow::Result<()> {
    let store = Store::connect(settings).await?;
    let key = crate::keys::load_or_generate(&settings.emission_key_file, false)
        .context("loading the emission key for the demo")?;
    let owner = match store.participant_by_taxpayer_id(&demo_bin()).await? {
        Some(p) => p.id,
        None => seed(&store, &key).await?,
    };
    let mut codes = store.codes_of_owner(owner, 100).await?;
    codes.sort_by_key(|c| (c.emitted_at, c.code.identity()));

    let ip = match addr.ip() {
        ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip => ip,
    };
    let base = format!("http://{}", SocketAddr::new(ip, addr.port()));
    let mut lines: Vec<(&str, String)> = Vec::new();
    let mut shown = std::collections::HashSet::new();
    for c in &codes {
        if shown.insert((c.state, c.code.gtin().clone())) {
            lines.push((expected_verdict(c.state), c.code.digital_link(&base)));
        }
    }
    const ORDER: [&str; 5] = [
        "genuine",
        "sold",
        "blocked",
        "written_off",
        "not_in_circulation",
    ];
    lines.sort_by_key(|(verdict, _)| ORDER.iter().position(|v| v == verdict));
    let genuine = codes
        .iter()
        .find(|c| c.state.status == Status::Introduced && !c.state.blocked);
    let other = codes.iter().find(|c| c.state.status != Status::Introduced);
    if let (Some(genuine), Some(other)) = (genuine, other)
        && let (Some(key_id), Some(tail)) = (genuine.code.key_id(), other.code.crypto_tail())
    {
        let forged = MarkingCode::new(genuine.code.gtin().clone(), genuine.code.serial().clone())
            .with_crypto(key_id.clone(), tail.clone());
        lines.push(("invalid_signature", forged.digital_link(&base)));
    }
    let unknown = crate::emission::sign_new(&key, &milk().gtin, 1);
    if let Some(unknown) = unknown.first() {
        lines.push(("not_found", unknown.digital_link(&base)));
    }

    println!("Tanba demo: scan these codes (open in a browser; for JSON add");
    println!("the header `Accept: application/json`, or GET {base}/v1/codes/<code>):");
    for (verdict, url) in &lines {
        println!("  {verdict:<20} {url}");
    }
    store.close().await;
    Ok(())
}

/// Writes the demo participant, its products and its codes in one
/// transaction; returns the participant.
async fn seed(
    store: &Store,
    key: &tanba_core::crypto::EmissionKey,
) -> anyhow::Result<ParticipantId> {
    let mut tx = store.begin().await?;
    let registration = serde_json::json!({"demo": true, "note": "seeded by tanba serve --demo"});
    let participant = tx
        .insert_participant(&NewParticipant {
            taxpayer_id: demo_bin(),
            name_kk: "«Демо Сүт» ЖШС (демо)".to_owned(),
            name_ru: "ТОО «Демо Сүт» (демо)".to_owned(),
            roles: vec![Role::Manufacturer, Role::Importer],
            email: Some("demo@example.invalid".to_owned()),
            phone: None,
            registration: registration.to_string(),
            // Not a CMS signature: the demo participant registered through
            // no EDS; the text says so to whoever reads the row.
            signature: "demo: not signed".to_owned(),
            signer_iin: None,
        })
        .await?
        .map_err(|e| anyhow::anyhow!("demo participant: {e}"))?;
    tx.decide_participant(participant.id, ParticipantStatus::Approved, None, "demo")
        .await?
        .context("approving the demo participant")?;
    let emitted_at = OffsetDateTime::now_utc().unix_timestamp();
    for (product, plans) in [
        (milk(), plans()),
        (water(), plans().into_iter().take(2).collect::<Vec<_>>()),
    ] {
        tx.create_product(participant.id, &product)
            .await?
            .map_err(|e| anyhow::anyhow!("demo product {}: {e:?}", product.gtin))?;
        // One order per product, READY in the same transaction, so the
        // emission worker never sees it waiting for codes.
        let quantity = i64::try_from(plans.len())?;
        let order = tx
            .create_order(participant.id, &product.gtin, quantity, "production")
            .await?
            .id;
        let codes = crate::emission::sign_new(key, &product.gtin, plans.len());
        tx.insert_emitted(&codes, participant.id, order, emitted_at)
            .await?;
        tx.mark_order_ready(order, quantity, emitted_at).await?;
        for (code, (name, operations)) in codes.iter().zip(plans) {
            tx.apply_operations(
                code.gtin(),
                code.serial(),
                &operations,
                &EventSource::demo(),
                None,
            )
            .await?
            .map_err(|e| anyhow::anyhow!("demo code {name}: {e}"))?;
        }
    }
    tx.commit().await?;
    tracing::info!(participant = %participant.id, "demo data seeded");
    Ok(participant.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_identifiers_are_valid() {
        assert!(Bin::parse(&demo_bin()).is_ok());
        assert!(Bin::parse(&importer_bin()).is_ok());
        assert_ne!(milk().gtin, water().gtin);
    }
}
