//! The document worker: checks every code of a received document against
//! storage and applies the document, all or nothing; and the buyer's or
//! seller's answer to a shipment ([`settle`]).
//!
//! A document is processed in one transaction: its row is locked and its
//! status re-read (another worker may have been first), then each distinct
//! code is locked, its owner compared with the sender, its absence from any
//! shipment waiting for a buyer checked, and its step run through
//! `Tx::apply_operations` (which runs `lifecycle::transition` and appends the
//! code's event, caused by this document). Every refusal is collected. If
//! there is none, the document moves on (`CHECKED_OK`, or `WAIT_ACCEPTANCE`
//! for a shipment) and the transaction commits; otherwise it rolls back, so
//! no code moved, and a second transaction stores every error and
//! `CHECKED_NOT_OK`. Cached cards are invalidated after the commit.
//!
//! The worker wakes when a document arrives and every few seconds, so a
//! document left `IN_PROGRESS` by a crash or a stop is processed after a
//! restart. Redoing is safe: the apply is one transaction, so a document is
//! either wholly applied (and no longer `IN_PROGRESS`) or not at all.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tanba_core::document::{DocumentStatus, DocumentStep, DocumentStepError, document_step};
use tanba_core::lifecycle::Operation;
use tanba_core::{MarkingCode, ScannedCode};
use tokio::sync::Notify;

use super::{action_of, summary};
use crate::cache::CardCache;
use crate::idempotency::Idempotency;
use crate::ids::{DocumentId, ParticipantId};
use crate::store::{
    AuditEntry, Document, DocumentError, DocumentItem, EventSource, Outcome, Store, Tx,
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

/// Parses every code and finds those listed twice: the codes to move (each
/// once, with its first position) and the errors so far.
fn parse_items(items: &[DocumentItem]) -> (Vec<(usize, MarkingCode)>, Vec<DocumentError>) {
    let mut codes = Vec::new();
    let mut errors = Vec::new();
    let mut first: HashMap<String, usize> = HashMap::new();
    for (n, item) in items.iter().enumerate() {
        match tanba_core::parse(&item.code) {
            Ok(ScannedCode::Unit(code)) => match first.get(&code.identity()) {
                Some(&at) => errors.push(item_error(
                    n,
                    item,
                    "code_duplicate",
                    "document-code-duplicate".to_owned(),
                    BTreeMap::from([("first".to_owned(), (at + 1).to_string())]),
                )),
                None => {
                    first.insert(code.identity(), n);
                    codes.push((n, code));
                }
            },
            Ok(ScannedCode::Sscc(_)) => errors.push(item_error(
                n,
                item,
                "code_not_a_unit",
                "document-code-not-a-unit".to_owned(),
                BTreeMap::new(),
            )),
            Err(e) => {
                let mut args: BTreeMap<String, String> = e
                    .args()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                args.insert("parse_error".to_owned(), e.kind.code().to_owned());
                errors.push(item_error(
                    n,
                    item,
                    "code_malformed",
                    e.kind.message_key(),
                    args,
                ));
            }
        }
    }
    (codes, errors)
}

/// The codes in the order of their key, which is the order their rows are
/// locked in: two transactions that share codes then wait for each other
/// instead of deadlocking.
fn in_key_order(codes: &[(usize, MarkingCode)]) -> Vec<&(usize, MarkingCode)> {
    let mut ordered: Vec<&(usize, MarkingCode)> = codes.iter().collect();
    ordered.sort_by(|(_, a), (_, b)| (a.gtin(), a.serial()).cmp(&(b.gtin(), b.serial())));
    ordered
}

/// Moves one code of `doc` by `operations`, or says why not: the code must
/// be stored, be the sender's, and be in no other shipment waiting for its
/// buyer, and every step must pass the lifecycle. With `new_owner`, the
/// code then belongs to it.
async fn move_code(
    tx: &mut Tx,
    doc: &Document,
    (n, item): (usize, &DocumentItem),
    code: &MarkingCode,
    operations: &[Operation],
    actor: &str,
    new_owner: Option<ParticipantId>,
) -> anyhow::Result<Option<DocumentError>> {
    let (gtin, serial) = (code.gtin(), code.serial());
    let refused = |error: &str, message: &str, args: BTreeMap<String, String>| {
        Some(item_error(n, item, error, message.to_owned(), args))
    };
    match tx.lock_code_owner(gtin, serial).await? {
        None => {
            return Ok(refused(
                "code_not_found",
                "document-code-not-found",
                BTreeMap::new(),
            ));
        }
        Some(owner) if owner != doc.sender => {
            return Ok(refused(
                "code_not_owned",
                "document-code-not-owned",
                BTreeMap::new(),
            ));
        }
        Some(_) => {}
    }
    if let Some(other) = tx.pending_shipment_with(gtin, serial, doc.id).await? {
        return Ok(refused(
            "code_in_pending_shipment",
            "document-code-in-pending-shipment",
            BTreeMap::from([("document".to_owned(), other.to_string())]),
        ));
    }
    let source = EventSource::document(doc.id.to_string());
    match tx
        .apply_operations(gtin, serial, operations, &source, Some(actor))
        .await?
    {
        Ok(_) => {
            if let Some(owner) = new_owner {
                tx.set_code_owner(gtin, serial, owner).await?;
            }
            Ok(None)
        }
        Err(refusal) => {
            let key = format!("lifecycle-{}", refusal.code().replace('_', "-"));
            Ok(Some(item_error(
                n,
                item,
                refusal.code(),
                key,
                BTreeMap::new(),
            )))
        }
    }
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
    let items = store.document_items(id).await?;
    let operation = action_of(doc.kind, &doc.fields)?.operation();
    let (codes, mut errors) = parse_items(&items);
    let sender = doc.sender.to_string();

    let mut tx = store.begin().await?;
    match tx.document_for_update(id).await? {
        Some(d) if d.status == DocumentStatus::InProgress => {}
        _ => return tx.rollback().await,
    }
    for (n, code) in in_key_order(&codes) {
        let refused = move_code(
            &mut tx,
            &doc,
            (*n, &items[*n]),
            code,
            &[operation],
            &sender,
            None,
        )
        .await?;
        errors.extend(refused);
    }
    let mut audit = AuditEntry::new("document.check");
    audit.actor = Some(sender);
    audit.object = Some(id.to_string());

    if errors.is_empty() {
        let next = document_step(doc.kind, doc.status, DocumentStep::Passed)?;
        tx.set_document_status(id, next).await?;
        audit.detail =
            json!({"kind": doc.kind.as_str(), "status": next.as_str(), "codes": codes.len()});
        tx.audit(audit).await?;
        tx.commit().await?;
        // After the commit, never before: a scan in between reloads the
        // committed state.
        for (_, code) in &codes {
            cards.invalidate(&code.identity()).await;
        }
        tracing::info!(document = %id, status = next.as_str(), codes = codes.len(), "document applied");
        return Ok(());
    }

    // All or nothing: every code moved so far goes back.
    tx.rollback().await?;
    errors.sort_by_key(|e| e.item);
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
    mut audit: AuditEntry,
    idem: &Idempotency,
) -> anyhow::Result<Settled> {
    let items = store.document_items(id).await?;
    let mut tx = store.begin().await?;
    let Some(doc) = tx.document_for_update(id).await? else {
        tx.rollback().await?;
        return Ok(Settled::Gone);
    };
    let next = match document_step(doc.kind, doc.status, step) {
        Ok(next) => next,
        Err(e) => {
            tx.rollback().await?;
            return Ok(Settled::Step(e));
        }
    };
    let mut moved = Vec::new();
    if step == DocumentStep::Accept {
        let receiver = doc
            .receiver
            .ok_or_else(|| anyhow::anyhow!("shipment {id} has no receiver"))?;
        let (codes, mut errors) = parse_items(&items);
        for (n, code) in in_key_order(&codes) {
            let refused = move_code(
                &mut tx,
                &doc,
                (*n, &items[*n]),
                code,
                &[Operation::Accept],
                actor,
                Some(receiver),
            )
            .await?;
            match refused {
                Some(e) => errors.push(e),
                None => moved.push(code.identity()),
            }
        }
        if !errors.is_empty() {
            tx.rollback().await?;
            errors.sort_by_key(|e| e.item);
            let mut tx = store.begin().await?;
            tx.set_document_errors(id, &errors).await?;
            audit.outcome = Outcome::Refused("document_accept_refused".to_owned());
            audit.detail = json!({"errors": errors.len()});
            tx.audit(audit).await?;
            tx.commit().await?;
            return Ok(Settled::Refused(errors));
        }
        tx.set_document_errors(id, &[]).await?;
    }
    tx.set_document_status(id, next).await?;
    audit.detail = json!({"from": doc.status.as_str(), "to": next.as_str(), "codes": moved.len()});
    tx.audit(audit).await?;
    let doc = Document {
        status: next,
        ..doc
    };
    let answer = summary(&doc).to_string();
    if idem.save(&mut tx, actor, 200, &answer).await.is_err() {
        tx.rollback().await?;
        return Ok(Settled::Raced);
    }
    tx.commit().await?;
    for identity in &moved {
        cards.invalidate(identity).await;
    }
    Ok(Settled::Moved(doc, answer))
}
