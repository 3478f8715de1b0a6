//! Data key caching across the messages of one run (`--cache`), as the
//! Encryption SDK's caching CMM does it: a data key (with its encrypted
//! copies and, for the signed suite, its signing key) encrypts several
//! messages, each with its own message id and so its own derived key,
//! until the entry is too old or has encrypted too many messages or bytes.
//! Decrypt remembers unwrapped data keys by the message's encrypted data
//! keys and context, within the same age and message limits. Entries live
//! in this process's memory only (zeroized when dropped).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use zeroize::Zeroizing;

use crate::header::Header;
use crate::message::EncryptionMaterials;
use crate::{Error, Result, context};

/// When a cached data key must be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_age: Duration,
    /// Messages per data key (the SDK's default: 2^32).
    pub max_messages: u64,
    /// Plaintext bytes per data key, on encrypt (the SDK's default: 2^63 - 1).
    pub max_bytes: u64,
}

impl Limits {
    /// `max-age=SECONDS[,max-messages=N][,max-bytes=N]`.
    pub fn parse(spec: &str) -> Result<Limits> {
        let bad = |why: String| Error::Limit(format!("--cache {spec:?}: {why}"));
        let mut max_age = None;
        let mut limits = Limits {
            max_age: Duration::ZERO,
            max_messages: 1 << 32,
            max_bytes: i64::MAX as u64,
        };
        for part in spec.split(',') {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} is not NAME=VALUE")))?;
            let number: u64 = value
                .parse()
                .map_err(|_| bad(format!("{value:?} is not a whole number")))?;
            if number == 0 {
                return Err(bad(format!("{name} must be at least 1")));
            }
            match name {
                "max-age" => max_age = Some(Duration::from_secs(number)),
                "max-messages" => limits.max_messages = number,
                "max-bytes" => limits.max_bytes = number,
                other => {
                    return Err(bad(format!(
                        "unknown limit {other:?} (max-age, max-messages, max-bytes)"
                    )));
                }
            }
        }
        limits.max_age = max_age.ok_or_else(|| bad("max-age=SECONDS is required".into()))?;
        Ok(limits)
    }
}

struct Use {
    since: Instant,
    messages: u64,
    bytes: u64,
}

impl Use {
    fn new() -> Use {
        Use {
            since: Instant::now(),
            messages: 0,
            bytes: 0,
        }
    }

    /// Counts one more message of `bytes` if the limits allow it.
    fn take(&mut self, limits: &Limits, bytes: u64) -> bool {
        let fits = self.since.elapsed() < limits.max_age
            && self.messages < limits.max_messages
            && self.bytes.saturating_add(bytes) <= limits.max_bytes;
        if fits {
            self.messages += 1;
            self.bytes += bytes;
        }
        fits
    }
}

/// Encrypt's cache: one run encrypts under one set of keys and one
/// context, so one entry.
pub struct EncryptCache {
    limits: Limits,
    entry: Option<(EncryptionMaterials, Use)>,
}

impl EncryptCache {
    pub fn new(limits: Limits) -> EncryptCache {
        EncryptCache {
            limits,
            entry: None,
        }
    }

    /// The cached materials for a message of `size` bytes, counted as
    /// used, or `None` (none cached, or over a limit). A message of
    /// unknown size (a stream) never uses the cache.
    pub fn get(&mut self, size: Option<u64>) -> Option<&EncryptionMaterials> {
        let size = size?;
        let fits = match &mut self.entry {
            Some((_, usage)) => usage.take(&self.limits, size),
            None => false,
        };
        if !fits {
            self.entry = None;
        }
        self.entry.as_ref().map(|(materials, _)| materials)
    }

    /// The cached materials for a message of `size` bytes, or new ones
    /// from `make`, cached.
    pub fn get_or_make<E>(
        &mut self,
        size: Option<u64>,
        make: impl FnOnce() -> Result<EncryptionMaterials, E>,
    ) -> Result<&EncryptionMaterials, E> {
        if self.get(size).is_none() {
            self.put(make()?, size);
        }
        Ok(&self.entry.as_ref().expect("cached above").0)
    }

    /// Caches new materials, their first message of `size` bytes counted.
    pub fn put(
        &mut self,
        materials: EncryptionMaterials,
        size: Option<u64>,
    ) -> &EncryptionMaterials {
        let mut usage = Use::new();
        let cacheable = size.is_some_and(|size| usage.take(&self.limits, size));
        let entry = self.entry.insert((materials, usage));
        if !cacheable {
            // Over the limits on its own (or a stream): used once, not kept.
            entry.1.messages = u64::MAX;
        }
        &entry.0
    }
}

/// Decrypt's cache: data keys by the message's encrypted data keys and
/// context.
pub struct DecryptCache {
    limits: Limits,
    entries: HashMap<[u8; 32], (Zeroizing<Vec<u8>>, Use)>,
}

impl DecryptCache {
    pub fn new(limits: Limits) -> DecryptCache {
        DecryptCache {
            limits,
            entries: HashMap::new(),
        }
    }

    fn id(header: &Header) -> Result<[u8; 32]> {
        let mut bytes = header.suite.id().to_be_bytes().to_vec();
        bytes.extend_from_slice(&context::serialize(&header.context)?);
        for key in &header.data_keys {
            for field in [
                key.provider_id.as_bytes(),
                &key.provider_info,
                &key.ciphertext,
            ] {
                bytes.extend_from_slice(&(field.len() as u32).to_be_bytes());
                bytes.extend_from_slice(field);
            }
        }
        let mut id = [0; 32];
        id.copy_from_slice(digest(&SHA256, &bytes).as_ref());
        Ok(id)
    }

    /// The data key already unwrapped for this header, counted as used.
    pub fn get(&mut self, header: &Header) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let id = DecryptCache::id(header)?;
        let Some((key, usage)) = self.entries.get_mut(&id) else {
            return Ok(None);
        };
        if usage.take(&self.limits, 0) {
            return Ok(Some(key.clone()));
        }
        self.entries.remove(&id);
        Ok(None)
    }

    pub fn put(&mut self, header: &Header, key: &Zeroizing<Vec<u8>>) -> Result<()> {
        let mut usage = Use::new();
        usage.take(&self.limits, 0);
        self.entries
            .insert(DecryptCache::id(header)?, (key.clone(), usage));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Suite;
    use crate::header::EncryptedDataKey;

    #[test]
    fn limits_parse_with_the_sdk_defaults() {
        let limits = Limits::parse("max-age=60").unwrap();
        assert_eq!(limits.max_age, Duration::from_secs(60));
        assert_eq!(limits.max_messages, 1 << 32);
        let limits = Limits::parse("max-age=1,max-messages=5,max-bytes=100").unwrap();
        assert_eq!((limits.max_messages, limits.max_bytes), (5, 100));
        for bad in [
            "",
            "max-messages=5",
            "max-age=0",
            "max-age=x",
            "max-age=1,ttl=2",
            "max-age",
        ] {
            assert!(Limits::parse(bad).is_err(), "{bad}");
        }
    }

    fn materials() -> EncryptionMaterials {
        let mut m = EncryptionMaterials::new(Suite::Committed, Default::default()).unwrap();
        let wrapped = EncryptedDataKey {
            provider_id: "aws-kms".into(),
            provider_info: vec![],
            ciphertext: vec![1],
        };
        m.set_data_key(Zeroizing::new([1; 32]), wrapped);
        m
    }

    #[test]
    fn encrypt_reuses_a_data_key_within_its_message_and_byte_limits() {
        let mut cache =
            EncryptCache::new(Limits::parse("max-age=60,max-messages=3,max-bytes=100").unwrap());
        assert!(cache.get(Some(10)).is_none());
        cache.put(materials(), Some(10));
        assert!(cache.get(Some(10)).is_some());
        assert!(cache.get(Some(10)).is_some());
        assert!(cache.get(Some(10)).is_none(), "a fourth message");
        cache.put(materials(), Some(60));
        assert!(cache.get(Some(50)).is_none(), "110 bytes");
        cache.put(materials(), Some(200));
        assert!(
            cache.get(Some(1)).is_none(),
            "a message over max-bytes alone is not cached"
        );
        cache.put(materials(), Some(1));
        assert!(cache.get(None).is_none(), "a stream never uses the cache");
    }

    #[test]
    fn entries_expire() {
        let mut cache = EncryptCache::new(Limits {
            max_age: Duration::from_millis(30),
            max_messages: 10,
            max_bytes: 10,
        });
        cache.put(materials(), Some(1));
        assert!(cache.get(Some(1)).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(Some(1)).is_none());
    }

    #[test]
    fn decrypt_finds_a_key_only_for_the_same_data_keys_and_context() {
        let header = |ciphertext: u8, purpose: &str| Header {
            suite: Suite::Committed,
            message_id: [0; 32],
            context: context::parse_pairs(&[format!("purpose={purpose}")]).unwrap(),
            data_keys: vec![EncryptedDataKey {
                provider_id: "aws-kms".into(),
                provider_info: b"arn".to_vec(),
                ciphertext: vec![ciphertext],
            }],
            frame_length: 4096,
            commitment: [0; 32],
        };
        let mut cache = DecryptCache::new(Limits::parse("max-age=60,max-messages=2").unwrap());
        cache
            .put(&header(1, "a"), &Zeroizing::new(vec![7; 32]))
            .unwrap();
        assert!(cache.get(&header(1, "a")).unwrap().is_some());
        assert!(cache.get(&header(2, "a")).unwrap().is_none());
        assert!(cache.get(&header(1, "b")).unwrap().is_none());
        assert!(
            cache.get(&header(1, "a")).unwrap().is_none(),
            "a third message"
        );
    }
}
