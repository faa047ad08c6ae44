//! Format-logical control of a report's JSON (the `report` part of
//! `POST /v1/reports`): every field checked against every rule that applies,
//! every problem answered at once, each naming the field (`place.lat`,
//! `shop.bin`) and the rule, as the catalogue does.
//!
//! ```json
//! {"kind": "NO_MARKING",
//!  "code": "(01)04652352262009(21)k2Fpdfbwuq6gu",
//!  "place": {"lat": 43.2389, "lon": 76.8897, "address": "Алматы, Абая 1"},
//!  "region": "750000000",
//!  "shop": {"name": "ИП Дала", "bin": "200140012345"},
//!  "comment": "…", "contact": "+7 701 …"}
//! ```
//!
//! `kind` and `comment` are required; `place` needs coordinates (both) or an
//! address, or both; everything else may be left out.

use serde_json::{Map, Value};
use tanba_core::participant::{Bin, TaxpayerIdError};
use tanba_core::{MarkingCode, ScannedCode};

use crate::error::{FieldError, given, unknown_fields};
use crate::reference::{Dictionary, Reference};

/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 4000;
/// Longest contact, in characters.
pub const MAX_CONTACT: usize = 200;
/// Longest address or shop name, in characters.
const MAX_ADDRESS: usize = 500;
/// Longest code text accepted before parsing (the parser has its own limit;
/// this one keeps a pasted essay out of the error message).
const MAX_CODE_TEXT: usize = 512;

const FIELDS: [&str; 7] = [
    "kind", "code", "place", "region", "shop", "comment", "contact",
];

/// A report that passed control.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedReport {
    pub kind: String,
    /// The code the report is about, as given; reports link it by its
    /// identity (GTIN and serial), whatever tail it carried.
    pub code: Option<MarkingCode>,
    pub coordinates: Option<(f64, f64)>,
    pub address: Option<String>,
    pub region: Option<String>,
    pub shop_name: Option<String>,
    pub shop_bin: Option<String>,
    pub comment: String,
    pub contact: Option<String>,
}

/// Checks a report; every problem found, or the report.
pub fn check_report(body: &Value, reference: &Reference) -> Result<CheckedReport, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new("not_object", "$")]);
    };
    let mut errors = Vec::new();
    errors.extend(unknown_fields(obj, None, &FIELDS));

    let kind = text(obj, "kind", "kind", true, 64, false, &mut errors);
    if let Some(k) = &kind
        && !reference.has(Dictionary::ViolationKinds, k)
    {
        errors.push(FieldError::new("unknown_violation_kind", "kind").arg("value", k));
    }

    let code = text(
        obj,
        "code",
        "code",
        false,
        MAX_CODE_TEXT,
        false,
        &mut errors,
    )
    .and_then(|t| match tanba_core::parse(&t) {
        Ok(ScannedCode::Unit(code)) => Some(code),
        Ok(ScannedCode::Sscc(_)) => {
            errors.push(FieldError::new("code_not_a_unit", "code"));
            None
        }
        Err(_) => {
            errors.push(FieldError::new("code_malformed", "code"));
            None
        }
    });

    let (mut coordinates, mut address) = (None, None);
    match obj.get("place") {
        None | Some(Value::Null) => errors.push(FieldError::new("required", "place")),
        Some(Value::Object(place)) => {
            errors.extend(unknown_fields(
                place,
                Some("place"),
                &["lat", "lon", "address"],
            ));
            let lat = coordinate(place, "lat", 90.0, &mut errors);
            let lon = coordinate(place, "lon", 180.0, &mut errors);
            address = text(
                place,
                "address",
                "place.address",
                false,
                MAX_ADDRESS,
                false,
                &mut errors,
            );
            let (lat_given, lon_given) = (given(place, "lat"), given(place, "lon"));
            if lat_given && !lon_given {
                errors.push(
                    FieldError::new("both_or_neither", "place.lon").arg("other", "place.lat"),
                );
            }
            if lon_given && !lat_given {
                errors.push(
                    FieldError::new("both_or_neither", "place.lat").arg("other", "place.lon"),
                );
            }
            if let (Some(lat), Some(lon)) = (lat, lon) {
                coordinates = Some((lat, lon));
            }
            if !lat_given && !lon_given && !given(place, "address") {
                errors.push(FieldError::new("place_required", "place"));
            }
        }
        Some(_) => errors.push(FieldError::new("not_object", "place")),
    }

    let region = text(obj, "region", "region", false, 16, false, &mut errors);
    if let Some(r) = &region
        && !reference.has(Dictionary::Regions, r)
    {
        errors.push(FieldError::new("unknown_region", "region").arg("value", r));
    }

    let (mut shop_name, mut shop_bin) = (None, None);
    match obj.get("shop") {
        None | Some(Value::Null) => {}
        Some(Value::Object(shop)) => {
            errors.extend(unknown_fields(shop, Some("shop"), &["name", "bin"]));
            shop_name = text(
                shop,
                "name",
                "shop.name",
                false,
                MAX_ADDRESS,
                false,
                &mut errors,
            );
            shop_bin = text(shop, "bin", "shop.bin", false, 32, false, &mut errors);
            if let Some(bin) = &shop_bin
                && let Err(e) = Bin::parse(bin)
            {
                let mut error = FieldError::new(e.code(), "shop.bin");
                if let TaxpayerIdError::ControlDigit { expected } = e {
                    error = error.arg("expected", expected);
                }
                errors.push(error);
            }
            if !given(shop, "name") && !given(shop, "bin") {
                errors.push(FieldError::new("shop_required", "shop"));
            }
        }
        Some(_) => errors.push(FieldError::new("not_object", "shop")),
    }

    let comment = text(
        obj,
        "comment",
        "comment",
        true,
        MAX_COMMENT,
        true,
        &mut errors,
    );
    let contact = text(
        obj,
        "contact",
        "contact",
        false,
        MAX_CONTACT,
        false,
        &mut errors,
    );

    if !errors.is_empty() {
        return Err(errors);
    }
    match (kind, comment) {
        (Some(kind), Some(comment)) => Ok(CheckedReport {
            kind,
            code,
            coordinates,
            address,
            region,
            shop_name,
            shop_bin,
            comment,
            contact,
        }),
        // With no error every required value is there.
        _ => Err(vec![FieldError::new("required", "$")]),
    }
}

/// A text field, trimmed, at most `max` characters. An optional field that
/// is absent, null or blank is `None`; a required one is an error. Control
/// characters are refused, except line breaks and tabs where `multiline`.
pub fn text(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    required: bool,
    max: usize,
    multiline: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let s = match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim()),
        Some(_) => {
            errors.push(FieldError::new("not_text", path));
            return None;
        }
    };
    let s = match s {
        Some(s) if !s.is_empty() => s,
        _ => {
            if required {
                errors.push(FieldError::new("required", path));
            }
            return None;
        }
    };
    if s.chars().count() > max {
        errors.push(FieldError::new("too_long", path).arg("max", max));
        return None;
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if s.chars().any(|c| c.is_control() && !allowed(c)) {
        errors.push(FieldError::new("control_characters", path));
        return None;
    }
    Some(s.to_owned())
}

/// A latitude or longitude: a JSON number within ±`limit` degrees.
fn coordinate(
    obj: &Map<String, Value>,
    key: &str,
    limit: f64,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    let path = format!("place.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && (-limit..=limit).contains(&v) => Some(v),
            _ => {
                errors.push(
                    FieldError::new("coordinate_range", path)
                        .arg("min", -limit)
                        .arg("max", limit),
                );
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("not_number", path));
            None
        }
    }
}
