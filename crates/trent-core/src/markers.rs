//! Pagination markers: opaque to callers and tamper-proof. A marker is the
//! position to resume at plus an HMAC tag over (list, position); a forged or
//! edited marker, or one from another list, is refused with
//! `InvalidMarkerException`.

use crate::error::KmsError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use trent_crypto::MacKey;

const TAG_LEN: usize = 16;

pub struct Markers {
    key: MacKey,
}

impl Markers {
    pub fn new(key: MacKey) -> Self {
        Self { key }
    }

    /// A marker for `position` in the list named `list` (which should say
    /// whose list it is: operation, account, region, key).
    pub fn issue(&self, list: &str, position: &str) -> String {
        let tag = self.key.tag(&[list.as_bytes(), position.as_bytes()]);
        let mut bytes = Vec::with_capacity(position.len() + TAG_LEN);
        bytes.extend_from_slice(position.as_bytes());
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position a marker of `list` stands for.
    pub fn open(&self, list: &str, marker: &str) -> Result<String, KmsError> {
        let invalid = || KmsError::InvalidMarker("Invalid marker".into());
        let bytes = URL_SAFE_NO_PAD.decode(marker).map_err(|_| invalid())?;
        if bytes.len() < TAG_LEN {
            return Err(invalid());
        }
        let (position, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let expected = self.key.tag(&[list.as_bytes(), position]);
        if !trent_crypto::constant_time_eq(tag, &expected[..TAG_LEN]) {
            return Err(invalid());
        }
        String::from_utf8(position.to_vec()).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_refuse_forgery() {
        let markers = Markers::new(MacKey::from_bytes(&[7u8; 32]));
        let marker = markers.issue("ListKeys/111122223333/us-east-1", "42");
        assert_eq!(
            markers
                .open("ListKeys/111122223333/us-east-1", &marker)
                .unwrap(),
            "42"
        );
        assert!(
            markers
                .open("ListKeys/444455556666/us-east-1", &marker)
                .is_err()
        );
        assert!(
            markers
                .open("ListKeys/111122223333/us-east-1", "42")
                .is_err()
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&marker).unwrap();
        bytes[0] ^= 1;
        assert!(
            markers
                .open(
                    "ListKeys/111122223333/us-east-1",
                    &URL_SAFE_NO_PAD.encode(bytes)
                )
                .is_err()
        );
        let other = Markers::new(MacKey::from_bytes(&[8u8; 32]));
        assert!(
            other
                .open("ListKeys/111122223333/us-east-1", &marker)
                .is_err()
        );
    }
}
