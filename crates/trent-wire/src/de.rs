//! Serde helpers used by the generated code.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Deserializes an enum from any string; values outside the model's set
/// become `Unknown` (reported by validation, not as a JSON error).
pub(crate) fn enum_from_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    struct V<T>(PhantomData<T>);
    impl<T: for<'a> From<&'a str>> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok(T::from(v))
        }
    }
    deserializer.deserialize_str(V(PhantomData))
}

/// A required member sent as JSON `null` is treated as absent.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Value of an absent required enum member: `Unknown("")`, which validation
/// reports as `Member must not be null`.
pub(crate) fn missing_enum<T: for<'a> From<&'a str>>() -> T {
    T::from("")
}

/// Like [`null_as_default`], for required enum members.
pub(crate) fn null_as_missing_enum<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + for<'a> From<&'a str>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_else(missing_enum))
}
