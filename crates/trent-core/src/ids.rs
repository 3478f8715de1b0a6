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
                let id = parse_uuid(id).ok_or_else(invalid)?;
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
        parse_uuid(raw).map(KeyRef::Id).ok_or_else(invalid)
    }

    pub fn is_alias(&self) -> bool {
        matches!(self, KeyRef::AliasName(_) | KeyRef::AliasArn { .. })
    }
}

/// Accepts only the hyphenated lowercase/uppercase form AWS key ids use.
fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
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
