//! The encryption context: non-secret UTF-8 pairs, bound to the message
//! (the header's AAD) and to every wrapped data key (KMS's
//! `EncryptionContext`).

use std::collections::BTreeMap;

use crate::{Error, Result};

/// The key under which the signed suite keeps its public key (base64 of the
/// compressed point). Keys with the `aws-crypto-` prefix are the SDK's.
pub const PUBLIC_KEY: &str = "aws-crypto-public-key";
pub const RESERVED_PREFIX: &str = "aws-crypto-";

/// Sorted by key as UTF-8 bytes, the serialization's order (`str`'s `Ord`
/// compares bytes).
pub type EncryptionContext = BTreeMap<String, String>;

/// `k=v` arguments into a context; a key given twice is refused.
pub fn parse_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<EncryptionContext> {
    let mut context = EncryptionContext::new();
    for pair in pairs {
        let pair = pair.as_ref();
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::Context(format!("{pair:?} is not KEY=VALUE")))?;
        if key.is_empty() {
            return Err(Error::Context(format!("{pair:?} has an empty key")));
        }
        if context.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(Error::Context(format!("the key {key:?} is given twice")));
        }
    }
    Ok(context)
}

/// A caller's context for a new message: none of the SDK's reserved keys.
pub fn check_caller_context(context: &EncryptionContext) -> Result<()> {
    match context.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        Some(key) => Err(Error::Context(format!(
            "the key {key:?} is reserved (the prefix {RESERVED_PREFIX:?} is the AWS Encryption SDK's)"
        ))),
        None => Ok(()),
    }
}

/// The serialization (`framework/structures.md`): empty for an empty
/// context, else a pair count and each pair's key and value, each with its
/// 2-byte length.
pub fn serialize(context: &EncryptionContext) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if context.is_empty() {
        return Ok(out);
    }
    put_len(&mut out, context.len(), "pairs")?;
    for (key, value) in context {
        put_len(&mut out, key.len(), "a key's bytes")?;
        out.extend_from_slice(key.as_bytes());
        put_len(&mut out, value.len(), "a value's bytes")?;
        out.extend_from_slice(value.as_bytes());
    }
    if out.len() > usize::from(u16::MAX) {
        return Err(Error::Context(format!(
            "serialized, it is {} bytes; at most {} fit in the header",
            out.len(),
            u16::MAX
        )));
    }
    Ok(out)
}

fn put_len(out: &mut Vec<u8>, len: usize, what: &str) -> Result<()> {
    let len = u16::try_from(len)
        .map_err(|_| Error::Context(format!("{len} {what}; at most {}", u16::MAX)))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

/// The inverse of [`serialize`], on exactly the bytes the header's AAD
/// length names. Pairs in any order are read (the header's bytes, not a
/// re-serialization, are what is authenticated); a key twice is refused.
pub fn parse(bytes: &[u8]) -> Result<EncryptionContext> {
    let mut context = EncryptionContext::new();
    if bytes.is_empty() {
        return Ok(context);
    }
    let mut rest = bytes;
    let count = take_u16(&mut rest)?;
    if count == 0 {
        return Err(bad("a non-empty encryption context with no pairs"));
    }
    for _ in 0..count {
        let key = take_str(&mut rest)?;
        let value = take_str(&mut rest)?;
        if context.insert(key, value).is_some() {
            return Err(bad("an encryption context key appears twice"));
        }
    }
    if !rest.is_empty() {
        return Err(bad("bytes after the encryption context's pairs"));
    }
    Ok(context)
}

fn bad(what: &str) -> Error {
    Error::Malformed(what.to_owned())
}

fn take_u16(rest: &mut &[u8]) -> Result<u16> {
    let (head, tail) = rest
        .split_first_chunk::<2>()
        .ok_or_else(|| bad("the encryption context is truncated"))?;
    *rest = tail;
    Ok(u16::from_be_bytes(*head))
}

fn take_str(rest: &mut &[u8]) -> Result<String> {
    let len = usize::from(take_u16(rest)?);
    if rest.len() < len {
        return Err(bad("the encryption context is truncated"));
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    String::from_utf8(head.to_vec()).map_err(|_| bad("an encryption context string is not UTF-8"))
}

/// Decrypt's `--context`: every named pair must be in the message's
/// context, with that value.
pub fn require(message: &EncryptionContext, required: &EncryptionContext) -> Result<()> {
    for (key, value) in required {
        match message.get(key) {
            Some(found) if found == value => {}
            Some(_) => {
                return Err(Error::Context(format!(
                    "the message's value for {key:?} is not the one required"
                )));
            }
            None => {
                return Err(Error::Context(format!("the message has no {key:?}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_serialization_sorts_by_key_bytes() {
        let context = parse_pairs(&["b=2", "a=1", "Z=0"]).unwrap();
        let bytes = serialize(&context).unwrap();
        assert_eq!(
            bytes,
            b"\x00\x03\x00\x01Z\x00\x010\x00\x01a\x00\x011\x00\x01b\x00\x012".to_vec()
        );
        assert_eq!(parse(&bytes).unwrap(), context);
        assert!(serialize(&EncryptionContext::new()).unwrap().is_empty());
    }

    #[test]
    fn bad_pairs_and_reserved_keys_are_refused() {
        assert!(parse_pairs(&["novalue"]).is_err());
        assert!(parse_pairs(&["=v"]).is_err());
        assert!(parse_pairs(&["a=1", "a=2"]).is_err());
        assert_eq!(parse_pairs(&["a=b=c"]).unwrap()["a"], "b=c");
        let reserved = parse_pairs(&["aws-crypto-public-key=x"]).unwrap();
        assert!(check_caller_context(&reserved).is_err());
    }

    #[test]
    fn malformed_serializations_are_refused() {
        for bytes in [
            &b"\x00"[..],
            b"\x00\x00",
            b"\x00\x01\x00\x01a",
            b"\x00\x01\x00\x01a\x00\x02b",
            b"\x00\x01\x00\x01a\x00\x01bX",
            b"\x00\x02\x00\x01a\x00\x01b\x00\x01a\x00\x01c",
            b"\x00\x01\x00\x01\xff\x00\x01b",
        ] {
            assert!(parse(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn required_pairs_must_be_present_with_their_value() {
        let message = parse_pairs(&["a=1", "b=2"]).unwrap();
        require(&message, &parse_pairs(&["a=1"]).unwrap()).unwrap();
        assert!(require(&message, &parse_pairs(&["a=2"]).unwrap()).is_err());
        assert!(require(&message, &parse_pairs(&["c=1"]).unwrap()).is_err());
    }

    proptest! {
        #[test]
        fn any_context_round_trips(pairs in proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..6)) {
            let bytes = serialize(&pairs).unwrap();
            prop_assert_eq!(parse(&bytes).unwrap(), pairs);
        }

        #[test]
        fn any_bytes_parse_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }
    }
}
