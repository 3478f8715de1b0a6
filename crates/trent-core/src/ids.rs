//! Key identifiers in every form AWS accepts: key id, key ARN, alias name,
//! alias ARN.

use crate::KmsError;
use uuid::Uuid;

/// A parsed `KeyId` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Id(Uuid),
    KeyArn {
        region: String,
        account: String,
        id: Uuid,
    },
    /// `alias/name`, stored with its `alias/` prefix.
    AliasName(String),
    AliasArn {
        region: String,
        account: String,
        name: String,
    },
}

impl KeyRef {
    /// Parses a `KeyId` as AWS does; anything else is `NotFoundException:
    /// Invalid keyId`.
    pub fn parse(raw: &str) -> Result<KeyRef, KmsError> {
        let invalid = || KmsError::NotFound(format!("Invalid keyId '{raw}'"));
        if raw.starts_with("alias/") {
            return Ok(KeyRef::AliasName(raw.to_owned()));
        }
        if let Some(rest) = raw.strip_prefix("arn:") {
            // arn:PARTITION:kms:REGION:ACCOUNT:key/ID | alias/NAME
            let mut parts = rest.splitn(5, ':');
            let (Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                return Err(invalid());
            };
            if !partition.starts_with("aws")
                || service != "kms"
                || region.is_empty()
                || account.len() != 12
            {
                return Err(invalid());
            }
            let (region, account) = (region.to_owned(), account.to_owned());
            if let Some(id) = resource.strip_prefix("key/") {
                let id = parse_key_id(id).ok_or_else(invalid)?;
                return Ok(KeyRef::KeyArn {
                    region,
                    account,
                    id,
                });
            }
            if resource.starts_with("alias/") && resource.len() > "alias/".len() {
                return Ok(KeyRef::AliasArn {
                    region,
                    account,
                    name: resource.to_owned(),
                });
            }
            return Err(invalid());
        }
        parse_key_id(raw).map(KeyRef::Id).ok_or_else(invalid)
    }

    pub fn is_alias(&self) -> bool {
        matches!(self, KeyRef::AliasName(_) | KeyRef::AliasArn { .. })
    }
}

/// A key id: the hyphenated UUID form of a single-Region key (never a
/// family id's version 8, which only the `mrk-` form names), or `mrk-` and
/// 32 hex digits: a multi-Region family id (version 8), returned as is;
/// [`is_family`] tells them apart.
fn parse_key_id(s: &str) -> Option<Uuid> {
    if let Some(hex) = s.strip_prefix("mrk-") {
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let id = Uuid::try_parse(hex).ok()?;
        return is_family(&id).then_some(id);
    }
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok().filter(|id| !is_family(id))
}

/// Whether an id is a multi-Region family id (UUID version 8).
pub fn is_family(id: &Uuid) -> bool {
    id.get_version_num() == 8
}

/// A new multi-Region family id: random, with version 8 (RFC 9562's custom
/// version) so that it is never a key's own id.
pub fn new_family() -> Uuid {
    let mut bytes = *Uuid::new_v4().as_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// The id a family's key in `region` is stored under: the first 16 bytes
/// of SHA-256("trent-mrk:" ‖ F ‖ Region), with version 5.
pub fn related_key_id(family: &Uuid, region: &str) -> Uuid {
    let digest = trent_crypto::sha256(
        &[
            b"trent-mrk:".as_slice(),
            family.as_bytes(),
            region.as_bytes(),
        ]
        .concat(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// The KeyId of a multi-Region family: `mrk-` and 32 lowercase hex digits.
pub fn mrk_key_id(family: &Uuid) -> String {
    format!("mrk-{}", family.simple())
}

/// The ARN of a family's key in `region`.
pub fn mrk_key_arn(region: &str, account: &str, family: &Uuid) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{}", mrk_key_id(family))
}

/// The id of one version of a key's material (`KeyMaterialId`,
/// `CurrentKeyMaterialId`): 64 hex digits derived from key id and version,
/// revealing nothing about the material.
pub fn key_material_id(id: &Uuid, version: u32) -> String {
    let digest = trent_crypto::sha256(
        &[
            b"trent-key-material:".as_slice(),
            id.as_bytes(),
            &version.to_be_bytes(),
        ]
        .concat(),
    );
    hex(&digest)
}

/// Lowercase hex, without a `format!` per byte.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

pub fn key_arn(region: &str, account: &str, id: &Uuid) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{id}")
}

pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let id = Uuid::parse_str("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(
            KeyRef::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap(),
            KeyRef::Id(id)
        );
        assert_eq!(
            KeyRef::parse(
                "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            )
            .unwrap(),
            KeyRef::KeyArn {
                region: "us-east-2".into(),
                account: "111122223333".into(),
                id
            }
        );
        assert_eq!(
            KeyRef::parse("alias/Example").unwrap(),
            KeyRef::AliasName("alias/Example".into())
        );
        assert_eq!(
            KeyRef::parse("arn:aws:kms:us-east-2:111122223333:alias/Example").unwrap(),
            KeyRef::AliasArn {
                region: "us-east-2".into(),
                account: "111122223333".into(),
                name: "alias/Example".into()
            }
        );
    }

    #[test]
    fn parses_multi_region_ids() {
        let family = new_family();
        assert!(is_family(&family));
        let bare = mrk_key_id(&family);
        assert_eq!(bare.len(), 36);
        assert_eq!(KeyRef::parse(&bare).unwrap(), KeyRef::Id(family));
        assert_eq!(
            KeyRef::parse(&mrk_key_arn("eu-west-1", "111122223333", &family)).unwrap(),
            KeyRef::KeyArn {
                region: "eu-west-1".into(),
                account: "111122223333".into(),
                id: family
            }
        );
        // The hyphenated form of a family id names no key; nor does `mrk-`
        // with a non-family UUID.
        assert!(KeyRef::parse(&family.to_string()).is_err());
        let v4 = Uuid::new_v4();
        assert!(KeyRef::parse(&format!("mrk-{}", v4.simple())).is_err());
        let east = related_key_id(&family, "us-east-1");
        let west = related_key_id(&family, "eu-west-1");
        assert_ne!(east, west);
        assert_eq!(east.get_version_num(), 5);
        assert_eq!(east, related_key_id(&family, "us-east-1"));
    }

    #[test]
    fn rejects_garbage_with_aws_message() {
        for bad in [
            "foo",
            "1234",
            "arn:aws:kms:us-east-1:1:key/x",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:us-east-1:111122223333:alias/",
        ] {
            let err = KeyRef::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("Invalid keyId '{bad}'"));
        }
    }
}
