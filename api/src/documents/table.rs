//! The CSV form of a document (`text/csv`), for codes that come out of a
//! spreadsheet or an accounting system's export. A flat table has no place
//! for the document's own fields, so they come first, as two rows: their
//! names, then their values (a nested field by a dotted name, such as
//! `conformity.number`). The third row names the items' columns (`code`,
//! and `price` in a shipment), and every row after it is one item:
//!
//! ```text
//! kind,receiver
//! shipment,971240001315
//! code,price
//! "0104650000000017215abc,1<GS>93abcd",1250.50
//! ```
//!
//! An aggregation's rows are its members, each with its package (columns
//! `package` and `code`).
//!
//! The delimiter is `,` or `;` (as a spreadsheet set to Kazakh or Russian
//! writes it): `;` when the first row has one, and then a price may have a
//! decimal comma (`1250,50`). A UTF-8 byte-order mark and blank lines are
//! skipped, cells are trimmed and quoted as RFC 4180 quotes them, and an
//! empty cell is a field not given. Rows end in `\n` or `\r\n`. The body
//! read here is UTF-8: a spreadsheet's "CSV UTF-8", or its plain "CSV" in
//! Windows-1251, which the route decodes first when the content type says
//! `charset=windows-1251`. The signature is over the bytes as sent, as for
//! JSON.
//!
//! The fields and items become the same JSON values the other forms send
//! (every value a string), so one set of checks reads all three.

use csv::{Reader, ReaderBuilder, StringRecord, Trim};
use serde_json::{Map, Value};

use super::Refused;

/// A CSV body read a row at a time.
pub(super) struct Table<'a> {
    reader: Reader<&'a [u8]>,
    record: StringRecord,
    /// The items' column names, in order; empty when the body has no third
    /// row.
    columns: Vec<String>,
    /// Whether `,` is free to be a decimal comma (the delimiter is `;`).
    decimal_comma: bool,
}

/// A body refused as not CSV of this shape, at its 1-based `line`.
fn malformed(line: u64, detail: impl Into<String>) -> Refused {
    Refused::Malformed {
        line: Some(usize::try_from(line).unwrap_or(usize::MAX)),
        detail: detail.into(),
    }
}

impl<'a> Table<'a> {
    /// Reads the first three rows of a CSV body: the document's fields, as
    /// the JSON object the other forms send, and the table at its first
    /// item row.
    pub(super) fn open(raw: &'a [u8]) -> Result<(Map<String, Value>, Self), Refused> {
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        let first = raw.split(|&b| b == b'\n').next().unwrap_or_default();
        let delimiter = if first.contains(&b';') { b';' } else { b',' };
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(Trim::All)
            .delimiter(delimiter)
            .from_reader(raw);
        let mut table = Table {
            reader,
            record: StringRecord::new(),
            columns: Vec::new(),
            decimal_comma: delimiter == b';',
        };

        let Some(line) = table.next_row()? else {
            return Err(malformed(1, "an empty body"));
        };
        let names = table.names(line)?;
        let Some(line) = table.next_row()? else {
            return Err(malformed(
                line + 1,
                "no row of the document's values under their names",
            ));
        };
        if table.record.len() != names.len() {
            return Err(malformed(
                line,
                format!("{} values for {} names", table.record.len(), names.len()),
            ));
        }
        let mut head = Map::new();
        for (name, value) in names.iter().zip(table.record.iter()) {
            if !value.is_empty() {
                put(&mut head, name, value).map_err(|detail| malformed(line - 1, detail))?;
            }
        }
        if let Some(line) = table.next_row()? {
            table.columns = table.names(line)?;
        }
        Ok((head, table))
    }

    /// The items' column names (the third row).
    pub(super) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next item as the JSON object an item of the other forms is
    /// (`{"code": "…", "price": "…"}`, empty cells left out), or `None`
    /// after the last.
    pub(super) fn next_item(&mut self) -> Result<Option<Value>, Refused> {
        let Some(line) = self.next_row()? else {
            return Ok(None);
        };
        if self.record.len() != self.columns.len() {
            return Err(malformed(
                line,
                format!(
                    "{} cells for {} columns",
                    self.record.len(),
                    self.columns.len()
                ),
            ));
        }
        let item = self
            .columns
            .iter()
            .zip(self.record.iter())
            .filter(|(_, cell)| !cell.is_empty())
            .map(|(column, cell)| {
                let cell = if self.decimal_comma && column == "price" {
                    cell.replacen(',', ".", 1)
                } else {
                    cell.to_owned()
                };
                (column.clone(), Value::String(cell))
            })
            .collect();
        Ok(Some(Value::Object(item)))
    }

    /// Reads the next non-blank row into `record`: its line, or `None` at
    /// the end.
    fn next_row(&mut self) -> Result<Option<u64>, Refused> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => Ok(Some(self.record.position().map_or(0, |p| p.line()))),
            Ok(false) => Ok(None),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Err(malformed(line, e.to_string()))
            }
        }
    }

    /// The row in `record` as column names: none empty, none twice.
    fn names(&self, line: u64) -> Result<Vec<String>, Refused> {
        let mut names: Vec<String> = Vec::with_capacity(self.record.len());
        for name in &self.record {
            if name.is_empty() {
                return Err(malformed(line, "a column without a name"));
            }
            if names.iter().any(|n| n == name) {
                return Err(malformed(line, format!("the column {name} twice")));
            }
            names.push(name.to_owned());
        }
        Ok(names)
    }
}

/// Puts `value` into `head` at a dotted `name` (`conformity.number` is
/// `number` inside the object `conformity`).
fn put(head: &mut Map<String, Value>, name: &str, value: &str) -> Result<(), String> {
    match name.split_once('.') {
        None => {
            if head.contains_key(name) {
                return Err(format!("{name} given whole and by its parts"));
            }
            head.insert(name.to_owned(), Value::String(value.to_owned()));
            Ok(())
        }
        Some((outer, inner)) => {
            let slot = head
                .entry(outer.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match slot {
                Value::Object(o) => put(o, inner, value),
                _ => Err(format!("{outer} given whole and by its parts")),
            }
        }
    }
}
