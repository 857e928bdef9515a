//! A second, strict reading of a body that serde already accepted: serde's derived structs
//! also read a JSON array (`"scaling": []` became the default scaling), which Marathon's
//! readers reject with `error.expected.jsobject`. [`array_for_object`] replays the
//! deserialization over the parsed JSON and reports the path of the first array found
//! where a struct was expected.

use super::error::join_path;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;
use std::fmt;

/// The JSON path (Marathon notation) of an array read as a struct by `T`, if any.
pub fn array_for_object<T: DeserializeOwned>(v: &Value) -> Option<String> {
    match T::deserialize(Strict {
        v,
        path: "/".into(),
    }) {
        Err(StrictError { path: Some(p), .. }) => Some(p),
        _ => None,
    }
}

/// A failure of the replay: `path` is set only for an array read as a struct (other
/// errors cannot happen after serde accepted the body, and are ignored).
#[derive(Debug)]
pub struct StrictError {
    path: Option<String>,
    msg: String,
}

impl fmt::Display for StrictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for StrictError {}

impl de::Error for StrictError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        StrictError {
            path: None,
            msg: msg.to_string(),
        }
    }
}

struct Strict<'v> {
    v: &'v Value,
    path: String,
}

impl<'de> IntoDeserializer<'de, StrictError> for Strict<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'v> Strict<'v> {
    fn child(&self, v: &'v Value, seg: String) -> Strict<'v> {
        Strict {
            v,
            path: join_path(&self.path, &seg),
        }
    }
}

impl<'de> de::Deserializer<'de> for Strict<'_> {
    type Error = StrictError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.v {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(a) => {
                let items = a
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.child(x, format!("({i})")));
                let mut seq = SeqDeserializer::new(items);
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(m) => {
                let entries = m
                    .iter()
                    .map(|(k, x)| (k.as_str(), self.child(x, format!("/{k}"))));
                let mut map = MapDeserializer::new(entries);
                let out = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        if self.v.is_array() {
            return Err(StrictError {
                path: Some(self.path),
                msg: "error.expected.jsobject".into(),
            });
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.v {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.v {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            // Enums with data are rare in request bodies: read them as serde_json does.
            other => de::Deserializer::deserialize_enum(other.clone(), name, variants, visitor)
                .map_err(de::Error::custom),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        inner: Inner,
        #[serde(default)]
        list: Vec<Inner>,
        maybe: Option<Inner>,
    }

    fn check(json: &str) -> Option<String> {
        let v: Value = serde_json::from_str(json).expect("json");
        array_for_object::<Outer>(&v)
    }

    #[test]
    fn arrays_where_structs_belong_are_found_with_their_path() {
        assert_eq!(check(r#"{"inner": {"n": 1}, "list": [{}]}"#), None);
        assert_eq!(check(r#"{"inner": []}"#).as_deref(), Some("/inner"));
        assert_eq!(check(r#"{"list": [{}, []]}"#).as_deref(), Some("/list(1)"));
        assert_eq!(check(r#"{"maybe": [3]}"#).as_deref(), Some("/maybe"));
        assert_eq!(check(r#"[]"#).as_deref(), Some("/"));
    }
}
