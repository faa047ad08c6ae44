//! Every (status, blocked flag, operation) triple goes through
//! `lifecycle::transition` and is checked against the rules of the design,
//! written here a second time as a table of allowed moves and a list of
//! refusal reasons. Every allowed and every refused transition has a case.

use tanba_core::lifecycle::{
    CodeState, Operation, Status, WithdrawalReason, WriteOffReason, kept_by, transition,
};

/// The allowed moves, as the design brief states them (§4).
fn allowed(from: CodeState, op: Operation) -> Option<CodeState> {
    use Operation as O;
    use Status as S;
    let to = |status| Some(CodeState { status, ..from });
    let blocked_ok = |op: Operation| {
        matches!(
            op,
            O::Unblock
                | O::CancelShipment
                | O::Withdraw(WithdrawalReason::Confiscation | WithdrawalReason::Destruction)
        )
    };
    if matches!(from.status, S::WrittenOff(_)) || (from.blocked && !blocked_ok(op)) {
        return None;
    }
    match (from.status, op) {
        // Recorded, never refused but for a written-off code: nothing moves.
        (_, O::CancelShipment) => Some(from),
        (_, O::Block) if !from.blocked => Some(CodeState {
            blocked: true,
            ..from
        }),
        (_, O::Unblock) if from.blocked => Some(CodeState {
            blocked: false,
            ..from
        }),
        (S::Emitted, O::Apply) => to(S::Applied),
        (S::Applied, O::Introduce) => to(S::Introduced),
        (S::Applied, O::Aggregate | O::Disaggregate) => to(S::Applied),
        (S::Introduced, O::Aggregate | O::Disaggregate | O::Ship | O::Accept) => to(S::Introduced),
        (S::Introduced, O::Withdraw(r)) => to(S::Retired(r)),
        (S::Retired(WithdrawalReason::Retail | WithdrawalReason::Distance), O::Return) => {
            to(S::Introduced)
        }
        (S::Emitted | S::Applied, O::WriteOff(r)) => to(S::WrittenOff(r)),
        _ => None,
    }
}

/// Why a move that is not allowed is refused.
fn refusal(from: CodeState, op: Operation) -> &'static str {
    use Operation as O;
    use Status as S;
    let sold = matches!(
        from.status,
        S::Retired(WithdrawalReason::Retail | WithdrawalReason::Distance)
    );
    let out_of_circulation = if sold {
        "already_sold"
    } else {
        "already_retired"
    };
    if matches!(from.status, S::WrittenOff(_)) {
        return "written_off";
    }
    // Confiscation and destruction reach a blocked code; if they are refused
    // all the same, it is for the status, not for the block.
    let authority = matches!(
        op,
        O::Withdraw(WithdrawalReason::Confiscation | WithdrawalReason::Destruction)
    );
    match op {
        O::Block => return "already_blocked",
        O::Unblock => return "not_blocked",
        _ if from.blocked && !authority => return "blocked",
        _ => {}
    }
    match (from.status, op) {
        (_, O::Apply) => "already_applied",
        (_, O::Return) => "not_sold",
        (S::Emitted, O::Introduce | O::Aggregate | O::Disaggregate) => "not_applied",
        (S::Introduced, O::Introduce) => "already_introduced",
        (S::Introduced, O::WriteOff(_)) => "in_circulation",
        (S::Emitted | S::Applied, _) => "not_in_circulation",
        (S::Retired(_), _) => out_of_circulation,
        other => panic!("no refusal rule for {other:?}"),
    }
}

#[test]
fn every_transition_follows_the_table() {
    let mut allowed_count = 0;
    let mut refused_count = 0;
    let mut problems = Vec::new();
    for from in CodeState::all() {
        for op in Operation::all() {
            let got = transition(from, op);
            match (allowed(from, op), got) {
                (Some(want), Ok(have)) if want == have => allowed_count += 1,
                (None, Err(e)) if e.code() == refusal(from, op) => refused_count += 1,
                (want, have) => problems.push(format!(
                    "{from:?} + {op:?}: expected {:?}, got {have:?}",
                    want.ok_or(refusal(from, op))
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // 18 statuses × 2 flags × 25 operations (each reason counted).
    assert_eq!(allowed_count + refused_count, 18 * 2 * 25);
    assert!(
        allowed_count > 40 && refused_count > 500,
        "{allowed_count} / {refused_count}"
    );
}

#[test]
fn a_code_lives_from_emission_to_sale_and_back_through_a_refund() {
    use Operation as O;
    let mut state = CodeState::EMITTED;
    for op in [O::Apply, O::Introduce, O::Aggregate, O::Ship, O::Accept] {
        state = transition(state, op).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
    assert_eq!(state.status, Status::Introduced);
    state = transition(state, O::Withdraw(WithdrawalReason::Retail)).expect("sale");
    assert_eq!(state.status, Status::Retired(WithdrawalReason::Retail));
    assert_eq!(
        transition(state, O::Withdraw(WithdrawalReason::Retail)).map_err(|e| e.code()),
        Err("already_sold")
    );
    state = transition(state, O::Return).expect("refund");
    assert_eq!(state.status, Status::Introduced);
}

#[test]
fn a_blocked_code_cannot_be_sold_or_moved_but_can_be_confiscated() {
    let blocked = transition(CodeState::new(Status::Introduced), Operation::Block).expect("block");
    for op in [
        Operation::Ship,
        Operation::Accept,
        Operation::Withdraw(WithdrawalReason::Retail),
    ] {
        assert_eq!(
            transition(blocked, op).map_err(|e| e.code()),
            Err("blocked")
        );
    }
    let seized = transition(blocked, Operation::Withdraw(WithdrawalReason::Confiscation))
        .expect("confiscation");
    assert_eq!(
        seized.status,
        Status::Retired(WithdrawalReason::Confiscation)
    );
    assert!(seized.blocked);
}

#[test]
fn statuses_serialize_with_the_regional_names() {
    let json = serde_json::to_string(&Status::Retired(WithdrawalReason::EecExport)).expect("json");
    assert_eq!(json, r#"{"status":"RETIRED","reason":"EEC_EXPORT"}"#);
    assert_eq!(
        serde_json::to_string(&Status::Emitted).expect("json"),
        r#"{"status":"EMITTED"}"#
    );
}

#[test]
fn only_a_shipment_keeps_the_state_and_it_keeps_it_only_for_an_unblocked_code_in_circulation() {
    let circulating = vec![CodeState::new(Status::Introduced)];
    assert_eq!(kept_by(Operation::Ship), Some(circulating.clone()));
    assert_eq!(kept_by(Operation::Accept), Some(circulating));
    // Changes some state, so it has no one guard.
    for op in [
        Operation::Apply,
        Operation::Introduce,
        Operation::Block,
        Operation::Withdraw(WithdrawalReason::Retail),
        Operation::WriteOff(WriteOffReason::KmLost),
    ] {
        assert_eq!(kept_by(op), None, "{op:?}");
    }
    // Keeps every state it allows: a cancellation, blocked or not.
    let cancelled = kept_by(Operation::CancelShipment).expect("keeps");
    assert_eq!(
        cancelled.len(),
        CodeState::all().len() - 2 * WriteOffReason::ALL.len()
    );
}
