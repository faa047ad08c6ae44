//! The audit log is append-only and tamper-evident, on both engines: entries
//! chain by hash, the database refuses to change or delete them, and an edit
//! made past the refusal is found by `tanba audit verify`, which names the
//! first broken entry.

mod common;

use std::process::Command;

use common::{Db, raw};
use tanba_api::store::{AuditEntry, Outcome, Store};

async fn store(db: &Db) -> Store {
    Store::connect(&db.settings()).await.expect("store")
}

fn entry(i: usize) -> AuditEntry {
    let mut e = AuditEntry::new("test.action");
    e.actor = Some(format!("actor-{i}"));
    e.role = Some("admin".to_owned());
    e.object = Some(format!("object-{i}"));
    e.ip = Some("127.0.0.1".to_owned());
    e.detail = serde_json::json!({ "i": i });
    if i.is_multiple_of(3) {
        e.outcome = Outcome::Refused("forbidden".to_owned());
    }
    e
}

fn audit_verify(db: &Db) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_tanba"))
        .args(["audit", "verify"])
        .current_dir(db.dir.path())
        .env("TANBA_DATABASE_URL", &db.url)
        .output()
        .expect("tanba runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "{text}: {e}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

on_every_database!(entries_chain_and_the_chain_verifies, |db: Db| async move {
    let store = store(&db).await;
    for i in 0..10 {
        store.audit(entry(i)).await.expect("appended");
    }
    let entries = store.audit_entries(0, 100).await.expect("entries");
    assert_eq!(entries.len(), 10);
    assert_eq!(entries[3].outcome, "refused:forbidden");
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    assert_eq!(store.verify_audit_chain().await.expect("read"), Ok(10));
    let (status, report) = audit_verify(&db);
    assert_eq!(status, 0, "{report}");
    assert_eq!(report["entries"], 10);
});

on_every_database!(
    the_database_refuses_to_change_or_delete_an_entry,
    |db: Db| async move {
        let store = store(&db).await;
        store.audit(entry(1)).await.expect("appended");
        let update = raw(&db, "UPDATE audit_log SET action = 'nothing happened'").await;
        assert!(update.unwrap_err().contains("append-only"));
        let delete = raw(&db, "DELETE FROM audit_log").await;
        assert!(delete.unwrap_err().contains("append-only"));
        let entries = store.audit_entries(0, 10).await.expect("entries");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].action, "test.action");
    }
);

on_every_database!(
    an_edit_past_the_trigger_is_found_and_named,
    |db: Db| async move {
        let store = store(&db).await;
        for i in 0..5 {
            store.audit(entry(i)).await.expect("appended");
        }
        // An intruder with the database owner's rights removes the guard.
        let disable = if db.label == "postgres" {
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete"
        } else {
            "DROP TRIGGER audit_log_no_update"
        };
        raw(&db, disable).await.expect("trigger removed");
        raw(&db, "UPDATE audit_log SET ip = '10.0.0.1' WHERE seq = 3")
            .await
            .expect("row edited");
        let broken = store.verify_audit_chain().await.expect("read").unwrap_err();
        assert_eq!(broken.seq, 3);
        let (status, report) = audit_verify(&db);
        assert_eq!(status, 1);
        assert_eq!(report["status"], "broken");
        assert_eq!(report["seq"], 3);
    }
);

on_every_database!(
    concurrent_writers_keep_one_unbroken_chain,
    |db: Db| async move {
        let store = store(&db).await;
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move { s.audit(entry(i)).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("appended");
        }
        assert_eq!(store.verify_audit_chain().await.expect("read"), Ok(24));
    }
);
