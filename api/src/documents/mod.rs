//! Documents that move codes through their life, apart from HTTP: the
//! format-logical control of a document's body ([`check`]), and the worker
//! that checks every code of a received document against storage and applies
//! the document in one transaction ([`worker`]).
//!
//! The wire format of a document (the exact bytes the participant signs):
//!
//! ```text
//! {"kind": "application" | "introduction" | "disaggregation" | "shipment" | "withdrawal"
//!          | "return" | "write_off",
//!  "codes": ["<code in any scanner form>", …]      shipment: [{"code": "…", "price": 1250.50}, …]
//!  …the kind's own fields:
//!  introduction, local production: "release_method": "production", "production_date": "YYYY-MM-DD",
//!                "conformity": {"kind": "certificate" | "declaration", "number", "date"}
//!  introduction, import:           "release_method": "import",
//!                "customs_declaration": {"number", "date"}, "country_of_origin": "CN"
//!  shipment:     "receiver": "<the buyer's BIN or IIN>"
//!  withdrawal:   "reason": "<withdrawal_reasons code>"
//!  write_off:    "reason": "<write_off_reasons code>"}
//!
//! {"kind": "aggregation",
//!  "packages": [{"sscc": "<SSCC>", "members": ["<unit code>" | "<SSCC>", …]}, …]}
//! ```
//!
//! The same document may come as NDJSON (`Content-Type:
//! application/x-ndjson` or `application/ndjson`), for a long list of codes:
//! the first line is the object above without `codes`, every following
//! non-blank line one item, exactly as one element of `codes` (a JSON
//! string; for a shipment `{"code": "…", "price": 1250.50}`). Lines end in
//! `\n` or `\r\n`; the signature is over the exact bytes, as for JSON.
//!
//! ```text
//! {"kind": "shipment", "receiver": "<the buyer's BIN or IIN>"}
//! {"code": "<code>", "price": 1250.50}
//! {"code": "<code>", "price": "99"}
//! ```
//!
//! It may also come as CSV (`Content-Type: text/csv`): the object's fields
//! in two rows (names, then values; `conformity.number` for a nested one),
//! the items' columns in the third (`code`, and `price` in a shipment), then
//! one item a row. The format is in [`table`].
//!
//! ```text
//! kind,receiver
//! shipment,<the buyer's BIN or IIN>
//! code,price
//! <code>,1250.50
//! ```
//!
//! An aggregation comes as JSON or as CSV, one row per member with its
//! package (columns `package` and `code`); as NDJSON it is refused with
//! `not_streamable` on `kind`. A bad item is named
//! `codes[i]`, `i` counting items from 0 (not lines), as in the JSON form; a
//! line that is not JSON refuses the body as `malformed_json` with its line
//! number (from 1), a CSV row that does not fit as `malformed_csv`. No form
//! is held as a `serde_json::Value` of all its codes: items are read, checked and kept one at a time, and at most
//! [`MAX_ERRORS`] problems are listed.
//!
//! An SSCC is written in any scanner form (`00…`, `(00)…`, a Digital Link)
//! or as its bare 18 digits. Aggregation packs codes, and packages already
//! stored or made by the same document, into new packages (a box, a
//! pallet); each new SSCC must not be stored (a dissolved one may be packed
//! again). Its members go into the document's items in the order listed,
//! and the fields keep `{"sscc", "members": <count>}` per package.
//! Disaggregation lists SSCCs in `codes` and dissolves each one level: the
//! codes and packages in it stand alone, the package is removed; a package
//! inside another is refused (dissolve the outer one first). Every other
//! kind but application may list SSCCs among its codes (a shipment's price
//! is then per package): everything inside moves, at every depth, and a
//! code or package inside another package is refused, so a package's
//! contents keep one owner and one status.
//!
//! Which checks run where: everything that needs only the body runs here,
//! before anything is stored, and answers 400 with every problem by field.
//! Everything about the codes themselves (does it parse, is it stored, is it
//! the sender's, does its status allow the step, is it listed twice) runs in
//! the worker, which refuses the whole document with every error, each
//! naming its code (or, for a whole package, its SSCC).

mod table;
mod wire;
pub mod worker;

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tanba_core::document::{Action, DocumentKind};
use tanba_core::lifecycle::{WithdrawalReason, WriteOffReason};
use tanba_core::participant::{TaxpayerId, TaxpayerIdError};
use tanba_core::{ParseError, ScannedCode, Sscc, parse};
use time::Date;

use crate::auth::Role;
use crate::error::{FieldError, unknown_fields};
use crate::fields::Checker;
use crate::ids::DocumentId;
use crate::money::parse_tiyn;
use crate::reference::{Dictionary, Reference};
use crate::store::{Document, DocumentItem, ITEM_CHUNK, Tx};

/// The most codes one document may list (the decree's owner change of a
/// million codes); the body limit (`max_body_bytes`) usually bites first.
pub const MAX_CODES: usize = 1_000_000;
/// Longest document number (certificate, declaration, customs declaration).
const MAX_NUMBER: usize = 100;
/// Most tenge one unit may cost.
const MAX_PRICE_TENGE: i64 = 10_000_000_000;

/// The kinds served now.
pub const SERVED: [DocumentKind; 8] = [
    DocumentKind::Application,
    DocumentKind::Introduction,
    DocumentKind::Aggregation,
    DocumentKind::Disaggregation,
    DocumentKind::Shipment,
    DocumentKind::Withdrawal,
    DocumentKind::Return,
    DocumentKind::WriteOff,
];

/// Who may send a document of each kind: codes before circulation are the
/// producer's or importer's business; circulation is everyone's.
pub fn roles_for(kind: DocumentKind) -> &'static [Role] {
    match kind {
        DocumentKind::Application | DocumentKind::Introduction | DocumentKind::WriteOff => {
            &[Role::Manufacturer, Role::Importer]
        }
        _ => &Role::PARTICIPANT,
    }
}

/// A document body that passed format-logical control.
#[derive(Debug, Clone)]
pub struct Checked {
    pub kind: DocumentKind,
    /// The kind's own fields, as stored.
    pub fields: Value,
    /// The buyer of a shipment.
    pub receiver: Option<TaxpayerId>,
    /// How many items the document lists.
    pub count: usize,
    form: Form,
    /// In the JSON form, the earlier `codes` (or an aggregation's
    /// `packages`) keys to skip.
    skip: usize,
    /// In a JSON aggregation, each package's earlier `members` keys to skip.
    member_skips: Vec<usize>,
}

/// What a stored document does to each of its codes, from its kind and its
/// stored fields.
pub fn action_of(kind: DocumentKind, fields: &Value) -> anyhow::Result<Action> {
    let reason = || -> anyhow::Result<Value> {
        fields
            .get("reason")
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("a {} document without a reason", kind.as_str()))
    };
    Ok(match kind {
        DocumentKind::Application => Action::Apply,
        DocumentKind::Introduction => Action::Introduce,
        DocumentKind::Aggregation => Action::Aggregate,
        DocumentKind::Disaggregation => Action::Disaggregate,
        DocumentKind::Shipment => Action::Ship,
        DocumentKind::Withdrawal => Action::Withdraw(serde_json::from_value(reason()?)?),
        DocumentKind::Return => Action::Return,
        DocumentKind::WriteOff => Action::WriteOff(serde_json::from_value(reason()?)?),
    })
}

/// Most problems one answer lists: past it the item checks stop and
/// `codes` gets `too_many_errors` (a million bad codes would otherwise make
/// a million errors, and an answer of a hundred megabytes).
pub const MAX_ERRORS: usize = 1_000;

/// How a document's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One JSON object with its items in `codes`.
    Json,
    /// NDJSON: the object without `codes` on the first line, one item a line.
    Ndjson,
    /// CSV: the fields' names and values in two rows, the items' column
    /// names in the third, one item a row (see [`table`]).
    Csv,
}

/// Why a body was refused before anything was stored.
#[derive(Debug)]
pub enum Refused {
    /// Not JSON (or CSV) at all: for NDJSON and CSV, the 1-based line that
    /// is not.
    Malformed { line: Option<usize>, detail: String },
    /// Format-logical control: every problem found, by field.
    Invalid(Vec<FieldError>),
}

/// Format-logical control of a document body as sent in `form`: the
/// document, or every problem found (up to [`MAX_ERRORS`]). `today` is the
/// date in Kazakhstan (a production date may not be after it).
pub fn check(
    raw: &[u8],
    form: Form,
    reference: &Reference,
    today: Date,
) -> Result<Checked, Refused> {
    match form {
        Form::Json => check_json(raw, reference, today),
        Form::Ndjson => check_ndjson(raw, reference, today),
        Form::Csv => check_csv(raw, reference, today),
    }
}

/// The JSON form, read twice without holding the codes as JSON: first the
/// object with `codes` skipped (only its shape kept), then, once the kind
/// says how an item looks, `codes` again, one item at a time, each checked
/// and turned into a [`DocumentItem`] as it is read.
fn check_json(raw: &[u8], reference: &Reference, today: Date) -> Result<Checked, Refused> {
    let top: wire::Top = serde_json::from_slice(raw).map_err(|e| Refused::Malformed {
        line: None,
        detail: e.to_string(),
    })?;
    let wire::Top::Object {
        rest,
        codes,
        times,
        packages,
        packages_times,
    } = top
    else {
        return Err(not_an_object());
    };
    let (mut c, head) = head_of(&rest, Form::Json, reference, today, &packages)?;
    if head.kind == DocumentKind::Aggregation {
        let (count, skip) = (head.members, packages_times.saturating_sub(1));
        let member_skips = packages.member_skips();
        return finish(c, head, count, Form::Json, skip, member_skips);
    }
    let mut count = 0;
    match codes {
        wire::Shape::Null => c.fail(FieldError::new("required", "codes")),
        wire::Shape::List(0) => c.fail(FieldError::new("required", "codes")),
        wire::Shape::List(n) if n > MAX_CODES => {
            c.fail(FieldError::new("too_many_codes", "codes").arg("max", MAX_CODES))
        }
        wire::Shape::List(_) => {
            let mut keep = |_| true;
            let mut reader = Items::new(&mut c, head.kind, &mut keep);
            json_items(raw, times - 1, &mut reader)?;
            count = reader.next;
            reader.finish();
        }
        wire::Shape::Other => c.fail(FieldError::new("not_list", "codes")),
    }
    finish(
        c,
        head,
        count,
        Form::Json,
        times.saturating_sub(1),
        Vec::new(),
    )
}

/// Hands each element of the last `codes` of a JSON body (after `skip`
/// earlier ones) to `reader`.
fn json_items(raw: &[u8], skip: usize, reader: &mut Items) -> Result<(), Refused> {
    let seed = wire::Codes {
        items: reader,
        skip,
    };
    let mut de = serde_json::Deserializer::from_slice(raw);
    serde::de::DeserializeSeed::deserialize(seed, &mut de).map_err(|e| Refused::Malformed {
        line: None,
        detail: e.to_string(),
    })
}

/// Reads the members of a checked JSON aggregation again, handing each to
/// `each` with its position: package after package, as listed.
fn json_members(
    raw: &[u8],
    checked: &Checked,
    each: &mut impl FnMut(usize, DocumentItem) -> bool,
) -> anyhow::Result<()> {
    let mut stopped = false;
    let mut counted = 0;
    let mut each = |n, item| {
        counted += 1;
        let go_on = each(n, item);
        stopped = !go_on;
        go_on
    };
    let seed = wire::Members {
        each: &mut each,
        skip: checked.skip,
        skips: &checked.member_skips,
    };
    let mut de = serde_json::Deserializer::from_slice(raw);
    match serde::de::DeserializeSeed::deserialize(seed, &mut de) {
        Ok(()) => {}
        Err(_) if stopped => return Ok(()),
        Err(e) => anyhow::bail!("a checked body read again: {e}"),
    }
    anyhow::ensure!(
        counted == checked.count,
        "{counted} members read of {}",
        checked.count
    );
    Ok(())
}

/// The non-blank lines of an NDJSON body with their 1-based numbers: the
/// document's fields first, then one item a line.
fn ndjson_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(n, line)| (n + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
}

/// Stores the items of a checked body that are not in [`Checked::items`]
/// as `document`'s, in order, a chunk at a time: a blocking thread reads
/// them from `raw` again while this task stores the chunk before, so a
/// million items never sit in memory at once (at most three chunks of
/// [`ITEM_CHUNK`]).
pub async fn store_items(
    tx: &mut Tx,
    document: DocumentId,
    raw: impl AsRef<[u8]> + Send + 'static,
    checked: Checked,
) -> anyhow::Result<()> {
    let expected = checked.count;
    let (send, mut chunks) = tokio::sync::mpsc::channel::<Vec<(usize, DocumentItem)>>(1);
    let reader = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(ITEM_CHUNK);
        each_item(raw.as_ref(), &checked, |n, item| {
            chunk.push((n, item));
            if chunk.len() < ITEM_CHUNK {
                return true;
            }
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(ITEM_CHUNK));
            // A closed channel: storing failed, and nothing more is wanted.
            send.blocking_send(full).is_ok()
        })?;
        if !chunk.is_empty() {
            let _ = send.blocking_send(chunk);
        }
        anyhow::Ok(())
    });
    let mut stored = 0;
    while let Some(chunk) = chunks.recv().await {
        let placed: Vec<(usize, &DocumentItem)> = chunk.iter().map(|(n, i)| (*n, i)).collect();
        tx.place_items(document, &placed).await?;
        stored += chunk.len();
    }
    reader.await??;
    anyhow::ensure!(stored == expected, "{stored} of {expected} items stored");
    Ok(())
}

/// Reads the items of a body that passed [`check`] once more, handing each
/// to `each` with its position among the document's items, until `each`
/// answers `false`. This is how a large document's items are stored a
/// chunk at a time, without holding them all. The positions follow the
/// body except in a CSV aggregation, whose rows are put in package order.
pub fn each_item(
    raw: &[u8],
    checked: &Checked,
    mut each: impl FnMut(usize, DocumentItem) -> bool,
) -> anyhow::Result<()> {
    match (checked.kind, checked.form) {
        (DocumentKind::Aggregation, Form::Csv) => return csv_members(raw, checked, &mut each),
        (DocumentKind::Aggregation, _) => return json_members(raw, checked, &mut each),
        _ => {}
    }
    let mut n = 0;
    let mut each = |item| {
        n += 1;
        each(n - 1, item)
    };
    let mut c = Checker::new(Date::MIN);
    let mut reader = Items::new(&mut c, checked.kind, &mut each);
    match checked.form {
        Form::Json => match json_items(raw, checked.skip, &mut reader) {
            Ok(()) => {}
            Err(_) if reader.stopped => {}
            Err(e) => anyhow::bail!("a checked body read again: {e:?}"),
        },
        Form::Ndjson => {
            let text = std::str::from_utf8(raw)?;
            for (n, line) in ndjson_lines(text).skip(1) {
                let entry: Value = serde_json::from_str(line)
                    .map_err(|e| anyhow::anyhow!("a checked body, line {n}: {e}"))?;
                reader.take(&entry);
                if reader.stopped {
                    break;
                }
            }
        }
        Form::Csv => {
            let (_, mut rows) =
                table::Table::open(raw).map_err(|e| anyhow::anyhow!("a checked body: {e:?}"))?;
            while let Some(entry) = rows
                .next_item()
                .map_err(|e| anyhow::anyhow!("a checked body: {e:?}"))?
            {
                reader.take(&entry);
                if reader.stopped {
                    break;
                }
            }
        }
    }
    let problems = c.errors.len();
    anyhow::ensure!(problems == 0, "a checked body has {problems} problems now");
    Ok(())
}

/// The NDJSON form: the first non-blank line is the object without
/// `codes`, every following non-blank line one item, read and checked one
/// line at a time. A line that is not JSON refuses the body with its number.
fn check_ndjson(raw: &[u8], reference: &Reference, today: Date) -> Result<Checked, Refused> {
    let text = std::str::from_utf8(raw).map_err(|e| {
        let line = raw[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Refused::Malformed {
            line: Some(line),
            detail: "invalid UTF-8".to_owned(),
        }
    })?;
    let malformed = |line: usize, e: serde_json::Error| Refused::Malformed {
        line: Some(line),
        detail: e.to_string(),
    };
    let mut lines = ndjson_lines(text);
    let Some((n, first)) = lines.next() else {
        return Err(Refused::Malformed {
            line: Some(1),
            detail: "an empty body".to_owned(),
        });
    };
    let header: Value = serde_json::from_str(first).map_err(|e| malformed(n, e))?;
    let Value::Object(obj) = header else {
        return Err(not_an_object());
    };
    let (mut c, head) = head_of(&obj, Form::Ndjson, reference, today, &wire::Packages::Null)?;
    drop(obj);
    let mut keep = |_| true;
    let mut reader = Items::new(&mut c, head.kind, &mut keep);
    for (n, line) in lines {
        let entry: Value = serde_json::from_str(line).map_err(|e| malformed(n, e))?;
        reader.take(&entry);
    }
    let count = reader.next;
    reader.finish();
    if count == 0 {
        c.fail(FieldError::new("required", "codes"));
    } else if count > MAX_CODES {
        c.fail(FieldError::new("too_many_codes", "codes").arg("max", MAX_CODES));
    }
    finish(c, head, count, Form::Ndjson, 0, Vec::new())
}

/// The CSV form ([`table`]): the fields from the first two rows, checked
/// as the other forms' object is; the items' columns (`code`, and `price`
/// in a shipment) from the third; then one item a row, read and checked one
/// row at a time. A row that does not fit refuses the body with its line.
fn check_csv(raw: &[u8], reference: &Reference, today: Date) -> Result<Checked, Refused> {
    let (obj, mut rows) = table::Table::open(raw)?;
    if obj.get("kind").and_then(Value::as_str).map(str::trim) == Some("aggregation") {
        return check_csv_aggregation(obj, rows, reference, today);
    }
    let (mut c, head) = head_of(&obj, Form::Csv, reference, today, &wire::Packages::Null)?;
    drop(obj);
    let allowed: &[&str] = if head.kind == DocumentKind::Shipment {
        &["code", "price"]
    } else {
        &["code"]
    };
    let mut count = 0;
    if csv_columns(&mut c, rows.columns(), allowed) {
        let mut keep = |_| true;
        let mut reader = Items::new(&mut c, head.kind, &mut keep);
        while let Some(entry) = rows.next_item()? {
            reader.take(&entry);
        }
        count = reader.next;
        reader.finish();
        if count == 0 {
            c.fail(FieldError::new("required", "codes"));
        } else if count > MAX_CODES {
            c.fail(FieldError::new("too_many_codes", "codes").arg("max", MAX_CODES));
        }
    }
    finish(c, head, count, Form::Csv, 0, Vec::new())
}

/// Checks a CSV body's item columns (its third row) once: each must be one
/// of `allowed` (`codes.<column>` `unknown_field`) and, when there is a
/// third row, each of `allowed` must be there (`codes.<column>`
/// `required`). Whether they fit.
fn csv_columns(c: &mut Checker, columns: &[String], allowed: &[&str]) -> bool {
    let before = c.errors.len();
    for column in columns {
        if !allowed.contains(&column.as_str()) {
            c.fail(FieldError::new("unknown_field", format!("codes.{column}")));
        }
    }
    if !columns.is_empty() {
        for column in allowed {
            if !columns.iter().any(|c| c == column) {
                c.fail(FieldError::new("required", format!("codes.{column}")));
            }
        }
    }
    c.errors.len() == before
}

/// An aggregation as CSV: one row per member, its package in the column
/// `package` and the member (a unit code or an SSCC) in `code`. The rows
/// make the JSON form's `packages` (packages in the order they first
/// appear, each one's members in row order), checked as JSON's are; a row
/// without its package or member is `codes[i].package` or `codes[i].code`.
/// Only each package's count is kept: the members stay in the body, and
/// [`each_item`] reads them again to store them (a million members held as
/// JSON took over 400 MiB).
fn check_csv_aggregation(
    obj: Map<String, Value>,
    mut rows: table::Table,
    reference: &Reference,
    today: Date,
) -> Result<Checked, Refused> {
    let mut c = Checker::new(today);
    if obj.contains_key("packages") {
        c.fail(FieldError::new("unknown_field", "packages"));
    }
    if !csv_columns(&mut c, rows.columns(), &["package", "code"]) || !c.errors.is_empty() {
        return Err(Refused::Invalid(c.errors));
    }
    // Each package as first written, with how many rows name it.
    let mut order: Vec<(String, usize)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while let Some(row) = rows.next_item()? {
        let (package, member) = (cell(&row, "package"), cell(&row, "code"));
        for (k, v) in [("package", package), ("code", member)] {
            if v.is_empty() && c.errors.len() < MAX_ERRORS {
                c.fail(FieldError::new("required", format!("codes[{i}].{k}")));
            }
        }
        i += 1;
        if package.is_empty() || member.is_empty() || c.errors.len() >= MAX_ERRORS {
            continue;
        }
        let p = *at.entry(sscc_digits(package)).or_insert_with(|| {
            order.push((package.to_owned(), 0));
            order.len() - 1
        });
        order[p].1 += 1;
    }
    if c.errors.len() >= MAX_ERRORS {
        c.fail(FieldError::new("too_many_errors", "codes").arg("max", MAX_ERRORS));
    }
    if i > MAX_CODES {
        c.fail(FieldError::new("too_many_codes", "codes").arg("max", MAX_CODES));
    }
    if !c.errors.is_empty() {
        return Err(Refused::Invalid(c.errors));
    }
    let packages = order
        .into_iter()
        .map(|(sscc, count)| wire::Package::Object {
            fields: Map::from_iter([("sscc".to_owned(), Value::String(sscc))]),
            members: wire::MembersShape::List {
                count,
                bad: Vec::new(),
            },
            times: 1,
        })
        .collect();
    let packages = wire::Packages::List(packages);
    let (c, head) = head_of(&obj, Form::Csv, reference, today, &packages)?;
    finish(c, head, i, Form::Csv, 0, Vec::new())
}

/// A CSV row's cell, trimmed by [`table`]; empty when missing.
fn cell<'v>(row: &'v Value, column: &str) -> &'v str {
    row.get(column).and_then(Value::as_str).unwrap_or_default()
}

/// One package however its SSCC is written (bare, or with its AI): its 18
/// digits, or the text itself when it is not an SSCC.
fn sscc_digits(package: &str) -> String {
    match scan(package) {
        Ok(ScannedCode::Sscc(sscc)) => sscc.as_str().to_owned(),
        _ => package.to_owned(),
    }
}

/// Reads the rows of a checked CSV aggregation again, handing each member
/// to `each` with its position among the document's items: the packages
/// in their stored order, each one's members in row order.
fn csv_members(
    raw: &[u8],
    checked: &Checked,
    each: &mut impl FnMut(usize, DocumentItem) -> bool,
) -> anyhow::Result<()> {
    let mut next: HashMap<String, usize> = HashMap::new();
    let mut from = 0;
    for p in checked.fields["packages"].as_array().into_iter().flatten() {
        let sscc = p["sscc"].as_str().unwrap_or_default();
        let count = p["members"].as_u64().unwrap_or_default();
        next.insert(sscc.to_owned(), from);
        from += usize::try_from(count)?;
    }
    anyhow::ensure!(
        from == checked.count,
        "{from} members counted of {}",
        checked.count
    );
    let (_, mut rows) =
        table::Table::open(raw).map_err(|e| anyhow::anyhow!("a checked body: {e:?}"))?;
    while let Some(row) = rows
        .next_item()
        .map_err(|e| anyhow::anyhow!("a checked body: {e:?}"))?
    {
        let package = sscc_digits(cell(&row, "package"));
        let Some(n) = next.get_mut(&package) else {
            anyhow::bail!("a checked body: package {package:?} not counted");
        };
        if !each(*n, item(cell(&row, "code"), None)) {
            break;
        }
        *n += 1;
    }
    Ok(())
}

fn not_an_object() -> Refused {
    Refused::Invalid(vec![FieldError::new("not_json_object", "$")])
}

/// The object-level checks of a body in either form ([`check_head`]):
/// the checker to go on with, the head and an aggregation's members, or
/// the refusal with every problem found.
fn head_of(
    obj: &Map<String, Value>,
    form: Form,
    reference: &Reference,
    today: Date,
    packages: &wire::Packages,
) -> Result<(Checker, Head), Refused> {
    let mut c = Checker::new(today);
    match check_head(obj, form, reference, &mut c, packages) {
        Some(head) => Ok((c, head)),
        None => Err(Refused::Invalid(c.errors)),
    }
}

fn finish(
    c: Checker,
    head: Head,
    count: usize,
    form: Form,
    skip: usize,
    member_skips: Vec<usize>,
) -> Result<Checked, Refused> {
    if !c.errors.is_empty() {
        return Err(Refused::Invalid(c.errors));
    }
    Ok(Checked {
        kind: head.kind,
        fields: Value::Object(head.fields),
        receiver: head.receiver,
        count,
        form,
        skip,
        member_skips,
    })
}

/// What the object-level checks found: the kind and its own fields.
struct Head {
    kind: DocumentKind,
    fields: Map<String, Value>,
    receiver: Option<TaxpayerId>,
    /// How many members an aggregation's packages list.
    members: usize,
}

/// The object-level checks, the same for both forms: the kind, its own
/// fields, no unknown field, and an aggregation's packages (whose members
/// go into `items`). `None` when there is no kind to check the rest by.
/// In NDJSON and CSV the object has no `codes`; NDJSON refuses aggregation
/// (its items are packages, not lines), CSV brings it with `packages` made
/// from its rows.
fn check_head(
    obj: &Map<String, Value>,
    form: Form,
    reference: &Reference,
    c: &mut Checker,
    packages: &wire::Packages,
) -> Option<Head> {
    let kind = match obj.get("kind") {
        None | Some(Value::Null) => {
            c.fail(FieldError::new("required", "kind"));
            None
        }
        Some(Value::String(k)) => match DocumentKind::parse(k.trim()) {
            Some(DocumentKind::Aggregation) if form == Form::Ndjson => {
                c.fail(FieldError::new("not_streamable", "kind").arg("kind", k.trim()));
                None
            }
            Some(kind) if SERVED.contains(&kind) => Some(kind),
            Some(_) => {
                c.fail(FieldError::new("kind_not_served", "kind").arg("kind", k.trim()));
                None
            }
            None => {
                c.fail(FieldError::new("one_of", "kind").arg("allowed", served_list()));
                None
            }
        },
        Some(_) => {
            c.fail(FieldError::new("one_of", "kind").arg("allowed", served_list()));
            None
        }
    };
    let kind = kind?;

    let mut known: Vec<&str> = match form {
        Form::Json => vec!["kind", "codes"],
        Form::Ndjson | Form::Csv => vec!["kind"],
    };
    let mut fields = Map::new();
    let mut receiver = None;
    match kind {
        DocumentKind::Introduction => {
            known.push("release_method");
            let method = c.text(obj, "release_method", "release_method", true, 32);
            match method.as_deref() {
                Some("production") => {
                    known.extend(["production_date", "conformity"]);
                    fields.insert("release_method".into(), json!("production"));
                    if let Some(d) = c.date(obj, "production_date", "production_date", true) {
                        fields.insert("production_date".into(), json!(d));
                    }
                    if let Some(o) = c.object(obj, "conformity", true) {
                        c.unknown_keys(o, "conformity", &["kind", "number", "date"]);
                        let kind = c.text(o, "kind", "conformity.kind", true, 32);
                        if let Some(k) = &kind
                            && !["certificate", "declaration"].contains(&k.as_str())
                        {
                            c.fail(
                                FieldError::new("one_of", "conformity.kind")
                                    .arg("allowed", "certificate, declaration"),
                            );
                        }
                        let number = c.text(o, "number", "conformity.number", true, MAX_NUMBER);
                        let date = c.date(o, "date", "conformity.date", true);
                        fields.insert(
                            "conformity".into(),
                            json!({"kind": kind, "number": number, "date": date}),
                        );
                    }
                }
                Some("import") => {
                    known.extend(["customs_declaration", "country_of_origin"]);
                    fields.insert("release_method".into(), json!("import"));
                    if let Some(o) = c.object(obj, "customs_declaration", true) {
                        c.unknown_keys(o, "customs_declaration", &["number", "date"]);
                        let number =
                            c.text(o, "number", "customs_declaration.number", true, MAX_NUMBER);
                        let date = c.date(o, "date", "customs_declaration.date", true);
                        fields.insert(
                            "customs_declaration".into(),
                            json!({"number": number, "date": date}),
                        );
                    }
                    if let Some(cc) = c.text(obj, "country_of_origin", "country_of_origin", true, 8)
                    {
                        if reference.has(Dictionary::Countries, &cc) {
                            fields.insert("country_of_origin".into(), json!(cc));
                        } else {
                            c.fail(
                                FieldError::new("unknown_country", "country_of_origin")
                                    .arg("value", cc),
                            );
                        }
                    }
                }
                Some(_) => c.fail(
                    FieldError::new("one_of", "release_method")
                        .arg("allowed", "production, import"),
                ),
                None => {}
            }
        }
        DocumentKind::Shipment => {
            known.push("receiver");
            if let Some(t) = c.text(obj, "receiver", "receiver", true, 32) {
                match TaxpayerId::parse(&t) {
                    Ok(id) => {
                        fields.insert("receiver".into(), json!(id.as_str()));
                        receiver = Some(id);
                    }
                    Err(e) => {
                        let mut error = FieldError::new(e.code(), "receiver");
                        if let TaxpayerIdError::ControlDigit { expected } = e {
                            error = error.arg("expected", expected);
                        }
                        c.fail(error);
                    }
                }
            }
        }
        DocumentKind::Withdrawal => {
            known.push("reason");
            if let Some(r) = c.text(obj, "reason", "reason", true, 64) {
                let parsed = serde_json::from_value::<WithdrawalReason>(json!(r.as_str())).ok();
                if parsed.is_some() && reference.has(Dictionary::WithdrawalReasons, &r) {
                    fields.insert("reason".into(), json!(r));
                } else {
                    c.fail(FieldError::new("unknown_withdrawal_reason", "reason").arg("value", r));
                }
            }
        }
        DocumentKind::WriteOff => {
            known.push("reason");
            if let Some(r) = c.text(obj, "reason", "reason", true, 64) {
                let parsed = serde_json::from_value::<WriteOffReason>(json!(r.as_str())).ok();
                if parsed.is_some() && reference.has(Dictionary::WriteOffReasons, &r) {
                    fields.insert("reason".into(), json!(r));
                } else {
                    c.fail(FieldError::new("unknown_write_off_reason", "reason").arg("value", r));
                }
            }
        }
        _ => {}
    }
    let mut members = 0;
    if kind == DocumentKind::Aggregation {
        known = vec!["kind", "packages"];
        let (packages, count) = c.packages(packages);
        fields.insert("packages".into(), Value::Array(packages));
        members = count;
    }
    for key in obj.keys() {
        if !known.contains(&key.as_str()) {
            c.fail(FieldError::new("unknown_field", key.clone()));
        }
    }

    Some(Head {
        kind,
        fields,
        receiver,
        members,
    })
}

/// Reads the items of a document one at a time, in both forms: checks each
/// and hands it to `sink` as a [`DocumentItem`], stopping the checks (not
/// the reading) at [`MAX_CODES`] items or [`MAX_ERRORS`] problems.
pub(super) struct Items<'a> {
    checker: &'a mut Checker,
    /// Takes each good item; `false` stops the reading.
    sink: &'a mut dyn FnMut(DocumentItem) -> bool,
    with_price: bool,
    /// The index of the next item.
    next: usize,
    /// Whether items went unchecked for [`MAX_ERRORS`].
    capped: bool,
    /// Whether `sink` asked to stop.
    pub(super) stopped: bool,
}

impl<'a> Items<'a> {
    fn new(
        checker: &'a mut Checker,
        kind: DocumentKind,
        sink: &'a mut dyn FnMut(DocumentItem) -> bool,
    ) -> Self {
        Items {
            checker,
            sink,
            with_price: kind == DocumentKind::Shipment,
            next: 0,
            capped: false,
            stopped: false,
        }
    }

    pub(super) fn take(&mut self, entry: &Value) {
        let i = self.next;
        self.next += 1;
        if i >= MAX_CODES {
            return;
        }
        if self.checker.errors.len() >= MAX_ERRORS {
            self.capped = true;
            return;
        }
        if let Some(item) = check_item(self.checker, i, entry, self.with_price)
            && !(self.sink)(item)
        {
            self.stopped = true;
        }
    }

    fn finish(self) {
        if self.capped {
            self.checker
                .fail(FieldError::new("too_many_errors", "codes").arg("max", MAX_ERRORS));
        }
    }
}

/// One item, `codes[i]`: a code as text or, in a shipment, `{"code",
/// "price"}` (an object with only `code` elsewhere). `None` when refused.
fn check_item(c: &mut Checker, i: usize, entry: &Value, with_price: bool) -> Option<DocumentItem> {
    let path = format!("codes[{i}]");
    let (text, price) = match entry {
        Value::String(s) if !with_price => (Some(s.as_str()), None),
        Value::Object(o) => {
            let allowed: &[&str] = if with_price {
                &["code", "price"]
            } else {
                &["code"]
            };
            c.unknown_keys(o, &path, allowed);
            let text = match o.get("code") {
                Some(Value::String(s)) => Some(s.as_str()),
                None | Some(Value::Null) => {
                    c.fail(FieldError::new("required", format!("{path}.code")));
                    None
                }
                Some(_) => {
                    c.fail(FieldError::new("not_text", format!("{path}.code")));
                    None
                }
            };
            let price = if with_price {
                c.unit_price(o, "price", &format!("{path}.price"))
            } else {
                None
            };
            (text, price)
        }
        Value::String(_) => {
            c.fail(FieldError::new("price_required", path.clone()));
            (None, None)
        }
        _ => {
            c.fail(FieldError::new("not_text", path.clone()));
            (None, None)
        }
    };
    let text = text?;
    if text.trim().is_empty() {
        c.fail(FieldError::new("required", path));
        return None;
    }
    Some(item(text, price))
}

/// The short answer about a document: what `POST /v1/documents` and the
/// answers to a shipment return (and store for their `Idempotency-Key`).
pub fn summary(doc: &Document) -> Value {
    json!({"id": doc.id.to_string(), "kind": doc.kind.as_str(), "status": doc.status.as_str()})
}

/// Parses a code listed in a document: any form a scanner hands over, and
/// also an SSCC as its bare 18 digits (as printed under the barcode of a
/// transport label), which cannot be mistaken for a unit code.
pub fn scan(text: &str) -> Result<ScannedCode, ParseError> {
    let bare = text.trim();
    if bare.len() == 18 && bare.bytes().all(|b| b.is_ascii_digit()) {
        return Sscc::parse(bare).map(ScannedCode::Sscc);
    }
    parse(text)
}

/// A code of the document as sent, with its key when it is a unit code.
fn item(text: &str, price: Option<i64>) -> DocumentItem {
    let key = match scan(text) {
        Ok(ScannedCode::Unit(code)) => Some((code.gtin().clone(), code.serial().clone())),
        _ => None,
    };
    DocumentItem {
        code: text.to_owned(),
        key,
        price,
    }
}

fn served_list() -> String {
    SERVED.map(|k| k.as_str()).join(", ")
}

/// Collects problems while reading fields.
impl Checker {
    /// An aggregation's `packages`: each with its SSCC and its members
    /// (codes or SSCCs, as text), read by [`wire::Packages`] with only the
    /// members' count and problems kept. The packages come back as stored in
    /// the document's fields, `{"sscc": "<18 digits>", "members": <count>}`:
    /// the document's items are the members, package after package, which
    /// is how the worker finds each member's package. With them, how many
    /// members they list.
    fn packages(&mut self, packages: &wire::Packages) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let list = match packages {
            wire::Packages::Null => {
                self.fail(FieldError::new("required", "packages"));
                return (out, 0);
            }
            wire::Packages::List(list) if list.is_empty() => {
                self.fail(FieldError::new("required", "packages"));
                return (out, 0);
            }
            wire::Packages::List(list) => list,
            wire::Packages::Other => {
                self.fail(FieldError::new("not_list", "packages"));
                return (out, 0);
            }
        };
        let (mut total, mut capped) = (0, false);
        for (p, entry) in list.iter().enumerate() {
            let path = format!("packages[{p}]");
            let wire::Package::Object {
                fields: o, members, ..
            } = entry
            else {
                self.fail(FieldError::new("not_object", path));
                continue;
            };
            self.errors
                .extend(unknown_fields(o, Some(&path), &["sscc", "members"]));
            let sscc_path = format!("{path}.sscc");
            let sscc = self.text(o, "sscc", &sscc_path, true, 100);
            let sscc = sscc.and_then(|s| match scan(&s) {
                Ok(ScannedCode::Sscc(sscc)) => Some(sscc),
                _ => {
                    self.fail(FieldError::new("not_an_sscc", sscc_path).arg("value", s));
                    None
                }
            });
            let members_path = format!("{path}.members");
            let (count, bad) = match members {
                wire::MembersShape::List { count, bad } if *count > 0 => (*count, bad),
                wire::MembersShape::List { .. } | wire::MembersShape::Null => {
                    self.fail(FieldError::new("required", members_path));
                    continue;
                }
                wire::MembersShape::Other => {
                    self.fail(FieldError::new("not_list", members_path));
                    continue;
                }
            };
            for (i, problem) in bad {
                if self.errors.len() >= MAX_ERRORS {
                    capped = true;
                    break;
                }
                self.fail(FieldError::new(problem, format!("{members_path}[{i}]")));
            }
            total += count;
            if let Some(sscc) = sscc {
                out.push(json!({"sscc": sscc.as_str(), "members": count}));
            }
        }
        if capped {
            self.fail(FieldError::new("too_many_errors", "packages").arg("max", MAX_ERRORS));
        }
        if total > MAX_CODES {
            self.fail(FieldError::new("too_many_codes", "packages").arg("max", MAX_CODES));
        }
        (out, total)
    }

    /// A unit price in tenge (a JSON number or decimal text, at most two
    /// digits after the point), as tiyn; zero is allowed (a gift).
    fn unit_price(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<i64> {
        let text = match obj.get(key) {
            None | Some(Value::Null) => {
                self.fail(FieldError::new("required", path));
                return None;
            }
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(_) => {
                self.fail(FieldError::new("not_number", path));
                return None;
            }
        };
        match parse_tiyn(&text) {
            Some(t) if t < 0 => {
                self.fail(FieldError::new("price_negative", path).arg("value", text));
                None
            }
            Some(t) if t > MAX_PRICE_TENGE * 100 => {
                self.fail(FieldError::new("price_too_large", path).arg("max", MAX_PRICE_TENGE));
                None
            }
            Some(t) => Some(t),
            None => {
                self.fail(FieldError::new("price_format", path));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_has_an_action_and_senders() {
        for kind in SERVED {
            let fields = match kind {
                DocumentKind::Withdrawal => json!({"reason": "OWN_USE"}),
                DocumentKind::WriteOff => json!({"reason": "KM_SPOILED"}),
                _ => json!({}),
            };
            let action = action_of(kind, &fields).expect("action");
            assert_eq!(action.kind(), kind);
            assert!(!roles_for(kind).is_empty());
        }
        assert!(action_of(DocumentKind::Withdrawal, &json!({})).is_err());
    }

    /// A checked body with its items as they are stored: read again from
    /// the body, in the order of their positions.
    #[derive(Debug)]
    struct Read {
        kind: DocumentKind,
        fields: Value,
        items: Vec<DocumentItem>,
    }

    fn checked_as(raw: &[u8], form: Form) -> Result<Read, Vec<(String, String)>> {
        let reference = Reference::from_loaded(Default::default());
        let today = time::macros::date!(2026 - 01 - 20);
        match check(raw, form, &reference, today) {
            Ok(doc) => {
                let mut items = Vec::new();
                each_item(raw, &doc, |n, item| {
                    items.push((n, item));
                    true
                })
                .expect("read again");
                assert_eq!(items.len(), doc.count);
                items.sort_by_key(|(n, _)| *n);
                let positions: Vec<usize> = items.iter().map(|(n, _)| *n).collect();
                assert_eq!(positions, (0..doc.count).collect::<Vec<_>>());
                Ok(Read {
                    kind: doc.kind,
                    fields: doc.fields,
                    items: items.into_iter().map(|(_, item)| item).collect(),
                })
            }
            Err(Refused::Invalid(errors)) => Err(errors
                .into_iter()
                .map(|e| (e.field, e.code.to_owned()))
                .collect()),
            Err(Refused::Malformed { line, detail }) => Err(vec![(
                format!("line {line:?}"),
                format!("malformed: {detail}"),
            )]),
        }
    }

    fn checked(body: Value) -> Result<Read, Vec<(String, String)>> {
        checked_as(&serde_json::to_vec(&body).expect("json"), Form::Json)
    }

    fn ndjson(lines: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            out.extend(serde_json::to_vec(line).expect("json"));
            out.extend(b"\r\n\n");
        }
        out
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn json_and_ndjson_read_the_same_items_and_fields() {
        let json = checked(json!({"kind": "shipment", "receiver": "000740000013",
            "codes": [{"code": UNIT, "price": 1250.5}, {"code": "x", "price": "3"}]}));
        let lines = ndjson(&[
            json!({"kind": "shipment", "receiver": "000740000013"}),
            json!({"code": UNIT, "price": 1250.5}),
            json!({"code": "x", "price": "3"}),
        ]);
        let nd = checked_as(&lines, Form::Ndjson);
        match (json, nd) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.fields, b.fields);
                assert_eq!(a.items, b.items);
                assert_eq!(b.items[0].price, Some(125_050));
                assert!(b.items[0].key.is_some());
            }
            // An unknown receiver BIN shape is still the same answer.
            (a, b) => assert_eq!(a.map(|_| ()), b.map(|_| ())),
        }
    }

    #[test]
    fn json_and_csv_read_the_same_items_and_fields() {
        let json = checked(json!({"kind": "introduction", "release_method": "production",
            "production_date": "2026-01-15",
            "conformity": {"kind": "declaration", "number": "ЕАЭС N RU Д-KZ.АБ12, В", "date": "2024-03-15"},
            "codes": [UNIT, "01046523522620092a,\"b\""]}))
        .expect("json");
        // Quoted cells keep commas and quotes; blank lines and CRLF are fine.
        let csv = "kind,release_method,production_date,conformity.kind,conformity.number,conformity.date\r\n\
            introduction,production,2026-01-15,declaration,\"ЕАЭС N RU Д-KZ.АБ12, В\",2024-03-15\r\n\
            \r\n\
            code\r\n\
            010465235226200921AAAAAAAAAAAAA\r\n\
            \"01046523522620092a,\"\"b\"\"\"\r\n";
        let table = checked_as(csv.as_bytes(), Form::Csv).expect("csv");
        assert_eq!(table.fields, json.fields);
        assert_eq!(table.items, json.items);

        // A spreadsheet's export: a byte-order mark, `;` and a decimal comma.
        let json = checked(json!({"kind": "shipment", "receiver": "971240001315",
            "codes": [{"code": UNIT, "price": "1250.50"}, {"code": UNIT, "price": 3}]}))
        .expect("json");
        let csv = "\u{feff}kind;receiver\nshipment;971240001315\ncode;price\n\
            010465235226200921AAAAAAAAAAAAA;1250,50\n 010465235226200921AAAAAAAAAAAAA ; 3 \n";
        let table = checked_as(csv.as_bytes(), Form::Csv).expect("csv");
        assert_eq!(table.fields, json.fields);
        assert_eq!(table.items, json.items);
        assert_eq!(table.items[0].price, Some(125_050));
    }

    #[test]
    fn csv_names_bad_items_columns_and_rows() {
        // Items are named as in JSON: codes[i], counted from 0.
        let csv = "kind,receiver\nshipment,971240001315\ncode,price\n\
            010465235226200921AAAAAAAAAAAAA,1\n,2\n010465235226200921AAAAAAAAAAAAA,\n\
            010465235226200921AAAAAAAAAAAAA,1.005\n";
        assert_eq!(
            checked_as(csv.as_bytes(), Form::Csv).unwrap_err(),
            pairs(&[
                ("codes[1].code", "required"),
                ("codes[2].price", "required"),
                ("codes[3].price", "price_format"),
            ])
        );
        // Columns are checked once, not on every row; head fields as ever.
        let csv =
            "kind,receiver,codes\nshipment,1,x\ncode,qty\n010465235226200921AAAAAAAAAAAAA,1\n";
        let found = checked_as(csv.as_bytes(), Form::Csv).unwrap_err();
        assert!(
            found.contains(&("codes".into(), "unknown_field".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&("codes.qty".into(), "unknown_field".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&("codes.price".into(), "required".into())),
            "{found:?}"
        );
        assert!(found.iter().any(|(f, _)| f == "receiver"), "{found:?}");
        assert!(
            !found.iter().any(|(f, _)| f.starts_with("codes[")),
            "{found:?}"
        );
        // No items, or aggregation: as in NDJSON.
        assert_eq!(
            checked_as(b"kind\nreturn\n", Form::Csv).unwrap_err(),
            pairs(&[("codes", "required")])
        );
        assert_eq!(
            checked_as(b"kind\nreturn\ncode\n", Form::Csv).unwrap_err(),
            pairs(&[("codes", "required")])
        );
        assert_eq!(
            checked_as(b"kind\naggregation\ncode\nx\n", Form::Csv).unwrap_err(),
            pairs(&[("codes.package", "required")])
        );
        // Rows that do not fit: refused by line.
        for (raw, line) in [
            (&b"kind,reason\nwrite_off\ncode\nx\n"[..], 2),
            (b"kind\nreturn\ncode\nx\ny,z\n", 5),
            (b"kind\nreturn\ncode,code\nx,x\n", 3),
            (b"kind,\nreturn,\ncode\nx\n", 1),
            (b"kind,conformity,conformity.kind\nreturn,a,b\ncode\nx\n", 1),
            (b"kind\nreturn\ncode\nx\n\xff\n", 5),
            (b"kind\n", 2),
            (b"", 1),
        ] {
            let err = checked_as(raw, Form::Csv).unwrap_err();
            assert_eq!(err.len(), 1, "{err:?}");
            assert!(
                err[0].0 == format!("line Some({line})"),
                "{:?}: {err:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn an_aggregation_as_csv_is_its_json_twin() {
        let (box1, box2) = ("048700010000000011", "048700010000000028");
        let json = checked(json!({"kind": "aggregation", "packages": [
            {"sscc": box1, "members": [UNIT, "x"]},
            {"sscc": box2, "members": [box1]},
        ]}))
        .expect("json");
        // Rows of one package need not be together; an SSCC in any form.
        let csv = format!(
            "kind\naggregation\npackage,code\n{box1},{UNIT}\n{box2},{box1}\n(00){box1},x\n"
        );
        let table = checked_as(csv.as_bytes(), Form::Csv).expect("csv");
        assert_eq!(table.kind, DocumentKind::Aggregation);
        assert_eq!(table.fields, json.fields);
        assert_eq!(table.items, json.items);

        // Rows without a package or a member; a member problem as in JSON.
        let csv = format!("kind\naggregation\npackage,code\n,{UNIT}\n{box1},\n");
        assert_eq!(
            checked_as(csv.as_bytes(), Form::Csv).unwrap_err(),
            pairs(&[
                ("codes[0].package", "required"),
                ("codes[1].code", "required")
            ])
        );
        let csv = format!("kind\naggregation\npackage,code\n123,{UNIT}\n");
        assert_eq!(
            checked_as(csv.as_bytes(), Form::Csv).unwrap_err(),
            pairs(&[("packages[0].sscc", "not_an_sscc")])
        );
        let csv = format!("kind,packages\naggregation,x\npackage,code,price\n{box1},{UNIT},1\n");
        assert_eq!(
            checked_as(csv.as_bytes(), Form::Csv).unwrap_err(),
            pairs(&[
                ("packages", "unknown_field"),
                ("codes.price", "unknown_field")
            ])
        );
    }

    #[test]
    fn reading_items_again_stops_when_asked() {
        let reference = Reference::from_loaded(Default::default());
        let today = time::macros::date!(2026 - 01 - 20);
        let json = serde_json::to_vec(&json!({"kind": "return", "codes": [UNIT, UNIT, UNIT]}));
        let lines = ndjson(&[
            json!({"kind": "return"}),
            json!(UNIT),
            json!(UNIT),
            json!(UNIT),
        ]);
        let csv = format!("kind\nreturn\ncode\n{UNIT}\n{UNIT}\n{UNIT}\n").into_bytes();
        for (raw, form) in [
            (json.expect("json"), Form::Json),
            (lines, Form::Ndjson),
            (csv, Form::Csv),
        ] {
            let doc = check(&raw, form, &reference, today).expect("checked");
            assert_eq!(doc.count, 3);
            let mut seen = 0;
            each_item(&raw, &doc, |_, item| {
                assert_eq!(item.code, UNIT);
                seen += 1;
                seen < 2
            })
            .expect("a stop is not an error");
            assert_eq!(seen, 2, "{form:?}");
        }
    }

    #[test]
    fn json_and_ndjson_name_bad_items_the_same_way() {
        let expected = pairs(&[
            ("codes[1]", "not_text"),
            ("codes[2]", "required"),
            ("codes[3].price", "unknown_field"),
            ("codes[3].code", "required"),
        ]);
        let json = checked(json!({"kind": "application", "codes": [UNIT, 5, " ", {"price": 1}]}));
        assert_eq!(json.unwrap_err(), expected);
        let lines = ndjson(&[
            json!({"kind": "application"}),
            json!(UNIT),
            json!(5),
            json!(" "),
            json!({"price": 1}),
        ]);
        assert_eq!(checked_as(&lines, Form::Ndjson).unwrap_err(), expected);
    }

    #[test]
    fn ndjson_refuses_aggregation_codes_in_the_header_and_bad_lines() {
        let agg = ndjson(&[json!({"kind": "aggregation"}), json!(UNIT)]);
        assert_eq!(
            checked_as(&agg, Form::Ndjson).unwrap_err(),
            pairs(&[("kind", "not_streamable")])
        );
        let with_codes = ndjson(&[json!({"kind": "return", "codes": [UNIT]}), json!(UNIT)]);
        assert_eq!(
            checked_as(&with_codes, Form::Ndjson).unwrap_err(),
            pairs(&[("codes", "unknown_field")])
        );
        let empty = ndjson(&[json!({"kind": "return"})]);
        assert_eq!(
            checked_as(&empty, Form::Ndjson).unwrap_err(),
            pairs(&[("codes", "required")])
        );
        let mut bad = ndjson(&[json!({"kind": "return"}), json!(UNIT)]);
        bad.extend(b"{\"code\": \n");
        let err = checked_as(&bad, Form::Ndjson).unwrap_err();
        assert_eq!(err[0].0, "line Some(5)", "{err:?}");
        assert_eq!(
            checked_as(b"[1]\n\"x\"", Form::Ndjson).unwrap_err(),
            pairs(&[("$", "not_json_object")])
        );
    }

    #[test]
    fn problems_stop_at_the_cap() {
        let many: Vec<Value> = (0..MAX_ERRORS + 10).map(|_| json!(1)).collect();
        let errors = checked(json!({"kind": "return", "codes": many})).unwrap_err();
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        assert_eq!(
            errors[MAX_ERRORS],
            ("codes".to_owned(), "too_many_errors".to_owned())
        );
    }

    #[test]
    fn the_json_form_keeps_its_answers() {
        assert_eq!(
            checked(json!([1])).unwrap_err(),
            pairs(&[("$", "not_json_object")])
        );
        assert_eq!(
            checked(json!({"kind": "return", "codes": {"a": 1}})).unwrap_err(),
            pairs(&[("codes", "not_list")])
        );
        assert_eq!(
            checked(json!({"kind": "return", "codes": null})).unwrap_err(),
            pairs(&[("codes", "required")])
        );
        // The last `codes` counts, as for any repeated key.
        let raw = format!(r#"{{"codes": [1], "kind": "return", "codes": ["{UNIT}"]}}"#);
        let doc = checked_as(raw.as_bytes(), Form::Json).expect("checked");
        assert_eq!(doc.items.len(), 1);
        assert_eq!(doc.items[0].code, UNIT);
    }

    const UNIT: &str = "010465235226200921AAAAAAAAAAAAA";

    #[test]
    fn an_aggregation_lists_its_members_in_order_and_counts_them_per_package() {
        let doc = checked(json!({"kind": "aggregation", "packages": [
            {"sscc": "948731836164410274", "members": [UNIT]},
            {"sscc": "(00)948731836164410274", "members": ["x", "y"]},
        ]}))
        .expect("checked");
        assert_eq!(
            doc.fields["packages"],
            json!([
                {"sscc": "948731836164410274", "members": 1},
                {"sscc": "948731836164410274", "members": 2},
            ])
        );
        let codes: Vec<&str> = doc.items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, [UNIT, "x", "y"]);
        assert!(doc.items[0].key.is_some());
    }

    #[test]
    fn a_json_aggregation_is_read_again_member_by_member_the_last_key_counting() {
        let sscc = "948731836164410274";
        // `packages` twice, and `members` twice in a package: the last one
        // counts, as for any JSON key, in the checks and in what is stored.
        let raw = format!(
            r#"{{"kind": "aggregation",
                "packages": [{{"sscc": "{sscc}", "members": ["x"]}}],
                "packages": [
                    {{"sscc": "{sscc}", "members": ["a"], "members": ["{UNIT}", "y"]}},
                    {{"members": ["z"], "sscc": "(00){sscc}"}}
                ]}}"#
        );
        let doc = checked_as(raw.as_bytes(), Form::Json).expect("checked");
        assert_eq!(
            doc.fields["packages"],
            json!([{"sscc": sscc, "members": 2}, {"sscc": sscc, "members": 1}])
        );
        let codes: Vec<&str> = doc.items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, [UNIT, "y", "z"]);

        // The reading stops when asked, as for any other kind.
        let reference = Reference::from_loaded(Default::default());
        let today = time::macros::date!(2026 - 01 - 20);
        let checked = check(raw.as_bytes(), Form::Json, &reference, today).expect("checked");
        let mut seen = Vec::new();
        each_item(raw.as_bytes(), &checked, |n, item| {
            seen.push((n, item.code));
            seen.len() < 2
        })
        .expect("a stop is not an error");
        assert_eq!(seen, [(0, UNIT.to_owned()), (1, "y".to_owned())]);
    }

    #[test]
    fn a_bad_aggregation_body_names_every_field() {
        let errors = checked(json!({"kind": "aggregation", "codes": [UNIT], "packages": [
            {"sscc": "948731836164410275", "members": [UNIT]},
            {"members": [1, " "], "extra": true},
            "box",
        ]}))
        .unwrap_err();
        let expected = [
            ("packages[0].sscc", "not_an_sscc"),
            ("packages[1].extra", "unknown_field"),
            ("packages[1].sscc", "required"),
            ("packages[1].members[0]", "not_text"),
            ("packages[1].members[1]", "required"),
            ("packages[2]", "not_object"),
            ("codes", "unknown_field"),
        ];
        for (field, code) in expected {
            assert!(
                errors.contains(&(field.to_owned(), code.to_owned())),
                "{field} {code} not in {errors:?}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors:?}");
    }

    #[test]
    fn an_sscc_reads_from_its_bare_digits_too() {
        assert!(matches!(
            scan("948731836164410274"),
            Ok(ScannedCode::Sscc(_))
        ));
        assert!(scan("948731836164410275").is_err());
        assert!(matches!(scan(UNIT), Ok(ScannedCode::Unit(_))));
    }
}
