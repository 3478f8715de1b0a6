//! The ciphertext blob: its header parsed, then the blob opened as Decrypt
//! opens it (`trent-core/src/service/crypto.rs`), with a fixed key and the
//! encryption context the input gives.
//!
//! Input: `[n][n bytes of context lines key=value][blob]` (see
//! `trent_fuzz::blob_input`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use trent_crypto::AesKey;
use trent_crypto::blob::{self, BlobHeader};
use trent_fuzz::{BLOB_KEY, blob_input};

static KEY: LazyLock<AesKey> = LazyLock::new(|| AesKey::from_bytes(&BLOB_KEY).expect("32 bytes"));

fuzz_target!(|data: &[u8]| {
    let (context, ciphertext) = blob_input(data);
    if BlobHeader::parse(ciphertext).is_err() {
        return;
    }
    if let Ok(plaintext) = KEY.with(|key| blob::open(ciphertext, key, &context)) {
        assert_eq!(plaintext.len() + blob::OVERHEAD, ciphertext.len());
    }
});
