//! The JSON form of a document read without a `serde_json::Value` of its
//! codes: [`Top`] keeps every field but `codes` as JSON and only the shape
//! of `codes`; [`Codes`] reads the body again and hands each element of
//! `codes` to the item checks, one at a time.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Items;

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
        while let Some(key) = map.next_key::<String>()? {
            if key == "codes" {
                codes = map.next_value::<ShapeOf>()?.0;
                times += 1;
                rest.insert(key, Value::Null);
            } else {
                let value = map.next_value::<Value>()?;
                rest.insert(key, value);
            }
        }
        Ok(Top::Object { rest, codes, times })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::NotObject)
    }
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
    fn visit_bool<E>(self, _: bool) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Other))
    }
    fn visit_i64<E>(self, _: i64) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Other))
    }
    fn visit_u64<E>(self, _: u64) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Other))
    }
    fn visit_f64<E>(self, _: f64) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Other))
    }
    fn visit_str<E>(self, _: &str) -> Result<ShapeOf, E> {
        Ok(ShapeOf(Shape::Other))
    }
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
