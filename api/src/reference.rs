//! Reference data (НСИ): the dictionaries every part of Tanba checks its input
//! against — product groups, TN VED codes, countries, regions (KATO), units,
//! document kinds, withdrawal and write-off reasons, violation kinds (decree,
//! functional requirement 20 and criterion 18: one source of reference data
//! for all participants).
//!
//! The dictionaries are JSON files in `api/reference/`, compiled into the
//! binary. At start-up [`Reference::sync_and_load`] brings the database up to
//! the files (see [`crate::store::Store::sync_reference`]: a file with a higher
//! `version` replaces the entries, entries it no longer lists are retired,
//! never deleted) and then loads what the database holds into memory. The
//! database, not the file, is what is served and checked against: when several
//! instances of different builds run side by side, an older binary does not
//! roll the dictionaries back, and every instance answers alike.
//!
//! The in-memory copy is immutable for the life of the process: dictionaries
//! change with a release (a new file version), not at run time. When an
//! administrator edits them on line, this becomes a swap of the whole value.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tanba_locales::Lang;

use crate::store::Store;

/// A dictionary of the reference data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dictionary {
    /// The product groups under mandatory marking.
    ProductGroups,
    /// TN VED EAEU commodity codes (10 digits), each in one product group.
    Tnved,
    /// Countries by ISO 3166-1 alpha-2 code.
    Countries,
    /// Regions of Kazakhstan by KATO code (top level).
    Regions,
    /// Units of measure (with their OKEI code).
    Units,
    /// Kinds of documents.
    DocumentKinds,
    /// Why a code left circulation (`lifecycle::WithdrawalReason`).
    WithdrawalReasons,
    /// Why an unused code was written off (`lifecycle::WriteOffReason`).
    WriteOffReasons,
    /// What a citizen can report.
    ViolationKinds,
}

impl Dictionary {
    pub const ALL: [Dictionary; 9] = [
        Self::ProductGroups,
        Self::Tnved,
        Self::Countries,
        Self::Regions,
        Self::Units,
        Self::DocumentKinds,
        Self::WithdrawalReasons,
        Self::WriteOffReasons,
        Self::ViolationKinds,
    ];

    /// The name in URLs, files and the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::ProductGroups => "product_groups",
            Self::Tnved => "tnved",
            Self::Countries => "countries",
            Self::Regions => "regions",
            Self::Units => "units",
            Self::DocumentKinds => "document_kinds",
            Self::WithdrawalReasons => "withdrawal_reasons",
            Self::WriteOffReasons => "write_off_reasons",
            Self::ViolationKinds => "violation_kinds",
        }
    }

    pub fn from_name(name: &str) -> Option<Dictionary> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The message key of the dictionary's title.
    pub fn title_key(self) -> String {
        format!("reference-{}", self.name().replace('_', "-"))
    }

    /// The file compiled into the binary.
    fn source(self) -> &'static str {
        match self {
            Self::ProductGroups => include_str!("../reference/product_groups.json"),
            Self::Tnved => include_str!("../reference/tnved.json"),
            Self::Countries => include_str!("../reference/countries.json"),
            Self::Regions => include_str!("../reference/regions.json"),
            Self::Units => include_str!("../reference/units.json"),
            Self::DocumentKinds => include_str!("../reference/document_kinds.json"),
            Self::WithdrawalReasons => include_str!("../reference/withdrawal_reasons.json"),
            Self::WriteOffReasons => include_str!("../reference/write_off_reasons.json"),
            Self::ViolationKinds => include_str!("../reference/violation_kinds.json"),
        }
    }
}

impl fmt::Display for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One dictionary as written in its file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryFile {
    pub name: String,
    /// Raised by whoever changes the entries; the sync applies a file only
    /// when its version is higher than the stored one.
    pub version: i64,
    /// For the people who maintain the file: sources, scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub entries: Vec<EntryFile>,
}

/// One entry as written in a file: a code, its names in both languages, and
/// the fields particular to its dictionary.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EntryFile {
    pub code: String,
    pub name_kk: String,
    pub name_ru: String,
    #[serde(flatten)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Field names an entry's own attributes may not take: the wire format puts
/// attributes next to these.
const RESERVED: [&str; 6] = ["code", "name", "name_kk", "name_ru", "active", "valid_to"];

impl DictionaryFile {
    /// Parses and checks a dictionary file: the name it should have, a
    /// positive version, unique non-empty codes, both names in every entry.
    pub fn parse(expected: Dictionary, text: &str) -> anyhow::Result<DictionaryFile> {
        let file: DictionaryFile = serde_json::from_str(text)
            .with_context(|| format!("reading reference dictionary {expected}"))?;
        file.check(expected)?;
        Ok(file)
    }

    fn check(&self, expected: Dictionary) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.name == expected.name(),
            "reference file for {expected} names itself {:?}",
            self.name
        );
        anyhow::ensure!(
            self.version >= 1,
            "reference dictionary {expected}: version must be 1 or more"
        );
        let mut seen = HashSet::new();
        for e in &self.entries {
            let at = || format!("reference dictionary {expected}, entry {:?}", e.code);
            anyhow::ensure!(
                !e.code.trim().is_empty() && e.code.trim() == e.code,
                "{}: the code is empty or has spaces around it",
                at()
            );
            anyhow::ensure!(seen.insert(e.code.as_str()), "{}: listed twice", at());
            anyhow::ensure!(
                !e.name_kk.trim().is_empty() && !e.name_ru.trim().is_empty(),
                "{}: a name in Kazakh and one in Russian are required",
                at()
            );
            if let Some(key) = e.attributes.keys().find(|k| RESERVED.contains(&k.as_str())) {
                anyhow::bail!("{}: attribute {key:?} is reserved", at());
            }
        }
        Ok(())
    }

    /// A digest of the entries (not of the file's layout or comment), to
    /// notice content changed under an unchanged version.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest as _, Sha256};
        // serde_json's maps are ordered by key, so this is canonical.
        let canonical = serde_json::to_string(&self.entries).unwrap_or_default();
        format!("{:x}", Sha256::digest(canonical.as_bytes()))
    }
}

/// Every dictionary compiled into the binary, checked, including the rules
/// that span dictionaries (a TN VED code names an existing product group).
pub fn embedded() -> anyhow::Result<Vec<DictionaryFile>> {
    let files = Dictionary::ALL
        .into_iter()
        .map(|d| DictionaryFile::parse(d, d.source()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let groups: HashSet<&str> = files
        .iter()
        .filter(|f| f.name == Dictionary::ProductGroups.name())
        .flat_map(|f| f.entries.iter().map(|e| e.code.as_str()))
        .collect();
    for file in &files {
        for e in &file.entries {
            let at = || format!("reference dictionary {}, entry {:?}", file.name, e.code);
            let digits = |n: usize| e.code.len() == n && e.code.bytes().all(|b| b.is_ascii_digit());
            match Dictionary::from_name(&file.name) {
                Some(Dictionary::Tnved) => {
                    anyhow::ensure!(digits(10), "{}: a TN VED code has 10 digits", at());
                    let group = e.attributes.get("product_group").and_then(|g| g.as_str());
                    anyhow::ensure!(
                        group.is_some_and(|g| groups.contains(g)),
                        "{}: product_group {group:?} is not a product group",
                        at()
                    );
                }
                Some(Dictionary::Countries) => anyhow::ensure!(
                    e.code.len() == 2 && e.code.bytes().all(|b| b.is_ascii_uppercase()),
                    "{}: an ISO 3166-1 alpha-2 code is two capital letters",
                    at()
                ),
                Some(Dictionary::Regions) => {
                    anyhow::ensure!(digits(9), "{}: a KATO code has 9 digits", at())
                }
                _ => {}
            }
        }
    }
    Ok(files)
}

/// One entry as stored and served.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub code: String,
    pub name_kk: String,
    pub name_ru: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The version that first listed the entry.
    pub valid_from: i64,
    /// The version that dropped it; `None` while it is listed.
    pub valid_to: Option<i64>,
}

impl Entry {
    /// Listed in the current version: new input may name it.
    pub fn is_active(&self) -> bool {
        self.valid_to.is_none()
    }

    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Kk => &self.name_kk,
            Lang::Ru => &self.name_ru,
        }
    }

    /// A text attribute, e.g. a TN VED code's `product_group`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(|v| v.as_str())
    }
}

/// A dictionary as loaded: its version and every entry, retired ones too.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub version: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    pub entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Loaded {
    pub fn new(version: i64, updated_at: i64, entries: Vec<Entry>) -> Loaded {
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.code.clone(), i))
            .collect();
        Loaded {
            version,
            updated_at,
            entries,
            index,
        }
    }

    pub fn get(&self, code: &str) -> Option<&Entry> {
        self.index.get(code).map(|&i| &self.entries[i])
    }

    pub fn active(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_active())
    }
}

/// All reference data, in memory, for lookups while checking input.
#[derive(Debug, Clone)]
pub struct Reference {
    dictionaries: BTreeMap<Dictionary, Loaded>,
}

impl Reference {
    /// Syncs the embedded files into the store, then loads the store's data.
    pub async fn sync_and_load(store: &Store) -> anyhow::Result<Reference> {
        let files = embedded()?;
        store
            .sync_reference(&files)
            .await
            .context("syncing reference data into the database")?;
        Self::load(store).await
    }

    /// Loads every dictionary the store holds. A dictionary this build knows
    /// but the store lacks is an error: the sync must have run.
    pub async fn load(store: &Store) -> anyhow::Result<Reference> {
        let mut dictionaries = BTreeMap::new();
        for d in Dictionary::ALL {
            let loaded = store
                .reference_dictionary(d.name())
                .await?
                .with_context(|| format!("reference dictionary {d} is not in the database"))?;
            dictionaries.insert(d, loaded);
        }
        Ok(Reference { dictionaries })
    }

    /// Built from loaded dictionaries (for tests of code that reads them).
    pub fn from_loaded(dictionaries: BTreeMap<Dictionary, Loaded>) -> Reference {
        Reference { dictionaries }
    }

    pub fn dictionary(&self, d: Dictionary) -> Option<&Loaded> {
        self.dictionaries.get(&d)
    }

    /// Whether `code` is a current entry of `d` (retired entries are not:
    /// new input may not name them).
    pub fn has(&self, d: Dictionary, code: &str) -> bool {
        self.get(d, code).is_some_and(Entry::is_active)
    }

    /// The entry, current or retired (what was stored still resolves).
    pub fn get(&self, d: Dictionary, code: &str) -> Option<&Entry> {
        self.dictionaries.get(&d)?.get(code)
    }

    /// The name of an entry in a language, current or retired.
    pub fn name(&self, d: Dictionary, code: &str, lang: Lang) -> Option<&str> {
        self.get(d, code).map(|e| e.name(lang))
    }

    pub fn version(&self, d: Dictionary) -> Option<i64> {
        self.dictionaries.get(&d).map(|l| l.version)
    }

    /// The product group a TN VED code belongs to.
    pub fn tnved_group(&self, tnved: &str) -> Option<&str> {
        self.get(Dictionary::Tnved, tnved)?.attr("product_group")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_dictionary_parses_and_keeps_the_rules() {
        let files = embedded().expect("embedded reference data");
        assert_eq!(files.len(), Dictionary::ALL.len());
        for f in &files {
            assert!(!f.entries.is_empty(), "{} is empty", f.name);
        }
    }

    fn codes(d: Dictionary) -> Vec<String> {
        DictionaryFile::parse(d, d.source())
            .expect("dictionary")
            .entries
            .into_iter()
            .map(|e| e.code)
            .collect()
    }

    #[test]
    fn withdrawal_and_write_off_reasons_are_the_lifecycle_names() {
        use tanba_core::lifecycle::{WithdrawalReason, WriteOffReason};
        let names = |v: Vec<serde_json::Value>| -> Vec<String> {
            v.into_iter()
                .map(|v| v.as_str().expect("a name").to_owned())
                .collect()
        };
        let withdrawal = names(
            WithdrawalReason::ALL
                .iter()
                .map(|r| serde_json::to_value(r).expect("serializes"))
                .collect(),
        );
        let write_off = names(
            WriteOffReason::ALL
                .iter()
                .map(|r| serde_json::to_value(r).expect("serializes"))
                .collect(),
        );
        assert_eq!(codes(Dictionary::WithdrawalReasons), withdrawal);
        assert_eq!(codes(Dictionary::WriteOffReasons), write_off);
    }

    #[test]
    fn regions_are_the_seventeen_oblasts_and_three_cities_of_2024() {
        let file = DictionaryFile::parse(Dictionary::Regions, Dictionary::Regions.source())
            .expect("regions");
        let kind = |k: &str| {
            file.entries
                .iter()
                .filter(|e| e.attributes.get("kind").and_then(|v| v.as_str()) == Some(k))
                .count()
        };
        assert_eq!((kind("oblast"), kind("city")), (17, 3));
    }

    #[test]
    fn the_eaeu_members_are_among_the_countries() {
        let countries = codes(Dictionary::Countries);
        for member in ["AM", "BY", "KG", "KZ", "RU"] {
            assert!(countries.iter().any(|c| c == member), "{member}");
        }
        assert!(countries.len() >= 40);
    }

    #[test]
    fn a_file_that_lists_a_code_twice_or_lacks_a_name_is_refused() {
        let twice = r#"{"name":"units","version":1,"entries":[
            {"code":"kg","name_kk":"Килограмм","name_ru":"Килограмм"},
            {"code":"kg","name_kk":"Килограмм","name_ru":"Килограмм"}]}"#;
        assert!(DictionaryFile::parse(Dictionary::Units, twice).is_err());
        let no_kk = r#"{"name":"units","version":1,"entries":[
            {"code":"kg","name_kk":" ","name_ru":"Килограмм"}]}"#;
        assert!(DictionaryFile::parse(Dictionary::Units, no_kk).is_err());
        let wrong_name = r#"{"name":"regions","version":1,"entries":[]}"#;
        assert!(DictionaryFile::parse(Dictionary::Units, wrong_name).is_err());
    }
}
