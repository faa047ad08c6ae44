//! Reference data (НСИ): every dictionary is served with its version and both
//! names of every entry, in either language; unknown names are a localized
//! 404; and the store's sync keeps versions and never loses an entry.

mod common;

use serde_json::Value;
use tanba_api::reference::{Dictionary, DictionaryFile, EntryFile};
use tanba_api::store::{Store, SyncOutcome};

use common::{Db, TestApp};

on_every_database!(
    every_dictionary_is_listed_with_its_version,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        let (status, body) = app.get_json("/v1/reference?lang=ru").await;
        assert_eq!(status, 200, "{body}");
        let listed = body["dictionaries"].as_array().expect("dictionaries");
        let names: Vec<&str> = listed.iter().filter_map(|d| d["name"].as_str()).collect();
        let expected: Vec<&str> = Dictionary::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names, expected);
        for d in listed {
            assert!(d["version"].as_i64().expect("version") >= 1, "{d}");
            assert!(d["entries"].as_u64().expect("entries") > 0, "{d}");
            assert!(!d["title"].as_str().expect("title").is_empty(), "{d}");
        }
        app.stop().await;
    }
);

on_every_database!(
    every_entry_of_every_dictionary_has_both_names_in_both_languages,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        for d in Dictionary::ALL {
            for lang in ["kk", "ru"] {
                let path = format!("/v1/reference/{}?lang={lang}", d.name());
                let resp = app.get(&path).await;
                assert_eq!(resp.status().as_u16(), 200, "{path}");
                assert!(resp.headers().contains_key("etag"), "{path}");
                let cache = resp.headers()["cache-control"].to_str().expect("text");
                assert!(cache.contains("max-age"), "{path}: {cache}");
                let body: Value = resp.json().await.expect("JSON");
                assert_eq!(body["name"], d.name());
                assert_eq!(body["lang"], lang);
                assert!(body["version"].as_i64().expect("version") >= 1);
                let entries = body["entries"].as_array().expect("entries");
                assert!(!entries.is_empty(), "{path}");
                for e in entries {
                    let kk = e["name_kk"].as_str().unwrap_or_default();
                    let ru = e["name_ru"].as_str().unwrap_or_default();
                    assert!(
                        !kk.trim().is_empty() && !ru.trim().is_empty(),
                        "{path}: {e}"
                    );
                    let chosen = if lang == "kk" { kk } else { ru };
                    assert_eq!(e["name"], chosen, "{path}: {e}");
                    assert_eq!(e["active"], true, "{path}: {e}");
                }
            }
        }
        app.stop().await;
    }
);

on_every_database!(
    every_tnved_code_served_belongs_to_a_served_product_group,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        let (_, groups) = app.get_json("/v1/reference/product_groups").await;
        let groups: Vec<&str> = groups["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["code"].as_str())
            .collect();
        let (_, tnved) = app.get_json("/v1/reference/tnved").await;
        for e in tnved["entries"].as_array().expect("entries") {
            let code = e["code"].as_str().expect("code");
            assert!(
                code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit()),
                "{e}"
            );
            let group = e["product_group"].as_str().expect("product_group");
            assert!(groups.contains(&group), "{e}");
        }
        for group in &groups {
            assert!(
                tnved["entries"]
                    .as_array()
                    .expect("entries")
                    .iter()
                    .any(|e| e["product_group"] == *group),
                "no TN VED code for {group}"
            );
        }
        app.stop().await;
    }
);

on_every_database!(
    an_unknown_dictionary_is_not_found_in_the_callers_language,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        let (status, kk) = app.get_json("/v1/reference/planets").await;
        assert_eq!(status, 404);
        assert_eq!(kk["error"]["code"], "reference_not_found");
        let (status, ru) = app.get_json("/v1/reference/planets?lang=ru").await;
        assert_eq!(status, 404);
        assert_eq!(ru["error"]["code"], "reference_not_found");
        let (kk, ru) = (
            kk["error"]["message"].as_str().expect("message"),
            ru["error"]["message"].as_str().expect("message"),
        );
        assert!(
            kk.contains("planets") && kk.contains("анықтамалығы жоқ"),
            "{kk}"
        );
        assert!(ru.contains("planets") && ru.contains("Справочника"), "{ru}");
        app.stop().await;
    }
);

on_every_database!(
    a_client_with_the_current_etag_is_told_nothing_changed,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        let resp = app.get("/v1/reference/countries?lang=ru").await;
        let etag = resp.headers()["etag"].to_str().expect("text").to_owned();
        let again = app
            .client
            .get(app.url("/v1/reference/countries?lang=ru"))
            .header("If-None-Match", &etag)
            .send()
            .await
            .expect("request sent");
        assert_eq!(again.status().as_u16(), 304);
        // Another language is another representation.
        let kk = app
            .client
            .get(app.url("/v1/reference/countries?lang=kk"))
            .header("If-None-Match", &etag)
            .send()
            .await
            .expect("request sent");
        assert_eq!(kk.status().as_u16(), 200);
        app.stop().await;
    }
);

on_every_database!(
    a_restarted_service_keeps_the_versions_it_synced,
    |db: Db| async move {
        let app = TestApp::spawn(db.settings()).await;
        let (_, first) = app.get_json("/v1/reference").await;
        app.stop().await;
        let app = TestApp::spawn(db.settings()).await;
        let (_, second) = app.get_json("/v1/reference").await;
        assert_eq!(first["dictionaries"], second["dictionaries"]);
        app.stop().await;
    }
);

fn entry(code: &str, kk: &str, ru: &str) -> EntryFile {
    EntryFile {
        code: code.to_owned(),
        name_kk: kk.to_owned(),
        name_ru: ru.to_owned(),
        attributes: serde_json::Map::new(),
    }
}

fn file(version: i64, entries: Vec<EntryFile>) -> DictionaryFile {
    DictionaryFile {
        name: "test_units".to_owned(),
        version,
        comment: None,
        entries,
    }
}

on_every_database!(
    a_newer_version_replaces_the_entries_and_retires_those_it_dropped,
    |db: Db| async move {
        let store = Store::connect(&db.settings()).await.expect("store");
        let v1 = file(
            1,
            vec![
                entry("kg", "Килограмм", "Килограмм"),
                entry("l", "Литр", "Литр"),
                entry("box", "Жәшік", "Ящик"),
            ],
        );
        let outcome = store
            .sync_reference(std::slice::from_ref(&v1))
            .await
            .expect("sync");
        assert_eq!(
            outcome[0].1,
            SyncOutcome::Created {
                version: 1,
                entries: 3
            }
        );
        let again = store
            .sync_reference(std::slice::from_ref(&v1))
            .await
            .expect("sync");
        assert_eq!(again[0].1, SyncOutcome::Unchanged { version: 1 });

        // Version 2 drops "box", renames "l" and adds "ml".
        let v2 = file(
            2,
            vec![
                entry("kg", "Килограмм", "Килограмм"),
                entry("l", "Литр (дм³)", "Литр (дм³)"),
                entry("ml", "Миллилитр", "Миллилитр"),
            ],
        );
        let upgraded = store
            .sync_reference(std::slice::from_ref(&v2))
            .await
            .expect("sync");
        assert_eq!(
            upgraded[0].1,
            SyncOutcome::Upgraded {
                from: 1,
                to: 2,
                added: 1,
                changed: 1,
                retired: 1
            }
        );
        let loaded = store
            .reference_dictionary("test_units")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(loaded.version, 2);
        let dropped = loaded.get("box").expect("a dropped entry is kept");
        assert_eq!(dropped.valid_to, Some(2));
        assert!(!dropped.is_active());
        assert_eq!(loaded.get("l").expect("l").name_ru, "Литр (дм³)");
        assert!(loaded.get("ml").expect("ml").is_active());
        assert_eq!(loaded.active().count(), 3);

        // An older build does not roll it back.
        let kept = store.sync_reference(&[v1]).await.expect("sync");
        assert_eq!(kept[0].1, SyncOutcome::KeptNewer { stored: 2, file: 1 });
        let still = store
            .reference_dictionary("test_units")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(still.version, 2);
        assert_eq!(still.entries, loaded.entries);

        // Version 3 lists "box" again: it comes back.
        let mut v3 = v2.clone();
        v3.version = 3;
        v3.entries.push(entry("box", "Жәшік", "Ящик"));
        store.sync_reference(&[v3]).await.expect("sync");
        let back = store
            .reference_dictionary("test_units")
            .await
            .expect("read")
            .expect("stored");
        let boxed = back.get("box").expect("box");
        assert!(boxed.is_active());
        assert_eq!(boxed.valid_from, 3);

        // Each change left an audit entry; the no-op syncs did not.
        let audit = store.audit_entries(0, 100).await.expect("audit");
        let syncs: Vec<_> = audit
            .iter()
            .filter(|r| r.action == "reference.sync" && r.object.as_deref() == Some("test_units"))
            .collect();
        assert_eq!(syncs.len(), 3, "{syncs:?}");
        store.close().await;
    }
);

on_every_database!(
    changed_content_under_the_same_version_is_refused_and_changes_nothing,
    |db: Db| async move {
        let store = Store::connect(&db.settings()).await.expect("store");
        let v1 = file(1, vec![entry("kg", "Килограмм", "Килограмм")]);
        store.sync_reference(&[v1]).await.expect("sync");
        let edited = file(1, vec![entry("kg", "Кило", "Кило")]);
        let err = store
            .sync_reference(&[edited])
            .await
            .expect_err("same version, other content");
        assert!(err.to_string().contains("raise the version"), "{err:#}");
        let loaded = store
            .reference_dictionary("test_units")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(loaded.get("kg").expect("kg").name_kk, "Килограмм");
        store.close().await;
    }
);
