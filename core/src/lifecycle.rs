//! The life of a marking code: its statuses and the one function that moves a
//! code from one to the next.
//!
//! Statuses follow the regional reference systems (Chestny ZNAK's True API uses
//! the same names): `EMITTED` → `APPLIED` → `INTRODUCED` → `RETIRED` (with a
//! withdrawal reason), and `WRITTEN_OFF` for codes spoiled, lost or destroyed
//! before they reached circulation. An inspector can block a code; blocking is a
//! flag on top of the status, not a status.
//!
//! **Architecture invariant:** storage never writes a status that has not come
//! out of [`transition`]. The table in [`transition`] is the whole of the rules;
//! `tests/lifecycle.rs` checks every pair of (status, operation) against it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a code left circulation. Names follow the regional reference systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WithdrawalReason {
    /// Sold to a consumer through a cash register (fiscal receipt).
    Retail,
    /// Sold at retail outside the fiscal channel (remote sale).
    Distance,
    /// Exported to another EAEU member state.
    EecExport,
    /// Exported beyond the EAEU.
    BeyondEecExport,
    /// Used by the owner for its own needs.
    OwnUse,
    /// Given away free of charge.
    Donation,
    /// Delivered under a state contract.
    StateContract,
    /// Damaged or lost while in circulation.
    DamageLoss,
    /// Destroyed.
    Destruction,
    /// Confiscated by an authority.
    Confiscation,
    /// Found defective.
    Defect,
    /// Expired.
    Expiry,
}

impl WithdrawalReason {
    pub const ALL: [WithdrawalReason; 12] = [
        Self::Retail,
        Self::Distance,
        Self::EecExport,
        Self::BeyondEecExport,
        Self::OwnUse,
        Self::Donation,
        Self::StateContract,
        Self::DamageLoss,
        Self::Destruction,
        Self::Confiscation,
        Self::Defect,
        Self::Expiry,
    ];

    /// A sale to a consumer, which a retail return can undo.
    pub fn is_sale(self) -> bool {
        matches!(self, Self::Retail | Self::Distance)
    }

    /// Reasons that an authority may apply even to a blocked code.
    fn allowed_when_blocked(self) -> bool {
        matches!(self, Self::Confiscation | Self::Destruction)
    }
}

/// Why an unused code (never in circulation) was written off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WriteOffReason {
    /// The label was spoiled (misprint, failed grading).
    KmSpoiled,
    /// The label was lost.
    KmLost,
    /// The label was destroyed.
    KmDestroyed,
}

impl WriteOffReason {
    pub const ALL: [WriteOffReason; 3] = [Self::KmSpoiled, Self::KmLost, Self::KmDestroyed];
}

/// Where a code is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "status",
    content = "reason",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum Status {
    /// Issued to a participant, not yet on a product.
    Emitted,
    /// Printed and put on a product.
    Applied,
    /// In circulation, with an owner.
    Introduced,
    /// Out of circulation, with the reason.
    Retired(WithdrawalReason),
    /// Spoiled, lost or destroyed before circulation.
    WrittenOff(WriteOffReason),
}

impl Status {
    /// The status name without its reason, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Self::Emitted => "EMITTED",
            Self::Applied => "APPLIED",
            Self::Introduced => "INTRODUCED",
            Self::Retired(_) => "RETIRED",
            Self::WrittenOff(_) => "WRITTEN_OFF",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retired(r) => write!(f, "RETIRED({r:?})"),
            Self::WrittenOff(r) => write!(f, "WRITTEN_OFF({r:?})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A code's status together with its blocked flag: everything the transition
/// rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodeState {
    pub status: Status,
    pub blocked: bool,
}

impl CodeState {
    /// A freshly emitted code.
    pub const EMITTED: CodeState = CodeState {
        status: Status::Emitted,
        blocked: false,
    };

    pub fn new(status: Status) -> Self {
        Self {
            status,
            blocked: false,
        }
    }

    /// Every state a code can be in, each reason once, blocked and not.
    pub fn all() -> Vec<CodeState> {
        let mut statuses = vec![Status::Emitted, Status::Applied, Status::Introduced];
        statuses.extend(WithdrawalReason::ALL.map(Status::Retired));
        statuses.extend(WriteOffReason::ALL.map(Status::WrittenOff));
        statuses
            .into_iter()
            .flat_map(|status| [false, true].map(|blocked| CodeState { status, blocked }))
            .collect()
    }
}

/// The states from which `operation` is allowed, when it leaves every one
/// of them as it was (a shipment's `Ship` and `Accept`); `None` when it
/// changes some state. A store can then apply such an operation to many
/// codes with one guarded write: every code whose state is in the list
/// moves, and the rest are refused by [`transition`] on a second look.
pub fn kept_by(operation: Operation) -> Option<Vec<CodeState>> {
    let mut from = Vec::new();
    for state in CodeState::all() {
        match transition(state, operation) {
            Ok(next) if next == state => from.push(state),
            Ok(_) => return None,
            Err(_) => {}
        }
    }
    Some(from)
}

/// What a document or an authority does to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "operation", content = "reason", rename_all = "snake_case")]
pub enum Operation {
    /// Application report: the code was printed and put on a product.
    Apply,
    /// Introduction into circulation (local production or import).
    Introduce,
    /// Shipment to another owner (the status stays; ownership moves on acceptance).
    Ship,
    /// Acceptance of a shipment by the buyer.
    Accept,
    /// A shipment that did not happen: rejected by the buyer or cancelled by
    /// the seller. Nothing changes, whatever the code's state, blocked or
    /// not (an inspector may have acted meanwhile); the code's history says
    /// the goods did not go. Only a written-off code takes no more events.
    CancelShipment,
    /// Aggregation into a package.
    Aggregate,
    /// Disaggregation: the package around the code is dissolved. The same
    /// rule as aggregation (members of a package share one status).
    Disaggregate,
    /// Withdrawal from circulation, including a sale by fiscal receipt.
    Withdraw(WithdrawalReason),
    /// A retail return brings a sold code back into circulation.
    Return,
    /// Write-off of a code that never reached circulation.
    WriteOff(WriteOffReason),
    /// An inspector blocks the code: it can no longer be sold or moved.
    Block,
    /// An inspector lifts the block.
    Unblock,
}

impl Operation {
    /// Every operation, each reason once: what the exhaustive tests walk.
    pub fn all() -> Vec<Operation> {
        let mut ops = vec![
            Self::Apply,
            Self::Introduce,
            Self::Ship,
            Self::Accept,
            Self::CancelShipment,
            Self::Aggregate,
            Self::Disaggregate,
        ];
        ops.extend(WithdrawalReason::ALL.map(Self::Withdraw));
        ops.push(Self::Return);
        ops.extend(WriteOffReason::ALL.map(Self::WriteOff));
        ops.extend([Self::Block, Self::Unblock]);
        ops
    }
}

/// Why a transition was refused. Each variant has a stable machine code
/// ([`TransitionError::code`]) that the API returns and the locales translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the code is blocked by an inspector")]
    Blocked,
    #[error("the code is not blocked")]
    NotBlocked,
    #[error("the code is already blocked")]
    AlreadyBlocked,
    #[error("the code has not been applied to a product yet (status {0})")]
    NotApplied(Status),
    #[error("the code is already applied (status {0})")]
    AlreadyApplied(Status),
    #[error("the code is already in circulation (status {0})")]
    AlreadyIntroduced(Status),
    #[error("the code is not in circulation (status {0})")]
    NotInCirculation(Status),
    #[error("the code is already sold")]
    AlreadySold,
    #[error("the code is already out of circulation (status {0})")]
    AlreadyRetired(Status),
    #[error("the code was written off (status {0})")]
    WrittenOff(Status),
    #[error("only a code sold at retail can be returned (status {0})")]
    NotSold(Status),
    #[error("a code in circulation is withdrawn, not written off (status {0})")]
    InCirculation(Status),
}

impl TransitionError {
    /// Stable machine code, as on the wire and in `locales/*/lifecycle.ftl`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::NotBlocked => "not_blocked",
            Self::AlreadyBlocked => "already_blocked",
            Self::NotApplied(_) => "not_applied",
            Self::AlreadyApplied(_) => "already_applied",
            Self::AlreadyIntroduced(_) => "already_introduced",
            Self::NotInCirculation(_) => "not_in_circulation",
            Self::AlreadySold => "already_sold",
            Self::AlreadyRetired(_) => "already_retired",
            Self::WrittenOff(_) => "written_off",
            Self::NotSold(_) => "not_sold",
            Self::InCirculation(_) => "in_circulation",
        }
    }
}

/// The one place where a code's state changes.
///
/// The table, status by status (`-` keeps the status; a blocked code refuses
/// everything but `Unblock` and withdrawal for confiscation or destruction):
///
/// | from \ operation | Apply | Introduce | Ship, Accept, Aggregate | Withdraw(r) | Return | WriteOff(r) |
/// |---|---|---|---|---|---|---|
/// | EMITTED | APPLIED | refused: not applied | Aggregate refused, Ship/Accept refused: not in circulation | refused | refused | WRITTEN_OFF(r) |
/// | APPLIED | refused: already applied | INTRODUCED | Aggregate -, Ship/Accept refused | refused | refused | WRITTEN_OFF(r) |
/// | INTRODUCED | refused | refused: already introduced | - | RETIRED(r) | refused: not sold | refused: in circulation |
/// | RETIRED(sale) | refused | refused | refused: already sold | refused: already sold | INTRODUCED | refused |
/// | RETIRED(other) | refused | refused | refused | refused | refused: not sold | refused |
/// | WRITTEN_OFF | refused: written off, for every operation |||||
///
/// Aggregation is allowed for `APPLIED` and `INTRODUCED` codes only, as in
/// the reference systems (members of an aggregate share one status).
/// `CancelShipment` changes nothing and is refused only for a written-off
/// code; the block does not stop it.
pub fn transition(state: CodeState, operation: Operation) -> Result<CodeState, TransitionError> {
    use Operation as Op;
    use Status as S;
    use TransitionError as E;

    let status = state.status;
    if let S::WrittenOff(_) = status {
        return Err(E::WrittenOff(status));
    }
    match operation {
        Op::CancelShipment => return Ok(state),
        Op::Block if state.blocked => return Err(E::AlreadyBlocked),
        Op::Block => {
            return Ok(CodeState {
                blocked: true,
                ..state
            });
        }
        Op::Unblock if !state.blocked => return Err(E::NotBlocked),
        Op::Unblock => {
            return Ok(CodeState {
                blocked: false,
                ..state
            });
        }
        Op::Withdraw(reason) if state.blocked && reason.allowed_when_blocked() => {}
        _ if state.blocked => return Err(E::Blocked),
        _ => {}
    }

    let next = match (status, operation) {
        (S::Emitted, Op::Apply) => S::Applied,
        (_, Op::Apply) => return Err(E::AlreadyApplied(status)),

        (S::Applied, Op::Introduce) => S::Introduced,
        (S::Emitted, Op::Introduce) => return Err(E::NotApplied(status)),
        (S::Introduced, Op::Introduce) => return Err(E::AlreadyIntroduced(status)),

        (S::Applied | S::Introduced, Op::Aggregate | Op::Disaggregate) => status,
        (S::Emitted, Op::Aggregate | Op::Disaggregate) => return Err(E::NotApplied(status)),

        (S::Introduced, Op::Ship | Op::Accept) => status,
        (S::Introduced, Op::Withdraw(reason)) => S::Retired(reason),

        (S::Retired(r), Op::Return) if r.is_sale() => S::Introduced,
        (_, Op::Return) => return Err(E::NotSold(status)),

        (S::Emitted | S::Applied, Op::WriteOff(reason)) => S::WrittenOff(reason),
        (S::Introduced, Op::WriteOff(_)) => return Err(E::InCirculation(status)),

        (S::Retired(r), _) if r.is_sale() => return Err(E::AlreadySold),
        (S::Retired(_), _) => return Err(E::AlreadyRetired(status)),
        (S::Emitted | S::Applied, _) => return Err(E::NotInCirculation(status)),

        // Block, Unblock and CancelShipment returned above, and so did every
        // WRITTEN_OFF code.
        (S::Introduced, Op::Block | Op::Unblock | Op::CancelShipment) | (S::WrittenOff(_), _) => {
            unreachable!("handled before the table")
        }
    };
    Ok(CodeState {
        status: next,
        ..state
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_sold_once_cannot_be_sold_again() {
        let sold = transition(
            CodeState::new(Status::Introduced),
            Operation::Withdraw(WithdrawalReason::Retail),
        )
        .unwrap();
        assert_eq!(
            transition(sold, Operation::Withdraw(WithdrawalReason::Retail)),
            Err(TransitionError::AlreadySold)
        );
    }

    #[test]
    fn a_refund_brings_a_sold_code_back_and_it_sells_again() {
        let sold = transition(
            CodeState::new(Status::Introduced),
            Operation::Withdraw(WithdrawalReason::Retail),
        )
        .unwrap();
        let back = transition(sold, Operation::Return).unwrap();
        assert_eq!(back.status, Status::Introduced);
        assert!(transition(back, Operation::Withdraw(WithdrawalReason::Retail)).is_ok());
    }
}
