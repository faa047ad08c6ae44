//! Documents: what a participant signs to move codes through their life.
//!
//! Pure, like the rest of `core`: the kinds of document and the lifecycle
//! operation each applies to its codes, the document's own statuses and the
//! moves between them, and the checks that need nothing stored: a code listed
//! twice, and the shape of an aggregation (a member in two packages, a
//! package inside itself). Checks that need storage (owner, current status,
//! whether an SSCC exists) run in the service, through
//! [`crate::lifecycle::transition`] for every code.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::lifecycle::{Operation, WithdrawalReason, WriteOffReason};

/// What a document does. Emission orders are their own flow (they create
/// codes rather than move them) and are not listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Application report: codes printed and put on products.
    Application,
    /// Introduction into circulation: local production or import.
    Introduction,
    /// Units (or packages) packed into a package.
    Aggregation,
    /// A package unpacked: its members stand alone again.
    Disaggregation,
    /// Ownership transfer: seller ships, buyer accepts or rejects.
    Shipment,
    /// Withdrawal from circulation, with a reason.
    Withdrawal,
    /// A retail return: a sold code back into circulation.
    Return,
    /// Write-off of codes that never reached circulation.
    WriteOff,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 8] = [
        Self::Application,
        Self::Introduction,
        Self::Aggregation,
        Self::Disaggregation,
        Self::Shipment,
        Self::Withdrawal,
        Self::Return,
        Self::WriteOff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Introduction => "introduction",
            Self::Aggregation => "aggregation",
            Self::Disaggregation => "disaggregation",
            Self::Shipment => "shipment",
            Self::Withdrawal => "withdrawal",
            Self::Return => "return",
            Self::WriteOff => "write_off",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the document stops at `WAIT_ACCEPTANCE` until a second
    /// participant answers it.
    pub fn needs_acceptance(self) -> bool {
        self == Self::Shipment
    }
}

/// What one document does to each of its codes: the kind with the reason
/// the kind needs. [`Action::operation`] is what the service runs through
/// [`crate::lifecycle::transition`] for every code (and, for a package,
/// every code inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Apply,
    Introduce,
    Aggregate,
    Disaggregate,
    Ship,
    Withdraw(WithdrawalReason),
    Return,
    WriteOff(WriteOffReason),
}

impl Action {
    pub fn kind(self) -> DocumentKind {
        match self {
            Self::Apply => DocumentKind::Application,
            Self::Introduce => DocumentKind::Introduction,
            Self::Aggregate => DocumentKind::Aggregation,
            Self::Disaggregate => DocumentKind::Disaggregation,
            Self::Ship => DocumentKind::Shipment,
            Self::Withdraw(_) => DocumentKind::Withdrawal,
            Self::Return => DocumentKind::Return,
            Self::WriteOff(_) => DocumentKind::WriteOff,
        }
    }

    /// The lifecycle operation for each code. Packing and unpacking follow
    /// the same rule (only applied or introduced codes may be in a package)
    /// but are told apart in the code's history.
    pub fn operation(self) -> Operation {
        match self {
            Self::Apply => Operation::Apply,
            Self::Introduce => Operation::Introduce,
            Self::Aggregate => Operation::Aggregate,
            Self::Disaggregate => Operation::Disaggregate,
            Self::Ship => Operation::Ship,
            Self::Withdraw(reason) => Operation::Withdraw(reason),
            Self::Return => Operation::Return,
            Self::WriteOff(reason) => Operation::WriteOff(reason),
        }
    }
}

/// Where a document is. Stored as its name (`IN_PROGRESS`, …), the same
/// names the reference systems of the region use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentStatus {
    /// Received and signed; being checked and applied.
    InProgress,
    /// Checked and applied: every code moved.
    CheckedOk,
    /// Refused: no code moved; the errors say which code and why.
    CheckedNotOk,
    /// A shipment checked and waiting for the buyer: codes are reserved.
    WaitAcceptance,
    /// The buyer accepted: ownership moved.
    Accepted,
    /// The seller withdrew it or the buyer rejected it before acceptance:
    /// codes stay with the seller.
    Cancelled,
}

impl DocumentStatus {
    pub const ALL: [DocumentStatus; 6] = [
        Self::InProgress,
        Self::CheckedOk,
        Self::CheckedNotOk,
        Self::WaitAcceptance,
        Self::Accepted,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::CheckedOk => "CHECKED_OK",
            Self::CheckedNotOk => "CHECKED_NOT_OK",
            Self::WaitAcceptance => "WAIT_ACCEPTANCE",
            Self::Accepted => "ACCEPTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentStatus> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether nothing can happen to the document any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::CheckedOk | Self::CheckedNotOk | Self::Accepted | Self::Cancelled
        )
    }
}

/// What happens to a document after it is received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentStep {
    /// Every check passed and the codes moved (or, for a shipment, were
    /// reserved for the buyer).
    Passed,
    /// At least one check failed: nothing moved.
    Failed,
    /// The buyer accepts a shipment.
    Accept,
    /// The buyer rejects a shipment.
    Reject,
    /// The seller withdraws a shipment before the buyer answered.
    Cancel,
}

/// A step the document's status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a document in {} cannot take the step {step:?}", from.as_str())]
pub struct DocumentStepError {
    pub from: DocumentStatus,
    pub step: DocumentStep,
}

impl DocumentStepError {
    /// The stable machine code of the refusal.
    pub fn code(&self) -> &'static str {
        match self.from {
            DocumentStatus::InProgress => "document_in_progress",
            DocumentStatus::WaitAcceptance => "document_waits_acceptance",
            DocumentStatus::CheckedOk
            | DocumentStatus::CheckedNotOk
            | DocumentStatus::Accepted
            | DocumentStatus::Cancelled => "document_final",
        }
    }
}

/// The document's next status.
///
/// | from | Passed | Failed | Accept | Reject | Cancel |
/// |---|---|---|---|---|---|
/// | IN_PROGRESS | CHECKED_OK, or WAIT_ACCEPTANCE for a shipment | CHECKED_NOT_OK | refused | refused | refused |
/// | WAIT_ACCEPTANCE | refused | refused | ACCEPTED | CANCELLED | CANCELLED |
/// | any final status | refused for every step |||||
pub fn document_step(
    kind: DocumentKind,
    from: DocumentStatus,
    step: DocumentStep,
) -> Result<DocumentStatus, DocumentStepError> {
    use DocumentStatus as S;
    use DocumentStep as D;
    match (from, step) {
        (S::InProgress, D::Passed) if kind.needs_acceptance() => Ok(S::WaitAcceptance),
        (S::InProgress, D::Passed) => Ok(S::CheckedOk),
        (S::InProgress, D::Failed) => Ok(S::CheckedNotOk),
        (S::WaitAcceptance, D::Accept) => Ok(S::Accepted),
        (S::WaitAcceptance, D::Reject | D::Cancel) => Ok(S::Cancelled),
        _ => Err(DocumentStepError { from, step }),
    }
}

/// Every item listed more than once, each named once, in the order its
/// second listing appears.
pub fn duplicates<K, I>(items: I) -> Vec<K>
where
    K: Eq + Hash + Clone,
    I: IntoIterator<Item = K>,
{
    let mut seen = HashSet::new();
    let mut reported = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        if !seen.insert(item.clone()) && reported.insert(item.clone()) {
            out.push(item);
        }
    }
    out
}

/// Why an aggregation's shape is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AggregationError<K> {
    /// `member` is put into `package` and also into `other`.
    InTwoPackages { member: K, package: K, other: K },
    /// `package` would end up inside itself, through the packages listed
    /// (from `package` outwards, ending with `package` again).
    Cycle { package: K, path: Vec<K> },
}

impl<K> AggregationError<K> {
    /// The stable machine code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InTwoPackages { .. } => "aggregation_in_two_packages",
            Self::Cycle { .. } => "aggregation_cycle",
        }
    }
}

/// Checks the containment of an aggregation: `existing` is what storage
/// already holds (member → its package) for the items concerned, `new` the
/// (package, member) pairs of the document. A member may sit in one package
/// only, and no package may end up inside itself at any depth. Every error
/// is returned, each cycle once.
pub fn check_aggregation<K>(existing: &HashMap<K, K>, new: &[(K, K)]) -> Vec<AggregationError<K>>
where
    K: Eq + Hash + Clone + Ord,
{
    let mut errors = Vec::new();
    let mut parent: HashMap<K, K> = existing.clone();
    let mut placed_here: HashMap<K, K> = HashMap::new();
    for (package, member) in new {
        if let Some(first) = placed_here.get(member) {
            if first != package {
                errors.push(AggregationError::InTwoPackages {
                    member: member.clone(),
                    package: first.clone(),
                    other: package.clone(),
                });
            }
            continue;
        }
        if let Some(old) = existing.get(member)
            && old != package
        {
            errors.push(AggregationError::InTwoPackages {
                member: member.clone(),
                package: old.clone(),
                other: package.clone(),
            });
            continue;
        }
        placed_here.insert(member.clone(), package.clone());
        parent.insert(member.clone(), package.clone());
    }
    // Walk up from every package of the document; a walk that returns to
    // its start is a cycle. Each cycle is reported once, from its smallest
    // package, so the answer does not depend on the listing order.
    let mut reported: HashSet<K> = HashSet::new();
    let mut starts: Vec<&K> = new.iter().map(|(p, _)| p).collect();
    starts.sort();
    starts.dedup();
    for start in starts {
        let mut path = vec![start.clone()];
        let mut seen: HashSet<&K> = HashSet::from([start]);
        let mut at = start;
        while let Some(up) = parent.get(at) {
            path.push(up.clone());
            if up == start {
                let smallest = path.iter().min().cloned().unwrap_or_else(|| start.clone());
                if smallest == *start && reported.insert(start.clone()) {
                    errors.push(AggregationError::Cycle {
                        package: start.clone(),
                        path,
                    });
                }
                break;
            }
            if !seen.insert(up) {
                // A cycle further up that does not pass through `start`: it
                // is reported from one of its own packages.
                break;
            }
            at = up;
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_read_back_from_their_names() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(kind.as_str()), Some(kind));
        }
        for status in DocumentStatus::ALL {
            assert_eq!(DocumentStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(DocumentKind::parse("emission"), None);
    }

    #[test]
    fn only_a_shipment_waits_for_acceptance() {
        for kind in DocumentKind::ALL {
            let after = document_step(kind, DocumentStatus::InProgress, DocumentStep::Passed);
            let expected = if kind == DocumentKind::Shipment {
                DocumentStatus::WaitAcceptance
            } else {
                DocumentStatus::CheckedOk
            };
            assert_eq!(after, Ok(expected), "{kind:?}");
        }
    }

    #[test]
    fn a_final_document_takes_no_step() {
        let steps = [
            DocumentStep::Passed,
            DocumentStep::Failed,
            DocumentStep::Accept,
            DocumentStep::Reject,
            DocumentStep::Cancel,
        ];
        for status in DocumentStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for step in steps {
                let err = document_step(DocumentKind::Shipment, status, step).unwrap_err();
                assert_eq!(err.code(), "document_final");
            }
        }
    }

    #[test]
    fn a_waiting_shipment_is_accepted_rejected_or_cancelled_and_nothing_else() {
        let wait = DocumentStatus::WaitAcceptance;
        let kind = DocumentKind::Shipment;
        assert_eq!(
            document_step(kind, wait, DocumentStep::Accept),
            Ok(DocumentStatus::Accepted)
        );
        assert_eq!(
            document_step(kind, wait, DocumentStep::Reject),
            Ok(DocumentStatus::Cancelled)
        );
        assert_eq!(
            document_step(kind, wait, DocumentStep::Cancel),
            Ok(DocumentStatus::Cancelled)
        );
        for step in [DocumentStep::Passed, DocumentStep::Failed] {
            assert_eq!(
                document_step(kind, wait, step).unwrap_err().code(),
                "document_waits_acceptance"
            );
        }
    }

    #[test]
    fn each_duplicate_is_named_once_in_order() {
        assert_eq!(duplicates(["a", "b", "a", "c", "b", "a"]), vec!["a", "b"]);
        assert!(duplicates(["a", "b", "c"]).is_empty());
    }

    #[test]
    fn every_action_checks_its_own_operation() {
        assert_eq!(Action::Apply.operation(), Operation::Apply);
        assert_eq!(Action::Disaggregate.operation(), Operation::Disaggregate);
        let reason = WithdrawalReason::ALL[0];
        assert_eq!(
            Action::Withdraw(reason).operation(),
            Operation::Withdraw(reason)
        );
        assert_eq!(Action::Withdraw(reason).kind(), DocumentKind::Withdrawal);
    }

    fn pairs(list: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        list.to_vec()
    }

    #[test]
    fn a_clean_tree_passes() {
        let new = pairs(&[
            ("pallet", "box1"),
            ("box1", "u1"),
            ("box1", "u2"),
            ("pallet", "box2"),
        ]);
        assert!(check_aggregation(&HashMap::new(), &new).is_empty());
    }

    #[test]
    fn a_member_in_two_packages_is_refused_once_with_both() {
        let new = pairs(&[("box1", "u1"), ("box2", "u1"), ("box1", "u1")]);
        assert_eq!(
            check_aggregation(&HashMap::new(), &new),
            vec![AggregationError::InTwoPackages {
                member: "u1",
                package: "box1",
                other: "box2"
            }]
        );
    }

    #[test]
    fn a_member_already_packed_elsewhere_is_refused() {
        let existing = HashMap::from([("u1", "box9")]);
        let errors = check_aggregation(&existing, &pairs(&[("box1", "u1")]));
        assert_eq!(errors[0].code(), "aggregation_in_two_packages");
    }

    #[test]
    fn a_package_inside_itself_is_a_cycle_reported_once() {
        let new = pairs(&[("a", "b"), ("b", "c"), ("c", "a")]);
        let errors = check_aggregation(&HashMap::new(), &new);
        assert_eq!(
            errors,
            vec![AggregationError::Cycle {
                package: "a",
                path: vec!["a", "c", "b", "a"]
            }]
        );
        assert_eq!(errors[0].code(), "aggregation_cycle");
    }

    #[test]
    fn a_cycle_through_stored_packages_is_found() {
        // Stored: pallet contains box. The document puts pallet into box.
        let existing = HashMap::from([("box", "pallet")]);
        let errors = check_aggregation(&existing, &pairs(&[("box", "pallet")]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code(), "aggregation_cycle");
    }

    #[test]
    fn a_package_inside_itself_directly_is_a_cycle() {
        let errors = check_aggregation(&HashMap::new(), &pairs(&[("a", "a")]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code(), "aggregation_cycle");
    }
}
