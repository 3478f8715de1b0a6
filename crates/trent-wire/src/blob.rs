//! Base64 blob members.

use std::fmt;

use base64::Engine as _;
use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

/// A `blob` member: raw bytes, standard base64 (with padding) on the wire.
///
/// `Debug` prints the length only.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Self {
        Blob(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Blob(bytes)
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Self {
        Blob(bytes.to_vec())
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob(<{} bytes>)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(&self.0, &STANDARD))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                STANDARD
                    .decode(v)
                    .map(Blob)
                    .map_err(|e| E::custom(format_args!("invalid base64: {e}")))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A sensitive `blob` member (the model's `"sensitive": true` blobs, such as
/// `PlaintextType`): bytes that are zeroized on drop and never printed.
///
/// Same base64 wire format as [`Blob`]. Decoding writes straight into a
/// zeroizing buffer, and an owned base64 input string is wiped after use.
/// (Buffers owned by the caller, such as the request body, are the caller's
/// to wipe.)
#[derive(Default, Clone)]
pub struct SecretBlob(Zeroizing<Vec<u8>>);

impl SecretBlob {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBlob(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes, still zeroized on drop.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl From<Vec<u8>> for SecretBlob {
    fn from(bytes: Vec<u8>) -> Self {
        SecretBlob::new(bytes)
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBlob {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        SecretBlob(bytes)
    }
}

impl AsRef<[u8]> for SecretBlob {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBlob(<redacted {} bytes>)", self.0.len())
    }
}

impl Serialize for SecretBlob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Streams the encoding into the output: no intermediate String copy.
        serializer.collect_str(&Base64Display::new(&self.0, &STANDARD))
    }
}

fn decode_secret<E: de::Error>(v: &str) -> Result<SecretBlob, E> {
    // Size the buffer up front so decoding never reallocates (a reallocation
    // would leave an unwiped copy behind).
    let mut buf = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(v.len())));
    STANDARD
        .decode_vec(v, &mut buf)
        .map_err(|e| E::custom(format_args!("invalid base64: {e}")))?;
    Ok(SecretBlob(buf))
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SecretBlob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretBlob, E> {
                decode_secret(v)
            }
            fn visit_string<E: de::Error>(self, mut v: String) -> Result<SecretBlob, E> {
                let out = decode_secret(&v);
                v.zeroize();
                out
            }
        }
        deserializer.deserialize_str(V)
    }
}
