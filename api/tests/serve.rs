//! `tanba serve`, black-box: the real binary on a random port with a fresh
//! database (SQLite file, then a fresh PostgreSQL database), spoken to over
//! HTTP, then stopped with SIGTERM. And the in-process service for what a
//! client sees: health, the public keyring across key rotation, and errors in
//! both languages.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Db, TestApp};

/// The `tanba` binary started as a newcomer would, with JSON logs on stderr.
struct Served {
    child: Child,
    base: String,
    logs: std::sync::mpsc::Receiver<String>,
}

impl Served {
    fn start(db: &Db, extra_env: &[(&str, &str)]) -> Result<Served, String> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tanba"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(db.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TANBA_DATABASE_URL", &db.url)
            .env("TANBA_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The service logs the address it bound; port 0 means we learn it there.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                        && v["message"] == "tanba listening"
                    {
                        let addr = v["addr"].as_str().expect("addr logged").to_owned();
                        return Ok(Served {
                            child,
                            base: format!("http://{addr}"),
                            logs: rx,
                        });
                    }
                    seen.push(line);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("exited with {status}: {}", seen.join("\n")));
                    }
                }
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let rest: Vec<String> = rx.try_iter().collect();
        Err(format!(
            "did not start: {}\n{}",
            seen.join("\n"),
            rest.join("\n")
        ))
    }

    /// SIGTERM, then wait: the service must exit by itself, successfully.
    fn terminate(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "tanba exited with {status} after SIGTERM");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tanba did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Until the end of stderr, not what happens to have arrived: the
        // last lines ("tanba stopped") may still be in the pipe.
        self.logs.iter().collect()
    }
}

async fn health_and_keys_answer_and_sigterm_stops_cleanly(db: Db) {
    let served = Served::start(&db, &[]).expect("tanba serve starts");
    let client = reqwest::Client::new();

    let health = client
        .get(format!("{}/health", served.base))
        .send()
        .await
        .expect("health answers");
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");

    let keys: serde_json::Value = client
        .get(format!("{}/v1/keys", served.base))
        .send()
        .await
        .expect("keys answer")
        .json()
        .await
        .expect("json");
    let list = keys["keys"].as_array().expect("a list of keys");
    assert_eq!(list.len(), 1, "{keys}");
    assert_eq!(list[0]["algorithm"], "ed25519");
    assert_eq!(list[0]["id"], keys["current"]);
    // The keyring served is a keyring the core can read, with no private part.
    let ring = tanba_core::crypto::Keyring::from_json(&keys.to_string()).expect("a keyring");
    assert_eq!(ring.len(), 1);
    assert!(!keys.to_string().contains("private"));

    // The key was generated on first start, readable by its owner only.
    let key_file = db.path("tanba-emission.key");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let logs = served.terminate();
    assert!(
        logs.iter().any(|l| l.contains("tanba stopped")),
        "graceful shutdown logged: {logs:?}"
    );
}

#[tokio::test]
async fn serve_on_a_fresh_sqlite_file_answers_health_and_keys() {
    let db = Db::sqlite();
    health_and_keys_answer_and_sigterm_stops_cleanly(db).await;
}

#[tokio::test]
async fn serve_on_a_fresh_postgres_database_answers_health_and_keys() {
    if let Some(db) = Db::postgres().await {
        health_and_keys_answer_and_sigterm_stops_cleanly(db).await;
    }
}

#[test]
fn serve_refuses_to_start_on_a_bad_setting_and_names_it() {
    let db = Db::sqlite();
    let err = match Served::start(&db, &[("TANBA_DATABASE_MAX_CONNECTIONS", "0")]) {
        Ok(s) => {
            s.terminate();
            panic!("started with database_max_connections = 0");
        }
        Err(e) => e,
    };
    assert!(err.contains("database_max_connections"), "{err}");
}

#[test]
fn serve_refuses_an_emission_key_that_others_can_read() {
    let db = Db::sqlite();
    let key = tanba_api::keys::generate(tanba_core::KeyId::parse("TZ09").expect("id"));
    let path = db.path("tanba-emission.key");
    tanba_api::keys::write_private(&path, &key).expect("written");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = match Served::start(&db, &[]) {
        Ok(s) => {
            s.terminate();
            panic!("started with a world-readable key");
        }
        Err(e) => e,
    };
    assert!(err.contains("chmod 600"), "{err}");
}

on_every_database!(
    old_keys_stay_in_the_keyring_after_rotation,
    |db: Db| async move {
        let first = TestApp::spawn(db.settings()).await;
        let (_, before) = first.get_json("/v1/keys").await;
        let old_id = before["current"].as_str().expect("current").to_owned();
        first.stop().await;

        // The operator rotates: a new key file, same database.
        let mut settings = db.settings();
        settings.emission_key_file = db.path("rotated.key");
        let second = TestApp::spawn(settings).await;
        let (status, after) = second.get_json("/v1/keys").await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = after["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["id"].as_str().expect("id"))
            .collect();
        assert!(ids.contains(&old_id.as_str()), "{after}");
        assert_eq!(ids.len(), 2, "{after}");
        assert_ne!(after["current"], before["current"]);
        second.stop().await;
    }
);

on_every_database!(
    a_key_id_reused_for_another_key_is_refused_at_start,
    |db: Db| async move {
        let id = tanba_core::KeyId::parse("TZ05").expect("id");
        let one = tanba_api::keys::generate(id.clone());
        let two = tanba_api::keys::generate(id);
        tanba_api::keys::write_private(&db.path("one.key"), &one).expect("written");
        tanba_api::keys::write_private(&db.path("two.key"), &two).expect("written");
        let mut s = db.settings();
        s.emission_key_file = db.path("one.key");
        TestApp::spawn(s.clone()).await.stop().await;
        s.emission_key_file = db.path("two.key");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let err = tanba_api::startup::Application::build_on(s, listener)
            .await
            .expect_err("a second key under the same id must be refused");
        assert!(format!("{err:#}").contains("TZ05"), "{err:#}");
    }
);

on_every_database!(
    an_unknown_path_is_a_localized_404_in_both_languages,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        let (status, kk) = app.get_json("/v1/nothing-here").await;
        assert_eq!(status, 404);
        assert_eq!(kk["error"]["code"], "not_found");
        let kk_text = kk["error"]["message"].as_str().expect("message").to_owned();

        let (status, ru) = app.get_json("/v1/nothing-here?lang=ru").await;
        assert_eq!(status, 404);
        assert_eq!(ru["error"]["code"], "not_found");
        let ru_text = ru["error"]["message"].as_str().expect("message").to_owned();
        assert_ne!(kk_text, ru_text);
        assert_eq!(
            ru_text,
            tanba_locales::text(tanba_locales::Lang::Ru, "error-not-found")
        );

        let by_header = app
            .client
            .get(app.url("/v1/nothing-here"))
            .header("Accept-Language", "ru-RU,ru;q=0.9")
            .send()
            .await
            .expect("sent");
        assert_eq!(
            by_header
                .headers()
                .get("content-language")
                .and_then(|v| v.to_str().ok()),
            Some("ru")
        );
        let body: serde_json::Value = by_header.json().await.expect("json");
        assert_eq!(body["error"]["message"], ru_text.as_str());
        app.stop().await;
    }
);

on_every_database!(health_reports_the_database, |db: Db| async move {
    let app = TestApp::spawn(db.settings()).await;
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["database"], "ok");
    app.stop().await;
});

/// Scans answered just before SIGTERM are still in the recorder's queue
/// (it writes every 200 ms); a graceful stop writes them before exiting.
async fn sigterm_writes_the_queued_scan_records(db: Db) {
    let served = Served::start(&db, &[]).expect("tanba serve starts");
    let client = reqwest::Client::new();
    // A made-up code that parses: not stored, no tail, yet recorded.
    let code = tanba_core::MarkingCode::new(
        tanba_core::Gtin::parse("04652352262009").expect("gtin"),
        tanba_core::Serial::parse("SIGTERMTEST01").expect("serial"),
    );
    let path = format!(
        "{}/v1/codes/{}",
        served.base,
        percent_encoding::utf8_percent_encode(
            &code.element_string(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    const SCANS: usize = 25;
    for _ in 0..SCANS {
        let resp = client.get(&path).send().await.expect("scan answers");
        assert_eq!(resp.status(), 200);
    }
    let logs = served.terminate();

    let store = tanba_api::store::Store::connect(&db.settings())
        .await
        .expect("the database");
    let rows = store
        .recent_scans(code.gtin(), code.serial(), i64::MAX)
        .await
        .expect("scans");
    store.close().await;
    assert_eq!(rows.len(), SCANS, "{logs:?}");
    assert!(rows.iter().all(|r| r.verdict == "invalid_signature"));
    assert!(
        logs.iter()
            .any(|l| l.contains("scan recorder stopped") && l.contains("\"recorded\":25")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn sigterm_writes_the_queued_scan_records_on_sqlite() {
    sigterm_writes_the_queued_scan_records(Db::sqlite()).await;
}

#[tokio::test]
async fn sigterm_writes_the_queued_scan_records_on_postgres() {
    if let Some(db) = Db::postgres().await {
        sigterm_writes_the_queued_scan_records(db).await;
    }
}
