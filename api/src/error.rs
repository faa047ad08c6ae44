//! Every HTTP error: a status, a stable machine code, and a message in the
//! language the person asked for.
//!
//! Handlers return [`ApiError`]. Its response carries the message key and
//! arguments in the response's extensions; the [`localize`] middleware, which
//! knows the request, renders the body in the request's language. Errors made
//! by actix itself (unknown route, oversized or malformed body) are turned
//! into `ApiError`s by the handlers installed in `startup`, so every error a
//! client sees has the same shape:
//!
//! ```json
//! {"error": {"code": "not_found", "message": "…", "reference": null}}
//! ```
//!
//! Format-logical control answers with every problem at once: a
//! `validation_failed` error carries `details`, one [`FieldError`] per
//! problem, each with the field's path, a machine code and a message from the
//! key `field-<code with dashes>`:
//!
//! ```json
//! {"error": {"code": "validation_failed", "message": "…", "reference": null,
//!            "details": [{"field": "roles[0]", "code": "unknown_role", "message": "…"}]}}
//! ```
//!
//! An unexpected error logs its whole cause chain under a reference id and
//! shows the client only the reference, never a stack or a SQL message.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tanba_locales::{FluentValue, Lang};

use crate::lang::RequestLang;

/// An error as a client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message_key: String,
    args: Vec<(&'static str, Arg)>,
    reference: Option<String>,
    details: Vec<FieldError>,
}

/// The value of a message argument. Numbers go to Fluent as numbers, so a
/// message can choose its plural form by them (`{ $count -> [one] … }`);
/// everything else is text (a GTIN such as `04652352262009` must keep its
/// leading zero, which a number would not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Number(i64),
}

impl Arg {
    fn fluent(&self) -> FluentValue<'_> {
        match self {
            Arg::Text(s) => FluentValue::from(s.as_str()),
            Arg::Number(n) => FluentValue::from(*n),
        }
    }
}

/// One problem with one field of a request, for `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where: a JSON path such as `contacts.email` or `roles[1]`.
    pub field: String,
    /// Stable machine code; the message key is `field-<code with dashes>`.
    pub code: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

impl FieldError {
    /// The code comes first so that the message test can find its literal.
    pub fn new(code: &'static str, field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }

    pub fn message_key(&self) -> String {
        format!("field-{}", self.code.replace('_', "-"))
    }

    /// The message in a language.
    pub fn message(&self, lang: Lang) -> String {
        localized(lang, &self.message_key(), &self.args)
    }
}

/// Whether a field of a JSON object carries a value, right or wrong: not
/// absent, null or blank. Format-logical checks use it to tell "missing"
/// from "wrong".
pub fn given(obj: &serde_json::Map<String, serde_json::Value>, key: &str) -> bool {
    use serde_json::Value;
    match obj.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// One `unknown_field` error for every key of `obj` not in `known`, named
/// under `path` (`shop.name`) when the object is nested.
pub fn unknown_fields(
    obj: &serde_json::Map<String, serde_json::Value>,
    path: Option<&str>,
    known: &[&str],
) -> impl Iterator<Item = FieldError> {
    obj.keys()
        .filter(|key| !known.contains(&key.as_str()))
        .map(move |key| {
            let field = match path {
                Some(p) => format!("{p}.{key}"),
                None => key.clone(),
            };
            FieldError::new("unknown_field", field)
        })
}

/// What the localizing middleware needs, kept in the response's extensions.
#[derive(Debug, Clone)]
struct Localizable {
    code: &'static str,
    message_key: String,
    args: Vec<(&'static str, Arg)>,
    reference: Option<String>,
    details: Vec<FieldError>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Detail<'a>>,
}

#[derive(Serialize)]
struct Detail<'a> {
    field: &'a str,
    code: &'a str,
    message: String,
}

impl ApiError {
    /// An error whose message is `error-<code with dashes>` in the locales.
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            message_key: format!("error-{}", code.replace('_', "-")),
            args: Vec::new(),
            reference: None,
            details: Vec::new(),
        }
    }

    /// 400 `validation_failed` listing every problem found.
    pub fn validation(details: Vec<FieldError>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed")
            .arg("count", details.len())
            .with_details(details)
    }

    /// Attaches per-field problems.
    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.details = details;
        self
    }

    pub fn details(&self) -> &[FieldError] {
        &self.details
    }

    /// The message comes from another key (e.g. a parse error's own key).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.message_key = key.into();
        self
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }

    /// A number the message may choose a plural form by.
    pub fn number(mut self, name: &'static str, value: i64) -> Self {
        self.args.push((name, Arg::Number(value)));
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }

    /// Something went wrong that the client cannot fix: logged in full under
    /// a reference the client can quote to support.
    pub fn internal(err: anyhow::Error) -> Self {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(reference = %reference, error = ?err, "internal error");
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal");
        e.args.push(("reference", Arg::Text(reference.clone())));
        e.reference = Some(reference);
        e
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message in a language.
    pub fn message(&self, lang: Lang) -> String {
        localized(lang, &self.message_key, &self.args)
    }
}

fn localized(lang: Lang, key: &str, args: &[(&'static str, Arg)]) -> String {
    tanba_locales::text_with(lang, key, args.iter().map(|(k, v)| (*k, v.fluent())))
}

fn render(status: StatusCode, lang: Lang, l: &Localizable) -> HttpResponse {
    let body = Body {
        error: Inner {
            code: l.code,
            message: localized(lang, &l.message_key, &l.args),
            reference: l.reference.as_deref(),
            details: l
                .details
                .iter()
                .map(|d| Detail {
                    field: &d.field,
                    code: d.code,
                    message: d.message(lang),
                })
                .collect(),
        },
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
        .json(body)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.status)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let l = Localizable {
            code: self.code,
            message_key: self.message_key.clone(),
            args: self.args.clone(),
            reference: self.reference.clone(),
            details: self.details.clone(),
        };
        // Rendered in Kazakh here; `localize` re-renders it in the request's
        // language, which only it knows.
        let mut resp = render(self.status, Lang::default(), &l);
        resp.extensions_mut().insert(l);
        resp
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

/// The localized message of a code the parser refused: its key is the parse
/// error's own (`code-error-…`), with the AI, position and detail it names.
/// Shared by the scan and the `tanba code` command.
pub fn parse_error_message(err: &tanba_core::ParseError, lang: Lang) -> String {
    let args = err.args();
    tanba_locales::text_with(
        lang,
        &err.kind.message_key(),
        args.iter().map(|(k, v)| (*k, v.as_str())),
    )
}

/// Machine codes of errors made by actix rather than by our handlers.
pub const FOREIGN_CODES: [&str; 4] = [
    "body_too_large",
    "method_not_allowed",
    "bad_request",
    "internal_unreferenced",
];

/// The message of an error that did not come from an [`ApiError`].
fn foreign(status: StatusCode, err: &actix_web::Error) -> Localizable {
    let [too_large, not_allowed, bad_request, internal] = FOREIGN_CODES;
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large,
        StatusCode::METHOD_NOT_ALLOWED => not_allowed,
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_client_error() => bad_request,
        _ => {
            tracing::error!(error = %err, "internal error outside a handler");
            internal
        }
    };
    Localizable {
        code,
        message_key: format!("error-{}", code.replace('_', "-")),
        args: Vec::new(),
        reference: None,
        details: Vec::new(),
    }
}

/// Middleware: renders every [`ApiError`] in the request's language.
pub async fn localize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = RequestLang::of(req.request());
    let res = next.call(req).await?;
    let mut found = res.response().extensions().get::<Localizable>().cloned();
    if found.is_none()
        && let Some(err) = res.response().error()
    {
        // An error made by actix itself (an extractor's payload error, a
        // method not allowed): same shape and languages as ours.
        found = Some(foreign(res.status(), err));
    }
    match found {
        Some(l)
            if lang != Lang::default()
                || res.response().extensions().get::<Localizable>().is_none() =>
        {
            let status = res.status();
            // Headers the handler put on the error (e.g. `Retry-After`)
            // stay; only the body and its own headers are made anew.
            let kept: Vec<_> = res
                .headers()
                .iter()
                .filter(|(name, _)| {
                    ![
                        header::CONTENT_TYPE,
                        header::CONTENT_LENGTH,
                        header::CONTENT_LANGUAGE,
                    ]
                    .contains(name)
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            let mut res = res.into_response(render(status, lang, &l));
            for (name, value) in kept {
                res.headers_mut().append(name, value);
            }
            Ok(res)
        }
        _ => {
            let mut res = res.map_into_boxed_body();
            if found.is_some() {
                res.headers_mut()
                    .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static("kk"));
            }
            Ok(res)
        }
    }
}
