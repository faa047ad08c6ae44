//! Electronic digital signatures (EDS, ЭЦП): CMS (PKCS#7 / CAdES) detached
//! signatures made with an X.509 certificate, checked against the configured
//! trusted certificate authorities.
//!
//! In Kazakhstan the certificates come from the national CA (НУЦ РК) and the
//! signatures from NCALayer; in tests, from a test CA the tests make. This
//! module knows nothing of HTTP: sign-in uses it now, signed documents later.
//!
//! What [`Verifier::verify_detached`] checks, in order:
//!
//! 1. the input is a CMS `SignedData` with exactly one signer, DER or base64;
//! 2. the signature (and the message digest in the signed attributes) covers
//!    exactly the given content;
//! 3. the signer certificate chains to a trusted root, with the intermediate
//!    certificates the CMS carries, and — when CRLs are configured — is not
//!    revoked (`X509VerifyFlags::CRL_CHECK`);
//! 4. every certificate of the chain is valid at the signing time: the
//!    `signingTime` signed attribute when present, else now;
//! 5. the subject carries a taxpayer number as the national CA writes it: the
//!    IIN in `serialNumber` as `IIN` + 12 digits, the BIN in
//!    `organizationalUnitName` as `BIN` + 12 digits.
//!
//! Why the times are checked here and not by OpenSSL: OpenSSL checks validity
//! against one time per store, and the store (roots and parsed CRLs, which
//! for the national CA run to megabytes) is built once at start-up. So the
//! store is told not to check times (`NO_CHECK_TIME`) and this module compares
//! every certificate of the verified chain with the signing time itself. The
//! price: a CRL past its `nextUpdate` is still used (a warning is logged at
//! start-up); refreshing CRLs is an operational task.
//!
//! The signing time is what the signer claims. A caller that can bound it
//! (sign-in knows when it issued the challenge) should check
//! [`SignerIdentity::signing_time`] against that bound; a time in the future
//! is refused here.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::nid::Nid;
use openssl::stack::Stack;
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509, X509Crl, X509NameRef, X509Ref, X509StoreContext};
use tanba_core::participant::{Bin, Iin, TaxpayerId};
use time::OffsetDateTime;

/// How far a signer's clock may run ahead of ours.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Why a signature was refused. [`EdsError::code`] is the stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdsError {
    #[error("not a CMS signature with one signer: {0}")]
    Malformed(String),
    #[error("the signature does not match the content or the certificate")]
    BadSignature,
    #[error("the certificate does not chain to a trusted authority: {0}")]
    Untrusted(String),
    #[error("a certificate of the chain had expired at the signing time")]
    Expired,
    #[error("a certificate of the chain was not yet valid at the signing time")]
    NotYetValid,
    #[error("the certificate is revoked")]
    Revoked,
    #[error("no revocation list of the issuing authority is configured")]
    RevocationUnknown,
    #[error("the signing time is in the future")]
    SigningTimeInFuture,
    #[error("the certificate subject carries no valid IIN or BIN: {0}")]
    NoTaxpayerId(String),
}

impl EdsError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "eds_malformed",
            Self::BadSignature => "eds_bad_signature",
            Self::Untrusted(_) => "eds_untrusted",
            Self::Expired => "eds_expired",
            Self::NotYetValid => "eds_not_yet_valid",
            Self::Revoked => "eds_revoked",
            Self::RevocationUnknown => "eds_revocation_unknown",
            Self::SigningTimeInFuture => "eds_bad_signing_time",
            Self::NoTaxpayerId(_) => "eds_no_taxpayer_id",
        }
    }
}

/// A trust configuration that cannot be used, naming the setting and file.
#[derive(Debug, thiserror::Error)]
#[error("`{setting}`: {path}: {reason}")]
pub struct EdsConfigError {
    pub setting: &'static str,
    pub path: String,
    pub reason: String,
}

/// Who signed, as the certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerIdentity {
    /// The BIN when the certificate carries one (a legal entity's employee),
    /// else the IIN.
    pub taxpayer_id: TaxpayerId,
    pub iin: Option<Iin>,
    pub bin: Option<Bin>,
    /// The person's name (CN).
    pub common_name: String,
    /// The organization (O), on legal-entity certificates.
    pub organization: Option<String>,
    /// The certificate's serial number, hex.
    pub certificate_serial: String,
    /// The issuer's distinguished name, for the audit log.
    pub issuer: String,
    /// The claimed signing time, when the signature carries one.
    pub signing_time: Option<OffsetDateTime>,
}

/// The trusted roots and revocation lists, parsed once.
pub struct Verifier {
    store: X509Store,
    roots: usize,
    crls: usize,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("roots", &self.roots)
            .field("crls", &self.crls)
            .finish_non_exhaustive()
    }
}

fn config_error(setting: &'static str, path: &Path, reason: impl ToString) -> EdsConfigError {
    EdsConfigError {
        setting,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl Verifier {
    /// Loads PEM root certificates (a file may hold several) and PEM CRLs.
    /// Every CRL must be signed by one of the roots. With no roots, every
    /// signature is refused as untrusted.
    pub fn load(roots: &[PathBuf], crls: &[PathBuf]) -> Result<Self, EdsConfigError> {
        let mut builder = X509StoreBuilder::new()
            .map_err(|e| config_error("eds_trust_roots", Path::new("-"), e))?;
        let mut certs = Vec::new();
        for path in roots {
            let pem = std::fs::read(path).map_err(|e| config_error("eds_trust_roots", path, e))?;
            let found =
                X509::stack_from_pem(&pem).map_err(|e| config_error("eds_trust_roots", path, e))?;
            if found.is_empty() {
                return Err(config_error(
                    "eds_trust_roots",
                    path,
                    "holds no PEM certificate",
                ));
            }
            for cert in found {
                certs.push(cert.clone());
                builder
                    .add_cert(cert)
                    .map_err(|e| config_error("eds_trust_roots", path, e))?;
            }
        }
        let now =
            Asn1Time::days_from_now(0).map_err(|e| config_error("eds_crls", Path::new("-"), e))?;
        for path in crls {
            let pem = std::fs::read(path).map_err(|e| config_error("eds_crls", path, e))?;
            let crl = X509Crl::from_pem(&pem).map_err(|e| config_error("eds_crls", path, e))?;
            let signed_by_root = certs.iter().any(|c| {
                c.subject_name()
                    .try_cmp(crl.issuer_name())
                    .is_ok_and(|o| o.is_eq())
                    && c.public_key().and_then(|k| crl.verify(&k)).unwrap_or(false)
            });
            if !signed_by_root {
                return Err(config_error(
                    "eds_crls",
                    path,
                    "is not signed by any certificate of `eds_trust_roots`",
                ));
            }
            if crl
                .next_update()
                .is_some_and(|next| next.compare(&now).is_ok_and(|o| o.is_lt()))
            {
                tracing::warn!(crl = %path.display(), "EDS revocation list is past its nextUpdate; refresh it");
            }
            // The store takes CRLs only through a lookup; the file was just
            // read and checked, so reading it again here is harmless.
            let lookup = builder
                .add_lookup(X509Lookup::file())
                .map_err(|e| config_error("eds_crls", path, e))?;
            lookup
                .load_crl_file(path, openssl::ssl::SslFiletype::PEM)
                .map_err(|e| config_error("eds_crls", path, e))?;
        }
        if certs.is_empty() {
            tracing::warn!("no `eds_trust_roots` configured: every EDS signature will be refused");
        }
        let mut flags = X509VerifyFlags::NO_CHECK_TIME;
        if !crls.is_empty() {
            flags |= X509VerifyFlags::CRL_CHECK;
        }
        builder
            .set_flags(flags)
            .map_err(|e| config_error("eds_crls", Path::new("-"), e))?;
        Ok(Self {
            store: builder.build(),
            roots: certs.len(),
            crls: crls.len(),
        })
    }

    /// Checks a detached CMS signature over `content` (see the module docs)
    /// and says who made it. `signature` is DER or base64 of DER.
    pub fn verify_detached(
        &self,
        signature: &[u8],
        content: &[u8],
    ) -> Result<SignerIdentity, EdsError> {
        self.verify_at(signature, content, OffsetDateTime::now_utc())
    }

    /// [`Self::verify_detached`] with "now" given, for tests and re-checks.
    pub fn verify_at(
        &self,
        signature: &[u8],
        content: &[u8],
        now: OffsetDateTime,
    ) -> Result<SignerIdentity, EdsError> {
        let der = decode(signature)?;
        let mut cms = CmsContentInfo::from_der(&der)
            .map_err(|_| EdsError::Malformed("not DER CMS".into()))?;
        // Re-encoded by OpenSSL as DER, so the walk below sees definite lengths
        // even when the signer sent BER.
        let canonical = cms
            .to_der()
            .map_err(|_| EdsError::Malformed("cannot be re-encoded".into()))?;
        let parts = der::signed_data(&canonical).map_err(EdsError::Malformed)?;

        let mut certs = Stack::new().map_err(internal)?;
        let mut signer: Option<X509> = None;
        for raw in &parts.certificates {
            let cert = X509::from_der(raw)
                .map_err(|_| EdsError::Malformed("a certificate does not parse".into()))?;
            if parts.signer_id.matches(&cert) {
                signer.get_or_insert_with(|| cert.clone());
            }
            certs.push(cert).map_err(internal)?;
        }
        let signer = signer.ok_or_else(|| {
            EdsError::Malformed("the signer's certificate is not in the signature".into())
        })?;

        // The signature itself, with the signer's certificate only; the chain
        // is checked below against our store.
        let flags = CMSOptions::NOVERIFY | CMSOptions::BINARY | CMSOptions::NOINTERN;
        let mut signer_only = Stack::new().map_err(internal)?;
        signer_only.push(signer.clone()).map_err(internal)?;
        if parts.attached {
            let mut out = Vec::new();
            cms.verify(Some(&signer_only), None, None, Some(&mut out), flags)
                .map_err(|_| EdsError::BadSignature)?;
            if out != content {
                return Err(EdsError::BadSignature);
            }
        } else {
            cms.verify(Some(&signer_only), None, Some(content), None, flags)
                .map_err(|_| EdsError::BadSignature)?;
        }

        if let Some(t) = parts.signing_time
            && t.unix_timestamp() > now.unix_timestamp() + CLOCK_SKEW_SECS
        {
            return Err(EdsError::SigningTimeInFuture);
        }
        let at = parts.signing_time.unwrap_or(now);
        self.check_chain(&signer, &certs, at)?;

        let mut identity = identity_of(&signer)?;
        identity.signing_time = parts.signing_time;
        Ok(identity)
    }

    fn check_chain(
        &self,
        signer: &X509Ref,
        certs: &Stack<X509>,
        at: OffsetDateTime,
    ) -> Result<(), EdsError> {
        let at = Asn1Time::from_unix(at.unix_timestamp()).map_err(internal)?;
        let mut ctx = X509StoreContext::new().map_err(internal)?;
        let result = ctx
            .init(&self.store, signer, certs, |c| {
                let ok = c.verify_cert()?;
                let chain: Vec<X509> = c
                    .chain()
                    .map(|s| s.iter().map(|x| x.to_owned()).collect())
                    .unwrap_or_default();
                Ok((ok, c.error(), chain))
            })
            .map_err(internal)?;
        let (ok, error, chain) = result;
        if !ok {
            // Numeric codes from OpenSSL's x509_vfy.h, stable across versions.
            const UNABLE_TO_GET_CRL: i32 = 3;
            const CERT_REVOKED: i32 = 23;
            return Err(match error.as_raw() {
                CERT_REVOKED => EdsError::Revoked,
                UNABLE_TO_GET_CRL => EdsError::RevocationUnknown,
                _ => EdsError::Untrusted(error.error_string().to_owned()),
            });
        }
        for cert in &chain {
            if before(&at, cert.not_before()) {
                return Err(EdsError::NotYetValid);
            }
            if before(cert.not_after(), &at) {
                return Err(EdsError::Expired);
            }
        }
        Ok(())
    }
}

fn before(a: &Asn1TimeRef, b: &Asn1TimeRef) -> bool {
    a.compare(b).is_ok_and(|o| o.is_lt())
}

fn internal(e: openssl::error::ErrorStack) -> EdsError {
    EdsError::Malformed(format!("OpenSSL: {e}"))
}

/// Base64 (standard alphabet, whitespace ignored) when the input is base64
/// text; otherwise DER as is.
fn decode(input: &[u8]) -> Result<Vec<u8>, EdsError> {
    let is_text = input
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b) || b.is_ascii_whitespace());
    if !is_text {
        return Ok(input.to_vec());
    }
    let text: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.is_empty() {
        return Err(EdsError::Malformed("empty".into()));
    }
    STANDARD
        .decode(&text)
        .map_err(|_| EdsError::Malformed("neither DER nor base64".into()))
}

fn entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

/// The taxpayer numbers and name in a certificate subject, as the national CA
/// writes them.
pub fn identity_of(cert: &X509Ref) -> Result<SignerIdentity, EdsError> {
    let subject = cert.subject_name();
    let iin = match entry(subject, Nid::SERIALNUMBER) {
        Some(v) => match v.strip_prefix("IIN") {
            Some(digits) => Some(
                Iin::parse(digits)
                    .map_err(|e| EdsError::NoTaxpayerId(format!("serialNumber {v}: {e}")))?,
            ),
            None => None,
        },
        None => None,
    };
    let bin = subject
        .entries_by_nid(Nid::ORGANIZATIONALUNITNAME)
        .filter_map(|e| e.data().to_string().ok())
        .find_map(|v| v.strip_prefix("BIN").map(|d| (v.clone(), d.to_owned())));
    let bin = match bin {
        Some((v, digits)) => {
            Some(Bin::parse(&digits).map_err(|e| EdsError::NoTaxpayerId(format!("OU {v}: {e}")))?)
        }
        None => None,
    };
    let taxpayer_id = match (&bin, &iin) {
        (Some(b), _) => TaxpayerId::Bin(b.clone()),
        (None, Some(i)) => TaxpayerId::Iin(i.clone()),
        (None, None) => {
            return Err(EdsError::NoTaxpayerId(
                "neither serialNumber=IIN… nor OU=BIN…".into(),
            ));
        }
    };
    let serial = cert
        .serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
        .unwrap_or_default();
    Ok(SignerIdentity {
        taxpayer_id,
        iin,
        bin,
        common_name: entry(subject, Nid::COMMONNAME).unwrap_or_default(),
        organization: entry(subject, Nid::ORGANIZATIONNAME),
        certificate_serial: serial,
        issuer: name_text(cert.issuer_name()),
        signing_time: None,
    })
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .filter_map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().ok()?;
            Some(format!("{key}={value}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A minimal walk over a DER `SignedData`, for what OpenSSL's safe API does
/// not expose: the signer's id, the certificates and the signing time.
mod der {
    use openssl::bn::BigNum;
    use openssl::x509::X509;
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

    /// `1.2.840.113549.1.9.5`, id-signingTime.
    const SIGNING_TIME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05];
    /// `1.2.840.113549.1.7.2`, id-signedData.
    const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

    pub struct Parts<'a> {
        pub certificates: Vec<&'a [u8]>,
        pub signer_id: SignerId<'a>,
        pub signing_time: Option<OffsetDateTime>,
        /// The content is inside the signature (not detached).
        pub attached: bool,
    }

    pub enum SignerId<'a> {
        IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
        KeyId(&'a [u8]),
    }

    impl SignerId<'_> {
        pub fn matches(&self, cert: &X509) -> bool {
            match self {
                SignerId::IssuerSerial { issuer, serial } => {
                    let same_issuer = cert
                        .issuer_name()
                        .to_der()
                        .is_ok_and(|d| d.as_slice() == *issuer);
                    let same_serial =
                        match (cert.serial_number().to_bn(), BigNum::from_slice(serial)) {
                            (Ok(a), Ok(b)) => a == b,
                            _ => false,
                        };
                    same_issuer && same_serial
                }
                SignerId::KeyId(id) => cert.subject_key_id().is_some_and(|k| k.as_slice() == *id),
            }
        }
    }

    struct Reader<'a> {
        rest: &'a [u8],
    }

    struct Tlv<'a> {
        tag: u8,
        content: &'a [u8],
        whole: &'a [u8],
    }

    impl<'a> Reader<'a> {
        fn new(data: &'a [u8]) -> Self {
            Self { rest: data }
        }

        fn is_empty(&self) -> bool {
            self.rest.is_empty()
        }

        fn peek_tag(&self) -> Option<u8> {
            self.rest.first().copied()
        }

        fn next(&mut self) -> Result<Tlv<'a>, String> {
            let data = self.rest;
            let tag = *data.first().ok_or("truncated")?;
            if tag & 0x1f == 0x1f {
                return Err("high tag numbers are not used in CMS".into());
            }
            let first = *data.get(1).ok_or("truncated")?;
            let (len, header) = if first < 0x80 {
                (usize::from(first), 2)
            } else {
                let n = usize::from(first & 0x7f);
                if n == 0 || n > 4 {
                    return Err("unsupported length".into());
                }
                let bytes = data.get(2..2 + n).ok_or("truncated")?;
                let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
                (len, 2 + n)
            };
            let end = header.checked_add(len).ok_or("length overflow")?;
            let whole = data.get(..end).ok_or("truncated")?;
            self.rest = &data[end..];
            Ok(Tlv {
                tag,
                content: &whole[header..],
                whole,
            })
        }

        fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
            let t = self.next()?;
            if t.tag != tag {
                return Err(format!("expected {what}"));
            }
            Ok(t)
        }
    }

    pub fn signed_data(der: &[u8]) -> Result<Parts<'_>, String> {
        let content_info = Reader::new(der).expect(0x30, "ContentInfo")?;
        let mut ci = Reader::new(content_info.content);
        if ci.expect(0x06, "content type")?.content != SIGNED_DATA {
            return Err("not SignedData".into());
        }
        let explicit = ci.expect(0xa0, "[0] content")?;
        let sd = Reader::new(explicit.content).expect(0x30, "SignedData")?;
        let mut sd = Reader::new(sd.content);
        sd.expect(0x02, "version")?;
        sd.expect(0x31, "digestAlgorithms")?;
        let encap = sd.expect(0x30, "encapContentInfo")?;
        let mut encap = Reader::new(encap.content);
        encap.expect(0x06, "eContentType")?;
        let attached = !encap.is_empty();
        let mut certificates = Vec::new();
        if sd.peek_tag() == Some(0xa0) {
            let set = sd.next()?;
            let mut r = Reader::new(set.content);
            while !r.is_empty() {
                let c = r.next()?;
                if c.tag == 0x30 {
                    certificates.push(c.whole);
                }
            }
        }
        if sd.peek_tag() == Some(0xa1) {
            sd.next()?;
        }
        let infos = sd.expect(0x31, "signerInfos")?;
        let mut infos = Reader::new(infos.content);
        let info = infos.expect(0x30, "SignerInfo")?;
        if !infos.is_empty() {
            return Err("more than one signer".into());
        }
        let mut si = Reader::new(info.content);
        si.expect(0x02, "SignerInfo version")?;
        let sid = si.next()?;
        let signer_id = match sid.tag {
            0x30 => {
                let mut r = Reader::new(sid.content);
                let issuer = r.expect(0x30, "issuer")?.whole;
                let serial = r.expect(0x02, "serialNumber")?.content;
                SignerId::IssuerSerial { issuer, serial }
            }
            0x80 => SignerId::KeyId(sid.content),
            _ => return Err("unknown signer identifier".into()),
        };
        si.expect(0x30, "digestAlgorithm")?;
        let mut signing_time = None;
        if si.peek_tag() == Some(0xa0) {
            let attrs = si.next()?;
            let mut r = Reader::new(attrs.content);
            while !r.is_empty() {
                let attr = r.expect(0x30, "Attribute")?;
                let mut a = Reader::new(attr.content);
                if a.expect(0x06, "attribute type")?.content == SIGNING_TIME {
                    let values = a.expect(0x31, "attribute values")?;
                    let v = Reader::new(values.content).next()?;
                    signing_time = Some(time_value(v.tag, v.content)?);
                }
            }
        }
        Ok(Parts {
            certificates,
            signer_id,
            signing_time,
            attached,
        })
    }

    /// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
    fn time_value(tag: u8, content: &[u8]) -> Result<OffsetDateTime, String> {
        let text = std::str::from_utf8(content).map_err(|_| "bad signing time")?;
        let bad = || "bad signing time".to_owned();
        let text = text.strip_suffix('Z').ok_or_else(bad)?;
        let (year, rest) = match tag {
            0x17 => {
                let yy: i32 = text.get(..2).ok_or_else(bad)?.parse().map_err(|_| bad())?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
            }
            0x18 => (
                text.get(..4).ok_or_else(bad)?.parse().map_err(|_| bad())?,
                &text[4..],
            ),
            _ => return Err(bad()),
        };
        if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n = |i: usize| rest[i..i + 2].parse::<u8>().map_err(|_| bad());
        let date =
            Date::from_calendar_date(year, Month::try_from(n(0)?).map_err(|_| bad())?, n(2)?)
                .map_err(|_| bad())?;
        let time = Time::from_hms(n(4)?, n(6)?, n(8)?).map_err(|_| bad())?;
        Ok(PrimitiveDateTime::new(date, time).assume_utc())
    }
}
