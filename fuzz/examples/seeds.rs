//! Writes the committed seed corpora, `fuzz/corpus/<target>/seed-*`, made
//! with Trent's own functions (requests signed by `trent_sigv4::sign`, blobs
//! sealed by `trent_crypto::blob::seal`) and checked before they are written
//! (every KMS request body is valid for its operation, every policy
//! parses). Other files in the corpus directories (regression inputs) are
//! left alone. Blobs have random nonces, so a rerun changes those files.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderValue};
use trent_crypto::SymmetricKey;
use trent_crypto::blob::{self, BlobHeader};
use trent_fuzz::{
    ACCESS_KEY_ID, BLOB_KEY, NOW, SECRET, blob_seed, http_text, kms_seed, policy_input, policy_seed,
};
use trent_policy::{Policy, PolicyKind};
use trent_sigv4::{RequestParts, SigningKey, sign};
use trent_wire::Operation;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Seeds {
        corpus: root.join("corpus"),
        written: 0,
    };
    sigv4(
        &mut seeds,
        &root.join("../crates/trent-sigv4/tests/aws-sig-v4-test-suite"),
    );
    blobs(&mut seeds);
    kms_requests(&mut seeds);
    policies(&mut seeds);
    iam_queries(&mut seeds);
    println!(
        "wrote {} seeds under {}",
        seeds.written,
        seeds.corpus.display()
    );
}

struct Seeds {
    corpus: PathBuf,
    written: usize,
}

impl Seeds {
    /// Empties `target`'s seeds (files named `seed-*`), keeping other files.
    fn clear(&self, target: &str) {
        let dir = self.corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("seed-") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }

    fn write(&mut self, target: &str, name: &str, data: &[u8]) {
        let path = self.corpus.join(target).join(format!("seed-{name}"));
        assert!(!path.exists(), "two seeds named {}", path.display());
        std::fs::write(&path, data).unwrap();
        self.written += 1;
    }
}

// ------------------------------------------------------------------- SigV4

/// AWS's test suite (the signed request of each case) and requests as
/// Trent's clients send them, signed by `trent_sigv4::sign`.
fn sigv4(seeds: &mut Seeds, suite: &Path) {
    seeds.clear("sigv4_request");
    seeds.clear("sigv4_authorization");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(suite)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("header-signed-request.txt").exists())
        .collect();
    cases.sort();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read(case.join("header-signed-request.txt")).unwrap();
        seeds.write("sigv4_request", &format!("aws-{name}"), &text);
        if name == "get-vanilla" || name == "post-x-www-form-urlencoded" {
            let text = String::from_utf8(text).unwrap();
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix("Authorization:"))
                .unwrap();
            seeds.write(
                "sigv4_authorization",
                &format!("aws-{name}"),
                value.as_bytes(),
            );
        }
    }

    let kms = signed(
        "kms",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TrentService.Encrypt"),
            ("user-agent", "aws-cli/2.15.0"),
        ],
        br#"{"KeyId":"alias/app","Plaintext":"aGVsbG8="}"#,
        None,
        false,
    );
    seeds.write("sigv4_request", "kms-encrypt", &kms.0);
    seeds.write("sigv4_authorization", "kms-encrypt", kms.1.as_bytes());

    let session = signed(
        "kms",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TrentService.ListKeys"),
        ],
        b"{}",
        Some("FwoGZXIvYXdzEXAMPLESESSIONTOKEN"),
        true,
    );
    seeds.write("sigv4_request", "kms-session-token", &session.0);
    seeds.write(
        "sigv4_authorization",
        "kms-session-token",
        session.1.as_bytes(),
    );

    let iam = signed(
        "iam",
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        b"Action=CreateUser&Version=2010-05-08&UserName=alice",
        None,
        false,
    );
    seeds.write("sigv4_request", "iam-create-user", &iam.0);
    seeds.write("sigv4_authorization", "iam-create-user", iam.1.as_bytes());

    // Headers the parser must refuse, each as AWS words it (from the unit tests).
    for (name, value) in [
        ("missing-parameters", "AWS4-HMAC-SHA256 Credential=ABCDEF"),
        (
            "empty-parameters",
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        ),
        (
            "other-separators",
            "  AWS4-HMAC-SHA256   Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,\
             Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request//,SignedHeaders=host Extra=1 ",
        ),
        (
            "sigv2",
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        ),
    ] {
        seeds.write("sigv4_authorization", name, value.as_bytes());
    }
}

/// A POST to `/` signed for `service` at [`NOW`]: the request's text and
/// its `Authorization` value.
fn signed(
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    token: Option<&str>,
    content_sha256: bool,
) -> (Vec<u8>, String) {
    let mut map = HeaderMap::new();
    map.insert("host", HeaderValue::from_static("127.0.0.1:4599"));
    map.insert("x-amz-date", HeaderValue::from_static(NOW));
    for (name, value) in headers {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    if let Some(token) = token {
        map.insert(
            "x-amz-security-token",
            HeaderValue::from_str(token).unwrap(),
        );
    }
    if content_sha256 {
        let hash = sha256_hex(body);
        map.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&hash).unwrap(),
        );
    }
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &map,
        body,
    };
    let key = SigningKey::derive(SECRET, &NOW[..8], "us-east-1", service);
    let authorization = sign(&parts, ACCESS_KEY_ID, &key, "us-east-1", service, NOW);
    map.insert(
        "authorization",
        HeaderValue::from_str(&authorization).unwrap(),
    );
    (http_text("POST", "/", &map, body), authorization)
}

fn sha256_hex(body: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body))
}

// ------------------------------------------------------------------- blobs

fn blobs(seeds: &mut Seeds) {
    seeds.clear("blob");
    let key = SymmetricKey::from_bytes(&BLOB_KEY).unwrap();
    let header = BlobHeader {
        key_id: *b"\x12\x34\xab\xcd\x12\xab\x34\xcd\x56\xef\x12\x34\x56\x78\x90\xab",
        material_version: 1,
    };
    let context = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let cases: [(&str, BTreeMap<String, String>, Vec<u8>); 5] = [
        ("hello", context(&[]), b"hello".to_vec()),
        ("data-key", context(&[]), vec![0x5a; 32]),
        (
            "with-context",
            context(&[("purpose", "test"), ("department", "10103.0")]),
            b"secret".to_vec(),
        ),
        ("empty-context-value", context(&[("a", "")]), vec![0; 1]),
        ("4096-bytes", context(&[("k", "v")]), vec![0xa5; 4096]),
    ];
    for (name, context, plaintext) in cases {
        let sealed = blob::seal(header, &key, &context, &plaintext).unwrap();
        assert_eq!(
            &blob::open(&sealed, &key, &context).unwrap()[..],
            &plaintext[..]
        );
        seeds.write("blob", name, &blob_seed(&context, &sealed));
    }
    let rotated = BlobHeader {
        material_version: 7,
        ..header
    };
    let sealed = blob::seal(rotated, &key, &BTreeMap::new(), b"rotated").unwrap();
    seeds.write(
        "blob",
        "material-version-7",
        &blob_seed(&BTreeMap::new(), &sealed),
    );
}

// ------------------------------------------------------------ KMS requests

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A valid request of every operation, most with their optional members.
fn kms_requests(seeds: &mut Seeds) {
    seeds.clear("kms_request");
    let blob = "AQEjRWeJq83vASNFZ4mrze8AAAABAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let policy = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"#;
    let spki = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWu2X8Xv6Dlr+7c7nfsq5FcCJJ8PRu0z6P3aFN5Sc4hXZaJ3dv5iKHR9r5sS7U2F/nSzqQ+6EnhF8fYr9e7pK1g==";
    let xks = r#""XksProxyUriEndpoint":"https://xks.example.com","XksProxyUriPath":"/example/prefix/kms/xks/v1","XksProxyVpcEndpointServiceName":"com.amazonaws.vpce.us-east-1.vpce-svc-example1","XksProxyAuthenticationCredential":{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","RawSecretAccessKey":"DXjSUawnel2fr6SKC7G25CNxTyWKE5PF9XX6H/u9pSo="},"XksProxyConnectivity":"VPC_ENDPOINT_SERVICE""#;
    let requests: Vec<(Operation, String)> = vec![
        (Operation::CancelKeyDeletion, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (Operation::ConnectCustomKeyStore, r#"{"CustomKeyStoreId":"cks-1234567890abcdef0"}"#.into()),
        (Operation::CreateAlias, format!(r#"{{"AliasName":"alias/ExampleAlias","TargetKeyId":"{KEY_ID}"}}"#)),
        (
            Operation::CreateCustomKeyStore,
            format!(r#"{{"CustomKeyStoreName":"ExampleXksKeyStore","CustomKeyStoreType":"EXTERNAL_KEY_STORE",{xks}}}"#),
        ),
        (
            Operation::CreateGrant,
            format!(
                r#"{{"KeyId":"{KEY_ARN}","GranteePrincipal":"arn:aws:iam::111122223333:role/ExampleRole","RetiringPrincipal":"arn:aws:iam::111122223333:user/alice","Operations":["Encrypt","Decrypt","GenerateDataKey"],"Constraints":{{"EncryptionContextSubset":{{"Department":"IT"}}}},"Name":"example-grant","GrantTokens":["token"],"DryRun":false}}"#
            ),
        ),
        (
            Operation::CreateKey,
            format!(
                r#"{{"Description":"an example key","KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT","Origin":"AWS_KMS","Policy":"{policy}","BypassPolicyLockoutSafetyCheck":false,"Tags":[{{"TagKey":"Purpose","TagValue":"Test"}},{{"TagKey":"Empty","TagValue":""}}],"MultiRegion":false}}"#
            ),
        ),
        (
            Operation::Decapsulate,
            format!(r#"{{"KeyId":"{KEY_ID}","SharedSecretCiphertextBlob":"{blob}","EncapsulationAlgorithm":"ML_KEM","DryRun":false}}"#),
        ),
        (
            Operation::Decrypt,
            format!(
                r#"{{"CiphertextBlob":"{blob}","EncryptionContext":{{"purpose":"test"}},"KeyId":"{KEY_ID}","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","GrantTokens":["token"],"Recipient":{{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","AttestationDocument":"{blob}"}},"DryRun":false,"DryRunModifiers":["IGNORE_CIPHERTEXT"]}}"#
            ),
        ),
        (Operation::DeleteAlias, r#"{"AliasName":"alias/ExampleAlias"}"#.into()),
        (Operation::DeleteCustomKeyStore, r#"{"CustomKeyStoreId":"cks-1234567890abcdef0"}"#.into()),
        (Operation::DeleteImportedKeyMaterial, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (
            Operation::DeriveSharedSecret,
            format!(r#"{{"KeyId":"{KEY_ID}","KeyAgreementAlgorithm":"ECDH","PublicKey":"{spki}"}}"#),
        ),
        (
            Operation::DescribeCustomKeyStores,
            r#"{"CustomKeyStoreName":"ExampleKeyStore","Limit":10,"Marker":"opaque"}"#.into(),
        ),
        (Operation::DescribeKey, r#"{"KeyId":"alias/ExampleAlias","GrantTokens":["token"]}"#.into()),
        (Operation::DisableKey, format!(r#"{{"KeyId":"{KEY_ARN}"}}"#)),
        (Operation::DisableKeyRotation, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (Operation::DisconnectCustomKeyStore, r#"{"CustomKeyStoreId":"cks-1234567890abcdef0"}"#.into()),
        (Operation::EnableKey, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (Operation::EnableKeyRotation, format!(r#"{{"KeyId":"{KEY_ID}","RotationPeriodInDays":90}}"#)),
        (Operation::Encapsulate, format!(r#"{{"KeyId":"{KEY_ID}","EncapsulationAlgorithm":"ML_KEM"}}"#)),
        (
            Operation::Encrypt,
            r#"{"KeyId":"alias/ExampleAlias","Plaintext":"aGVsbG8gd29ybGQ=","EncryptionContext":{"purpose":"test","ünïcödé":"välüé"},"GrantTokens":["token"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","DryRun":false}"#.into(),
        ),
        (
            Operation::GenerateDataKey,
            format!(r#"{{"KeyId":"{KEY_ID}","KeySpec":"AES_256","EncryptionContext":{{"a":"b"}}}}"#),
        ),
        (
            Operation::GenerateDataKeyPair,
            format!(r#"{{"KeyId":"{KEY_ID}","KeyPairSpec":"ECC_NIST_P256","EncryptionContext":{{"a":"b"}}}}"#),
        ),
        (
            Operation::GenerateDataKeyPairWithoutPlaintext,
            format!(r#"{{"KeyId":"{KEY_ID}","KeyPairSpec":"RSA_2048"}}"#),
        ),
        (
            Operation::GenerateDataKeyWithoutPlaintext,
            format!(r#"{{"KeyId":"{KEY_ID}","NumberOfBytes":64}}"#),
        ),
        (
            Operation::GenerateMac,
            format!(r#"{{"Message":"SGVsbG8gV29ybGQ=","KeyId":"{KEY_ID}","MacAlgorithm":"HMAC_SHA_384"}}"#),
        ),
        (Operation::GenerateRandom, r#"{"NumberOfBytes":1024}"#.into()),
        (Operation::GetKeyLastUsage, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (Operation::GetKeyPolicy, format!(r#"{{"KeyId":"{KEY_ID}","PolicyName":"default"}}"#)),
        (Operation::GetKeyRotationStatus, format!(r#"{{"KeyId":"{KEY_ARN}"}}"#)),
        (
            Operation::GetParametersForImport,
            format!(r#"{{"KeyId":"{KEY_ID}","WrappingAlgorithm":"RSAES_OAEP_SHA_256","WrappingKeySpec":"RSA_2048"}}"#),
        ),
        (Operation::GetPublicKey, format!(r#"{{"KeyId":"{KEY_ID}","GrantTokens":["token"]}}"#)),
        (
            Operation::ImportKeyMaterial,
            format!(
                r#"{{"KeyId":"{KEY_ID}","ImportToken":"{blob}","EncryptedKeyMaterial":"{blob}","ExpirationModel":"KEY_MATERIAL_EXPIRES","ValidTo":1735689600.5,"ImportType":"NEW_KEY_MATERIAL","KeyMaterialDescription":"first material"}}"#
            ),
        ),
        (Operation::ListAliases, format!(r#"{{"KeyId":"{KEY_ID}","Limit":50}}"#)),
        (Operation::ListGrants, format!(r#"{{"KeyId":"{KEY_ID}","Limit":10,"Marker":"eyJvIjoxMH0"}}"#)),
        (Operation::ListKeyPolicies, format!(r#"{{"KeyId":"{KEY_ID}","Limit":1000}}"#)),
        (
            Operation::ListKeyRotations,
            format!(r#"{{"KeyId":"{KEY_ID}","IncludeKeyMaterial":"ALL_KEY_MATERIAL","Limit":5}}"#),
        ),
        (Operation::ListKeys, r#"{"Limit":100,"Marker":"opaque-marker~1"}"#.into()),
        (Operation::ListResourceTags, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (
            Operation::ListRetirableGrants,
            r#"{"RetiringPrincipal":"arn:aws:iam::111122223333:role/ExampleRole","Limit":20}"#.into(),
        ),
        (
            Operation::PutKeyPolicy,
            format!(r#"{{"KeyId":"{KEY_ID}","PolicyName":"default","Policy":"{policy}"}}"#),
        ),
        (
            Operation::ReEncrypt,
            format!(
                r#"{{"CiphertextBlob":"{blob}","SourceEncryptionContext":{{"a":"b"}},"DestinationKeyId":"alias/other","DestinationEncryptionContext":{{"c":"d"}},"DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
            ),
        ),
        (
            Operation::ReplicateKey,
            format!(r#"{{"KeyId":"{KEY_ARN}","ReplicaRegion":"eu-west-1","Description":"replica","Tags":[{{"TagKey":"k","TagValue":"v"}}]}}"#),
        ),
        (Operation::RetireGrant, format!(r#"{{"KeyId":"{KEY_ARN}","GrantId":"0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60"}}"#)),
        (Operation::RevokeGrant, format!(r#"{{"KeyId":"{KEY_ID}","GrantId":"grant-1"}}"#)),
        (Operation::RotateKeyOnDemand, format!(r#"{{"KeyId":"{KEY_ID}"}}"#)),
        (Operation::ScheduleKeyDeletion, format!(r#"{{"KeyId":"{KEY_ID}","PendingWindowInDays":7}}"#)),
        (
            Operation::Sign,
            format!(r#"{{"KeyId":"{KEY_ID}","Message":"SGVsbG8=","MessageType":"RAW","SigningAlgorithm":"ECDSA_SHA_256"}}"#),
        ),
        (
            Operation::TagResource,
            format!(r#"{{"KeyId":"{KEY_ID}","Tags":[{{"TagKey":"Purpose","TagValue":"Test"}}]}}"#),
        ),
        (Operation::UntagResource, format!(r#"{{"KeyId":"{KEY_ID}","TagKeys":["Purpose","Owner"]}}"#)),
        (Operation::UpdateAlias, format!(r#"{{"AliasName":"alias/ExampleAlias","TargetKeyId":"{KEY_ARN}"}}"#)),
        (
            Operation::UpdateCustomKeyStore,
            format!(r#"{{"CustomKeyStoreId":"cks-1234567890abcdef0","NewCustomKeyStoreName":"Renamed",{xks}}}"#),
        ),
        (Operation::UpdateKeyDescription, format!(r#"{{"KeyId":"{KEY_ID}","Description":"new description"}}"#)),
        (Operation::UpdatePrimaryRegion, format!(r#"{{"KeyId":"{KEY_ARN}","PrimaryRegion":"us-west-2"}}"#)),
        (
            Operation::Verify,
            format!(
                r#"{{"KeyId":"{KEY_ID}","Message":"SGVsbG8=","MessageType":"DIGEST","Signature":"{blob}","SigningAlgorithm":"RSASSA_PSS_SHA_256","GrantTokens":["token"]}}"#
            ),
        ),
        (
            Operation::VerifyMac,
            format!(r#"{{"Message":"SGVsbG8=","KeyId":"{KEY_ID}","MacAlgorithm":"HMAC_SHA_256","Mac":"{blob}"}}"#),
        ),
    ];
    for op in Operation::ALL {
        assert!(
            requests.iter().any(|(o, _)| o == op),
            "no seed request for {op}: add one to examples/seeds.rs"
        );
    }
    for (op, body) in &requests {
        if let Err(e) = op.parse_and_validate(body.as_bytes()) {
            panic!("the seed request for {op} is refused: {e:?}\n{body}");
        }
        seeds.write("kms_request", op.name(), &kms_seed(*op, body.as_bytes()));
    }
    // The empty body that reads as {}.
    seeds.write(
        "kms_request",
        "ListKeys-empty-body",
        &kms_seed(Operation::ListKeys, b""),
    );
}

// ---------------------------------------------------------------- policies

/// Policies as `trent-policy`'s tests write them and AWS's default key
/// policy, each with a request that exercises it.
fn policies(seeds: &mut Seeds) {
    seeds.clear("policy");
    let default_key_policy = r#"{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"#;
    let cases: &[(&str, PolicyKind, &str, &[&str])] = &[
        (
            "default-key-policy",
            PolicyKind::Key,
            default_key_policy,
            &[],
        ),
        (
            "key-policy-roles",
            PolicyKind::Key,
            r#"{"Version":"2012-10-17","Id":"key-consolepolicy-3","Statement":[
{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/Admin","444455556666"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"},
{"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}},
{"Sid":"Deny other accounts","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/Admin","arn:aws:sts::111122223333:assumed-role/Admin/alice-session"]},"Action":"kms:*","Resource":"*"}]}"#,
            &[
                "@principal=arn:aws:sts::111122223333:assumed-role/Admin/alice-session",
                "kms:GrantIsForAWSResource=true",
            ],
        ),
        (
            "identity-encryption-context",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"},"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["Depart*","Proj?ct"]},"Null":{"kms:EncryptionContext:Project":"false"}}},
{"Effect":"Deny","NotAction":"kms:Describe*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/*"}]}"#,
            &[
                "kms:EncryptionContext:Department=IT",
                "kms:EncryptionContext:Project=alpha",
                "kms:EncryptionContextKeys=Department",
                "kms:EncryptionContextKeys=Project",
            ],
        ),
        (
            "identity-variables",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/${aws:username}-*","Condition":{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"${aws:PrincipalTag/team, 'none'}"},"StringLike":{"kms:RequestAlias":"alias/${aws:username}/*${*}${?}${$}"}}}}"#,
            &[
                "@resource=arn:aws:kms:us-east-1:111122223333:key/alice-1",
                "aws:username=alice",
                "aws:PrincipalTag/team=Blue",
                "kms:RequestAlias=alias/alice/app*?$",
            ],
        ),
        (
            "identity-numbers-dates",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"NumericLessThanEquals":{"kms:NumberOfBytes":1024},"NumericGreaterThan":{"kms:NumberOfBytes":"1.5e1"},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"DateLessThan":{"aws:EpochTime":"1767225600.25"},"DateNotEquals":{"aws:CurrentTime":"2019-12-31T23:59:60.123456789+05:30"}}}]}"#,
            &[
                "kms:NumberOfBytes=64",
                "aws:CurrentTime=2024-06-01T12:00:00Z",
                "aws:EpochTime=1717243200",
            ],
        ),
        (
            "identity-ip-bool-binary",
            PolicyKind::Identity,
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32","10.0.0.1"]},"NotIpAddress":{"aws:SourceIp":"203.0.113.7/32"},"BoolIfExists":{"aws:SecureTransport":"false"},"BinaryEquals":{"test:Binary":"QmluYXJ5VmFsdWU="}}}]}"#,
            &[
                "aws:SourceIp=203.0.113.9",
                "aws:SecureTransport=false",
                "test:Binary=QmluYXJ5VmFsdWU=",
            ],
        ),
        (
            "identity-arn-conditions",
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateGrant","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"},"ArnNotEquals":{"kms:GranteePrincipal":"arn:aws:iam::444455556666:root"},"ForAnyValue:StringEquals":{"kms:GrantOperations":["Encrypt","Decrypt"]}}}]}"#,
            &[
                "@action=kms:CreateGrant",
                "aws:PrincipalArn=arn:aws:iam::111122223333:role/Admin",
                "kms:GranteePrincipal=arn:aws:iam::111122223333:role/Reader",
                "kms:GrantOperations=Decrypt",
                "kms:GrantOperations=GenerateDataKey",
            ],
        ),
        (
            "trust-policy",
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalType":"User"}}},
{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","Federated":"cognito-identity.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#,
            &[
                "@action=sts:AssumeRole",
                "@resource=arn:aws:iam::111122223333:role/Admin",
                "aws:PrincipalType=User",
            ],
        ),
        (
            "key-policy-cross-account",
            PolicyKind::Key,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"444455556666","kms:ViaService":"s3.us-east-1.amazonaws.com"}}},
{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:ResourceTag/env":"prod"},"ForAllValues:StringNotLike":{"aws:TagKeys":"secret*"}}}]}"#,
            &[
                "@principal=arn:aws:iam::444455556666:user/bob",
                "@account=444455556666",
                "@action=kms:Decrypt",
                "kms:CallerAccount=444455556666",
                "kms:ViaService=s3.us-east-1.amazonaws.com",
                "aws:ResourceTag/env=prod",
                "aws:TagKeys",
            ],
        ),
    ];
    for (name, kind, document, lines) in cases {
        let document = document.replace('\n', "");
        if let Err(e) = Policy::parse(&document, *kind) {
            panic!("the seed policy {name} is refused: {e}");
        }
        let seed = policy_seed(&document, lines);
        assert_eq!(policy_input(&seed).document, document);
        seeds.write("policy", name, &seed);
    }
}

// ------------------------------------------------------------- IAM and STS

fn iam_queries(seeds: &mut Seeds) {
    seeds.clear("iam_query");
    for (name, form) in [
        (
            "create-user",
            "Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F",
        ),
        (
            "list-users",
            "Action=ListUsers&Version=2010-05-08&PathPrefix=%2F&MaxItems=100&Marker=abc",
        ),
        (
            "create-role",
            "Action=CreateRole&Version=2010-05-08&RoleName=Admin&MaxSessionDuration=3600&Description=an+admin+role\
             &AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow\
             %22%2C%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A111122223333%3Aroot%22%7D%2C%22Action%22%3A%22sts\
             %3AAssumeRole%22%7D%5D%7D",
        ),
        (
            "assume-role",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FAdmin\
             &RoleSessionName=alice-session&DurationSeconds=900",
        ),
        (
            "get-caller-identity",
            "Action=GetCallerIdentity&Version=2011-06-15",
        ),
        (
            "put-user-policy",
            "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=kms-use&PolicyDocument=%7B%22Version%22\
             %3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22kms%3A*%22%2C%22Resource%22%3A%22*%22%7D%7D",
        ),
        (
            "update-access-key",
            "Action=UpdateAccessKey&Version=2010-05-08&UserName=alice&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Inactive",
        ),
        (
            "tags-refused",
            "Action=CreateUser&Version=2010-05-08&UserName=al%2Bice+x&Tags.member.1.Key=k&Tags.member.1.Value=v",
        ),
        (
            "encoded-action",
            "A=1&Act%69on=GetUser&UserName=%E2%82%AC%ZZ",
        ),
    ] {
        seeds.write("iam_query", name, form.as_bytes());
    }
}
