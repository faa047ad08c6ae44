//! Format-logical control of a JSON request body: a [`Checker`] reads the
//! fields and collects every problem, so the answer lists them all at once.
//! Products and documents share it; each adds the readers of its own
//! fields in an `impl Checker` block of its own module.

use serde_json::{Map, Value};
use time::Date;
use time::macros::{format_description, offset};

use crate::error::{FieldError, unknown_fields};

/// Today in Kazakhstan (one time zone, UTC+5, since March 2024): a document
/// issued today, local time, is not "in the future" at 02:00 in Almaty.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc()
        .to_offset(offset!(+5))
        .date()
}

/// Collects problems while reading fields.
#[derive(Debug)]
pub struct Checker {
    pub errors: Vec<FieldError>,
    /// The date in Kazakhstan: no date read may be after it.
    pub today: Date,
}

impl Checker {
    pub fn new(today: Date) -> Self {
        Self {
            errors: Vec::new(),
            today,
        }
    }

    pub fn fail(&mut self, e: FieldError) {
        self.errors.push(e);
    }

    pub fn unknown_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        self.errors.extend(unknown_fields(obj, Some(path), known));
    }

    /// A text field, trimmed; absent, null or blank is `None` (an error
    /// when `required`).
    pub fn text(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let s = match obj.get(key) {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.trim(),
            Some(_) => {
                self.fail(FieldError::new("not_text", path));
                return None;
            }
        };
        if s.is_empty() {
            if required {
                self.fail(FieldError::new("required", path));
            }
            return None;
        }
        if s.chars().count() > max {
            self.fail(FieldError::new("too_long", path).arg("max", max));
            return None;
        }
        if s.chars().any(char::is_control) {
            self.fail(FieldError::new("control_characters", path));
            return None;
        }
        Some(s.to_owned())
    }

    pub fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(FieldError::new("required", key));
                }
                None
            }
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                self.fail(FieldError::new("not_object", key));
                None
            }
        }
    }

    /// A date `YYYY-MM-DD`, not after today.
    pub fn date(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<String> {
        let text = self.text(obj, key, path, required, 32)?;
        match Date::parse(&text, format_description!("[year]-[month]-[day]")) {
            Ok(d) if d > self.today => {
                self.fail(FieldError::new("date_in_future", path).arg("value", text));
                None
            }
            Ok(d) if d.year() >= 1900 => Some(text),
            _ => {
                self.fail(FieldError::new("date_format", path));
                None
            }
        }
    }
}
