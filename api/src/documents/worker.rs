//! The document worker: checks every code of a received document against
//! storage and applies the document, all or nothing; and the buyer's or
//! seller's answer to a shipment ([`settle`]).
//!
//! A document is processed in one transaction: its row is locked and its
//! status re-read (another worker may have been first), its sender's row is
//! held (no two of a sender's documents are checked at once, by any
//! instance: see [`process`]), then its codes are
//! read and locked 10,000 at a time in key order (`Tx::lock_codes`), each
//! code's owner compared with the sender, its absence from any shipment
//! waiting for a buyer checked, and its steps run through
//! `lifecycle::transition`; each chunk is then written in two statements
//! (`Tx::write_moves`), which also append each code's events, caused by this
//! document. A shipment's step and its acceptance's keep every state and
//! apply to every code or none: for the codes listed alone they are
//! recorded once for the document (`Tx::record_steps`), not per code. An
//! aggregation and a disaggregation go the same way, a chunk
//! at a time, and also pack the chunk's codes or dissolve the packages
//! listed; their checks across packages (a cycle, one status per package)
//! run once every member has been seen. Every refusal is collected. If there is none, the document
//! moves on (`CHECKED_OK`, or `WAIT_ACCEPTANCE` for a shipment) and the
//! transaction commits; otherwise it rolls back, so no code moved, and a
//! second transaction stores every error and `CHECKED_NOT_OK`. Cached cards
//! are invalidated after the commit.
//!
//! A shipment's unit codes listed alone are first checked all at once, in
//! the database, by the keys stored with its items (`Tx::lock_listed`):
//! the rows that pass (the sender's, in a state `ship` keeps, in no package,
//! held by no other shipment) are found by key and then locked in the order
//! they lie. When as many are locked as there are codes listed, every one
//! passed and none is listed twice, and only the SSCCs are read; otherwise
//! the codes are read and checked as above, to list every refusal.
//!
//! An acceptance is first tried optimistically: the shipment's codes were
//! checked when it was shipped and are held by it, so each chunk is moved
//! with one guarded write and no read (`Tx::move_listed`, by the keys
//! stored with the items, and `Tx::move_kept` for codes inside a package
//! that does not move whole; with the states `lifecycle::kept_by(Accept)`
//! allows). If any code is not as expected, the
//! transaction rolls back and the acceptance runs again the way above, to
//! list every refusal.
//!
//! The worker wakes when a document arrives and every few seconds, so a
//! document left `IN_PROGRESS` by a crash or a stop is processed after a
//! restart. Redoing is safe: the apply is one transaction, so a document is
//! either wholly applied (and no longer `IN_PROGRESS`) or not at all.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tanba_core::document::{
    AggregationError, DocumentKind, DocumentStatus, DocumentStep, DocumentStepError,
    check_aggregation, document_step,
};
use tanba_core::lifecycle::{CodeState, Operation, transition};
use tanba_core::{MarkingCode, ScannedCode, Sscc};
use tokio::sync::Notify;

use super::{action_of, summary};
use crate::cache::{CardCache, Identities};
use crate::idempotency::Idempotency;
use crate::ids::{DocumentId, ParticipantId};
use crate::store::{
    AuditEntry, Document, DocumentError, DocumentItem, EventSource, Move, Outcome, Package, Store,
    Tx,
};

/// How often the worker looks for documents without being woken.
const POLL: Duration = Duration::from_secs(2);

/// A handle to wake the worker.
#[derive(Debug, Clone, Default)]
pub struct Documents {
    wake: Arc<Notify>,
}

impl Documents {
    /// Tells the worker there is a new document.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the worker until the task is dropped.
    pub fn spawn(&self, store: Store, cards: Arc<CardCache>) -> tokio::task::JoinHandle<()> {
        let wake = self.wake.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = process_pending(&store, &cards).await {
                    tracing::error!(error = ?err, "document worker: will retry");
                }
                let _ = tokio::time::timeout(POLL, wake.notified()).await;
            }
        })
    }
}

/// Processes every document `IN_PROGRESS`, oldest first. A document that
/// fails (the database went away, a stored field this build cannot read)
/// stays `IN_PROGRESS` and is tried again on the next round; the documents
/// after it are not held up.
pub async fn process_pending(store: &Store, cards: &CardCache) -> anyhow::Result<()> {
    for id in store.documents_in_progress().await? {
        if let Err(err) = process(store, cards, id).await {
            tracing::error!(document = %id, error = ?err, "document worker: will retry this document");
        }
    }
    Ok(())
}

/// An error about the code at position `n`, with the message key in
/// `locales/*`.
fn item_error(
    n: usize,
    item: &DocumentItem,
    error: &str,
    message: String,
    args: BTreeMap<String, String>,
) -> DocumentError {
    DocumentError {
        item: i64::try_from(n).ok(),
        code: Some(item.code.clone()),
        error: error.to_owned(),
        message,
        args,
    }
}

/// A code that does not parse, at position `n`.
fn malformed(n: usize, item: &DocumentItem, e: &tanba_core::ParseError) -> DocumentError {
    let mut args: BTreeMap<String, String> = e
        .args()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    args.insert("parse_error".to_owned(), e.kind.code().to_owned());
    item_error(n, item, "code_malformed", e.kind.message_key(), args)
}

/// A code at position `n` listed before, at `first`.
fn duplicate(n: usize, item: &DocumentItem, first: usize) -> DocumentError {
    item_error(
        n,
        item,
        "code_duplicate",
        "document-code-duplicate".to_owned(),
        BTreeMap::from([("first".to_owned(), (first + 1).to_string())]),
    )
}

/// What makes two listings the same code or package, in any scanner form.
fn identity_of(scanned: &ScannedCode) -> String {
    match scanned {
        ScannedCode::Unit(code) => code.identity(),
        ScannedCode::Sscc(sscc) => sscc.element_string(),
    }
}

/// A document-level error about a package (no position: the package is
/// named by its SSCC).
fn package_error(
    sscc: &Sscc,
    error: &str,
    message: &str,
    args: BTreeMap<String, String>,
) -> DocumentError {
    DocumentError {
        item: None,
        code: Some(sscc.as_str().to_owned()),
        error: error.to_owned(),
        message: message.to_owned(),
        args,
    }
}

/// A package listed at `n` that the sender may move as a whole: stored,
/// the sender's, in no shipment waiting for its buyer (nor inside a package
/// that is), and, when `top` (a shipment), inside no other package.
async fn own_package(
    tx: &mut Tx,
    doc: &Document,
    (n, item): (usize, &DocumentItem),
    sscc: &Sscc,
    top: bool,
) -> anyhow::Result<Result<Package, DocumentError>> {
    let refused = |error: &str, message: &str, args: BTreeMap<String, String>| {
        Ok(Err(item_error(n, item, error, message.to_owned(), args)))
    };
    let Some(package) = tx.lock_package(sscc).await? else {
        return refused(
            "package_not_found",
            "document-package-not-found",
            BTreeMap::new(),
        );
    };
    if package.owner != doc.sender {
        return refused(
            "package_not_owned",
            "document-package-not-owned",
            BTreeMap::new(),
        );
    }
    if top && let Some(parent) = &package.parent {
        return refused(
            "package_in_package",
            "document-package-in-package",
            BTreeMap::from([("package".to_owned(), parent.as_str().to_owned())]),
        );
    }
    let mut around = vec![sscc.clone()];
    around.extend(tx.package_ancestors(sscc).await?);
    for p in &around {
        if let Some(other) = tx.pending_shipment_with_package(p, doc.id).await? {
            return refused(
                "code_in_pending_shipment",
                "document-code-in-pending-shipment",
                BTreeMap::from([("document".to_owned(), other.to_string())]),
            );
        }
    }
    Ok(Ok(package))
}

/// How many codes are read, checked and written per statement, and how
/// many of a document's items are read at a time.
const CHUNK: usize = 10_000;

/// What a document does to each code it lists.
#[derive(Clone, Copy)]
struct Plan<'a> {
    operations: &'a [Operation],
    /// The owner every code and package moved passes to (acceptance).
    new_owner: Option<ParticipantId>,
    /// A code listed alone must sit in no package: a package moves whole,
    /// never a code out of it.
    alone_only: bool,
    /// Refuse SSCCs (an application lists unit codes only).
    units_only: bool,
    /// Write what passes and drop the refusals (the record of a cancelled
    /// shipment, which changes nothing).
    lenient: bool,
    /// Move each chunk with one guarded write and no read first
    /// ([`Tx::move_kept`]), for an owner change by one operation that keeps
    /// the state (acceptance). The first code not as expected stops the
    /// document: the caller rolls back and moves it again, looking at each
    /// code to list every refusal.
    optimistic: bool,
}

/// One code to move: the page item that listed it (itself, or the package
/// it is inside) and whether it is inside a listed package.
struct Target {
    at: usize,
    code: MarkingCode,
    key: (i64, String),
    inside: bool,
}

impl Target {
    fn new(at: usize, code: MarkingCode, inside: bool) -> anyhow::Result<Target> {
        Ok(Target {
            at,
            key: key_of(&code)?,
            code,
            inside,
        })
    }
}

/// A document's codes moved a page of items at a time, in one transaction:
/// each page's codes are read in one statement per [`CHUNK`], every step is
/// run through `lifecycle::transition` here, and the outcome is written in
/// two statements per chunk ([`Tx::write_moves`]). Once an error is found,
/// nothing more is written (the transaction will roll back) but every code
/// is still checked, so every error is listed.
struct Moving<'a> {
    doc: &'a Document,
    plan: Plan<'a>,
    actor: &'a str,
    source: EventSource,
    /// Each code or SSCC listed so far, by a 128-bit digest of its identity,
    /// with its position: a million fit in some 40 MB.
    seen: HashMap<u128, usize>,
    errors: Vec<DocumentError>,
    /// The identities of the codes whose state changed, whose cards to
    /// invalidate.
    touched: Identities,
    /// How many codes were moved one by one.
    moved: usize,
    /// With an optimistic plan: how each chunk is moved with no read.
    guard: Option<Guard>,
    /// A guarded write left a code out: the optimistic attempt is over.
    missed: bool,
    /// What happens to the packages listed.
    packages: Packages<'a>,
    /// Every operation of the plan keeps every state it accepts (a
    /// shipment's `Ship`, `Accept` and `CancelShipment`): a package listed
    /// whole moves as a package ([`Moving::move_packed`]).
    keeps: bool,
    /// The steps of the codes listed alone are recorded once for the
    /// document ([`Tx::record_steps`]), not as an event per code: every
    /// step keeps every state, the packages move whole, and the document
    /// is applied whole or not at all (not lenient).
    by_document: bool,
    /// The codes recorded through their packages, not one by one.
    packed: usize,
    /// Packages that move as packages whose codes' events are not written
    /// yet, grouped by the steps they take, with the blocked codes in them
    /// to leave out ([`Moving::record_packed`]).
    unrecorded: Vec<Unrecorded>,
    /// The packages to pass to the plan's new owner once every code has
    /// passed: a packed code's owner is its package's, so a package must
    /// not change hands before the codes in it are checked.
    reowned: Vec<Sscc>,
}

/// What a document does to the packages it lists (see [`Moving::page`]).
enum Packages<'a> {
    /// Each moves whole, with everything inside it at every depth, and
    /// passes to the plan's new owner with its codes (a shipment, a
    /// withdrawal).
    Whole,
    /// An aggregation packs its items (see [`aggregate`]).
    Pack(Box<Packing<'a>>),
    /// A disaggregation dissolves each one level: the codes directly in it
    /// take the step and stand alone (see [`disaggregate`]). The packages
    /// to dissolve, once every code has passed.
    Unpack(Vec<Sscc>),
}

/// An aggregation's packing, gathered while its members are moved: what
/// is checked across packages once every member has been seen.
struct Packing<'a> {
    /// The package each item goes into, by position.
    into: Vec<&'a Sscc>,
    /// The packages the document makes, by [`package_key`].
    new: HashSet<String>,
    /// Each package listed as a member: its position, and the item.
    members: Vec<(usize, Sscc, DocumentItem)>,
    /// (package, member package) by [`package_key`], for the cycle check.
    pairs: Vec<(String, String)>,
    /// The stored parent of each member package that has one.
    existing: HashMap<String, String>,
    /// The statuses of the codes going into each new package, directly or
    /// inside a stored package that becomes a member.
    statuses: HashMap<String, BTreeSet<&'static str>>,
}

/// An optimistic plan made concrete: its one operation, the owner the codes
/// pass to, and the states that operation keeps, which are the only states
/// the guarded write moves ([`Tx::move_kept`]).
struct Guard {
    operation: Operation,
    new_owner: ParticipantId,
    kept: Vec<CodeState>,
}

impl Guard {
    /// The guard for `plan`, if it asks to be optimistic and can be: one
    /// operation that keeps every state it accepts, an owner change, and
    /// nothing that needs a look at each code (a lenient record, codes
    /// that must stand alone).
    fn of(plan: &Plan) -> Option<Guard> {
        match (plan.optimistic, plan.operations, plan.new_owner) {
            (true, [operation], Some(new_owner)) if !plan.lenient && !plan.alone_only => {
                Some(Guard {
                    operation: *operation,
                    new_owner,
                    kept: tanba_core::lifecycle::kept_by(*operation)?,
                })
            }
            _ => None,
        }
    }
}

/// Moves every code a document lists by `plan` (see [`Moving`]): the unit
/// codes listed alone and everything inside each package listed, each
/// package as a whole. Returns the codes written and every refusal; `None`
/// when an optimistic plan found a code not as expected (and wrote part of
/// the document: roll back).
async fn move_document(
    tx: &mut Tx,
    store: &Store,
    doc: &Document,
    plan: Plan<'_>,
    actor: &str,
) -> anyhow::Result<Option<Moved>> {
    let mut moving = Moving::new(doc, plan, actor, Packages::Whole);
    moving.all(tx, store).await?;
    if moving.missed {
        return Ok(None);
    }
    if moving.errors.is_empty() {
        if let Some(owner) = plan.new_owner {
            for p in &moving.reowned {
                tx.set_package_owner(p, owner).await?;
            }
        }
        if moving.by_document {
            tx.record_steps(doc.id, plan.operations, Some(actor))
                .await?;
        }
    }
    Ok(Some(Moved {
        codes: moving.moved + moving.packed,
        touched: moving.touched,
        errors: moving.errors,
    }))
}

/// Packages whose codes all take the same `steps`, to be recorded in one
/// statement per step.
struct Unrecorded {
    steps: Vec<(Operation, CodeState)>,
    packages: Vec<Sscc>,
    except: Vec<MarkingCode>,
}

/// How many packages' events wait to be written at most: one statement per
/// step over a document's packages writes each code's event in key order,
/// half the time of one statement per package on 10,000,000 stored codes.
const UNRECORDED_PACKAGES: usize = 10_000;

/// What [`move_document`] did.
struct Moved {
    /// The codes whose state it changed, whose cards to invalidate.
    touched: Identities,
    /// How many codes it recorded: those moved one by one and the codes
    /// inside packages that moved as packages, whose rows did not change.
    codes: usize,
    errors: Vec<DocumentError>,
}

fn digest(identity: &str) -> u128 {
    use sha2::{Digest as _, Sha256};
    let hash = Sha256::digest(identity.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

impl<'a> Moving<'a> {
    fn new(doc: &'a Document, plan: Plan<'a>, actor: &'a str, packages: Packages<'a>) -> Self {
        let keeps = plan
            .operations
            .iter()
            .all(|op| tanba_core::lifecycle::kept_by(*op).is_some());
        Moving {
            by_document: keeps && !plan.lenient && matches!(packages, Packages::Whole),
            keeps,
            guard: Guard::of(&plan),
            missed: false,
            doc,
            plan,
            actor,
            source: EventSource::document(doc.id.to_string()),
            seen: HashMap::new(),
            errors: Vec::new(),
            touched: Identities::default(),
            moved: 0,
            packages,
            packed: 0,
            unrecorded: Vec::new(),
            reowned: Vec::new(),
        }
    }

    /// Moves the codes in `packages` (a package listed whole and every
    /// package inside it) as packages, when the plan keeps every state:
    /// their shared state ([`Tx::packed_state`]) takes the plan's steps
    /// once, and each code gets its events with those of the other
    /// packages ([`Moving::record_packed`]), with no read or write of its
    /// row. Returns the codes an inspector blocked, which are checked (and
    /// refused) one by one; `None` when the packages do not move as a whole
    /// (nothing in them but blocked codes, or the shared state refuses a
    /// step), to be checked code by code so that every refusal is listed.
    async fn move_packed(
        &mut self,
        tx: &mut Tx,
        packages: &[Sscc],
    ) -> anyhow::Result<Option<Vec<MarkingCode>>> {
        let Some(mut state) = tx.packed_state(packages).await? else {
            return Ok(None);
        };
        let mut steps = Vec::with_capacity(self.plan.operations.len());
        for &operation in self.plan.operations {
            let Ok(next) = transition(state, operation) else {
                return Ok(None);
            };
            steps.push((operation, next));
            state = next;
        }
        let apart = tx.packed_blocked(packages).await?;
        match self.unrecorded.iter_mut().find(|u| u.steps == steps) {
            Some(u) => {
                u.packages.extend_from_slice(packages);
                u.except.extend_from_slice(&apart);
            }
            None => self.unrecorded.push(Unrecorded {
                steps,
                packages: packages.to_vec(),
                except: apart.clone(),
            }),
        }
        let waiting: usize = self.unrecorded.iter().map(|u| u.packages.len()).sum();
        if waiting >= UNRECORDED_PACKAGES {
            self.record_packed(tx).await?;
        }
        Ok(Some(apart))
    }

    /// Writes the events of the codes in the packages [`Self::move_packed`]
    /// moved since the last call, one statement per step over all of them
    /// ([`Tx::record_packed`]), while nothing has been refused (or when
    /// lenient).
    async fn record_packed(&mut self, tx: &mut Tx) -> anyhow::Result<()> {
        let unrecorded = std::mem::take(&mut self.unrecorded);
        if self.missed || !(self.plan.lenient || self.errors.is_empty()) {
            return Ok(());
        }
        for u in unrecorded {
            self.packed += tx
                .record_packed(
                    &u.packages,
                    &u.steps,
                    &u.except,
                    &self.source,
                    Some(self.actor),
                )
                .await?;
        }
        Ok(())
    }

    /// Reads the document's items a page at a time and moves them; stops
    /// early only when an optimistic plan missed. The next page is read, on
    /// another connection, while this one is moved: a page of 10,000 items
    /// takes some 25 ms to read on PostgreSQL, a quarter of the time its
    /// codes take to check.
    async fn all(&mut self, tx: &mut Tx, store: &Store) -> anyhow::Result<()> {
        let id = self.doc.id;
        // An optimistic plan whose steps the document records once moves
        // the unit codes listed alone without reading them: in the
        // database, by the keys stored with the items. What is left to
        // read is the items without a key (SSCCs).
        let keyless = match &self.guard {
            Some(guard) if self.by_document => {
                let (span, keyless) = store.document_item_span(id).await?;
                let moved = tx
                    .move_listed(id, span, self.doc.sender, guard.new_owner, &guard.kept)
                    .await?;
                self.moved += moved;
                if i64::try_from(moved)? < span - keyless {
                    self.missed = true;
                    return Ok(());
                }
                true
            }
            // A shipment's check: every unit code listed alone is read and
            // locked in the database, by the keys stored with the items,
            // when each one passes; otherwise the pages look at every code,
            // to list each refusal.
            None if self.by_document && self.plan.alone_only && self.plan.new_owner.is_none() => {
                match self.plan.operations {
                    [operation] => {
                        let (span, keyless) = store.document_item_span(id).await?;
                        let listed = usize::try_from(span - keyless)?;
                        let kept = tanba_core::lifecycle::kept_by(*operation).unwrap_or_default();
                        let locked = if listed == 0 {
                            0
                        } else {
                            tx.lock_listed(id, self.doc.sender, &kept).await?
                        };
                        anyhow::ensure!(
                            locked <= listed,
                            "{locked} rows locked for {listed} codes listed"
                        );
                        if locked == listed {
                            self.moved += locked;
                        }
                        locked == listed
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        let fetch = |from: i64| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .document_items_page(id, from, i64::try_from(CHUNK)?, keyless)
                    .await
            })
        };
        let mut next = fetch(0);
        loop {
            let page = next.await??;
            let Some((last, _)) = page.last() else {
                return self.record_packed(tx).await;
            };
            next = fetch(last + 1);
            self.page(tx, &page).await?;
            if self.missed {
                next.abort();
                return Ok(());
            }
        }
    }

    async fn page(&mut self, tx: &mut Tx, page: &[(i64, DocumentItem)]) -> anyhow::Result<()> {
        let mut targets: Vec<Target> = Vec::new();
        for (at, (n, item)) in page.iter().enumerate() {
            let n = usize::try_from(*n)?;
            // A unit code's key was stored when the document arrived: the
            // code is not parsed again (a microsecond a code, on the path
            // between two chunks' statements).
            let scanned = match &item.key {
                Some((gtin, serial)) => {
                    ScannedCode::Unit(MarkingCode::new(gtin.clone(), serial.clone()))
                }
                None => match super::scan(&item.code) {
                    Ok(scanned) => scanned,
                    Err(e) => {
                        self.errors.push(malformed(n, item, &e));
                        continue;
                    }
                },
            };
            match self.seen.entry(digest(&identity_of(&scanned))) {
                Entry::Occupied(first) => {
                    self.errors.push(duplicate(n, item, *first.get()));
                    continue;
                }
                Entry::Vacant(slot) => {
                    slot.insert(n);
                }
            }
            let sscc = match scanned {
                ScannedCode::Unit(_) if matches!(self.packages, Packages::Unpack(_)) => {
                    self.errors.push(item_error(
                        n,
                        item,
                        "code_not_a_package",
                        "document-code-not-a-package".to_owned(),
                        BTreeMap::new(),
                    ));
                    continue;
                }
                ScannedCode::Unit(code) => {
                    targets.push(Target::new(at, code, false)?);
                    self.flush_full(tx, page, &mut targets).await?;
                    continue;
                }
                ScannedCode::Sscc(sscc) => sscc,
            };
            if self.plan.units_only {
                self.errors.push(item_error(
                    n,
                    item,
                    "code_not_a_unit",
                    "document-code-not-a-unit".to_owned(),
                    BTreeMap::new(),
                ));
                continue;
            }
            let codes = match &mut self.packages {
                Packages::Whole => {
                    if let Err(e) = own_package(tx, self.doc, (n, item), &sscc, true).await? {
                        self.errors.push(e);
                        continue;
                    }
                    let packages = tx.package_tree(&sscc).await?;
                    let apart = match self.keeps {
                        true => self.move_packed(tx, &packages).await?,
                        false => None,
                    };
                    let codes = match apart {
                        Some(apart) => apart,
                        None => tx.codes_in(&packages).await?,
                    };
                    self.reowned.extend(packages);
                    codes
                }
                Packages::Pack(packing) => {
                    let key = package_key(&sscc);
                    packing
                        .pairs
                        .push((package_key(packing.into[n]), key.clone()));
                    packing.members.push((n, sscc.clone(), item.clone()));
                    if packing.new.contains(&key) {
                        // Made by this document: nothing inside it yet.
                        continue;
                    }
                    let package = match own_package(tx, self.doc, (n, item), &sscc, false).await? {
                        Ok(package) => package,
                        Err(e) => {
                            self.errors.push(e);
                            continue;
                        }
                    };
                    if let Some(parent) = &package.parent {
                        packing.existing.insert(key, package_key(parent));
                    }
                    tx.package_contents(&sscc).await?.0
                }
                Packages::Unpack(dissolved) => {
                    if let Err(e) = own_package(tx, self.doc, (n, item), &sscc, true).await? {
                        self.errors.push(e);
                        continue;
                    }
                    dissolved.push(sscc.clone());
                    tx.package_members(&sscc).await?.0
                }
            };
            for code in codes {
                targets.push(Target::new(at, code, true)?);
            }
            self.flush_full(tx, page, &mut targets).await?;
        }
        self.flush(tx, page, &mut targets).await
    }

    /// [`Self::flush`] once there are a chunk's worth of `targets`: a page
    /// of a thousand packages holds a million codes, which are checked and
    /// written as they are found rather than held all at once.
    async fn flush_full(
        &mut self,
        tx: &mut Tx,
        page: &[(i64, DocumentItem)],
        targets: &mut Vec<Target>,
    ) -> anyhow::Result<()> {
        if targets.len() >= CHUNK {
            self.flush(tx, page, targets).await?;
        }
        Ok(())
    }

    /// Checks and writes `targets` a chunk at a time, and forgets them.
    async fn flush(
        &mut self,
        tx: &mut Tx,
        page: &[(i64, DocumentItem)],
        targets: &mut Vec<Target>,
    ) -> anyhow::Result<()> {
        // Rows are locked in key order (see `lock_codes`).
        targets.sort_by(|a, b| a.key.cmp(&b.key));
        for chunk in targets.chunks(CHUNK) {
            self.chunk(tx, page, chunk).await?;
        }
        targets.clear();
        Ok(())
    }

    /// Checks one chunk of codes in one read and, while nothing has been
    /// refused (or when lenient), writes it.
    async fn chunk(
        &mut self,
        tx: &mut Tx,
        page: &[(i64, DocumentItem)],
        targets: &[Target],
    ) -> anyhow::Result<()> {
        if self.missed {
            return Ok(());
        }
        let keys: Vec<(i64, String)> = targets.iter().map(|t| t.key.clone()).collect();
        if let Some(guard) = &self.guard {
            // The codes listed alone and those inside packages (which move
            // code by code only when their package cannot move whole), with
            // their events or without.
            let (alone, inside): (Vec<&Target>, Vec<&Target>) =
                targets.iter().partition(|t| !t.inside);
            let mut moved = 0;
            for (part, own_events) in [(alone, !self.by_document), (inside, true)] {
                let keys: Vec<(i64, String)> = part.iter().map(|t| t.key.clone()).collect();
                moved += tx
                    .move_kept(
                        &keys,
                        self.doc.sender,
                        guard.new_owner,
                        &guard.kept,
                        guard.operation,
                        own_events.then_some((&self.source, Some(self.actor))),
                    )
                    .await?;
            }
            // The state stays, so no card changes: none to invalidate.
            self.moved += moved;
            self.missed = moved < keys.len();
            return Ok(());
        }
        let rows = tx.lock_codes(&keys, self.doc.id, self.doc.sender).await?;
        // An aggregation's codes listed alone, with the package each goes
        // into.
        let mut packed: Vec<(i64, &str, &str)> = Vec::new();
        let mut moves = Vec::with_capacity(targets.len());
        let mut identities = Vec::with_capacity(targets.len());
        for (t, row) in targets.iter().zip(rows) {
            let (n, item) = &page[t.at];
            let n = usize::try_from(*n)?;
            let refuse = |error: &str, message: &str, mut args: BTreeMap<String, String>| {
                if t.inside {
                    args.insert("unit".to_owned(), t.code.human_readable());
                }
                item_error(n, item, error, message.to_owned(), args)
            };
            let Some(row) = row else {
                self.errors.push(refuse(
                    "code_not_found",
                    "document-code-not-found",
                    BTreeMap::new(),
                ));
                continue;
            };
            if let Packages::Pack(packing) = &self.packages
                && !t.inside
                && let Some(package) = &row.package
            {
                self.errors.push(refuse(
                    "aggregation_in_two_packages",
                    "document-aggregation-in-two-packages",
                    BTreeMap::from([
                        ("package".to_owned(), package.clone()),
                        ("other".to_owned(), packing.into[n].as_str().to_owned()),
                    ]),
                ));
                continue;
            }
            if self.plan.alone_only
                && !t.inside
                && let Some(package) = &row.package
            {
                self.errors.push(refuse(
                    "code_in_package",
                    "document-code-in-package",
                    BTreeMap::from([("package".to_owned(), package.clone())]),
                ));
                continue;
            }
            if row.owner != self.doc.sender {
                self.errors.push(refuse(
                    "code_not_owned",
                    "document-code-not-owned",
                    BTreeMap::new(),
                ));
                continue;
            }
            if let Some(other) = row.pending {
                self.errors.push(refuse(
                    "code_in_pending_shipment",
                    "document-code-in-pending-shipment",
                    BTreeMap::from([("document".to_owned(), other.to_string())]),
                ));
                continue;
            }
            let mut state = row.state;
            let mut steps = Vec::with_capacity(self.plan.operations.len());
            let mut refused = None;
            for &operation in self.plan.operations {
                match transition(state, operation) {
                    Ok(next) => {
                        state = next;
                        steps.push((operation, next));
                    }
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = refused {
                let key = format!("lifecycle-{}", e.code().replace('_', "-"));
                self.errors.push(refuse(e.code(), &key, BTreeMap::new()));
                continue;
            }
            if let Packages::Pack(packing) = &mut self.packages {
                let into = packing.into[n];
                packing
                    .statuses
                    .entry(package_key(into))
                    .or_default()
                    .insert(state.status.name());
                if !t.inside {
                    packed.push((t.key.0, t.key.1.as_str(), into.as_str()));
                }
            }
            moves.push(Move {
                gtin: t.key.0,
                serial: t.key.1.clone(),
                steps,
                changed: state != row.state,
                events: t.inside || !self.by_document,
            });
            // A card shows the state and the dates of the steps that
            // change it: only a code whose state changes has a stale one.
            if state != row.state {
                identities.push(t.code.identity());
            }
        }
        if self.plan.lenient || self.errors.is_empty() {
            tx.write_moves(&moves, self.plan.new_owner, &self.source, Some(self.actor))
                .await?;
            tx.pack_codes(&packed).await?;
            self.moved += moves.len();
            for identity in &identities {
                self.touched.push(identity);
            }
        }
        Ok(())
    }
}

/// The key a code's row is stored and locked by.
fn key_of(code: &MarkingCode) -> anyhow::Result<(i64, String)> {
    Ok((
        code.gtin().as_str().parse()?,
        code.serial().as_str().to_owned(),
    ))
}

/// Checks and applies one document `IN_PROGRESS` (see the module docs).
/// Does nothing to a document that is not (any more) `IN_PROGRESS`.
#[tracing::instrument(skip(store, cards))]
pub async fn process(store: &Store, cards: &CardCache, id: DocumentId) -> anyhow::Result<()> {
    let Some(doc) = store.document(id).await? else {
        return Ok(());
    };
    if doc.status != DocumentStatus::InProgress {
        return Ok(());
    }
    let operation = action_of(doc.kind, &doc.fields)?.operation();
    let sender = doc.sender.to_string();

    let mut tx = store.begin().await?;
    match tx.document_for_update(id).await? {
        Some(d) if d.status == DocumentStatus::InProgress => {}
        _ => return tx.rollback().await,
    }
    // A code (or package) a waiting shipment holds is found through the
    // sender's shipments waiting for a buyer, read before the codes are
    // locked. A shipment's check writes no code row, so locking a code does
    // not wait for another check of the same code to be seen: two service
    // instances checking two of a sender's documents at once could both
    // pass the same code. Only the sender's own shipments hold the codes
    // it may move, so its documents are checked one at a time.
    tx.hold_sender(doc.sender).await?;
    let moved = match doc.kind {
        DocumentKind::Aggregation => aggregate(&mut tx, store, &doc, &sender).await?,
        DocumentKind::Disaggregation => disaggregate(&mut tx, store, &doc, &sender).await?,
        kind => {
            // Nothing emitted is ever packed (packing needs an applied
            // code), so an application lists unit codes only.
            let plan = Plan {
                operations: &[operation],
                new_owner: None,
                alone_only: true,
                units_only: kind == DocumentKind::Application,
                lenient: false,
                optimistic: false,
            };
            move_document(&mut tx, store, &doc, plan, &sender)
                .await?
                .ok_or_else(|| anyhow::anyhow!("a plan that is not optimistic missed"))?
        }
    };
    let Moved {
        touched,
        codes,
        mut errors,
    } = moved;
    let mut audit = AuditEntry::new("document.check");
    audit.actor = Some(sender);
    audit.object = Some(id.to_string());

    if errors.is_empty() {
        let next = document_step(doc.kind, doc.status, DocumentStep::Passed)?;
        tx.set_document_status(id, next).await?;
        audit.detail = json!({"kind": doc.kind.as_str(), "status": next.as_str(), "codes": codes});
        tx.audit(audit).await?;
        tx.commit().await?;
        // After the commit, never before: a scan in between reloads the
        // committed state.
        cards.invalidate_many(&touched).await;
        tracing::info!(document = %id, status = next.as_str(), codes, "document applied");
        return Ok(());
    }

    // All or nothing: every code moved so far goes back.
    tx.rollback().await?;
    // By position; the errors about a package as a whole (no position) last.
    errors.sort_by_key(|e| (e.item.is_none(), e.item));
    let mut tx = store.begin().await?;
    match tx.document_for_update(id).await? {
        Some(d) if d.status == DocumentStatus::InProgress => {}
        _ => return tx.rollback().await,
    }
    let next = document_step(doc.kind, doc.status, DocumentStep::Failed)?;
    tx.set_document_errors(id, &errors).await?;
    tx.set_document_status(id, next).await?;
    audit.outcome = Outcome::Refused("document_checked_not_ok".to_owned());
    audit.detail =
        json!({"kind": doc.kind.as_str(), "status": next.as_str(), "errors": errors.len()});
    tx.audit(audit).await?;
    tx.commit().await?;
    tracing::info!(document = %id, errors = errors.len(), "document refused");
    Ok(())
}

/// The packages of an aggregation as stored in its fields: each SSCC with
/// how many of the document's items, in order, are its members.
fn packages_of(doc: &Document) -> anyhow::Result<Vec<(Sscc, usize)>> {
    let list = doc
        .fields
        .get("packages")
        .and_then(|p| p.as_array())
        .ok_or_else(|| anyhow::anyhow!("aggregation {} without packages", doc.id))?;
    list.iter()
        .map(|p| {
            let sscc = p.get("sscc").and_then(|s| s.as_str()).unwrap_or_default();
            let count = p.get("members").and_then(|m| m.as_u64()).unwrap_or(0);
            Ok((
                Sscc::parse(sscc).map_err(|e| anyhow::anyhow!("stored SSCC {sscc:?}: {e}"))?,
                usize::try_from(count)?,
            ))
        })
        .collect()
}

/// The key of a member in [`check_aggregation`]: a code's identity or an
/// SSCC's element string (`00…`), which never look alike.
fn package_key(sscc: &Sscc) -> String {
    sscc.element_string()
}

/// Checks an aggregation and, when nothing is wrong, packs it: every member
/// code is the sender's, in no package yet, and passes `Aggregate` (an event
/// on each, and on every code inside a member package); member packages are
/// stored and the sender's; each new SSCC is new; nothing ends up inside
/// itself; and all the codes of a package, at every depth, share one status.
/// The members are read, checked and packed a chunk at a time, as a
/// shipment's codes are ([`Moving`]); the new packages are stored first so
/// the codes can go into them, and everything is rolled back by the caller
/// when anything is refused. Returns the codes touched and every refusal.
async fn aggregate(
    tx: &mut Tx,
    store: &Store,
    doc: &Document,
    actor: &str,
) -> anyhow::Result<Moved> {
    let packages = packages_of(doc)?;
    let mut errors = Vec::new();
    let mut new: HashSet<String> = HashSet::new();
    for (sscc, _) in &packages {
        if !new.insert(package_key(sscc)) {
            errors.push(package_error(
                sscc,
                "package_duplicate",
                "document-package-duplicate",
                BTreeMap::new(),
            ));
            continue;
        }
        if tx.lock_package(sscc).await?.is_some() {
            errors.push(package_error(
                sscc,
                "package_exists",
                "document-package-exists",
                BTreeMap::new(),
            ));
        }
    }
    if errors.is_empty() {
        for (sscc, _) in &packages {
            tx.insert_package(sscc, doc.sender, doc.id).await?;
        }
    }
    let mut into: Vec<&Sscc> = Vec::new();
    for (sscc, count) in &packages {
        into.extend(std::iter::repeat_n(sscc, *count));
    }
    let items = store.document_item_count(doc.id).await?;
    anyhow::ensure!(
        i64::try_from(into.len())? == items,
        "aggregation {}: {} members stored for {items} items",
        doc.id,
        into.len(),
    );
    let packing = Packing {
        into,
        new,
        members: Vec::new(),
        pairs: Vec::new(),
        existing: HashMap::new(),
        statuses: HashMap::new(),
    };
    let plan = Plan {
        operations: &[Operation::Aggregate],
        new_owner: None,
        alone_only: false,
        units_only: false,
        lenient: false,
        optimistic: false,
    };
    let mut moving = Moving::new(doc, plan, actor, Packages::Pack(Box::new(packing)));
    moving.errors = errors;
    moving.all(tx, store).await?;
    let Moving {
        mut errors,
        touched,
        moved,
        packages: Packages::Pack(packing),
        ..
    } = moving
    else {
        anyhow::bail!("an aggregation that does not pack");
    };

    let display = |key: &str| key.strip_prefix("00").unwrap_or(key).to_owned();
    let at: HashMap<String, (usize, &DocumentItem)> = packing
        .members
        .iter()
        .map(|(n, sscc, item)| (package_key(sscc), (*n, item)))
        .collect();
    for e in check_aggregation(&packing.existing, &packing.pairs) {
        match e {
            AggregationError::InTwoPackages {
                member,
                package,
                other,
            } => {
                let Some(&(n, item)) = at.get(&member) else {
                    anyhow::bail!("aggregation {}: {member} not listed", doc.id);
                };
                errors.push(item_error(
                    n,
                    item,
                    "aggregation_in_two_packages",
                    "document-aggregation-in-two-packages".to_owned(),
                    BTreeMap::from([
                        ("package".to_owned(), display(&package)),
                        ("other".to_owned(), display(&other)),
                    ]),
                ));
            }
            AggregationError::Cycle { package, path } => {
                let path: Vec<String> = path.iter().map(|p| display(p)).collect();
                errors.push(DocumentError {
                    item: None,
                    code: Some(display(&package)),
                    error: "aggregation_cycle".to_owned(),
                    message: "document-aggregation-cycle".to_owned(),
                    args: BTreeMap::from([("path".to_owned(), path.join(" → "))]),
                });
            }
        }
    }

    // One status in each new package, through the new packages inside it.
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (p, member) in &packing.pairs {
        children.entry(p).or_default().push(member);
    }
    for (sscc, _) in &packages {
        let mut names: BTreeSet<&'static str> = BTreeSet::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let start = package_key(sscc);
        let mut stack = vec![start.as_str()];
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            names.extend(packing.statuses.get(p).into_iter().flatten());
            stack.extend(children.get(p).into_iter().flatten());
        }
        if names.len() > 1 {
            let list: Vec<&str> = names.into_iter().collect();
            errors.push(package_error(
                sscc,
                "aggregation_mixed_statuses",
                "document-aggregation-mixed-statuses",
                BTreeMap::from([("statuses".to_owned(), list.join(", "))]),
            ));
        }
    }

    if errors.is_empty() {
        for (n, sscc, _) in &packing.members {
            tx.set_package_parent(sscc, packing.into[*n]).await?;
        }
    }
    Ok(Moved {
        codes: moved,
        touched,
        errors,
    })
}

/// Checks a disaggregation and, when nothing is wrong, dissolves each
/// package one level: every code directly in it passes the lifecycle's
/// `Disaggregate` step (its event is caused by this document), the packages
/// directly in it stand alone, and the package is removed. A package inside
/// another is refused: dissolve the outer one first, so no code is ever
/// left in a package with a different owner or status. The codes are
/// checked and written a chunk at a time ([`Moving`]).
async fn disaggregate(
    tx: &mut Tx,
    store: &Store,
    doc: &Document,
    actor: &str,
) -> anyhow::Result<Moved> {
    let plan = Plan {
        operations: &[Operation::Disaggregate],
        new_owner: None,
        alone_only: false,
        units_only: false,
        lenient: false,
        optimistic: false,
    };
    let mut moving = Moving::new(doc, plan, actor, Packages::Unpack(Vec::new()));
    moving.all(tx, store).await?;
    let Moving {
        errors,
        touched,
        moved,
        packages: Packages::Unpack(dissolved),
        ..
    } = moving
    else {
        anyhow::bail!("a disaggregation that does not unpack");
    };
    if errors.is_empty() {
        for sscc in &dissolved {
            tx.dissolve_package(sscc).await?;
        }
    }
    Ok(Moved {
        codes: moved,
        touched,
        errors,
    })
}

/// What came of an answer to a shipment.
#[derive(Debug)]
pub enum Settled {
    /// The document moved; here it is with its new status, and the answer
    /// stored for its `Idempotency-Key`.
    Moved(Document, String),
    /// The same `Idempotency-Key` was answered meanwhile by a concurrent
    /// retry: nothing moved here; replay the stored answer.
    Raced,
    /// The document's status does not allow the step.
    Step(DocumentStepError),
    /// Acceptance refused: these codes cannot move (e.g. one was blocked by
    /// an inspector meanwhile). Nothing moved; the errors are stored on the
    /// document, which still waits.
    Refused(Vec<DocumentError>),
    /// No such document.
    Gone,
}

/// The buyer accepts or rejects a shipment, or the seller cancels it: the
/// document's step through `document_step`, and for an acceptance every
/// code's `Accept` step through the lifecycle and its new owner, all in one
/// transaction with `audit` and the answer to `idem`. The caller has
/// checked who may take `step`.
#[tracing::instrument(skip(store, cards, audit, idem))]
pub async fn settle(
    store: &Store,
    cards: &CardCache,
    id: DocumentId,
    step: DocumentStep,
    actor: &str,
    audit: AuditEntry,
    idem: &Idempotency,
) -> anyhow::Result<Settled> {
    let settling = Settling {
        store,
        cards,
        id,
        step,
        actor,
        idem,
    };
    // An acceptance first moves each chunk with one guarded write; if a
    // code is not as it was shipped (blocked, withdrawn, gone), it starts
    // over and looks at each code, to list every refusal.
    if step == DocumentStep::Accept
        && let Some(settled) = settling.attempt(audit.clone(), true).await?
    {
        return Ok(settled);
    }
    settling
        .attempt(audit, false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a plan that is not optimistic missed"))
}

/// One answer to a shipment being taken ([`settle`]).
struct Settling<'a> {
    store: &'a Store,
    cards: &'a CardCache,
    id: DocumentId,
    step: DocumentStep,
    actor: &'a str,
    idem: &'a Idempotency,
}

impl Settling<'_> {
    /// One transaction of [`settle`]; `None` when `optimistic` and a code
    /// was not as shipped (rolled back: try again, looking at each code).
    async fn attempt(
        &self,
        mut audit: AuditEntry,
        optimistic: bool,
    ) -> anyhow::Result<Option<Settled>> {
        let Settling {
            store,
            cards,
            id,
            step,
            actor,
            idem,
        } = *self;
        let mut tx = store.begin().await?;
        let Some(doc) = tx.document_for_update(id).await? else {
            tx.rollback().await?;
            return Ok(Some(Settled::Gone));
        };
        let next = match document_step(doc.kind, doc.status, step) {
            Ok(next) => next,
            Err(e) => {
                tx.rollback().await?;
                return Ok(Some(Settled::Step(e)));
            }
        };
        // Acceptance moves every code to the buyer; a rejection or a
        // cancellation moves nothing but records `cancel_shipment` in each
        // code's history, so it does not end at `ship` (a refusal there would
        // change nothing, so it is dropped).
        let receiver = doc
            .receiver
            .ok_or_else(|| anyhow::anyhow!("shipment {id} has no receiver"))?;
        let plan = match step {
            DocumentStep::Accept => Plan {
                operations: &[Operation::Accept],
                new_owner: Some(receiver),
                alone_only: false,
                units_only: false,
                lenient: false,
                optimistic,
            },
            _ => Plan {
                operations: &[Operation::CancelShipment],
                new_owner: None,
                alone_only: false,
                units_only: false,
                lenient: true,
                optimistic: false,
            },
        };
        // Codes listed alone were checked to be in no package when shipped,
        // and a code waiting in a shipment cannot be packed since.
        let moving = move_document(&mut tx, store, &doc, plan, actor).await?;
        let Some(Moved {
            touched,
            codes,
            mut errors,
        }) = moving.filter(|m| !optimistic || m.errors.is_empty())
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        if step == DocumentStep::Accept {
            if !errors.is_empty() {
                tx.rollback().await?;
                errors.sort_by_key(|e| (e.item.is_none(), e.item));
                let mut tx = store.begin().await?;
                tx.set_document_errors(id, &errors).await?;
                audit.outcome = Outcome::Refused("document_accept_refused".to_owned());
                audit.detail = json!({"errors": errors.len()});
                tx.audit(audit).await?;
                tx.commit().await?;
                return Ok(Some(Settled::Refused(errors)));
            }
            tx.set_document_errors(id, &[]).await?;
        }
        tx.set_document_status(id, next).await?;
        audit.detail = json!({"from": doc.status.as_str(), "to": next.as_str(), "codes": codes});
        tx.audit(audit).await?;
        let doc = Document {
            status: next,
            ..doc
        };
        let answer = summary(&doc).to_string();
        if idem.save(&mut tx, actor, 200, &answer).await.is_err() {
            tx.rollback().await?;
            return Ok(Some(Settled::Raced));
        }
        tx.commit().await?;
        if step == DocumentStep::Accept {
            cards.invalidate_many(&touched).await;
        }
        Ok(Some(Settled::Moved(doc, answer)))
    }
}
