//! A test certificate authority and EDS helpers: what NCALayer and the
//! national CA are in production, made by the tests.
//!
//! ```ignore
//! let db = common::Db::sqlite();
//! let ca = TestCa::new();
//! let mut settings = db.settings();
//! ca.trust(&mut settings);
//! let app = TestApp::spawn(settings.clone()).await;
//! let (_admin, admin_token) = admin(&app, &settings, &ca).await;
//! let company = ca.issue_legal_entity(&test_bin(1), &test_iin(1), "Асан Асанов", "ТОО Тест", KeyKind::Rsa);
//! let participant_id = register_and_approve_participant(&app, &admin_token, &company, &["manufacturer"]).await;
//! let token = sign_in(&app, &company).await;
//! ```
//!
//! Certificates are RSA-2048 or ECDSA P-256, signed by an RSA-2048 root with
//! SHA-256; subjects carry the IIN in `serialNumber` (`IIN…`) and the BIN in
//! `OU` (`BIN…`), as the national CA writes them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509CrlBuilder, X509Name, X509RevokedBuilder};
use serde_json::{Value, json};
use tanba_api::settings::Settings;

use super::TestApp;

/// The key algorithm of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    EcP256,
}

/// A certificate, its private key and the chain above it (without the root).
#[derive(Clone)]
pub struct Identity {
    pub cert: X509,
    pub key: PKey<Private>,
    pub chain: Vec<X509>,
    pub iin: Option<String>,
    pub bin: Option<String>,
    pub name: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("iin", &self.iin)
            .field("bin", &self.bin)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The number a participant registers with: the BIN when there is one.
    pub fn taxpayer_id(&self) -> String {
        self.bin
            .clone()
            .or_else(|| self.iin.clone())
            .expect("an identity carries a BIN or an IIN")
    }
}

/// A root CA (RSA-2048, self-signed) with its certificate in a PEM file.
pub struct TestCa {
    pub key: PKey<Private>,
    pub cert: X509,
    dir: tempfile::TempDir,
    next_serial: AtomicU32,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("root_pem", &self.root_pem())
            .finish_non_exhaustive()
    }
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey")
}

fn key(kind: KeyKind) -> PKey<Private> {
    match kind {
        KeyKind::Rsa => rsa_key(),
        KeyKind::EcP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
            PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("PKey")
        }
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

const DAY: i64 = 86_400;

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// The trusted test root, "Tanba Test NCA".
    pub fn new() -> TestCa {
        Self::named("Tanba Test NCA")
    }

    /// A root with another name: an authority the service does not trust
    /// unless told to.
    pub fn named(common_name: &str) -> TestCa {
        Self::with_key(common_name, rsa_key())
    }

    /// A root with the same name as `other` and a key of its own: what it
    /// issues claims to come from `other` but is forged.
    pub fn impostor_of(other: &TestCa) -> TestCa {
        let cn = other
            .cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok())
            .expect("root CN");
        Self::with_key(&cn, rsa_key())
    }

    fn with_key(common_name: &str, key: PKey<Private>) -> TestCa {
        let mut name = X509Name::builder().expect("name");
        name.append_entry_by_nid(Nid::COUNTRYNAME, "KZ").expect("C");
        name.append_entry_by_nid(Nid::COMMONNAME, common_name)
            .expect("CN");
        let name = name.build();
        let mut b = X509Builder::new().expect("builder");
        b.set_version(2).expect("v3");
        b.set_serial_number(&serial(1)).expect("serial");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&key).expect("key");
        b.set_not_before(&Asn1Time::from_unix(now() - 3650 * DAY).expect("t"))
            .expect("nb");
        b.set_not_after(&Asn1Time::from_unix(now() + 3650 * DAY).expect("t"))
            .expect("na");
        b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
            .expect("bc");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .expect("ku"),
        )
        .expect("ku");
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .expect("ski");
        b.append_extension(ski).expect("ski");
        b.sign(&key, MessageDigest::sha256()).expect("sign");
        let cert = b.build();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("root.pem"), cert.to_pem().expect("PEM"))
            .expect("writing root.pem");
        TestCa {
            key,
            cert,
            dir,
            next_serial: AtomicU32::new(1000),
        }
    }

    /// The PEM file of the root certificate, for `eds_trust_roots`.
    pub fn root_pem(&self) -> PathBuf {
        self.dir.path().join("root.pem")
    }

    /// Adds this root to the settings' trusted roots.
    pub fn trust(&self, settings: &mut Settings) {
        settings.eds_trust_roots.push(self.root_pem());
    }

    /// A person's certificate (an individual or sole proprietor): IIN only.
    pub fn issue_person(&self, iin: &str, name: &str, kind: KeyKind) -> Identity {
        self.issue(
            Some(iin),
            None,
            name,
            None,
            kind,
            now() - DAY,
            now() + 365 * DAY,
        )
    }

    /// A legal entity employee's certificate: the company's BIN and the
    /// person's IIN.
    pub fn issue_legal_entity(
        &self,
        bin: &str,
        iin: &str,
        name: &str,
        organization: &str,
        kind: KeyKind,
    ) -> Identity {
        self.issue(
            Some(iin),
            Some(bin),
            name,
            Some(organization),
            kind,
            now() - DAY,
            now() + 365 * DAY,
        )
    }

    /// A person's certificate that expired yesterday.
    pub fn issue_expired(&self, iin: &str, name: &str) -> Identity {
        self.issue(
            Some(iin),
            None,
            name,
            None,
            KeyKind::Rsa,
            now() - 400 * DAY,
            now() - DAY,
        )
    }

    /// A person's certificate valid from tomorrow.
    pub fn issue_not_yet_valid(&self, iin: &str, name: &str) -> Identity {
        self.issue(
            Some(iin),
            None,
            name,
            None,
            KeyKind::Rsa,
            now() + DAY,
            now() + 365 * DAY,
        )
    }

    /// Any certificate: `iin` in `serialNumber`, `bin` in `OU`, validity in
    /// Unix seconds.
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        &self,
        iin: Option<&str>,
        bin: Option<&str>,
        name: &str,
        organization: Option<&str>,
        kind: KeyKind,
        not_before: i64,
        not_after: i64,
    ) -> Identity {
        let key = key(kind);
        let mut subject = X509Name::builder().expect("name");
        subject
            .append_entry_by_nid(Nid::COMMONNAME, name)
            .expect("CN");
        if let Some(iin) = iin {
            subject
                .append_entry_by_nid(Nid::SERIALNUMBER, &format!("IIN{iin}"))
                .expect("serialNumber");
        }
        subject
            .append_entry_by_nid(Nid::COUNTRYNAME, "KZ")
            .expect("C");
        if let Some(org) = organization {
            subject
                .append_entry_by_nid(Nid::ORGANIZATIONNAME, org)
                .expect("O");
        }
        if let Some(bin) = bin {
            subject
                .append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, &format!("BIN{bin}"))
                .expect("OU");
        }
        let subject = subject.build();
        let mut b = X509Builder::new().expect("builder");
        b.set_version(2).expect("v3");
        b.set_serial_number(&serial(self.next_serial.fetch_add(1, Ordering::Relaxed)))
            .expect("serial");
        b.set_subject_name(&subject).expect("subject");
        b.set_issuer_name(self.cert.subject_name()).expect("issuer");
        b.set_pubkey(&key).expect("key");
        b.set_not_before(&Asn1Time::from_unix(not_before).expect("t"))
            .expect("nb");
        b.set_not_after(&Asn1Time::from_unix(not_after).expect("t"))
            .expect("na");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .build()
                .expect("ku"),
        )
        .expect("ku");
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&self.cert), None))
            .expect("aki");
        b.append_extension(aki).expect("aki");
        b.sign(&self.key, MessageDigest::sha256()).expect("sign");
        Identity {
            cert: b.build(),
            key,
            chain: Vec::new(),
            iin: iin.map(str::to_owned),
            bin: bin.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// A CRL of this CA revoking `revoked`, written to a PEM file, for
    /// `eds_crls`.
    pub fn crl_revoking(&self, revoked: &[&Identity]) -> PathBuf {
        let mut b = X509CrlBuilder::new().expect("CRL builder");
        b.set_issuer_name(self.cert.subject_name()).expect("issuer");
        b.set_last_update(&Asn1Time::from_unix(now() - DAY).expect("t"))
            .expect("last");
        b.set_next_update(&Asn1Time::from_unix(now() + 7 * DAY).expect("t"))
            .expect("next");
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(
                &X509Builder::new()
                    .expect("b")
                    .x509v3_context(Some(&self.cert), None),
            )
            .expect("aki");
        b.append_extension(aki).expect("aki");
        let n = self.next_serial.fetch_add(1, Ordering::Relaxed);
        b.append_extension(
            CrlNumber::new(BigNum::from_u32(n).expect("n"))
                .expect("crl number")
                .build()
                .expect("crl number"),
        )
        .expect("crl number");
        for id in revoked {
            let mut r = X509RevokedBuilder::new().expect("revoked");
            r.set_serial_number(id.cert.serial_number())
                .expect("serial");
            r.set_revocation_date(&Asn1Time::from_unix(now() - 3600).expect("t"))
                .expect("date");
            b.add_revoked(r.build()).expect("add");
        }
        b.sign(&self.key, MessageDigest::sha256())
            .expect("sign CRL");
        let crl = b.build().expect("CRL");
        let path = self.dir.path().join(format!("crl-{n}.pem"));
        std::fs::write(&path, crl.to_pem().expect("PEM")).expect("writing CRL");
        path
    }
}

fn serial(n: u32) -> Asn1Integer {
    BigNum::from_u32(n)
        .and_then(|b| b.to_asn1_integer())
        .expect("serial")
}

/// A detached CMS signature (DER, base64) over `content`, as NCALayer makes
/// it: signer certificate and chain included, signing time in the signed
/// attributes.
pub fn sign_detached(identity: &Identity, content: &[u8]) -> String {
    sign_detached_with_extra(identity, content, &[])
}

/// A detached signature that carries, besides the signer's chain, the
/// certificates of `others`: as large as a signature grows with a long
/// chain and revocation data in it.
pub fn sign_detached_with_extra(
    identity: &Identity,
    content: &[u8],
    others: &[Identity],
) -> String {
    let mut chain = Stack::new().expect("stack");
    for c in identity.chain.iter().chain(others.iter().map(|o| &o.cert)) {
        chain.push(c.clone()).expect("push");
    }
    let cms = CmsContentInfo::sign(
        Some(&identity.cert),
        Some(&identity.key),
        Some(&chain),
        Some(content),
        CMSOptions::DETACHED | CMSOptions::BINARY,
    )
    .expect("CMS sign");
    STANDARD.encode(cms.to_der().expect("DER"))
}

/// The same signature with one byte of the signature value changed.
pub fn tamper(signature: &str) -> String {
    let mut der = STANDARD.decode(signature).expect("base64");
    let last = der.len() - 1;
    der[last] ^= 0x55;
    STANDARD.encode(der)
}

/// A valid IIN (born 1 January 1990, a man), different for each `n`.
pub fn test_iin(n: u32) -> String {
    with_control_digit(|k| format!("9001013{:04}", (n * 7 + k) % 10_000))
}

/// A valid BIN (registered January 2020, a resident legal entity), different
/// for each `n`.
pub fn test_bin(n: u32) -> String {
    with_control_digit(|k| format!("200140{:05}", (n * 7 + k) % 100_000))
}

fn with_control_digit(body: impl Fn(u32) -> String) -> String {
    for k in 0..7 {
        let b = body(k);
        let mut d = [0u8; 11];
        for (o, c) in d.iter_mut().zip(b.bytes()) {
            *o = c - b'0';
        }
        if let Some(cd) = tanba_core::participant::control_digit(&d) {
            return format!("{b}{cd}");
        }
    }
    unreachable!("seven bodies in a row are never issued")
}

/// A fresh sign-in challenge.
pub async fn challenge(app: &TestApp) -> String {
    let resp = app
        .client
        .post(app.url("/v1/auth/challenge"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status().as_u16(), 200, "challenge");
    let body: Value = resp.json().await.expect("JSON");
    body["challenge"].as_str().expect("challenge").to_owned()
}

/// `POST /v1/auth/token` with any body; the status and JSON answer.
pub async fn post_token(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/v1/auth/token"))
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

/// Signs a fresh challenge and asks for a token; the status and answer.
pub async fn try_sign_in(app: &TestApp, identity: &Identity) -> (u16, Value) {
    let challenge = challenge(app).await;
    let signature = sign_detached(identity, challenge.as_bytes());
    post_token(
        app,
        &json!({"challenge": challenge, "signature": signature}),
    )
    .await
}

/// Signs in and returns the bearer token; panics on refusal.
pub async fn sign_in(app: &TestApp, identity: &Identity) -> String {
    let (status, body) = try_sign_in(app, identity).await;
    assert_eq!(status, 200, "sign-in of {identity:?}: {body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Adds an administrator through the same function as `tanba staff add`
/// (on the app's database, from `settings`), issues its certificate from
/// `ca` and signs it in. Returns the identity and its token.
pub async fn admin(app: &TestApp, settings: &Settings, ca: &TestCa) -> (Identity, String) {
    staff(
        app,
        settings,
        ca,
        &test_iin(9_001),
        "Әкімші Администратор",
        "admin",
    )
    .await
}

/// Adds a staff member with `roles` (comma-separated) and signs it in.
pub async fn staff(
    app: &TestApp,
    settings: &Settings,
    ca: &TestCa,
    iin: &str,
    name: &str,
    roles: &str,
) -> (Identity, String) {
    let store = tanba_api::store::Store::connect(settings)
        .await
        .expect("connecting to the app's database");
    tanba_api::cli::add_staff(&store, iin, name, roles)
        .await
        .expect("tanba staff add");
    store.close().await;
    let identity = ca.issue_person(iin, name, KeyKind::Rsa);
    let token = sign_in(app, &identity).await;
    (identity, token)
}

/// A registration document for `identity` with the given roles.
pub fn registration(identity: &Identity, roles: &[&str]) -> Value {
    json!({
        "taxpayer_id": identity.taxpayer_id(),
        "name_kk": format!("{} ЖШС", identity.name),
        "name_ru": format!("ТОО {}", identity.name),
        "roles": roles,
        "contacts": {"email": "office@example.kz", "phone": "+7 701 234 56 78"},
    })
}

/// `POST /v1/participants`: `document` serialized, signed by `signer`.
pub async fn register(app: &TestApp, signer: &Identity, document: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(document).expect("JSON");
    let body = json!({
        "registration": STANDARD.encode(&bytes),
        "signature": sign_detached(signer, &bytes),
    });
    let resp = app
        .client
        .post(app.url("/v1/participants"))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

/// Registers `identity` as a participant with `roles`, approves it as the
/// administrator, and returns the participant id.
pub async fn register_and_approve_participant(
    app: &TestApp,
    admin_token: &str,
    identity: &Identity,
    roles: &[&str],
) -> String {
    let (status, body) = register(app, identity, &registration(identity, roles)).await;
    assert_eq!(status, 201, "registration: {body}");
    let id = body["id"].as_str().expect("participant id").to_owned();
    let resp = app
        .client
        .post(app.url(&format!("/v1/participants/{id}/approve")))
        .bearer_auth(admin_token)
        .json(&json!({}))
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(status, 200, "approval: {body}");
    id
}

/// A service on `db` that trusts a fresh test CA, with an administrator
/// signed in: the app, the CA, the settings and the administrator's token.
pub async fn spawn_with_admin(db: &super::Db) -> (TestApp, TestCa, Settings, String) {
    let ca = TestCa::new();
    let mut settings = db.settings();
    ca.trust(&mut settings);
    let app = TestApp::spawn(settings.clone()).await;
    let (_, token) = admin(&app, &settings, &ca).await;
    (app, ca, settings, token)
}

/// The whole audit log of the database behind `settings`, oldest first.
pub async fn audit_entries(settings: &Settings) -> Vec<tanba_api::store::AuditRecord> {
    let store = tanba_api::store::Store::connect(settings)
        .await
        .expect("connecting to the app's database");
    let entries = store.audit_entries(0, 100_000).await.expect("audit log");
    store.close().await;
    entries
}

/// Sends `method path` with an optional bearer token and JSON body; the
/// status and JSON answer.
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}
