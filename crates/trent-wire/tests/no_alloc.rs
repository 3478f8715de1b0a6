//! Validation of valid hot-path requests must not allocate.
//!
//! One test in its own binary so the counting allocator sees only this work.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use trent_wire::{
    DataKeySpec, DecryptRequest, EncryptRequest, EncryptionAlgorithmSpec, GenerateDataKeyRequest,
    Validate,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn valid_hot_path_requests_do_not_allocate() {
    let encrypt: EncryptRequest = serde_json::from_str(
        r#"{"KeyId":"alias/x","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"},
            "GrantTokens":["t1","t2"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","DryRun":false}"#,
    )
    .unwrap();
    let decrypt: DecryptRequest = serde_json::from_str(
        r#"{"CiphertextBlob":"AQIDBA==","KeyId":"alias/x","EncryptionContext":{"a":"b"},
            "GrantTokens":["t1"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT",
            "Recipient":{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","AttestationDocument":"AQID"}}"#,
    )
    .unwrap();
    let gdk: GenerateDataKeyRequest = serde_json::from_str(
        r#"{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","KeySpec":"AES_256",
            "EncryptionContext":{"a":"b"},"GrantTokens":["t"]}"#,
    )
    .unwrap();
    assert_eq!(gdk.key_spec, Some(DataKeySpec::Aes256));
    assert_eq!(
        encrypt.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );

    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        assert!(encrypt.validate().is_ok());
        assert!(decrypt.validate().is_ok());
        assert!(gdk.validate().is_ok());
    }
    let stats = region.change();
    assert_eq!(
        stats.allocations + stats.reallocations,
        0,
        "validation of valid requests allocated: {stats:?}"
    );

    // Sanity check that the counter works: an invalid request allocates.
    let bad = EncryptRequest::default();
    let region = Region::new(GLOBAL);
    assert!(bad.validate().is_err());
    assert!(region.change().allocations > 0);
}
