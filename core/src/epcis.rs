//! GS1 EPCIS 2.0 JSON: how other systems read a code's or a document's
//! history.
//!
//! Pure: a [`Happening`] (what a document or an inspector did, when, to which
//! codes, between which parties) becomes one EPCIS event; [`document`] wraps
//! events in an `EPCISDocument`. The service reads the events from storage
//! and serves the JSON.
//!
//! Codes are named by their GS1 Digital Link URI on `https://id.gs1.org`
//! without key id and crypto tail (the signature is the operator's, not part
//! of the identity), SSCCs likewise, parties by `urn:tanba:party:<BIN/IIN>`,
//! documents by `urn:tanba:document:<id>`.
//!
//! The mapping onto the Core Business Vocabulary (CBV 2.0):
//!
//! | what | event | action | bizStep | disposition |
//! |---|---|---|---|---|
//! | application report | ObjectEvent | ADD | commissioning | active |
//! | introduction | ObjectEvent | OBSERVE | `urn:tanba:bizstep:introducing` (CBV has no step for release to the market) | active |
//! | aggregation | AggregationEvent | ADD | packing | active |
//! | disaggregation | AggregationEvent | DELETE | unpacking | active |
//! | shipment | TransactionEvent | ADD | shipping | in_transit |
//! | acceptance | TransactionEvent | OBSERVE | receiving | active |
//! | withdrawal, sale | ObjectEvent | OBSERVE | retail_selling | retail_sold |
//! | withdrawal, destruction | ObjectEvent | DELETE | destroying | destroyed |
//! | withdrawal, other reasons | ObjectEvent | DELETE | decommissioning | inactive |
//! | retail return | ObjectEvent | OBSERVE | receiving | active |
//! | write-off | ObjectEvent | DELETE | decommissioning | destroyed, or inactive for a spoiled or lost label |
//! | block / unblock | ObjectEvent | OBSERVE | holding / inspecting | non_sellable_other / sellable_accessible |
//!
//! Tanba's own reason (the withdrawal or write-off reason) travels as the
//! extension field `tanba:reason`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::offset;

use crate::document::Action;
use crate::lifecycle::{WithdrawalReason, WriteOffReason};
use crate::{MarkingCode, Sscc};

/// The JSON-LD context of EPCIS 2.0, and Tanba's own namespace.
pub const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
pub const TANBA_NAMESPACE: &str = "urn:tanba:";

/// What happened, in the words EPCIS needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A document's action on its codes.
    Document(Action),
    /// The buyer accepted a shipment.
    Accept,
    /// A shipment rejected by the buyer or cancelled by the seller.
    CancelShipment,
    /// An inspector blocked the code.
    Block,
    /// An inspector lifted the block.
    Unblock,
}

/// One thing that happened to some codes, at one time.
#[derive(Debug, Clone)]
pub struct Happening {
    pub step: Step,
    pub at: OffsetDateTime,
    /// Units (or group packages) concerned: the children for an aggregation.
    pub codes: Vec<MarkingCode>,
    /// Transport packages concerned: the children for an aggregation.
    pub packages: Vec<Sscc>,
    /// The package of an aggregation or disaggregation.
    pub parent: Option<Parent>,
    /// The document (or report) that caused it.
    pub document: Option<String>,
    /// BIN/IIN of the seller (shipment) or of the owner.
    pub from: Option<String>,
    /// BIN/IIN of the buyer (shipment, acceptance).
    pub to: Option<String>,
}

/// An aggregation's package: a transport package or a group package code.
#[derive(Debug, Clone)]
pub enum Parent {
    Sscc(Sscc),
    Group(MarkingCode),
}

const GS1_RESOLVER: &str = "https://id.gs1.org";

/// The code's EPC: its Digital Link without key id and crypto tail.
pub fn epc(code: &MarkingCode) -> String {
    MarkingCode::new(code.gtin().clone(), code.serial().clone()).digital_link(GS1_RESOLVER)
}

fn party(id: &str) -> String {
    format!("{TANBA_NAMESPACE}party:{id}")
}

struct Vocabulary {
    event: &'static str,
    action: &'static str,
    biz_step: &'static str,
    disposition: &'static str,
    reason: Option<Value>,
}

fn vocabulary(step: Step) -> Vocabulary {
    let v = |event, action, biz_step, disposition| Vocabulary {
        event,
        action,
        biz_step,
        disposition,
        reason: None,
    };
    let with_reason = |mut voc: Vocabulary, reason: Value| {
        voc.reason = Some(reason);
        voc
    };
    match step {
        Step::Document(Action::Apply) => v("ObjectEvent", "ADD", "commissioning", "active"),
        Step::Document(Action::Introduce) => v(
            "ObjectEvent",
            "OBSERVE",
            "urn:tanba:bizstep:introducing",
            "active",
        ),
        Step::Document(Action::Aggregate) => v("AggregationEvent", "ADD", "packing", "active"),
        Step::Document(Action::Disaggregate) => {
            v("AggregationEvent", "DELETE", "unpacking", "active")
        }
        Step::Document(Action::Ship) => v("TransactionEvent", "ADD", "shipping", "in_transit"),
        Step::Accept => v("TransactionEvent", "OBSERVE", "receiving", "active"),
        // CBV's void_shipping: the earlier shipping did not happen; the
        // despatch no longer concerns the objects.
        Step::CancelShipment => v("TransactionEvent", "DELETE", "void_shipping", "active"),
        Step::Document(Action::Withdraw(reason)) => {
            let voc = if reason.is_sale() {
                v("ObjectEvent", "OBSERVE", "retail_selling", "retail_sold")
            } else if reason == WithdrawalReason::Destruction {
                v("ObjectEvent", "DELETE", "destroying", "destroyed")
            } else {
                v("ObjectEvent", "DELETE", "decommissioning", "inactive")
            };
            with_reason(voc, json!(reason))
        }
        Step::Document(Action::Return) => v("ObjectEvent", "OBSERVE", "receiving", "active"),
        Step::Document(Action::WriteOff(reason)) => {
            let disposition = match reason {
                WriteOffReason::KmDestroyed => "destroyed",
                WriteOffReason::KmSpoiled | WriteOffReason::KmLost => "inactive",
            };
            with_reason(
                v("ObjectEvent", "DELETE", "decommissioning", disposition),
                json!(reason),
            )
        }
        Step::Block => v("ObjectEvent", "OBSERVE", "holding", "non_sellable_other"),
        Step::Unblock => v(
            "ObjectEvent",
            "OBSERVE",
            "inspecting",
            "sellable_accessible",
        ),
    }
}

/// The EPCIS 2.0 JSON event of one happening. Times are written in
/// Kazakhstan time (UTC+5), with their offset.
pub fn event(h: &Happening) -> Value {
    let voc = vocabulary(h.step);
    let at = h.at.to_offset(offset!(+5));
    let mut e = Map::new();
    e.insert("type".into(), json!(voc.event));
    e.insert(
        "eventTime".into(),
        json!(at.format(&Rfc3339).unwrap_or_default()),
    );
    e.insert("eventTimeZoneOffset".into(), json!("+05:00"));
    let epcs: Vec<String> = h
        .codes
        .iter()
        .map(epc)
        .chain(h.packages.iter().map(|s| s.digital_link(GS1_RESOLVER)))
        .collect();
    if voc.event == "AggregationEvent" {
        if let Some(parent) = &h.parent {
            let id = match parent {
                Parent::Sscc(s) => s.digital_link(GS1_RESOLVER),
                Parent::Group(c) => epc(c),
            };
            e.insert("parentID".into(), json!(id));
        }
        e.insert("childEPCs".into(), json!(epcs));
    } else {
        e.insert("epcList".into(), json!(epcs));
    }
    e.insert("action".into(), json!(voc.action));
    e.insert("bizStep".into(), json!(voc.biz_step));
    e.insert("disposition".into(), json!(voc.disposition));
    if let Some(doc) = &h.document {
        let kind = if voc.event == "TransactionEvent" {
            "desadv"
        } else {
            "urn:tanba:btt:document"
        };
        e.insert(
            "bizTransactionList".into(),
            json!([{ "type": kind, "bizTransaction": format!("{TANBA_NAMESPACE}document:{doc}") }]),
        );
    }
    if let Some(from) = &h.from {
        e.insert(
            "sourceList".into(),
            json!([{ "type": "owning_party", "source": party(from) }]),
        );
    }
    if let Some(to) = &h.to {
        e.insert(
            "destinationList".into(),
            json!([{ "type": "owning_party", "destination": party(to) }]),
        );
    }
    if let Some(reason) = voc.reason {
        e.insert("tanba:reason".into(), reason);
    }
    Value::Object(e)
}

/// An `EPCISDocument` holding `events`, created at `now`.
pub fn document(events: Vec<Value>, now: OffsetDateTime) -> Value {
    json!({
        "@context": [CONTEXT, { "tanba": TANBA_NAMESPACE }],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now.to_offset(offset!(+5)).format(&Rfc3339).unwrap_or_default(),
        "epcisBody": { "eventList": events },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Vector v001 of `shared/testdata/gs1-codes.tsv`: a signed unit code.
    const SIGNED: &str = "010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ01\u{1d}92Pu7hmDe-P8yi3YHdpT8glKTdNXxH68fWtjKuSWcrDLvjEBW9MQmkW0seCpP_N18OOkL7OxyeaGyBYbTJ6fRxBg";

    fn code() -> MarkingCode {
        MarkingCode::parse(SIGNED).unwrap()
    }

    fn happening(step: Step) -> Happening {
        Happening {
            step,
            at: datetime!(2026-11-25 10:00 UTC),
            codes: vec![code()],
            packages: vec![],
            parent: None,
            document: Some("d-1".into()),
            from: Some("123456789012".into()),
            to: None,
        }
    }

    #[test]
    fn a_sale_is_a_retail_selling_object_event_in_kazakhstan_time() {
        let e = event(&happening(Step::Document(Action::Withdraw(
            WithdrawalReason::Retail,
        ))));
        assert_eq!(e["type"], "ObjectEvent");
        assert_eq!(e["action"], "OBSERVE");
        assert_eq!(e["bizStep"], "retail_selling");
        assert_eq!(e["disposition"], "retail_sold");
        assert_eq!(e["eventTime"], "2026-11-25T15:00:00+05:00");
        assert_eq!(e["tanba:reason"], "RETAIL");
        assert_eq!(
            e["epcList"][0],
            "https://id.gs1.org/01/04652352262009/21/k2Fpdfbwuq6gu"
        );
        assert_eq!(
            e["bizTransactionList"][0]["bizTransaction"],
            "urn:tanba:document:d-1"
        );
    }

    #[test]
    fn the_epc_carries_no_signature() {
        assert!(code().crypto_tail().is_some());
        assert_eq!(
            epc(&code()),
            "https://id.gs1.org/01/04652352262009/21/k2Fpdfbwuq6gu"
        );
    }

    #[test]
    fn an_aggregation_names_its_parent_and_children() {
        let sscc = Sscc::parse("948731836164410274").unwrap();
        let mut h = happening(Step::Document(Action::Aggregate));
        h.parent = Some(Parent::Sscc(sscc));
        let e = event(&h);
        assert_eq!(e["type"], "AggregationEvent");
        assert_eq!(e["action"], "ADD");
        assert_eq!(e["parentID"], "https://id.gs1.org/00/948731836164410274");
        assert_eq!(e["childEPCs"].as_array().unwrap().len(), 1);
        assert!(e.get("epcList").is_none());
        let mut h = happening(Step::Document(Action::Disaggregate));
        h.parent = e["parentID"].as_str().map(|_| Parent::Group(code()));
        assert_eq!(event(&h)["action"], "DELETE");
    }

    #[test]
    fn a_shipment_is_a_transaction_between_owning_parties() {
        let mut h = happening(Step::Document(Action::Ship));
        h.to = Some("987654321098".into());
        let e = event(&h);
        assert_eq!(e["type"], "TransactionEvent");
        assert_eq!(e["bizTransactionList"][0]["type"], "desadv");
        assert_eq!(e["sourceList"][0]["source"], "urn:tanba:party:123456789012");
        assert_eq!(
            e["destinationList"][0]["destination"],
            "urn:tanba:party:987654321098"
        );
    }

    #[test]
    fn every_step_has_a_type_an_action_and_a_business_step() {
        let mut steps = vec![
            Step::Accept,
            Step::CancelShipment,
            Step::Block,
            Step::Unblock,
        ];
        steps.extend(
            [
                Action::Apply,
                Action::Introduce,
                Action::Aggregate,
                Action::Disaggregate,
                Action::Ship,
                Action::Return,
            ]
            .map(Step::Document),
        );
        steps.extend(WithdrawalReason::ALL.map(|r| Step::Document(Action::Withdraw(r))));
        steps.extend(WriteOffReason::ALL.map(|r| Step::Document(Action::WriteOff(r))));
        for step in steps {
            let e = event(&happening(step));
            for field in ["type", "action", "bizStep", "disposition", "eventTime"] {
                assert!(e[field].is_string(), "{step:?} has no {field}");
            }
            assert!(
                ["ADD", "OBSERVE", "DELETE"].contains(&e["action"].as_str().unwrap()),
                "{step:?}"
            );
        }
    }

    #[test]
    fn a_document_wraps_its_events() {
        let d = document(
            vec![event(&happening(Step::Block))],
            datetime!(2026-11-25 10:00 UTC),
        );
        assert_eq!(d["type"], "EPCISDocument");
        assert_eq!(d["schemaVersion"], "2.0");
        assert_eq!(d["@context"][0], CONTEXT);
        assert_eq!(d["epcisBody"]["eventList"].as_array().unwrap().len(), 1);
    }
}
