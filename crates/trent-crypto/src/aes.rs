//! [`AesKey`]: an AES-256-GCM key as its 32 bytes, for a server that holds
//! many keys.
//!
//! A built key schedule ([`SymmetricKey`]: aws-lc's AEAD context, about
//! 700 bytes with the GHASH table) for each of 100,000 keys would be most of
//! the server's memory, and reading a cold one costs a dozen cache misses.
//! So a stored key keeps only its bytes; the schedule is built when the key
//! is used and kept in a small direct-mapped cache per thread. A hot key is
//! built once per thread; a random key of many is built per use (about
//! 0.5 µs). Each thread's cache is a fixed number of slots, so its memory
//! is bounded, and there are no locks: no thread reads another's slots.
//!
//! Dropping a key (deleted, or replaced after a rotation) advances a global
//! epoch; each thread empties its cache at its next use after that, so no
//! schedule of a dropped key outlives the next request on that thread.
//! aws-lc wipes a context's memory when it is freed.

use crate::{CryptoError, KEY_LEN, SymmetricKey};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::Zeroizing;

/// Slots of each thread's schedule cache (a power of two).
const SLOTS: usize = 128;

/// Gives each key its cache identity; never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Advanced when a key is dropped.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// An AES-256-GCM key: its bytes (zeroized on drop) and a process-unique
/// identity for the schedule cache. No `Debug`. Clones share the identity
/// (same bytes, same schedule).
#[derive(Clone)]
pub struct AesKey {
    id: u64,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl AesKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Internal)?;
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            bytes: Zeroizing::new(bytes),
        })
    }

    /// Runs `f` with this key's schedule: this thread's cached one, or one
    /// built now (and cached). `f` must not call `with` on another key
    /// (it would get a schedule built for that call alone, uncached).
    pub fn with<R>(
        &self,
        f: impl FnOnce(&SymmetricKey) -> Result<R, CryptoError>,
    ) -> Result<R, CryptoError> {
        CACHE.with(|cache| match cache.try_borrow_mut() {
            Ok(mut cache) => f(cache.get(self)?),
            Err(_) => f(&SymmetricKey::from_bytes(self.bytes.as_ref())?),
        })
    }
}

impl Drop for AesKey {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Release);
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::new());
}

/// One thread's schedules: slot `id % SLOTS` holds the last key of those
/// ids that this thread used.
struct Cache {
    /// `DROPPED` when the slots were last known to hold no dropped key.
    epoch: u64,
    slots: Box<[Option<(u64, SymmetricKey)>]>,
}

impl Cache {
    fn new() -> Self {
        Self {
            epoch: DROPPED.load(Ordering::Acquire),
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }

    fn get(&mut self, key: &AesKey) -> Result<&SymmetricKey, CryptoError> {
        let dropped = DROPPED.load(Ordering::Acquire);
        if dropped != self.epoch {
            self.slots.iter_mut().for_each(|slot| *slot = None);
            self.epoch = dropped;
        }
        let slot = &mut self.slots[key.id as usize % SLOTS];
        match slot {
            Some((id, _)) if *id == key.id => {}
            _ => *slot = Some((key.id, SymmetricKey::from_bytes(key.bytes.as_ref())?)),
        }
        Ok(&slot.as_ref().expect("filled above").1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AesKey {
        AesKey::from_bytes(SymmetricKey::generate_bytes().unwrap().as_ref()).unwrap()
    }

    fn roundtrip(key: &AesKey) {
        let mut data = *b"thirty-two bytes of plaintext!!!";
        let (nonce, tag) = key.with(|k| k.seal_in_place(b"aad", &mut data)).unwrap();
        let mut sealed = data.to_vec();
        sealed.extend_from_slice(&tag);
        let opened = key
            .with(|k| Ok(k.open_in_place(&nonce, b"aad", &mut sealed)?.to_vec()))
            .unwrap();
        assert_eq!(opened, b"thirty-two bytes of plaintext!!!");
    }

    #[test]
    fn keys_sharing_a_slot_each_get_their_own_schedule() {
        let keys: Vec<AesKey> = (0..SLOTS * 2 + 3).map(|_| key()).collect();
        for _ in 0..2 {
            keys.iter().for_each(roundtrip);
        }
        // Clones share the identity and the schedule.
        roundtrip(&keys[0].clone());
    }

    #[test]
    fn a_dropped_key_empties_the_cache_at_the_next_use() {
        let (a, b) = (key(), key());
        roundtrip(&a);
        roundtrip(&b);
        drop(a);
        CACHE.with(|c| assert!(c.borrow().slots.iter().any(Option::is_some)));
        roundtrip(&b);
        CACHE.with(|c| {
            let c = c.borrow();
            assert_eq!(c.slots.iter().filter(|s| s.is_some()).count(), 1);
        });
    }

    #[test]
    fn a_nested_use_builds_its_own_schedule() {
        let (a, b) = (key(), key());
        let inner = a
            .with(|_| {
                roundtrip(&b);
                Ok(7)
            })
            .unwrap();
        assert_eq!(inner, 7);
    }

    #[test]
    fn only_32_bytes_make_a_key() {
        for len in [0, 16, 31, 33] {
            assert_eq!(
                AesKey::from_bytes(&vec![0u8; len]).err(),
                Some(CryptoError::Internal)
            );
        }
    }
}
