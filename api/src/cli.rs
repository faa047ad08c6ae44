//! The `tanba` command.
//!
//! - `tanba code parse [INPUT|-]`: what a scanner output means, as JSON.
//! - `tanba code verify --keyring FILE [INPUT|-]`: the same plus the signature status.
//! - `tanba keys generate --id ID --out DIR`: a new emission key pair.
//! - `tanba staff add --iin IIN --name NAME --roles admin,inspector [--config FILE]`:
//!   an operator staff account (bootstrap of the first administrator).
//! - `tanba serve [--listen ADDR] [--config FILE] [--demo]`: the service;
//!   `--demo` seeds demo data once and prints codes to try.
//!
//! With `-`, one input per line is read from standard input and one JSON
//! object per line is written, so a million codes can be piped through.
//! A single rejected input exits with status 2; with `-` every line carries
//! its own answer and the exit status is 0.

use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde::Serialize;
use tanba_core::crypto::{Keyring, SignatureStatus};
use tanba_core::{KeyId, ScannedCode};
use tanba_locales::Lang;

use crate::settings::Settings;
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(
    name = "tanba",
    version,
    about = "Tanba: national product marking and traceability"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Marking codes: parse and verify what scanners hand over.
    #[command(subcommand)]
    Code(CodeCommand),
    /// The operator's emission keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Operator staff accounts (administrators, inspectors, analysts).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Run the service.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "TANBA_LISTEN")]
        listen: Option<String>,
        /// Settings file (TOML); `tanba.toml` in the working directory is read if present.
        #[arg(long, env = "TANBA_CONFIG")]
        config: Option<PathBuf>,
        /// Seed a demo manufacturer, products and codes in every status (once),
        /// and print codes to scan.
        #[arg(long)]
        demo: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CodeCommand {
    /// Parse a code (or `-` for one per line on stdin) into its fields.
    Parse {
        /// The scanner output; `-` reads one input per line from stdin.
        input: String,
        /// Language of error messages: kk or ru.
        #[arg(long, default_value = "kk", value_parser = parse_lang)]
        lang: Lang,
    },
    /// Parse and check the crypto tail against a keyring file.
    Verify {
        /// Keyring file: {"keys":[{"id","algorithm","public_key"}]}.
        #[arg(long)]
        keyring: PathBuf,
        /// The scanner output; `-` reads one input per line from stdin.
        input: String,
        /// Language of error messages: kk or ru.
        #[arg(long, default_value = "kk", value_parser = parse_lang)]
        lang: Lang,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new emission key pair: DIR/ID.key (private, mode 0600) and
    /// DIR/ID.pub.json (public keyring). The private key is never printed.
    Generate {
        /// Key id: 4 letters or digits, carried in AI 91 of every code it signs.
        #[arg(long)]
        id: String,
        /// Directory to write the key files into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain from the first entry to the last.
    /// Exits 0 when it holds, 1 and names the first broken entry when not.
    Verify {
        /// Settings file (TOML); the database comes from the settings.
        #[arg(long, env = "TANBA_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Add a staff account (operator bootstrap). The person signs in with an
    /// EDS certificate carrying this IIN. Written to the audit log as "cli".
    Add {
        /// The person's IIN (12 digits, checked).
        #[arg(long)]
        iin: String,
        /// The person's full name.
        #[arg(long)]
        name: String,
        /// Comma-separated staff roles: admin, inspector, analyst.
        #[arg(long)]
        roles: String,
        /// Settings file (TOML); the database comes from the settings.
        #[arg(long, env = "TANBA_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_tag(s).ok_or_else(|| format!("{s:?} is not kk or ru"))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tanba: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Code(CodeCommand::Parse { input, lang }) => code_command(&input, None, lang),
        Command::Code(CodeCommand::Verify {
            keyring,
            input,
            lang,
        }) => {
            let text = std::fs::read_to_string(&keyring)
                .with_context(|| format!("reading keyring {}", keyring.display()))?;
            let ring = Keyring::from_json(&text)
                .with_context(|| format!("keyring {}", keyring.display()))?;
            code_command(&input, Some(&ring), lang)
        }
        Command::Keys(KeysCommand::Generate { id, out }) => {
            let key_id = KeyId::parse(&id).map_err(|e| anyhow::anyhow!("key id {id:?}: {e}"))?;
            let (key, private, public) = crate::keys::generate_into(&out, key_id)?;
            let report = serde_json::json!({
                "id": key.id().as_str(),
                "algorithm": tanba_core::crypto::ALGORITHM,
                "public_key": key.public().to_base64url(),
                "private_key_file": private,
                "keyring_file": public,
            });
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify { config }) => {
            let settings = Settings::load(config.as_deref(), std::env::vars())?;
            audit_verify(settings)
        }
        Command::Staff(StaffCommand::Add {
            iin,
            name,
            roles,
            config,
        }) => {
            let settings = Settings::load(config.as_deref(), std::env::vars())?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let staff = runtime.block_on(async move {
                let store = crate::store::Store::connect(&settings).await?;
                let added = add_staff(&store, &iin, &name, &roles).await;
                store.close().await;
                added
            })?;
            println!(
                "{}",
                serde_json::json!({"id": staff.id, "iin": staff.iin, "roles": staff.roles})
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            listen,
            config,
            demo,
        } => {
            let mut settings = Settings::load(config.as_deref(), std::env::vars())?;
            if let Some(listen) = listen {
                settings.listen = listen;
                settings.validate()?;
            }
            crate::telemetry::init(settings.log_format, &settings.log_filter);
            tracing::info!(?settings, "starting");
            serve(settings, demo)
        }
    }
}

fn serve(settings: Settings, demo: bool) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(async move {
        let demo_settings = demo.then(|| settings.clone());
        let app = Application::build(settings).await?;
        if let Some(settings) = demo_settings {
            crate::demo::seed_and_print(&settings, app.addr()).await?;
        }
        app.run_until_stopped().await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn audit_verify(settings: Settings) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = crate::store::Store::connect(&settings).await?;
        let verdict = store.verify_audit_chain().await?;
        store.close().await;
        Ok(match verdict {
            Ok(entries) => {
                println!("{}", serde_json::json!({"status": "ok", "entries": entries}));
                ExitCode::SUCCESS
            }
            Err(broken) => {
                println!(
                    "{}",
                    serde_json::json!({"status": "broken", "seq": broken.seq, "reason": broken.reason})
                );
                ExitCode::FAILURE
            }
        })
    })
}

/// What `tanba staff add` does, as a library function (tests call it too):
/// checks the IIN, name and roles, adds the account and its audit entry
/// (actor `cli`) in one transaction.
pub async fn add_staff(
    store: &crate::store::Store,
    iin: &str,
    name: &str,
    roles: &str,
) -> anyhow::Result<crate::store::Staff> {
    use crate::auth::Role;
    let iin = tanba_core::participant::Iin::parse(iin.trim())
        .map_err(|e| anyhow::anyhow!("--iin {iin:?}: {e}"))?;
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 300,
        "--name must be 1 to 300 characters"
    );
    let mut parsed: Vec<Role> = Vec::new();
    for role in roles.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--roles: {e}"))?;
        anyhow::ensure!(
            Role::STAFF.contains(&role),
            "--roles: {role} is not a staff role (admin, inspector, analyst)"
        );
        if !parsed.contains(&role) {
            parsed.push(role);
        }
    }
    anyhow::ensure!(
        !parsed.is_empty(),
        "--roles: name at least one of admin, inspector, analyst"
    );
    let mut tx = store.begin().await?;
    let staff = tx
        .add_staff(iin.as_str(), name, &parsed)
        .await?
        .map_err(|e| anyhow::anyhow!("a staff account for IIN {} already exists", e.0))?;
    let mut entry = crate::store::AuditEntry::new("staff.add");
    entry.actor = Some("cli".to_owned());
    entry.object = Some(staff.id.to_string());
    entry.detail = serde_json::json!({"roles": crate::auth::roles_to_text(&parsed)});
    tx.audit(entry).await?;
    tx.commit().await?;
    Ok(staff)
}

/// One line of `tanba code parse|verify` output.
#[derive(Debug, Serialize)]
pub struct CodeReport {
    pub kind: &'static str,
    pub gtin: Option<String>,
    pub serial: Option<String>,
    pub key_id: Option<String>,
    pub signature: Option<String>,
    pub sscc: Option<String>,
    pub expiry: Option<String>,
    pub canonical: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_status: Option<Option<SignatureStatus>>,
}

#[derive(Debug, Serialize)]
struct ErrorReport {
    error: ErrorBody,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

/// The report for one input; `keyring` adds the signature status.
pub fn report(
    input: &str,
    keyring: Option<&Keyring>,
) -> Result<CodeReport, tanba_core::ParseError> {
    let scanned = tanba_core::parse(input)?;
    let canonical = scanned.canonical();
    Ok(match scanned {
        ScannedCode::Unit(code) => CodeReport {
            kind: "unit",
            gtin: Some(code.gtin().as_str().to_owned()),
            serial: Some(code.serial().as_str().to_owned()),
            key_id: code.key_id().map(|k| k.as_str().to_owned()),
            signature: code.crypto_tail().map(|t| t.as_str().to_owned()),
            sscc: None,
            expiry: code.expiry().map(|d| d.to_string()),
            canonical,
            signature_status: keyring.map(|r| Some(r.verify(&code))),
        },
        ScannedCode::Sscc(sscc) => CodeReport {
            kind: "sscc",
            gtin: None,
            serial: None,
            key_id: None,
            signature: None,
            sscc: Some(sscc.as_str().to_owned()),
            expiry: None,
            canonical,
            signature_status: keyring.map(|_| None),
        },
    })
}

fn line(input: &str, keyring: Option<&Keyring>, lang: Lang) -> (String, bool) {
    match report(input, keyring) {
        Ok(r) => (serde_json::to_string(&r).unwrap_or_default(), true),
        Err(e) => {
            let body = ErrorReport {
                error: ErrorBody {
                    code: e.kind.code(),
                    message: crate::error::parse_error_message(&e, lang),
                },
            };
            (serde_json::to_string(&body).unwrap_or_default(), false)
        }
    }
}

fn code_command(input: &str, keyring: Option<&Keyring>, lang: Lang) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if input != "-" {
        let (text, ok) = line(input, keyring, lang);
        writeln!(out, "{text}")?;
        out.flush()?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        // Lines end at LF; a CR before it is line ending too, not part of the code.
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let text = String::from_utf8_lossy(&buf);
        let (json, _) = line(&text, keyring, lang);
        writeln!(out, "{json}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
