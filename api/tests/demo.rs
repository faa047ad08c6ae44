//! `tanba serve --demo`, black-box: the real binary on a fresh SQLite file
//! prints codes to try; each, scanned over HTTP, gets the verdict printed
//! next to it. A second start seeds nothing new and lists the same codes.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Db;
use serde_json::Value;

/// A `tanba serve --demo` we started, killed when dropped.
struct Demo {
    child: Child,
    /// (verdict, Digital Link URL) as printed.
    codes: Vec<(String, String)>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Db) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tanba"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(db.dir.path())
        .env("TANBA_DATABASE_URL", &db.url)
        .env("TANBA_EMISSION_KEY_FILE", db.path("emission.key"))
        .env("TANBA_LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tanba serve --demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut codes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The list ends with the code that is not stored.
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let mut words = line.split_whitespace();
        if let (Some(verdict), Some(url), None) = (words.next(), words.next(), words.next())
            && url.starts_with("http://")
        {
            codes.push((verdict.to_owned(), url.to_owned()));
            if verdict == "not_found" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no codes printed");
    }
    Demo { child, codes }
}

#[tokio::test]
async fn tanba_serve_demo_prints_codes_that_scan_as_printed() {
    let db = Db::sqlite();
    let first = start(&db);
    let verdicts: Vec<&str> = first.codes.iter().map(|(v, _)| v.as_str()).collect();
    for expected in [
        "genuine",
        "sold",
        "blocked",
        "written_off",
        "not_in_circulation",
        "invalid_signature",
        "not_found",
    ] {
        assert!(
            verdicts.contains(&expected),
            "{expected} missing: {verdicts:?}"
        );
    }
    let client = reqwest::Client::new();
    for (expected, url) in &first.codes {
        for lang in ["kk", "ru"] {
            let body: Value = client
                .get(format!("{url}&lang={lang}"))
                .header("Accept", "application/json")
                .send()
                .await
                .expect("scan")
                .json()
                .await
                .expect("a JSON body");
            assert_eq!(body["verdict"], expected.as_str(), "{url}: {body}");
        }
        // And the page a phone opens.
        let page = client.get(url).send().await.expect("page");
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.expect("html");
        assert!(
            html.contains(&format!("data-verdict=\"{expected}\"")),
            "{html}"
        );
    }
    let stored = |d: &Demo| -> Vec<(String, String)> {
        d.codes
            .iter()
            .filter(|(v, _)| v != "not_found")
            .map(|(v, u)| (v.clone(), u.split_once("/01/").expect("link").1.to_owned()))
            .collect()
    };
    let before = stored(&first);

    // Every demo code belongs to an order that is READY with exactly its
    // codes, so the emission worker has nothing left to fill.
    let store = tanba_api::store::Store::connect(&db.settings())
        .await
        .expect("store");
    let orders: Vec<(String, String, i64, i64)> = {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("sqlite");
        sqlx::query_as("SELECT id, status, quantity, generated FROM orders")
            .fetch_all(&mut c)
            .await
            .expect("orders")
    };
    assert_eq!(orders.len(), 2, "one order per demo product: {orders:?}");
    let mut in_orders = 0;
    for (id, status, quantity, generated) in &orders {
        assert_eq!(status, "READY");
        assert_eq!(quantity, generated);
        let (codes, distinct) = store
            .count_order_codes(id.parse().expect("order id"))
            .await
            .expect("count");
        assert_eq!((codes, distinct), (*generated, *generated), "order {id}");
        in_orders += codes;
    }
    let all: i64 = {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("sqlite");
        sqlx::query_scalar("SELECT COUNT(*) FROM codes")
            .fetch_one(&mut c)
            .await
            .expect("codes")
    };
    assert_eq!(in_orders, all, "no code outside an order");
    store.close().await;
    drop(first);

    // Started again: nothing seeded twice, the same codes listed.
    let second = start(&db);
    assert_eq!(stored(&second), before);
}
