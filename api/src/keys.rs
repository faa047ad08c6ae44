//! The operator's emission key files.
//!
//! A private key file is JSON (`{"id", "algorithm", "private_key"}`) readable
//! by its owner alone: the service refuses to start on a key file that group
//! or others can read, the way ssh refuses a loose private key. The key is
//! never logged, printed or served; only its public half leaves the process.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use rand::Rng as _;
use tanba_core::KeyId;
use tanba_core::crypto::EmissionKey;

/// Reads a private key file, checking that only its owner can read it.
pub fn load(path: &Path) -> anyhow::Result<EmissionKey> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading emission key file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "emission key file {} has mode {mode:o}: others can read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading emission key file {}", path.display()))?;
    EmissionKey::from_private_json(&text)
        .with_context(|| format!("emission key file {} is not a Tanba key", path.display()))
}

/// Writes a new private key file with mode 0600; never overwrites a file.
pub fn write_private(path: &Path, key: &EmissionKey) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "creating emission key file {} (it must not exist)",
                path.display()
            )
        })?;
    file.write_all(key.to_private_json().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

/// A fresh key with the given id, from the operating system's CSPRNG.
pub fn generate(id: KeyId) -> EmissionKey {
    EmissionKey::generate(id, &mut rand::rngs::OsRng)
}

/// The key at `path`, generated there first when missing and `generate` is on.
pub fn load_or_generate(path: &Path, generate: bool) -> anyhow::Result<EmissionKey> {
    if path.exists() || !generate {
        return load(path);
    }
    let key = self::generate(random_key_id());
    write_private(path, &key)?;
    tracing::warn!(
        key_id = %key.id(),
        file = %path.display(),
        "generated a new emission key; in production make keys with `tanba keys generate`"
    );
    Ok(key)
}

/// A key id for a generated key: `K` and three random letters or digits.
fn random_key_id() -> KeyId {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let mut id = String::from("K");
    for _ in 0..3 {
        id.push(char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]));
    }
    KeyId::parse(&id).expect("K and three letters or digits is a valid key id")
}

/// The files `tanba keys generate` writes: `<DIR>/<ID>.key` (private, 0600)
/// and `<DIR>/<ID>.pub.json` (a keyring with the one public key).
pub fn generate_into(dir: &Path, id: KeyId) -> anyhow::Result<(EmissionKey, PathBuf, PathBuf)> {
    // Key ids may hold any GS1 set-82 character, `/` included; a file name
    // may not. Operator keys are named with letters and digits.
    if !id.as_str().chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("key id {:?} must be letters and digits only", id.as_str());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let private = dir.join(format!("{}.key", id.as_str()));
    let public = dir.join(format!("{}.pub.json", id.as_str()));
    if public.exists() {
        bail!("{} already exists; choose another key id", public.display());
    }
    let key = generate(id);
    write_private(&private, &key)?;
    let mut ring = tanba_core::crypto::Keyring::new();
    ring.insert(key.public());
    std::fs::write(&public, ring.to_json() + "\n")
        .with_context(|| format!("writing {}", public.display()))?;
    Ok((key, private, public))
}
