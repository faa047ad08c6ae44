//! The public scan: anyone (no token) checks a marking code and sees whether
//! it is genuine, where it is in its life, and its product's card, in Kazakh
//! or Russian.
//!
//! - `GET /v1/codes/{code}`: JSON, for the app. `{code}` is any form the
//!   parser accepts (raw with GS, `]d2`, human-readable, a Digital Link URI),
//!   percent-encoded as one path segment.
//! - `GET /01/{gtin}/21/{serial}?91=…&92=…` (GS1 Digital Link, what the QR
//!   code on a label opens): the same answer as an HTML page for a phone
//!   browser, or JSON when `Accept` asks for `application/json`.
//!
//! The language is `?lang=kk|ru`, the `lang` cookie or `Accept-Language`,
//! Kazakh by default. Every word comes from `locales/*/scan.ftl`.
//!
//! Both take two more query parameters, both optional:
//!
//! - `lat`, `lon`: where the scan happens, in degrees (both or neither). It
//!   is rounded to 0.01° (about 1 km) before it is compared or stored.
//!   Invalid, out of range or half given: 400 `scan_place_invalid`.
//! - `context`: `check` (a look, the default) or `shop` (the product is
//!   offered for sale in front of the person checking it). Anything else:
//!   400 `scan_context_invalid`.
//!
//! The verdict is computed on every scan, never stored (see [`verdict`]):
//! the card (stored signature, status, blocked flag, product) comes from the
//! cache or, on a miss, the database; the signature of a code that is not
//! stored is checked against the operator's keys. A stored code is judged
//! by its stored tail: a scanned tail that differs is a forgery, whatever
//! the keys say. Clone suspicion comes from the code's recent sightings
//! (`crate::sightings`, asked only for a located scan of a code that could
//! be a clone) and from the context.
//!
//! Every scan of a parsable unit code is then recorded (`crate::scans`): put
//! in a queue and written behind the answer, which never waits for it.
//!
//! The answer shows what a citizen may see: no owner, no order, no
//! participant id.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use serde_json::json;
use tanba_core::crypto::SignatureStatus;
use tanba_core::lifecycle::Status;
use tanba_core::{MarkingCode, ParseError, ScannedCode};
use tanba_locales::Lang;
use time::OffsetDateTime;
use time::macros::offset;

use crate::cache::Card;
use crate::error::ApiError;
use crate::lang::RequestLang;
use crate::reference::Dictionary;
use crate::scans::{Channel, Context, NewScan};
use crate::sightings::{Place, Sighting};
use crate::state::AppState;

/// Registers this module's routes.
/// The Digital Link scan (`GET /01/{gtin}/21/{serial}`): registered first of
/// all, since the router tries patterns in order and each one tried costs a
/// regex match.
pub fn configure_digital_link(cfg: &mut web::ServiceConfig) {
    cfg.service(digital_link);
}

/// The app's scan (`GET /v1/codes/{code}`). Its `{code:.*}` takes any rest
/// of the path, so the routes under `/v1/codes/{code}/` are registered
/// before it.
pub fn configure_scan(cfg: &mut web::ServiceConfig) {
    cfg.service(scan);
}

/// What a scan concludes. Computed, never stored (the scans table keeps
/// what was answered, for statistics). On the wire: [`Verdict::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stored, signature matches, in circulation (INTRODUCED), not blocked.
    Genuine,
    /// Validly signed by the operator, but not stored.
    NotFound,
    /// The tail is not the operator's signature (invalid, unknown key or
    /// missing) for a code that is not stored; or differs from the stored
    /// tail of a code that is.
    InvalidSignature,
    /// EMITTED or APPLIED (not yet in circulation), or RETIRED for a reason
    /// other than a sale.
    NotInCirculation,
    /// RETIRED by a sale.
    Sold,
    WrittenOff,
    /// Blocked by an inspector: wins over the status.
    Blocked,
    /// A code that is otherwise genuine or sold, with a clue that another
    /// label carries it too (see [`verdict`]).
    SuspectedClone(CloneReason),
}

/// Why a scan suspects a clone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneReason {
    /// Seen further than `clone_distance_km` from here within
    /// `clone_window_secs`.
    FarApart,
    /// Sold, and checked as offered for sale (`context=shop`).
    OfferedAfterSale,
}

impl CloneReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FarApart => "far_apart",
            Self::OfferedAfterSale => "offered_after_sale",
        }
    }

    /// `scan-clone-…` in `locales/*/scan.ftl`: the line that says why.
    pub fn message_key(self) -> String {
        format!("scan-clone-{}", self.as_str().replace('_', "-"))
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a scan knows besides the card and the signature: the clues of the
/// clone rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clues {
    /// The code was seen further than `clone_distance_km` from this scan's
    /// place within `clone_window_secs` ([`crate::sightings`]).
    pub seen_far_apart: bool,
    /// Why it is checked (`?context=`).
    pub context: Context,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Genuine => "genuine",
            Self::NotFound => "not_found",
            Self::InvalidSignature => "invalid_signature",
            Self::NotInCirculation => "not_in_circulation",
            Self::Sold => "sold",
            Self::WrittenOff => "written_off",
            Self::Blocked => "blocked",
            Self::SuspectedClone(_) => "suspected_clone",
        }
    }

    /// `scan-verdict-…` in `locales/*/scan.ftl`.
    pub fn message_key(self) -> String {
        format!("scan-verdict-{}", self.as_str().replace('_', "-"))
    }

    /// Whether the banner is green.
    pub fn is_good(self) -> bool {
        self == Self::Genuine
    }

    /// Whether clues can turn this verdict into `suspected_clone`: only a
    /// code whose label is the operator's and that may be in a buyer's hands
    /// (see [`verdict`]). Sightings are kept only for these.
    pub fn may_become_clone(self) -> bool {
        matches!(self, Self::Genuine | Self::Sold)
    }
}

/// The signature status of the scanned code measured against a stored
/// code: the stored tail is the operator's signature, so a scanned one
/// either is it or is forged.
fn against_stored(code: &MarkingCode, card: &Card) -> SignatureStatus {
    match (code.key_id(), code.crypto_tail()) {
        (Some(key), Some(tail)) => {
            if key.as_str() == card.code.key_id && tail.as_str() == card.code.crypto_tail {
                SignatureStatus::Valid
            } else {
                SignatureStatus::Invalid
            }
        }
        _ => SignatureStatus::Missing,
    }
}

/// The rules of the verdict. `signature` is [`against_stored`] for a stored
/// code, the keyring's answer otherwise.
///
/// A stored code scanned without its tail (a Digital Link typed by hand, a
/// human-readable text without 91/92) is judged by its status: the database
/// knows it, and the missing tail is reported as `signature: missing`.
///
/// Precedence, first match wins:
///
/// 1. Not stored: `not_found` when the operator's signature is valid,
///    `invalid_signature` otherwise. An unknown code is no clone of anything
///    the register knows.
/// 2. Stored, but the scanned tail is not the stored one:
///    `invalid_signature` (a forged label, whatever the clues).
/// 3. Blocked by an inspector: `blocked`, over every status and clue.
/// 4. `not_in_circulation` (EMITTED, APPLIED, or withdrawn for a reason other
///    than a sale) and `written_off` keep their verdict: they already say the
///    product must not be sold.
/// 5. Sold and checked with `context=shop`: `suspected_clone`
///    (`offered_after_sale`) — a sold unit is not on sale again.
/// 6. Genuine or sold, and seen far apart within the window:
///    `suspected_clone` (`far_apart`).
/// 7. Otherwise the status speaks: `genuine` (INTRODUCED) or `sold`.
pub fn verdict(card: Option<&Card>, signature: SignatureStatus, clues: Clues) -> Verdict {
    let own = own_verdict(card, signature);
    match own {
        Verdict::Sold if clues.context == Context::Shop => {
            Verdict::SuspectedClone(CloneReason::OfferedAfterSale)
        }
        own if own.may_become_clone() && clues.seen_far_apart => {
            Verdict::SuspectedClone(CloneReason::FarApart)
        }
        own => own,
    }
}

/// Rules 1–4 and 7 of [`verdict`]: what the card and signature say alone.
fn own_verdict(card: Option<&Card>, signature: SignatureStatus) -> Verdict {
    let Some(card) = card else {
        return match signature {
            SignatureStatus::Valid => Verdict::NotFound,
            SignatureStatus::Invalid | SignatureStatus::UnknownKey | SignatureStatus::Missing => {
                Verdict::InvalidSignature
            }
        };
    };
    if signature == SignatureStatus::Invalid || signature == SignatureStatus::UnknownKey {
        return Verdict::InvalidSignature;
    }
    if card.code.state.blocked {
        return Verdict::Blocked;
    }
    match card.code.state.status {
        Status::Emitted | Status::Applied => Verdict::NotInCirculation,
        Status::Introduced => Verdict::Genuine,
        Status::Retired(reason) if reason.is_sale() => Verdict::Sold,
        Status::Retired(_) => Verdict::NotInCirculation,
        Status::WrittenOff(_) => Verdict::WrittenOff,
    }
}

/// The answer of a scan, as JSON.
#[derive(Debug, Serialize)]
pub struct ScanAnswer {
    pub verdict: Verdict,
    pub verdict_text: String,
    /// Why a clone is suspected; `null` for every other verdict.
    pub suspicion: Option<Suspicion>,
    /// `valid`, `invalid`, `unknown_key` or `missing`.
    pub signature: &'static str,
    /// `EMITTED`, `APPLIED`, `INTRODUCED`, `RETIRED`, `WRITTEN_OFF`; `null`
    /// when the code is not stored (or its tail is forged).
    pub status: Option<&'static str>,
    pub status_text: Option<String>,
    pub blocked: bool,
    pub code: CodeView,
    pub product: Option<ProductView>,
    /// Dates (`YYYY-MM-DD`, Kazakhstan time) of the code's life; `null`
    /// where it has not happened or is not recorded yet.
    pub life: Option<Life>,
    pub lang: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Suspicion {
    /// `far_apart` or `offered_after_sale`.
    pub reason: &'static str,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct CodeView {
    pub gtin: String,
    pub serial: String,
    /// The canonical element string (GS as ASCII 29).
    pub canonical: String,
    pub human_readable: String,
}

#[derive(Debug, Serialize)]
pub struct Named {
    pub code: String,
    /// The name in the answer's language; `null` for a code the reference
    /// data does not know.
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Document {
    pub number: String,
    pub date: String,
}

#[derive(Debug, Serialize)]
pub struct ProductView {
    pub name: String,
    pub product_group: Named,
    pub tnved: String,
    pub manufacturer: String,
    pub country: Named,
    pub importer: Option<Importer>,
    /// Customs declaration of an import: not recorded yet (introduction
    /// documents, issue 5).
    pub customs_declaration: Option<Document>,
    /// Place and date of production: not recorded yet (issue 5).
    pub production_place: Option<String>,
    pub production_date: Option<String>,
    pub conformity: Conformity,
    pub test_certificate: Option<Document>,
    pub recommended_price: Price,
    pub photo_url: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Importer {
    pub name: String,
    pub bin: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Conformity {
    /// `certificate` or `declaration`.
    pub kind: String,
    pub kind_text: String,
    pub number: String,
    pub date: String,
}

#[derive(Debug, Serialize)]
pub struct Price {
    pub tiyn: i64,
    /// E.g. `1250.50 теңге`.
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Life {
    pub emitted: Option<String>,
    pub introduced: Option<String>,
    /// While the code is sold (a retail return clears it).
    pub sold: Option<String>,
}

fn text(lang: Lang, key: &str) -> String {
    tanba_locales::text(lang, key)
}

fn text_with(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    tanba_locales::text_with(lang, key, args.iter().copied())
}

/// A date in Kazakhstan (UTC+5) from Unix seconds.
fn local_date(unix: i64) -> Option<String> {
    let at = OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(at.to_offset(offset!(+5)).date().to_string())
}

fn price_text(tiyn: i64, lang: Lang) -> String {
    let amount = format!("{}.{:02}", tiyn / 100, (tiyn % 100).abs());
    text_with(lang, "scan-price", &[("amount", &amount)])
}

fn status_key(status: Status) -> String {
    format!(
        "scan-status-{}",
        status.name().to_lowercase().replace('_', "-")
    )
}

/// A code's status with its reason and its text in `lang`, as the code's
/// history and the inspector's desk show it, e.g.
/// `{"status": "RETIRED", "reason": "RETAIL", "text": "…"}`.
pub fn status_json(status: Status, lang: Lang) -> serde_json::Value {
    let mut v = serde_json::to_value(status).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(o) = &mut v {
        o.insert(
            "text".to_owned(),
            tanba_locales::text(lang, &status_key(status)).into(),
        );
    }
    v
}

/// Builds the answer in a language.
fn answer(
    state: &AppState,
    code: &MarkingCode,
    card: Option<&Card>,
    signature: SignatureStatus,
    verdict: Verdict,
    lang: Lang,
) -> ScanAnswer {
    // A forged tail on a real serial: the label is not the operator's, so
    // nothing stored about the real code is shown next to it.
    let shown = card.filter(|_| verdict != Verdict::InvalidSignature);
    let reference = &state.reference;
    let product = shown.and_then(|c| c.product.as_deref()).map(|p| {
        let named = |d: Dictionary, code: &str| Named {
            code: code.to_owned(),
            name: reference.name(d, code, lang).map(str::to_owned),
        };
        ProductView {
            name: match lang {
                Lang::Kk => p.name_kk.clone(),
                Lang::Ru => p.name_ru.clone(),
            },
            product_group: named(Dictionary::ProductGroups, &p.product_group),
            tnved: p.tnved.clone(),
            manufacturer: p.manufacturer_name.clone(),
            country: named(Dictionary::Countries, &p.manufacturer_country),
            importer: p.importer_name.as_ref().map(|name| Importer {
                name: name.clone(),
                bin: p.importer_bin.clone(),
            }),
            customs_declaration: None,
            production_place: None,
            production_date: None,
            conformity: Conformity {
                kind: p.conformity_kind.clone(),
                kind_text: text(lang, &format!("scan-label-{}", p.conformity_kind)),
                number: p.conformity_number.clone(),
                date: p.conformity_date.clone(),
            },
            test_certificate: match (&p.test_certificate_number, &p.test_certificate_date) {
                (Some(number), Some(date)) => Some(Document {
                    number: number.clone(),
                    date: date.clone(),
                }),
                _ => None,
            },
            recommended_price: Price {
                tiyn: p.recommended_price_tiyn,
                text: price_text(p.recommended_price_tiyn, lang),
            },
            photo_url: p.photo_url.clone(),
        }
    });
    let suspicion = match verdict {
        Verdict::SuspectedClone(reason) => Some(Suspicion {
            reason: reason.as_str(),
            text: text_with(
                lang,
                &reason.message_key(),
                &[("km", &state.settings.clone_distance_km.to_string())],
            ),
        }),
        _ => None,
    };
    ScanAnswer {
        verdict,
        verdict_text: text(lang, &verdict.message_key()),
        suspicion,
        signature: signature.as_str(),
        status: shown.map(|c| c.code.state.status.name()),
        status_text: shown.map(|c| text(lang, &status_key(c.code.state.status))),
        blocked: shown.is_some_and(|c| c.code.state.blocked),
        code: CodeView {
            gtin: code.gtin().as_str().to_owned(),
            serial: code.serial().as_str().to_owned(),
            canonical: code.element_string(),
            human_readable: code.human_readable(),
        },
        product,
        life: shown.map(|c| Life {
            emitted: local_date(c.code.emitted_at),
            introduced: c.code.introduced_at.and_then(|ms| local_date(ms / 1000)),
            sold: c.code.sold_at.and_then(|ms| local_date(ms / 1000)),
        }),
        lang: lang.as_str(),
    }
}

/// Why a scanned text gives no answer.
enum Refusal {
    Malformed(ParseError),
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

/// What a scan says about itself besides the code: where it happens and
/// why (the query parameters `lat`, `lon`, `context`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Circumstances {
    place: Option<Place>,
    context: Context,
}

/// Reads `lat`, `lon` and `context` from a query string; other keys (`lang`,
/// the Digital Link's `91`/`92`) are not ours. Blank values (a form left
/// blank) are not given: no place, the default context. A key given twice
/// is refused: which one the client meant is a guess.
fn circumstances(query: &str) -> Result<Circumstances, ApiError> {
    let place_invalid = || ApiError::new(StatusCode::BAD_REQUEST, "scan_place_invalid");
    let context_invalid = || ApiError::new(StatusCode::BAD_REQUEST, "scan_context_invalid");
    let (mut lat, mut lon, mut context) = (None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (slot, refusal): (&mut Option<String>, fn() -> ApiError) = match &*key {
            "lat" => (&mut lat, place_invalid),
            "lon" => (&mut lon, place_invalid),
            "context" => (&mut context, context_invalid),
            _ => continue,
        };
        if slot.replace(value.trim().to_owned()).is_some() {
            return Err(refusal());
        }
    }
    let place = match (lat.as_deref(), lon.as_deref()) {
        (None | Some(""), None | Some("")) => None,
        (Some(lat), Some(lon)) => {
            let degrees = |s: &str| s.parse::<f64>().ok();
            let place = degrees(lat)
                .zip(degrees(lon))
                .and_then(|(lat, lon)| Place::new(lat, lon));
            Some(place.ok_or_else(place_invalid)?)
        }
        _ => return Err(place_invalid()),
    };
    let context = match context.as_deref() {
        None | Some("") => Context::default(),
        Some(text) => Context::parse(text).ok_or_else(context_invalid)?,
    };
    Ok(Circumstances { place, context })
}

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Parses, loads (through the cache) and judges one scanned text, and
/// records the scan (behind the answer).
async fn check(
    state: &AppState,
    input: &str,
    channel: Channel,
    circumstances: Circumstances,
    lang: Lang,
) -> Result<ScanAnswer, Refusal> {
    let code = match tanba_core::parse(input) {
        Ok(ScannedCode::Unit(code)) => code,
        Ok(ScannedCode::Sscc(_)) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "code_not_a_unit").into());
        }
        Err(e) => return Err(Refusal::Malformed(e)),
    };
    let at = now_ms();
    let store = &state.store;
    let card = state
        .cards
        .card(&code, store)
        .await
        .map_err(ApiError::internal)?;
    let signature = match card.as_ref() {
        Some(card) => against_stored(&code, card),
        None => state.scan_keys.verify(store, &code).await,
    };
    // Sightings are asked (and kept) only where they can change the
    // verdict: a located scan of a code that may become a clone.
    let seen_far_apart = match circumstances.place {
        Some(place) if own_verdict(card.as_ref(), signature).may_become_clone() => {
            state
                .sightings
                .seen_far_apart(&code.identity(), Sighting { at, place })
                .await
        }
        _ => false,
    };
    let clues = Clues {
        seen_far_apart,
        context: circumstances.context,
    };
    let verdict = verdict(card.as_ref(), signature, clues);
    state.scans.record(NewScan {
        gtin: code.gtin().clone(),
        serial: code.serial().clone(),
        at,
        place: circumstances.place.map(|p| (p.lat(), p.lon())),
        channel,
        context: circumstances.context,
        verdict: verdict.as_str(),
    });
    Ok(answer(
        state,
        &code,
        card.as_ref(),
        signature,
        verdict,
        lang,
    ))
}

/// 400 `code_malformed` with the parser's own reason: its machine code, AI
/// and position, and its message in the request's language.
fn malformed(err: &ParseError, lang: Lang) -> HttpResponse {
    let body = json!({
        "error": {
            "code": "code_malformed",
            "message": crate::error::parse_error_message(err, lang),
            "reference": null,
            "parse_error": {
                "code": err.kind.code(),
                "ai": err.ai,
                "position": err.position,
            },
        }
    });
    HttpResponse::BadRequest()
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .json(body)
}

/// A verdict can change at any moment: clients and proxies must ask again.
/// The answer depends on the language the request chose.
fn no_store(mut resp: HttpResponse) -> HttpResponse {
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Language, Cookie"),
    );
    resp
}

/// `GET /v1/codes/{code}?lat=&lon=&context=` — anyone. `{code}` is the
/// scanner's output, percent-encoded. 200 with the answer for every
/// parsable unit code (`not_found` and `invalid_signature` are answers, not
/// errors); 400 `code_malformed` (with `parse_error`) or `code_not_a_unit`
/// otherwise, and 400 `scan_place_invalid` or `scan_context_invalid` for
/// the query. Recorded with channel `app`.
#[get("/v1/codes/{code:.*}")]
#[tracing::instrument(skip_all)]
async fn scan(
    req: HttpRequest,
    state: web::Data<AppState>,
    lang: RequestLang,
) -> Result<HttpResponse, ApiError> {
    // The raw path, decoded here once: the router would turn `%2F` and `+`
    // into something else on the way.
    let raw = req
        .uri()
        .path()
        .strip_prefix("/v1/codes/")
        .unwrap_or_default();
    let input = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let circumstances = circumstances(req.query_string())?;
    match check(&state, &input, Channel::App, circumstances, lang.0).await {
        Ok(answer) => Ok(no_store(
            HttpResponse::Ok()
                .insert_header((header::CONTENT_LANGUAGE, lang.0.as_str()))
                .json(answer),
        )),
        Err(Refusal::Malformed(e)) => Ok(malformed(&e, lang.0)),
        Err(Refusal::Api(e)) => Err(e),
    }
}

/// `GET /01/{gtin}/21/{serial}?91=…&92=…` — anyone: a GS1 Digital Link, as
/// printed in the QR code of a label. HTML for a browser, JSON when
/// `Accept` names `application/json`. Takes `lat`, `lon`, `context` as the
/// scan above does. Recorded with channel `web`.
#[get("/01/{gtin}/21/{serial}")]
#[tracing::instrument(skip_all)]
async fn digital_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    lang: RequestLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    // The parser reads the URI itself (the host is not GS1 data; `lang`
    // and other non-numeric query keys are ignored).
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let input = format!("https://link.invalid{path}");
    let result = match circumstances(req.query_string()) {
        Ok(circumstances) => check(&state, &input, Channel::Web, circumstances, lang).await,
        Err(e) => Err(Refusal::Api(e)),
    };
    let resp = match (result, wants_json) {
        (Ok(answer), true) => HttpResponse::Ok()
            .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
            .json(answer),
        (Err(Refusal::Malformed(e)), true) => malformed(&e, lang),
        (Err(Refusal::Api(e)), true) => return Err(e),
        (Ok(answer), false) => html(StatusCode::OK, lang, &req, &card_html(&answer, lang)),
        (Err(Refusal::Malformed(e)), false) => html(
            StatusCode::BAD_REQUEST,
            lang,
            &req,
            &error_html(&crate::error::parse_error_message(&e, lang)),
        ),
        (Err(Refusal::Api(e)), false) => html(
            actix_web::ResponseError::status_code(&e),
            lang,
            &req,
            &error_html(&e.message(lang)),
        ),
    };
    Ok(no_store(resp))
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const PAGE: &str = include_str!("../../templates/scan.html");

/// Fills `{{name}}` slots of the page in one pass: an inserted value is never
/// read as a slot, whatever it contains. Values are HTML already.
fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 2048);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match slots.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The same address in the other language.
fn switch_href(req: &HttpRequest, other: Lang) -> String {
    let mut query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    query.push(("lang".to_owned(), other.as_str().to_owned()));
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &query {
        encoded.append_pair(k, v);
    }
    format!("{}?{}", req.uri().path(), encoded.finish())
}

fn html(status: StatusCode, lang: Lang, req: &HttpRequest, body: &str) -> HttpResponse {
    let other = match lang {
        Lang::Kk => Lang::Ru,
        Lang::Ru => Lang::Kk,
    };
    let page = fill(
        PAGE,
        &[
            ("lang", lang.as_str()),
            ("title", &escape(&text(lang, "scan-page-title"))),
            ("switch_href", &escape(&switch_href(req, other))),
            ("switch_lang", other.as_str()),
            ("switch_text", &escape(&text(lang, "scan-other-language"))),
            ("body", body),
        ],
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .content_type("text/html; charset=utf-8")
        .body(page)
}

fn error_html(message: &str) -> String {
    format!(
        "<div class=\"verdict bad\" role=\"alert\">{}</div>",
        escape(message)
    )
}

fn row(out: &mut String, label: &str, value: &str, class: &str) {
    out.push_str(&format!(
        "<dt>{}</dt><dd{}>{}</dd>",
        escape(label),
        if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        },
        escape(value)
    ));
}

fn card_html(a: &ScanAnswer, lang: Lang) -> String {
    let t = |key: &str| text(lang, key);
    let document = |d: &Document| {
        text_with(
            lang,
            "scan-document",
            &[("number", &d.number), ("date", &d.date)],
        )
    };
    let not_stated = t("scan-not-stated");
    let mut out = String::new();
    out.push_str(&format!(
        "<div class=\"verdict {}\" role=\"status\" data-verdict=\"{}\">{}{}{}</div>",
        if a.verdict.is_good() { "ok" } else { "bad" },
        a.verdict.as_str(),
        escape(&a.verdict_text),
        a.suspicion
            .as_ref()
            .map(|s| format!("<small>{}</small>", escape(&s.text)))
            .unwrap_or_default(),
        a.status_text
            .as_deref()
            .map(|s| format!(
                "<small>{}: {}</small>",
                escape(&t("scan-label-status")),
                escape(s)
            ))
            .unwrap_or_default(),
    ));
    out.push_str("<dl>");
    if let Some(p) = &a.product {
        row(&mut out, &t("scan-label-product"), &p.name, "");
        row(
            &mut out,
            &t("scan-label-product-group"),
            p.product_group
                .name
                .as_deref()
                .unwrap_or(&p.product_group.code),
            "",
        );
        row(&mut out, &t("scan-label-manufacturer"), &p.manufacturer, "");
        row(
            &mut out,
            &t("scan-label-country"),
            p.country.name.as_deref().unwrap_or(&p.country.code),
            "",
        );
        if let Some(importer) = &p.importer {
            let value = match &importer.bin {
                Some(bin) => format!("{} ({bin})", importer.name),
                None => importer.name.clone(),
            };
            row(&mut out, &t("scan-label-importer"), &value, "");
            row(
                &mut out,
                &t("scan-label-customs-declaration"),
                &p.customs_declaration
                    .as_ref()
                    .map(document)
                    .unwrap_or_else(|| not_stated.clone()),
                "",
            );
        }
        let production = match (&p.production_place, &p.production_date) {
            (None, None) => not_stated.clone(),
            (place, date) => [place.as_deref(), date.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
        };
        row(&mut out, &t("scan-label-production"), &production, "");
        row(
            &mut out,
            &p.conformity.kind_text,
            &document(&Document {
                number: p.conformity.number.clone(),
                date: p.conformity.date.clone(),
            }),
            "",
        );
        if let Some(test) = &p.test_certificate {
            row(
                &mut out,
                &t("scan-label-test-certificate"),
                &document(test),
                "",
            );
        }
        row(
            &mut out,
            &t("scan-label-price"),
            &p.recommended_price.text,
            "",
        );
    } else if a.status.is_some() {
        row(
            &mut out,
            &t("scan-label-product"),
            &t("scan-no-product"),
            "",
        );
    }
    row(&mut out, &t("scan-label-gtin"), &a.code.gtin, "code");
    row(&mut out, &t("scan-label-serial"), &a.code.serial, "code");
    if let Some(life) = &a.life {
        let steps: Vec<String> = [
            ("scan-life-emitted", &life.emitted),
            ("scan-life-introduced", &life.introduced),
            ("scan-life-sold", &life.sold),
        ]
        .into_iter()
        .filter_map(|(key, date)| date.as_ref().map(|d| format!("{}: {d}", t(key))))
        .collect();
        if !steps.is_empty() {
            row(&mut out, &t("scan-label-life"), &steps.join("; "), "");
        }
    }
    out.push_str("</dl>");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tanba_core::lifecycle::{CodeState, WithdrawalReason, WriteOffReason};

    use super::*;
    use crate::cache::CodeCard;

    fn stored(status: Status, blocked: bool) -> Card {
        Card {
            code: Arc::new(CodeCard {
                key_id: "TK01".to_owned(),
                crypto_tail: "t".repeat(86),
                state: CodeState { status, blocked },
                emitted_at: 0,
                introduced_at: None,
                sold_at: None,
            }),
            product: None,
        }
    }

    #[test]
    fn the_verdict_follows_its_precedence() {
        use SignatureStatus::{Invalid, Missing, UnknownKey, Valid};
        use Verdict::*;
        let sold = Status::Retired(WithdrawalReason::Retail);
        let exported = Status::Retired(WithdrawalReason::EecExport);
        let lost = Status::WrittenOff(WriteOffReason::KmLost);
        let far = CloneReason::FarApart;
        let after_sale = CloneReason::OfferedAfterSale;
        // (stored status and blocked flag, signature, seen far apart, context) → verdict
        let cases = [
            (None, Valid, true, Context::Shop, NotFound),
            (None, Invalid, true, Context::Shop, InvalidSignature),
            (None, Missing, false, Context::Check, InvalidSignature),
            (
                Some((Status::Introduced, false)),
                Invalid,
                true,
                Context::Shop,
                InvalidSignature,
            ),
            (
                Some((Status::Introduced, false)),
                UnknownKey,
                false,
                Context::Check,
                InvalidSignature,
            ),
            (
                Some((Status::Introduced, true)),
                Valid,
                true,
                Context::Shop,
                Blocked,
            ),
            (Some((sold, true)), Valid, true, Context::Shop, Blocked),
            (
                Some((Status::Emitted, false)),
                Valid,
                true,
                Context::Shop,
                NotInCirculation,
            ),
            (
                Some((Status::Applied, false)),
                Valid,
                true,
                Context::Check,
                NotInCirculation,
            ),
            (
                Some((exported, false)),
                Valid,
                true,
                Context::Shop,
                NotInCirculation,
            ),
            (Some((lost, false)), Valid, true, Context::Shop, WrittenOff),
            (Some((sold, false)), Valid, false, Context::Check, Sold),
            (
                Some((sold, false)),
                Missing,
                false,
                Context::Shop,
                SuspectedClone(after_sale),
            ),
            (
                Some((sold, false)),
                Valid,
                true,
                Context::Shop,
                SuspectedClone(after_sale),
            ),
            (
                Some((sold, false)),
                Valid,
                true,
                Context::Check,
                SuspectedClone(far),
            ),
            (
                Some((Status::Introduced, false)),
                Valid,
                false,
                Context::Shop,
                Genuine,
            ),
            (
                Some((Status::Introduced, false)),
                Missing,
                false,
                Context::Check,
                Genuine,
            ),
            (
                Some((Status::Introduced, false)),
                Valid,
                true,
                Context::Check,
                SuspectedClone(far),
            ),
            (
                Some((Status::Introduced, false)),
                Valid,
                true,
                Context::Shop,
                SuspectedClone(far),
            ),
        ];
        for (state, signature, seen_far_apart, context, expected) in cases {
            let card = state.map(|(status, blocked)| stored(status, blocked));
            let clues = Clues {
                seen_far_apart,
                context,
            };
            assert_eq!(
                verdict(card.as_ref(), signature, clues),
                expected,
                "{state:?} {signature:?} {clues:?}"
            );
        }
    }

    #[test]
    fn every_verdict_and_reason_has_its_words_in_both_languages() {
        let verdicts = [
            Verdict::Genuine,
            Verdict::NotFound,
            Verdict::InvalidSignature,
            Verdict::NotInCirculation,
            Verdict::Sold,
            Verdict::WrittenOff,
            Verdict::Blocked,
            Verdict::SuspectedClone(CloneReason::FarApart),
        ];
        let keys = verdicts
            .iter()
            .map(|v| v.message_key())
            .chain([CloneReason::FarApart, CloneReason::OfferedAfterSale].map(|r| r.message_key()));
        for key in keys {
            for lang in Lang::ALL {
                assert!(tanba_locales::has(lang, &key), "{key} in {lang}");
            }
        }
        assert_eq!(
            serde_json::to_value(Verdict::SuspectedClone(CloneReason::OfferedAfterSale))
                .expect("json"),
            "suspected_clone"
        );
    }

    #[test]
    fn a_scan_reads_its_place_and_context_from_the_query() {
        let read = |q: &str| circumstances(q).map_err(|e| e.code());
        assert_eq!(read("lang=ru&91=TK01"), Ok(Circumstances::default()));
        let almaty = read("lat=43.23871&lon=76.94559&context=shop").expect("valid");
        assert_eq!(almaty.place, Place::new(43.24, 76.95));
        assert_eq!(almaty.context, Context::Shop);
        assert_eq!(read("lat=&lon=&context="), Ok(Circumstances::default()));
        assert_eq!(
            read("lat=%2043.2%20&lon=-0.5").map(|c| c.place.is_some()),
            Ok(true)
        );
        for bad in [
            "lat=43.2",
            "lon=1",
            "lat=43.2&lon=",
            "lat=x&lon=1",
            "lat=91&lon=1",
            "lat=1&lon=180.1",
            "lat=NaN&lon=1",
            "lat=1&lon=1&lat=2",
        ] {
            assert_eq!(read(bad), Err("scan_place_invalid"), "{bad}");
        }
        for bad in ["context=sale", "context=Shop", "context=shop&context=shop"] {
            assert_eq!(read(bad), Err("scan_context_invalid"), "{bad}");
        }
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn a_filled_value_is_never_read_as_a_slot() {
        assert_eq!(
            fill("<{{a}}|{{b}}>", &[("a", "{{b}}"), ("b", "B")]),
            "<{{b}}|B>"
        );
    }
}
