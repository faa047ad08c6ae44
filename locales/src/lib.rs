//! `tanba-locales`: every word a person reads in Tanba, in Kazakh and Russian.
//!
//! The texts live in `locales/kk/*.ftl` and `locales/ru/*.ftl` (Project Fluent
//! syntax) and are compiled into the binary, so a running service can never
//! miss a file. Kazakh is the state language and comes first: it is the
//! default and the fallback.
//!
//! Unicode isolation marks around arguments are turned off: our texts go into
//! JSON and plain text, where the invisible marks would only confuse clients.
//!
//! **Architecture invariant:** no other crate carries user-facing words; they
//! carry message keys. `tests/parity.rs` fails when a key exists in one
//! language and not in the other.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

pub use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{Loader, static_loader};
use unic_langid::{LanguageIdentifier, langid};

static_loader! {
    static LOCALES = {
        locales: "./",
        fallback_language: "kk",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static KK: LanguageIdentifier = langid!("kk");
static RU: LanguageIdentifier = langid!("ru");

/// A language a person can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Kazakh, the state language: the default.
    #[default]
    Kk,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Kk, Lang::Ru];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
        }
    }

    /// An explicit choice (`?lang=`, a cookie, a CLI flag): `kk`, `ru`, or a
    /// tag with a region such as `ru-KZ`. Anything else is not a choice.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let id: LanguageIdentifier = tag.trim().parse().ok()?;
        match id.language.as_str() {
            "kk" => Some(Lang::Kk),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The best match for an `Accept-Language` header, Kazakh when the header
    /// names neither language.
    pub fn negotiate(accept_language: &str) -> Lang {
        let requested = fluent_langneg::parse_accepted_languages(accept_language);
        let available = [KK.clone(), RU.clone()];
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            Some(&available[0]),
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        chosen
            .first()
            .and_then(|id| Lang::from_tag(id.language.as_str()))
            .unwrap_or_default()
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Kk => &KK,
            Lang::Ru => &RU,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text of a message without arguments. A missing key gives the key
/// itself, so a gap shows on screen instead of crashing; the parity tests
/// keep gaps out of the repository.
pub fn text(lang: Lang, key: &str) -> String {
    LOCALES
        .try_lookup(lang.id(), key)
        .unwrap_or_else(|| key.to_owned())
}

/// The text of a message with named arguments.
pub fn text_with<'a, I, V>(lang: Lang, key: &str, args: I) -> String
where
    I: IntoIterator<Item = (&'a str, V)>,
    V: Into<FluentValue<'a>>,
{
    let args: HashMap<Cow<'static, str>, FluentValue<'a>> = args
        .into_iter()
        .map(|(k, v)| (Cow::Owned(k.to_owned()), v.into()))
        .collect();
    LOCALES
        .try_lookup_with_args(lang.id(), key, &args)
        .unwrap_or_else(|| key.to_owned())
}

/// Whether the language has this message of its own (not by fallback).
pub fn has(lang: Lang, key: &str) -> bool {
    match LOCALES.lookup_single_language::<&str>(lang.id(), key, None) {
        Ok(_) => true,
        // Formatting without arguments fails for a message that has
        // variables, but the message is there. fluent-templates does not
        // export its error type, so the variant is told by its Debug name.
        Err(e) => format!("{e:?}").starts_with("FluentError"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazakh_is_the_default_and_accept_language_is_honoured() {
        assert_eq!(Lang::negotiate(""), Lang::Kk);
        assert_eq!(Lang::negotiate("en-US,en;q=0.9"), Lang::Kk);
        assert_eq!(Lang::negotiate("ru-RU,ru;q=0.9,en;q=0.8"), Lang::Ru);
        assert_eq!(Lang::negotiate("kk-KZ,ru;q=0.5"), Lang::Kk);
        assert_eq!(Lang::from_tag("ru-KZ"), Some(Lang::Ru));
        assert_eq!(Lang::from_tag("de"), None);
        assert_eq!(Lang::from_tag("<script>"), None);
    }
}
