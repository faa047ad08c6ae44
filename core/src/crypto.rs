//! The crypto tail of a marking code: Ed25519 signatures by the operator's
//! emission keys.
//!
//! A code carries its key id in AI 91 and, in AI 92, the Ed25519 signature over
//! the canonical bytes `01<GTIN>21<serial>`, encoded as base64url without
//! padding (86 characters, which fits AI 92's limit of 90). Anyone holding the
//! operator's public keys (a [`Keyring`]) can check a code offline; no one
//! without the private key can make a new valid one.
//!
//! Keys rotate: a keyring holds every key id that ever signed codes still in
//! circulation, so old codes keep verifying after a new key takes over.
//!
//! What a signature does *not* prove: that the label is not a copy. Copies are
//! the lifecycle's business (a code sells once), not this module's.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::code::{CryptoTail, KeyId, MarkingCode};

/// The only algorithm Tanba signs with. Named in keyring files so that a future
/// algorithm can be added without guessing.
pub const ALGORITHM: &str = "ed25519";

/// Length of an Ed25519 signature in base64url without padding.
pub const TAIL_LEN: usize = 86;

/// How many signatures one call to the batch verifier checks at once. A bad
/// signature forces its whole chunk to be re-checked one by one, so chunks are
/// kept small enough that a forged code in a million costs little, and large
/// enough to get most of the batch speed-up (measured in `benches/codes.rs`).
const BATCH_CHUNK: usize = 256;

/// What checking a code's crypto tail against a keyring says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Signed by a key in the keyring.
    Valid,
    /// The key id is known but the tail is not its signature of this code.
    Invalid,
    /// The key id (AI 91) is not in the keyring.
    UnknownKey,
    /// The code has no crypto tail (or no key id).
    Missing,
}

impl SignatureStatus {
    /// Stable machine name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::UnknownKey => "unknown_key",
            Self::Missing => "missing",
        }
    }
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors reading keys and keyrings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("keyring is not valid JSON: {0}")]
    Json(String),
    #[error("key {id}: algorithm {algorithm:?} is not supported (only \"ed25519\")")]
    Algorithm { id: String, algorithm: String },
    #[error("key id {0:?} is not 4 characters of GS1 set 82")]
    KeyId(String),
    #[error("key {id}: {what} is not base64url of {expected} bytes")]
    Encoding {
        id: String,
        what: &'static str,
        expected: usize,
    },
    #[error("key {id}: public key is not a valid Ed25519 point")]
    Point { id: String },
    #[error("key id {0} appears twice in the keyring")]
    Duplicate(String),
}

/// An operator emission key: the private half that signs codes.
///
/// Its `Debug` never shows the secret, so it is safe to log a value that holds
/// one by accident.
#[derive(Clone)]
pub struct EmissionKey {
    id: KeyId,
    signing: SigningKey,
}

impl fmt::Debug for EmissionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmissionKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The file form of a private emission key. Kept apart from [`PublicKeyEntry`]
/// so that a keyring can never be deserialized from a private key file.
#[derive(Serialize, Deserialize)]
struct PrivateKeyFile {
    id: String,
    algorithm: String,
    private_key: String,
}

impl EmissionKey {
    /// A new key from a cryptographically secure random source.
    pub fn generate(id: KeyId, rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> Self {
        Self {
            id,
            signing: SigningKey::generate(rng),
        }
    }

    /// The key from its 32-byte secret seed.
    pub fn from_seed(id: KeyId, seed: &[u8; 32]) -> Self {
        Self {
            id,
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Reads the JSON form written by [`EmissionKey::to_private_json`].
    pub fn from_private_json(json: &str) -> Result<Self, KeyError> {
        let file: PrivateKeyFile =
            serde_json::from_str(json).map_err(|e| KeyError::Json(e.to_string()))?;
        if file.algorithm != ALGORITHM {
            return Err(KeyError::Algorithm {
                id: file.id,
                algorithm: file.algorithm,
            });
        }
        let id = KeyId::parse(&file.id).map_err(|_| KeyError::KeyId(file.id.clone()))?;
        let seed: [u8; 32] = decode_fixed(&file.private_key).ok_or(KeyError::Encoding {
            id: file.id,
            what: "private_key",
            expected: 32,
        })?;
        Ok(Self::from_seed(id, &seed))
    }

    /// The JSON form of the private key. The caller is responsible for writing
    /// it only to a file readable by its owner alone.
    pub fn to_private_json(&self) -> String {
        let file = PrivateKeyFile {
            id: self.id.as_str().to_owned(),
            algorithm: ALGORITHM.to_owned(),
            private_key: URL_SAFE_NO_PAD.encode(self.signing.to_bytes()),
        };
        // Serializing a struct of three strings cannot fail.
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The public half, as it appears in a keyring.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            id: self.id.clone(),
            key: self.signing.verifying_key(),
        }
    }

    /// The crypto tail for a code: the signature over `01<GTIN>21<serial>`.
    pub fn tail_for(&self, code: &MarkingCode) -> CryptoTail {
        let signature = self.signing.sign(code.signed_bytes().as_bytes());
        let encoded = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        // base64url of 64 bytes is 86 characters of [A-Za-z0-9_-], all in
        // GS1 set 82 and within AI 92's limit of 90.
        CryptoTail::parse(&encoded).expect("base64url of a signature is a valid crypto tail")
    }

    /// The same code with this key's id in AI 91 and its signature in AI 92.
    pub fn sign(&self, code: MarkingCode) -> MarkingCode {
        let tail = self.tail_for(&code);
        code.with_crypto(self.id.clone(), tail)
    }
}

/// A public emission key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: VerifyingKey,
}

impl PublicKey {
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The 32-byte key as base64url without padding.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.as_bytes())
    }

    /// The keyring-file form of this key.
    pub fn entry(&self) -> PublicKeyEntry {
        PublicKeyEntry {
            id: self.id.as_str().to_owned(),
            algorithm: ALGORITHM.to_owned(),
            public_key: self.to_base64url(),
        }
    }

    /// Reads one keyring entry, checking every field.
    pub fn from_entry(entry: &PublicKeyEntry) -> Result<Self, KeyError> {
        if entry.algorithm != ALGORITHM {
            return Err(KeyError::Algorithm {
                id: entry.id.clone(),
                algorithm: entry.algorithm.clone(),
            });
        }
        let id = KeyId::parse(&entry.id).map_err(|_| KeyError::KeyId(entry.id.clone()))?;
        let bytes: [u8; 32] = decode_fixed(&entry.public_key).ok_or(KeyError::Encoding {
            id: entry.id.clone(),
            what: "public_key",
            expected: 32,
        })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Point {
            id: entry.id.clone(),
        })?;
        Ok(Self { id, key })
    }
}

/// One key as written in a keyring file (`{"id", "algorithm", "public_key"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyEntry {
    pub id: String,
    pub algorithm: String,
    pub public_key: String,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    keys: Vec<PublicKeyEntry>,
}

/// The operator's public keys by key id: what a verifier needs to check codes
/// offline. The file form is `{"keys": [{"id", "algorithm", "public_key"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    // A BTreeMap keeps `/v1/keys` and keyring files in a stable order.
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a keyring file, refusing unknown algorithms, malformed keys and
    /// duplicate ids rather than silently keeping one of them.
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        let file: KeyringFile =
            serde_json::from_str(json).map_err(|e| KeyError::Json(e.to_string()))?;
        let mut ring = Self::new();
        for entry in &file.keys {
            let key = PublicKey::from_entry(entry)?;
            if ring.keys.contains_key(&key.id) {
                return Err(KeyError::Duplicate(entry.id.clone()));
            }
            ring.insert(key);
        }
        Ok(ring)
    }

    pub fn to_json(&self) -> String {
        let file = KeyringFile {
            keys: self.entries(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    pub fn entries(&self) -> Vec<PublicKeyEntry> {
        self.iter().map(|k| k.entry()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = PublicKey> + '_ {
        self.keys.iter().map(|(id, key)| PublicKey {
            id: id.clone(),
            key: *key,
        })
    }

    /// Adds or replaces a key.
    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(key.id, key.key);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks one code's crypto tail.
    pub fn verify(&self, code: &MarkingCode) -> SignatureStatus {
        match self.prepare(code) {
            Err(status) => status,
            Ok((key, signature)) => {
                match key.verify_strict(code.signed_bytes().as_bytes(), &signature) {
                    Ok(()) => SignatureStatus::Valid,
                    Err(_) => SignatureStatus::Invalid,
                }
            }
        }
    }

    /// Checks many codes at once, with the same answers as [`Keyring::verify`]
    /// one by one but about three times faster when most signatures are good:
    /// chunks go through Ed25519 batch verification, and only a chunk that
    /// fails is re-checked code by code to find the culprits.
    pub fn verify_batch(&self, codes: &[MarkingCode]) -> Vec<SignatureStatus> {
        let mut statuses = vec![SignatureStatus::Missing; codes.len()];
        let mut pending: Vec<(usize, VerifyingKey, Signature)> = Vec::with_capacity(codes.len());
        for (i, code) in codes.iter().enumerate() {
            match self.prepare(code) {
                Err(status) => statuses[i] = status,
                Ok((key, signature)) => pending.push((i, key, signature)),
            }
        }
        for chunk in pending.chunks(BATCH_CHUNK) {
            let messages: Vec<String> = chunk
                .iter()
                .map(|(i, ..)| codes[*i].signed_bytes())
                .collect();
            let message_refs: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
            let signatures: Vec<Signature> = chunk.iter().map(|(_, _, s)| *s).collect();
            let keys: Vec<VerifyingKey> = chunk.iter().map(|(_, k, _)| *k).collect();
            if ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).is_ok() {
                for (i, ..) in chunk {
                    statuses[*i] = SignatureStatus::Valid;
                }
            } else {
                for ((i, key, signature), message) in chunk.iter().zip(&message_refs) {
                    statuses[*i] = match key.verify_strict(message, signature) {
                        Ok(()) => SignatureStatus::Valid,
                        Err(_) => SignatureStatus::Invalid,
                    };
                }
            }
        }
        statuses
    }

    /// The key and signature to check, or the status when there is nothing
    /// to check.
    fn prepare(&self, code: &MarkingCode) -> Result<(VerifyingKey, Signature), SignatureStatus> {
        let (Some(key_id), Some(tail)) = (code.key_id(), code.crypto_tail()) else {
            return Err(SignatureStatus::Missing);
        };
        let key = self.keys.get(key_id).ok_or(SignatureStatus::UnknownKey)?;
        // A tail of the wrong length or alphabet cannot be our signature: it is
        // invalid, not a parse error (it may be another operator's format).
        let bytes = decode_fixed::<64>(tail.as_str()).ok_or(SignatureStatus::Invalid)?;
        Ok((*key, Signature::from_bytes(&bytes)))
    }
}

fn decode_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{Gtin, Serial};
    use rand::SeedableRng;

    fn key(id: &str, seed: u8) -> EmissionKey {
        EmissionKey::from_seed(KeyId::parse(id).unwrap(), &[seed; 32])
    }

    fn code(serial: &str) -> MarkingCode {
        MarkingCode::new(
            Gtin::parse("04652352262009").unwrap(),
            Serial::parse(serial).unwrap(),
        )
    }

    fn ring(keys: &[&EmissionKey]) -> Keyring {
        let mut ring = Keyring::new();
        for k in keys {
            ring.insert(k.public());
        }
        ring
    }

    #[test]
    fn a_signed_code_verifies_and_its_tail_is_86_characters() {
        let k = key("TZ01", 1);
        let signed = k.sign(code("abcdefghijklm"));
        assert_eq!(signed.crypto_tail().unwrap().as_str().len(), TAIL_LEN);
        assert_eq!(signed.key_id().unwrap().as_str(), "TZ01");
        assert_eq!(ring(&[&k]).verify(&signed), SignatureStatus::Valid);
    }

    #[test]
    fn a_tail_moved_to_another_serial_is_invalid() {
        let k = key("TZ01", 1);
        let signed = k.sign(code("abcdefghijklm"));
        let copy = code("abcdefghijklX").with_crypto(
            signed.key_id().unwrap().clone(),
            signed.crypto_tail().unwrap().clone(),
        );
        assert_eq!(ring(&[&k]).verify(&copy), SignatureStatus::Invalid);
    }

    #[test]
    fn a_code_signed_by_a_key_outside_the_keyring_is_unknown_key() {
        let signed = key("ZZ99", 9).sign(code("abcdefghijklm"));
        assert_eq!(
            ring(&[&key("TZ01", 1)]).verify(&signed),
            SignatureStatus::UnknownKey
        );
    }

    #[test]
    fn a_key_id_reused_with_another_secret_does_not_verify() {
        let signed = key("TZ01", 2).sign(code("abcdefghijklm"));
        assert_eq!(
            ring(&[&key("TZ01", 1)]).verify(&signed),
            SignatureStatus::Invalid
        );
    }

    #[test]
    fn a_code_without_tail_is_missing() {
        assert_eq!(
            ring(&[&key("TZ01", 1)]).verify(&code("abcdefghijklm")),
            SignatureStatus::Missing
        );
    }

    #[test]
    fn a_truncated_tail_is_invalid_not_an_error() {
        let k = key("TZ01", 1);
        let signed = k.sign(code("abcdefghijklm"));
        let short = &signed.crypto_tail().unwrap().as_str()[..40];
        let cut =
            code("abcdefghijklm").with_crypto(k.id().clone(), CryptoTail::parse(short).unwrap());
        assert_eq!(ring(&[&k]).verify(&cut), SignatureStatus::Invalid);
    }

    #[test]
    fn old_keys_keep_verifying_after_rotation() {
        let old = key("TZ01", 1);
        let new = key("TZ02", 2);
        let ring = ring(&[&old, &new]);
        assert_eq!(
            ring.verify(&old.sign(code("abcdefghijklm"))),
            SignatureStatus::Valid
        );
        assert_eq!(
            ring.verify(&new.sign(code("abcdefghijklm"))),
            SignatureStatus::Valid
        );
    }

    #[test]
    fn batch_verification_agrees_with_one_by_one_and_finds_the_forgeries() {
        let k = key("TZ01", 1);
        let other = key("ZZ99", 3);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut codes: Vec<MarkingCode> = (0..1000)
            .map(|_| {
                let serial = Serial::generate(&mut rng);
                k.sign(MarkingCode::new(
                    Gtin::parse("04652352262009").unwrap(),
                    serial,
                ))
            })
            .collect();
        // A forgery in the middle of a chunk, an unknown key, and an unsigned code.
        let victim = codes[500].clone();
        codes[500] = code("abcdefghijklm").with_crypto(
            victim.key_id().unwrap().clone(),
            victim.crypto_tail().unwrap().clone(),
        );
        codes[10] = other.sign(code("abcdefghijklm"));
        codes[999] = code("abcdefghijklm");
        let ring = ring(&[&k]);
        let batch = ring.verify_batch(&codes);
        let single: Vec<_> = codes.iter().map(|c| ring.verify(c)).collect();
        assert_eq!(batch, single);
        assert_eq!(batch[500], SignatureStatus::Invalid);
        assert_eq!(batch[10], SignatureStatus::UnknownKey);
        assert_eq!(batch[999], SignatureStatus::Missing);
        assert_eq!(
            batch
                .iter()
                .filter(|s| **s == SignatureStatus::Valid)
                .count(),
            997
        );
    }

    #[test]
    fn a_keyring_round_trips_through_its_file_form() {
        let ring = ring(&[&key("TZ01", 1), &key("TZ02", 2)]);
        assert_eq!(Keyring::from_json(&ring.to_json()).unwrap(), ring);
    }

    #[test]
    fn a_private_key_round_trips_and_its_debug_hides_the_secret() {
        let k = key("TZ07", 5);
        let back = EmissionKey::from_private_json(&k.to_private_json()).unwrap();
        assert_eq!(back.public(), k.public());
        let shown = format!("{k:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&URL_SAFE_NO_PAD.encode([5u8; 32])));
    }

    #[test]
    fn bad_keyrings_are_refused_with_the_reason() {
        let entry = |id: &str, alg: &str, pk: &str| {
            format!(r#"{{"keys":[{{"id":"{id}","algorithm":"{alg}","public_key":"{pk}"}}]}}"#)
        };
        let good_pk = key("TZ01", 1).public().to_base64url();
        assert!(matches!(
            Keyring::from_json(&entry("TZ01", "rsa", &good_pk)),
            Err(KeyError::Algorithm { .. })
        ));
        assert!(matches!(
            Keyring::from_json(&entry("TZ1", "ed25519", &good_pk)),
            Err(KeyError::KeyId(_))
        ));
        assert!(matches!(
            Keyring::from_json(&entry("TZ01", "ed25519", "AAAA")),
            Err(KeyError::Encoding { .. })
        ));
        assert!(matches!(
            Keyring::from_json("not json"),
            Err(KeyError::Json(_))
        ));
        let dup = format!(
            r#"{{"keys":[{{"id":"TZ01","algorithm":"ed25519","public_key":"{good_pk}"}},{{"id":"TZ01","algorithm":"ed25519","public_key":"{good_pk}"}}]}}"#
        );
        assert!(matches!(
            Keyring::from_json(&dup),
            Err(KeyError::Duplicate(_))
        ));
    }
}
