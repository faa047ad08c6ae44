//! The JSON form of a document read without a `serde_json::Value` of its
//! codes: [`Top`] keeps every field but `codes` and `packages` as JSON, only
//! the shape of `codes`, and of `packages` each package's own fields with
//! its members counted ([`Packages`]); [`Codes`] and [`Members`] read the
//! body again and hand each element of `codes`, or each member of each
//! package, on one at a time.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{DocumentItem, Items, MAX_ERRORS, item};

/// A visitor's answers to a number, a boolean or a string: all `$value`
/// (none of them is what the visitor reads).
macro_rules! scalars_are {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// What `codes` is, without its elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// Absent or `null`.
    Null,
    /// A list of this many elements.
    List(usize),
    /// Anything else.
    Other,
}

/// A document body, first pass.
#[derive(Debug)]
pub(super) enum Top {
    /// `rest` holds every field but `codes`, which is there as `null` when
    /// it was sent (so that the object's keys are the body's); `times` is
    /// how often `codes` was sent (the last one counts, as for any key).
    Object {
        rest: Map<String, Value>,
        codes: Shape,
        times: usize,
        /// An aggregation's `packages` (the last one sent), and how often it
        /// was sent; `rest` has it as `null`, as `codes`.
        packages: Packages,
        packages_times: usize,
    },
    /// Valid JSON, but not an object.
    NotObject,
}

impl<'de> de::Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut rest = Map::new();
        let mut codes = Shape::Null;
        let mut times = 0;
        let mut packages = Packages::Null;
        let mut packages_times = 0;
        while let Some(key) = map.next_key::<String>()? {
            if key == "codes" {
                codes = map.next_value::<ShapeOf>()?.0;
                times += 1;
                rest.insert(key, Value::Null);
            } else if key == "packages" {
                packages = map.next_value::<Packages>()?;
                packages_times += 1;
                rest.insert(key, Value::Null);
            } else {
                let value = map.next_value::<Value>()?;
                rest.insert(key, value);
            }
        }
        Ok(Top::Object {
            rest,
            codes,
            times,
            packages,
            packages_times,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject)
    }

    scalars_are!(Top::NotObject);
    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
}

/// The shape of one value, its elements skipped.
struct ShapeOf(Shape);

impl<'de> de::Deserialize<'de> for ShapeOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = ShapeOf;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ShapeOf, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(ShapeOf(Shape::List(n)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ShapeOf, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ShapeOf(Shape::Other))
    }

    fn visit_unit<E>(self) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Null))
    }
    fn visit_none<E>(self) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Null))
    }
    scalars_are!(ShapeOf(Shape::Other));
}

/// The second pass over a body whose `codes` is a list: every other field
/// skipped, each element of the last `codes` handed to `items` as a small
/// `Value` of its own, dropped once checked.
pub(super) struct Codes<'a, 'b> {
    pub items: &'a mut Items<'b>,
    /// Earlier `codes` keys to skip.
    pub skip: usize,
}

impl<'de> DeserializeSeed<'de> for Codes<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Codes<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "codes" && self.skip == 0 {
                map.next_value_seed(Elements {
                    items: &mut *self.items,
                })?;
            } else {
                if key == "codes" {
                    self.skip -= 1;
                }
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The elements of `codes`.
struct Elements<'a, 'b> {
    items: &'a mut Items<'b>,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of codes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<Value>()? {
            self.items.take(&entry);
            if self.items.stopped {
                // Read no further: whoever takes the items has enough.
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// An aggregation's `packages` as the checks need them: each package's own
/// fields as JSON, its members only counted, with the position and problem
/// of each bad one (at most [`MAX_ERRORS`]). A CSV aggregation's rows make
/// the same.
#[derive(Debug, Default)]
pub(crate) enum Packages {
    /// Absent or `null`.
    #[default]
    Null,
    /// Not a list.
    Other,
    List(Vec<Package>),
}

impl Packages {
    /// Per package, its earlier `members` keys the last one overrides.
    pub(crate) fn member_skips(&self) -> Vec<usize> {
        let Packages::List(list) = self else {
            return Vec::new();
        };
        list.iter()
            .map(|p| match p {
                Package::Object { times, .. } => times.saturating_sub(1),
                Package::Other => 0,
            })
            .collect()
    }
}

/// One element of `packages`.
#[derive(Debug)]
pub(crate) enum Package {
    /// An object: its fields but `members`, and its members' shape.
    Object {
        fields: Map<String, Value>,
        members: MembersShape,
        /// How often `members` was sent (the last one counts).
        times: usize,
    },
    /// Anything else.
    Other,
}

/// What a package's `members` is.
#[derive(Debug)]
pub(crate) enum MembersShape {
    /// Absent or `null`.
    Null,
    /// Not a list.
    Other,
    /// A list of `count` members; `bad` are the positions that are not
    /// text (`not_text`) or are blank (`required`).
    List {
        count: usize,
        bad: Vec<(usize, &'static str)>,
    },
}

impl<'de> de::Deserialize<'de> for Packages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PackagesVisitor)
    }
}

struct PackagesVisitor;

impl<'de> Visitor<'de> for PackagesVisitor {
    type Value = Packages;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of packages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Packages, A::Error> {
        let mut list = Vec::new();
        while let Some(package) = seq.next_element::<Package>()? {
            list.push(package);
        }
        Ok(Packages::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Packages, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Packages::Other)
    }

    fn visit_unit<E>(self) -> Result<Packages, E> {
        Ok(Packages::Null)
    }
    fn visit_none<E>(self) -> Result<Packages, E> {
        Ok(Packages::Null)
    }
    scalars_are!(Packages::Other);
}

impl<'de> de::Deserialize<'de> for Package {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PackageVisitor)
    }
}

struct PackageVisitor;

impl<'de> Visitor<'de> for PackageVisitor {
    type Value = Package;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a package")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Package, A::Error> {
        let mut fields = Map::new();
        let mut members = MembersShape::Null;
        let mut times = 0;
        while let Some(key) = map.next_key::<String>()? {
            if key == "members" {
                members = map.next_value::<MembersShape>()?;
                times += 1;
            } else {
                let value = map.next_value::<Value>()?;
                fields.insert(key, value);
            }
        }
        Ok(Package::Object {
            fields,
            members,
            times,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Package, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Package::Other)
    }

    fn visit_unit<E>(self) -> Result<Package, E> {
        Ok(Package::Other)
    }
    scalars_are!(Package::Other);
}

impl<'de> de::Deserialize<'de> for MembersShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MembersShapeVisitor)
    }
}

struct MembersShapeVisitor;

impl<'de> Visitor<'de> for MembersShapeVisitor {
    type Value = MembersShape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of members")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MembersShape, A::Error> {
        let mut count = 0;
        let mut bad = Vec::new();
        while let Some(member) = seq.next_element::<Value>()? {
            let problem = match &member {
                Value::String(text) if !text.trim().is_empty() => None,
                Value::String(_) => Some("required"),
                _ => Some("not_text"),
            };
            if let Some(problem) = problem
                && bad.len() < MAX_ERRORS
            {
                bad.push((count, problem));
            }
            count += 1;
        }
        Ok(MembersShape::List { count, bad })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MembersShape, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MembersShape::Other)
    }

    fn visit_unit<E>(self) -> Result<MembersShape, E> {
        Ok(MembersShape::Null)
    }
    fn visit_none<E>(self) -> Result<MembersShape, E> {
        Ok(MembersShape::Null)
    }
    scalars_are!(MembersShape::Other);
}

/// The second pass over a checked aggregation: every field but the last
/// `packages` skipped, and in each package the last `members` (after
/// `skips[p]` earlier ones), each member handed to `each` with its
/// position, package after package. `each` answering `false` stops the
/// reading (as an error the caller expects).
pub(super) struct Members<'a, F> {
    pub each: &'a mut F,
    /// Earlier `packages` keys to skip.
    pub skip: usize,
    /// Per package, its earlier `members` keys to skip.
    pub skips: &'a [usize],
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> DeserializeSeed<'de> for Members<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> Visitor<'de> for Members<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "packages" && self.skip == 0 {
                map.next_value_seed(PackageList {
                    each: &mut *self.each,
                    skips: self.skips,
                })?;
            } else {
                if key == "packages" {
                    self.skip -= 1;
                }
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The packages of [`Members`].
struct PackageList<'a, F> {
    each: &'a mut F,
    skips: &'a [usize],
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> DeserializeSeed<'de> for PackageList<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> Visitor<'de> for PackageList<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of packages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut next = 0;
        let mut p = 0;
        loop {
            let seed = PackageMembers {
                each: &mut *self.each,
                next: &mut next,
                skip: self.skips.get(p).copied().unwrap_or(0),
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            p += 1;
        }
    }
}

/// One package of [`Members`]: its last `members`, each handed on.
struct PackageMembers<'a, F> {
    each: &'a mut F,
    /// The position of the next member in the document.
    next: &'a mut usize,
    skip: usize,
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> DeserializeSeed<'de> for PackageMembers<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> Visitor<'de> for PackageMembers<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a package")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "members" && self.skip == 0 {
                map.next_value_seed(MemberList {
                    each: &mut *self.each,
                    next: &mut *self.next,
                })?;
            } else {
                if key == "members" {
                    self.skip -= 1;
                }
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The members of one package, each handed to `each` as a
/// [`DocumentItem`] at its position.
struct MemberList<'a, F> {
    each: &'a mut F,
    next: &'a mut usize,
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> DeserializeSeed<'de> for MemberList<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, DocumentItem) -> bool> Visitor<'de> for MemberList<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of members")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(text) = seq.next_element::<String>()? {
            let n = *self.next;
            *self.next += 1;
            if !(self.each)(n, item(&text, None)) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}
