//! A JSON value that keeps object keys in document order.
//!
//! The workspace's `serde_json` is built without `preserve_order` (turning it
//! on here would change `serde_json::Map` for every crate in the workspace),
//! so the generator parses the model into this small ordered tree instead.
//! Member order matters: it is the order of struct fields and of validation
//! messages, and the vendored model is written back in the original order.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> serde_json::Result<Json> {
        serde_json::from_str(text)
    }

    /// The value under `key` when `self` is an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.entries()?
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    pub fn entries(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// A copy without any object entry whose key is in `keys` and whose value
    /// is a string (so a structure member that happened to share a name with
    /// a doc key would survive: members are objects).
    pub fn without_string_keys(&self, keys: &[&str]) -> Json {
        match self {
            Json::Object(entries) => Json::Object(
                entries
                    .iter()
                    .filter(|(k, v)| !(keys.contains(&k.as_str()) && matches!(v, Json::String(_))))
                    .map(|(k, v)| (k.clone(), v.without_string_keys(keys)))
                    .collect(),
            ),
            Json::Array(items) => {
                Json::Array(items.iter().map(|v| v.without_string_keys(keys)).collect())
            }
            other => other.clone(),
        }
    }

    /// Whether any object entry anywhere in the tree has one of `keys`.
    pub fn contains_key(&self, keys: &[&str]) -> bool {
        match self {
            Json::Object(entries) => entries
                .iter()
                .any(|(k, v)| keys.contains(&k.as_str()) || v.contains_key(keys)),
            Json::Array(items) => items.iter().any(|v| v.contains_key(keys)),
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            entries.push((k, v));
        }
        Ok(Json::Object(entries))
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_round_trips() {
        let text = r#"{"b":1,"a":{"documentation":"x","z":[true,null,"s",1.5]}}"#;
        let v = Json::parse(text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        let stripped = v.without_string_keys(&["documentation"]);
        assert_eq!(
            serde_json::to_string(&stripped).unwrap(),
            r#"{"b":1,"a":{"z":[true,null,"s",1.5]}}"#
        );
        assert!(v.contains_key(&["documentation"]));
        assert!(!stripped.contains_key(&["documentation"]));
    }
}
