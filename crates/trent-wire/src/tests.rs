use crate::*;

fn violations(r: Result<(), ValidationError>) -> Vec<String> {
    r.expect_err("expected a validation error").violations
}

#[test]
fn encrypt_request_round_trip() {
    let json = r#"{"KeyId":"alias/x","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}"#;
    let req: EncryptRequest = serde_json::from_str(json).unwrap();
    assert_eq!(req.key_id, "alias/x");
    assert_eq!(req.plaintext.as_bytes(), b"hello");
    assert_eq!(
        req.encryption_context
            .as_ref()
            .unwrap()
            .get("a")
            .map(String::as_str),
        Some("b")
    );
    assert!(req.grant_tokens.is_none() && req.encryption_algorithm.is_none());
    assert!(req.validate().is_ok());
    assert_eq!(serde_json::to_string(&req).unwrap(), json);
}

#[test]
fn unknown_fields_are_ignored_and_null_is_absent() {
    let req: EncryptRequest = serde_json::from_str(
        r#"{"KeyId":null,"Plaintext":"AA==","Whatever":[1,2],"GrantTokens":null}"#,
    )
    .unwrap();
    assert_eq!(req.key_id, "");
    assert!(req.grant_tokens.is_none());
    assert_eq!(
        req.validate().unwrap_err().message(),
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
}

#[test]
fn unknown_enum_value_parses_and_fails_validation() {
    let req: EncryptRequest =
        serde_json::from_str(r#"{"KeyId":"k","Plaintext":"AA==","EncryptionAlgorithm":"ROT13"}"#)
            .unwrap();
    assert_eq!(
        req.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::Unknown("ROT13".into()))
    );
    let expected = format!(
        "Value 'ROT13' at 'encryptionAlgorithm' failed to satisfy constraint: \
         Member must satisfy enum value set: [{}]",
        EncryptionAlgorithmSpec::VALUES.join(", ")
    );
    assert!(expected.contains("[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, "));
    assert_eq!(violations(req.validate()), vec![expected]);
    // The unknown value survives a round trip.
    let back = serde_json::to_string(&req).unwrap();
    assert!(back.contains(r#""EncryptionAlgorithm":"ROT13""#));
}

#[test]
fn enum_basics() {
    assert_eq!(
        KeySpec::from("SYMMETRIC_DEFAULT"),
        KeySpec::SymmetricDefault
    );
    assert_eq!(KeySpec::from("RSA_2048"), KeySpec::Rsa2048);
    assert_eq!(KeySpec::from("ECC_NIST_P256"), KeySpec::EccNistP256);
    assert_eq!(KeySpec::from("ML_DSA_44"), KeySpec::MlDsa44);
    assert_eq!(DataKeySpec::from("AES_256"), DataKeySpec::Aes256);
    assert_eq!(KeyState::from("Enabled"), KeyState::Enabled);
    assert_eq!(KeySpec::from("nope"), KeySpec::Unknown("nope".into()));
    assert_eq!(KeySpec::default().as_str(), KeySpec::VALUES[0]);
    assert_eq!(KeySpec::VALUES.len(), 20);
    assert_eq!(KeySpec::EccNistP256.to_string(), "ECC_NIST_P256");
    for v in KeySpec::VALUES {
        assert_eq!(KeySpec::from(*v).as_str(), *v);
        assert!(!KeySpec::from(*v).is_unknown());
    }
    let ks: KeySpec = serde_json::from_str(r#""HMAC_256""#).unwrap();
    assert_eq!(ks, KeySpec::Hmac256);
    assert_eq!(serde_json::to_string(&ks).unwrap(), r#""HMAC_256""#);
    assert!(serde_json::from_str::<KeySpec>("5").is_err());
}

#[test]
fn plaintext_too_long() {
    let req = EncryptRequest {
        key_id: "alias/x".into(),
        plaintext: SecretBlob::new(vec![7; 4097]),
        ..Default::default()
    };
    assert_eq!(
        req.validate().unwrap_err().to_string(),
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: \
         Member must have length less than or equal to 4096"
    );
    let ok = EncryptRequest {
        plaintext: SecretBlob::new(vec![7; 4096]),
        ..req
    };
    assert!(ok.validate().is_ok());
}

#[test]
fn number_of_bytes_out_of_range() {
    let req: GenerateRandomRequest = serde_json::from_str(r#"{"NumberOfBytes":2000}"#).unwrap();
    assert_eq!(
        req.validate().unwrap_err().message(),
        "1 validation error detected: Value '2000' at 'numberOfBytes' failed to satisfy \
         constraint: Member must have value less than or equal to 1024"
    );
    let zero = GenerateRandomRequest {
        number_of_bytes: Some(0),
        ..Default::default()
    };
    assert_eq!(
        violations(zero.validate()),
        [
            "Value '0' at 'numberOfBytes' failed to satisfy constraint: \
          Member must have value greater than or equal to 1"
        ]
    );
    assert!(GenerateRandomRequest::default().validate().is_ok());
}

#[test]
fn alias_name_pattern() {
    let req = CreateAliasRequest {
        alias_name: "alias/bad name!".into(),
        target_key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
    };
    assert_eq!(
        req.validate().unwrap_err().message(),
        "1 validation error detected: Value 'alias/bad name!' at 'aliasName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    );
    let ok = CreateAliasRequest {
        alias_name: "alias/good_name-1".into(),
        ..req
    };
    assert!(ok.validate().is_ok());
}

#[test]
fn two_violations_are_joined() {
    let req = CreateAliasRequest {
        alias_name: "a".repeat(257),
        target_key_id: String::new(),
    };
    assert_eq!(
        req.validate().unwrap_err().message(),
        format!(
            "2 validation errors detected: Value '{}' at 'aliasName' failed to satisfy \
             constraint: Member must have length less than or equal to 256; Value '' at \
             'targetKeyId' failed to satisfy constraint: Member must have length greater than \
             or equal to 1",
            "a".repeat(257)
        )
    );
}

#[test]
fn unanchored_patterns_match_the_whole_value() {
    // AccountIdType: `[0-9]{12}` with length 12..=12; a longer digit run must
    // fail the pattern too, not just the length.
    let mut out = Vec::new();
    let p = crate::validate::Path::Field(&crate::validate::Path::Root, "accountId");
    crate::generated::check_account_id_type(&mut out, &p, "1234567890123");
    assert_eq!(
        out,
        [
            "Value '1234567890123' at 'accountId' failed to satisfy constraint: Member must have length less than or equal to 12",
            "Value '1234567890123' at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}",
        ]
    );
}

#[test]
fn nested_list_paths() {
    let req: TagResourceRequest = serde_json::from_str(
        r#"{"KeyId":"k","Tags":[{"TagKey":"ok","TagValue":""},{"TagKey":"","TagValue":"v"}]}"#,
    )
    .unwrap();
    assert_eq!(
        violations(req.validate()),
        [
            "Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: \
          Member must have length greater than or equal to 1"
        ]
    );
    let missing: TagResourceRequest = serde_json::from_str(r#"{"KeyId":"k"}"#).unwrap();
    assert_eq!(
        violations(missing.validate()),
        ["Value null at 'tags' failed to satisfy constraint: Member must not be null"]
    );
    let null: TagResourceRequest = serde_json::from_str(r#"{"KeyId":"k","Tags":null}"#).unwrap();
    assert!(null.validate().is_err());
    // A required list with no `min` may be empty: present, not missing.
    let empty: TagResourceRequest = serde_json::from_str(r#"{"KeyId":"k","Tags":[]}"#).unwrap();
    assert!(empty.validate().is_ok());
    assert!(empty.tags.is_some_and(|t| t.is_empty()));
    let tokens = EncryptRequest {
        key_id: "k".into(),
        plaintext: SecretBlob::new(vec![1]),
        grant_tokens: Some(vec!["t".into(), String::new()]),
        ..Default::default()
    };
    assert_eq!(
        violations(tokens.validate()),
        [
            "Value '' at 'grantTokens.2.member' failed to satisfy constraint: \
          Member must have length greater than or equal to 1"
        ]
    );
    let too_many = EncryptRequest {
        grant_tokens: Some(vec!["t".into(); 11]),
        ..tokens
    };
    assert_eq!(
        violations(too_many.validate()),
        ["Value at 'grantTokens' failed to satisfy constraint: \
          Member must have length less than or equal to 10"]
    );
}

#[test]
fn missing_required_enum_is_null() {
    let req: GenerateDataKeyPairRequest = serde_json::from_str(r#"{"KeyId":"k"}"#).unwrap();
    assert_eq!(
        violations(req.validate()),
        ["Value null at 'keyPairSpec' failed to satisfy constraint: Member must not be null"]
    );
    let req: GenerateDataKeyPairRequest =
        serde_json::from_str(r#"{"KeyId":"k","KeyPairSpec":null}"#).unwrap();
    assert!(req.key_pair_spec.is_unknown());
    let req: GenerateDataKeyPairRequest =
        serde_json::from_str(r#"{"KeyId":"k","KeyPairSpec":"RSA_4096"}"#).unwrap();
    assert_eq!(req.key_pair_spec, DataKeyPairSpec::Rsa4096);
    assert!(req.validate().is_ok());
}

#[test]
fn empty_plaintext_reports_min_length() {
    let req: EncryptRequest = serde_json::from_str(r#"{"KeyId":"k"}"#).unwrap();
    assert_eq!(
        violations(req.validate()),
        ["Value at 'plaintext' failed to satisfy constraint: \
          Member must have length greater than or equal to 1"]
    );
}

#[test]
fn string_length_counts_chars() {
    // 2048 two-byte chars: 4096 bytes but within the 2048-character limit.
    let req = DescribeKeyRequest {
        key_id: "é".repeat(2048),
        ..Default::default()
    };
    assert!(req.validate().is_ok());
    let req = DescribeKeyRequest {
        key_id: "é".repeat(2049),
        ..Default::default()
    };
    assert_eq!(violations(req.validate()).len(), 1);
}

#[test]
fn sensitive_string_values_are_not_echoed() {
    let req = CreateCustomKeyStoreRequest {
        custom_key_store_name: "s".into(),
        key_store_password: Some("short".into()),
        ..Default::default()
    };
    assert_eq!(
        violations(req.validate()),
        ["Value at 'keyStorePassword' failed to satisfy constraint: \
          Member must have length greater than or equal to 7"]
    );
    let dbg = format!("{req:?}");
    assert!(!dbg.contains("short"), "{dbg}");
    assert!(dbg.contains("<redacted>"), "{dbg}");
}

#[test]
fn operation_from_target() {
    assert_eq!(
        Operation::from_target("TrentService.Encrypt"),
        Some(Operation::Encrypt)
    );
    assert_eq!(
        Operation::from_target("TrentService.GenerateDataKeyPairWithoutPlaintext"),
        Some(Operation::GenerateDataKeyPairWithoutPlaintext)
    );
    for bad in [
        "",
        "Encrypt",
        "TrentService.",
        "TrentService.encrypt",
        "trentservice.Encrypt",
        "TrentService.Encrypt ",
        "DynamoDB_20120810.Encrypt",
        "TrentServiceEncrypt",
        "TrentService.Nope",
    ] {
        assert_eq!(Operation::from_target(bad), None, "{bad:?}");
    }
    assert_eq!(Operation::ALL.len(), 56);
    for op in Operation::ALL {
        let target = format!("{TARGET_PREFIX}.{}", op.name());
        assert_eq!(Operation::from_target(&target), Some(*op));
    }
    assert_eq!(Operation::Encrypt.name(), "Encrypt");
    assert!(
        Operation::Encrypt
            .errors()
            .contains(&ErrorCode::NotFoundException)
    );
}

#[test]
fn error_codes() {
    assert_eq!(ErrorCode::ALL.iter().filter(|e| e.is_modeled()).count(), 48);
    assert_eq!(ErrorCode::NotFoundException.as_str(), "NotFoundException");
    assert_eq!(ErrorCode::NotFoundException.http_status(), 400);
    for e in [
        ErrorCode::KMSInternalException,
        ErrorCode::DependencyTimeoutException,
        ErrorCode::KeyUnavailableException,
    ] {
        assert_eq!(e.http_status(), 500);
    }
    assert_eq!(ErrorCode::ValidationException.http_status(), 400);
    assert_eq!(
        ErrorCode::MissingAuthenticationTokenException.http_status(),
        400
    );
    assert_eq!(ErrorCode::RequestEntityTooLargeException.http_status(), 413);
    assert!(!ErrorCode::ValidationException.is_modeled());
    for e in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_type(e.as_str()), Some(*e));
    }
    assert_eq!(
        ErrorCode::from_type("com.amazonaws.kms#NotFoundException"),
        Some(ErrorCode::NotFoundException)
    );
    assert_eq!(ErrorCode::from_type("Nope"), None);
}

#[test]
fn blobs() {
    let secret = SecretBlob::new(b"top secret".to_vec());
    assert_eq!(format!("{secret:?}"), "SecretBlob(<redacted 10 bytes>)");
    assert_eq!(secret.len(), 10);
    assert!(!secret.is_empty());
    assert!(SecretBlob::default().is_empty());
    let json = serde_json::to_string(&secret).unwrap();
    assert_eq!(json, r#""dG9wIHNlY3JldA==""#);
    let back: SecretBlob = serde_json::from_str(&json).unwrap();
    assert_eq!(back.as_bytes(), b"top secret");
    // Escaped input arrives as an owned string.
    let escaped: SecretBlob = serde_json::from_str(r#""dG9wIHNlY3JldA\u003d\u003d""#).unwrap();
    assert_eq!(escaped.as_bytes(), b"top secret");

    let blob = Blob(vec![1, 2, 3]);
    assert_eq!(format!("{blob:?}"), "Blob(<3 bytes>)");
    assert_eq!(serde_json::to_string(&blob).unwrap(), r#""AQID""#);
    assert_eq!(serde_json::from_str::<Blob>(r#""AQID""#).unwrap(), blob);
    assert!(serde_json::from_str::<Blob>(r#""not base64!""#).is_err());
    assert!(serde_json::from_str::<SecretBlob>(r#""AQI""#).is_err());

    let req = DecryptResponse {
        plaintext: Some(SecretBlob::new(b"hello".to_vec())),
        ..Default::default()
    };
    let dbg = format!("{req:?}");
    assert!(dbg.contains("SecretBlob(<redacted 5 bytes>)") && !dbg.contains("hello"));
}

#[test]
fn timestamps_are_epoch_seconds() {
    let meta: KeyMetadata =
        serde_json::from_str(r#"{"KeyId":"k","CreationDate":1700000000.5,"Enabled":true}"#)
            .unwrap();
    assert_eq!(meta.creation_date, Some(1_700_000_000.5));
    assert_eq!(meta.enabled, Some(true));
}

#[test]
fn all_model_patterns_compile() {
    assert!(crate::generated::force_all_patterns() > 0);
}

#[test]
fn unicode_escape_patterns() {
    let policy = |p: &str| PutKeyPolicyRequest {
        key_id: "k".into(),
        policy: p.into(),
        ..Default::default()
    };
    assert!(
        policy("{\n\t\"Version\": \"2012-10-17\"\r\n}")
            .validate()
            .is_ok()
    );
    assert!(policy("caf\u{e9}").validate().is_ok());
    assert_eq!(
        violations(policy("\u{20ac}").validate()),
        [
            "Value '\u{20ac}' at 'policy' failed to satisfy constraint: Member must satisfy \
          regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
        ]
    );
    let list = |m: &str| ListKeysRequest {
        marker: Some(m.into()),
        ..Default::default()
    };
    assert!(list("opaque-marker~1").validate().is_ok());
    assert_eq!(violations(list("\u{1}").validate()).len(), 1);
}

#[test]
fn parse_and_validate_reads_each_operation_s_own_request() {
    // Every request reads `{}` (required members then fail validation), so
    // a JSON error here would mean an operation with the wrong input type.
    for op in Operation::ALL {
        let result = op.parse_and_validate(b"{}");
        assert!(!matches!(result, Err(RequestError::Json(_))), "{op}");
    }
    let encrypt = br#"{"KeyId":"alias/x","Plaintext":"aGVsbG8="}"#;
    assert!(Operation::Encrypt.parse_and_validate(encrypt).is_ok());
    assert!(Operation::ListKeys.parse_and_validate(b"").is_ok());
    assert!(matches!(
        Operation::GenerateRandom.parse_and_validate(br#"{"NumberOfBytes": 2000}"#),
        Err(RequestError::Invalid(_))
    ));
    assert!(matches!(
        Operation::Encrypt.parse_and_validate(br#"{"KeyId":"k","Plaintext":"not base64!"}"#),
        Err(RequestError::Json(_))
    ));
}
