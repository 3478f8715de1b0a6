//! What the audit trail records of a request, from its wire form: the
//! request's safe fields by an allow-list per protocol (never a deny-list),
//! the keys involved, and whether the caller waits for the event to be
//! committed.

use crate::pipeline::AuditFacts;
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use trent_core::{Caller, is_family, key_arn, mrk_key_arn};

/// KMS request members recorded in `requestParameters` (as CloudTrail
/// names them: first letter lower-cased). Everything else — `Plaintext`,
/// `CiphertextBlob`, `GrantTokens`, markers — is never read.
const KMS_REQUEST_FIELDS: &[&str] = &[
    "KeyId",
    "SourceKeyId",
    "DestinationKeyId",
    "EncryptionContext",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "EncryptionAlgorithm",
    "SourceEncryptionAlgorithm",
    "DestinationEncryptionAlgorithm",
    "NumberOfBytes",
    "KeySpec",
    "CustomerMasterKeySpec",
    "KeyUsage",
    "Origin",
    "MultiRegion",
    "Description",
    "AliasName",
    "TargetKeyId",
    "GrantId",
    "Name",
    "Operations",
    "GranteePrincipal",
    "RetiringPrincipal",
    "GranteeServicePrincipal",
    "RetiringServicePrincipal",
    "Constraints",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "Policy",
    "PolicyName",
    "BypassPolicyLockoutSafetyCheck",
    "TagKeys",
    "Tags",
    "Limit",
    "DryRun",
    "SigningAlgorithm",
    "MessageType",
    "MacAlgorithm",
    "KeyPairSpec",
    "KeyAgreementAlgorithm",
    "EncapsulationAlgorithm",
    // Imported material: never ImportToken, EncryptedKeyMaterial.
    "WrappingAlgorithm",
    "WrappingKeySpec",
    "ExpirationModel",
    "ValidTo",
    "ImportType",
    "KeyMaterialId",
    "KeyMaterialDescription",
    "IncludeKeyMaterial",
    // Multi-Region keys.
    "ReplicaRegion",
    "PrimaryRegion",
];

/// KMS response members recorded in `responseElements` for non-crypto
/// operations (crypto operations record `null`, as CloudTrail does).
const KMS_RESPONSE_FIELDS: &[&str] = &[
    "KeyMetadata",
    "KeyId",
    "GrantId",
    "KeyRotationStatus",
    "DeletionDate",
    "KeyState",
    "PendingWindowInDays",
    // ImportKeyMaterial, DeleteImportedKeyMaterial: the material's id.
    "KeyMaterialId",
];

/// IAM and STS parameters recorded in `requestParameters`.
const QUERY_FIELDS: &[&str] = &[
    "UserName",
    "GroupName",
    "RoleName",
    "PolicyName",
    "PolicyDocument",
    "AssumeRolePolicyDocument",
    "AccessKeyId",
    "Status",
    "RoleArn",
    "RoleSessionName",
    "DurationSeconds",
    "Path",
    "Description",
    "MaxItems",
];

/// Operations that use key material (CloudTrail: read-only, no
/// `responseElements`).
pub fn is_crypto(name: &str) -> bool {
    matches!(
        name,
        "Encrypt"
            | "Decrypt"
            | "ReEncrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateDataKeyPair"
            | "GenerateDataKeyPairWithoutPlaintext"
            | "GenerateRandom"
            | "Sign"
            | "Verify"
            | "GenerateMac"
            | "VerifyMac"
            | "DeriveSharedSecret"
            | "Encapsulate"
            | "Decapsulate"
    )
}

/// Whether an operation changes nothing (CloudTrail's `readOnly`).
pub fn is_read_only(name: &str) -> bool {
    is_crypto(name)
        || ["Describe", "List", "Get"]
            .iter()
            .any(|p| name.starts_with(p))
        || name == "AssumeRole"
}

fn lower_first(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    lower_first_into(name, &mut out);
    out
}

fn lower_first_into(name: &str, out: &mut String) {
    let mut chars = name.chars();
    if let Some(c) = chars.next() {
        out.push(c.to_ascii_lowercase());
    }
    out.extend(chars);
}

/// Members whose string values name KMS keys.
const KEY_ID_FIELDS: &[&str] = &["KeyId", "SourceKeyId", "DestinationKeyId", "TargetKeyId"];

/// The allow-listed members of a JSON object, copied as they came (no
/// value tree is built) under CloudTrail's names, and the key ids among
/// them.
#[derive(Default)]
struct Allowed {
    /// `{"keyId":…,…}`, or empty when no member was allowed.
    json: String,
    /// (member, value) of the string members in [`KEY_ID_FIELDS`].
    key_ids: Vec<(&'static str, String)>,
    /// `KeyMetadata.Arn`, when `KeyMetadata` is allowed.
    metadata_arn: Option<String>,
}

impl Allowed {
    fn key_id(&self, field: &str) -> Option<&str> {
        self.key_ids
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    fn into_json(self) -> Option<String> {
        (!self.json.is_empty()).then(|| self.json + "}")
    }
}

/// Reads only the allow-listed members of a JSON object; the others are
/// skipped without being decoded.
struct AllowedSeed(&'static [&'static str]);

impl<'de> serde::de::DeserializeSeed<'de> for AllowedSeed {
    type Value = Allowed;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Allowed, D::Error> {
        d.deserialize_map(AllowedVisitor(self.0))
    }
}

struct AllowedVisitor(&'static [&'static str]);

impl<'de> Visitor<'de> for AllowedVisitor {
    type Value = Allowed;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Allowed, A::Error> {
        let mut out = Allowed::default();
        // Members seen (by position in the list): a repeated one counts once.
        let mut seen = 0u64;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(i) = self.0.iter().position(|f| *f == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if seen & (1 << i) != 0 {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            seen |= 1 << i;
            let field = self.0[i];
            out.json.push(if out.json.is_empty() { '{' } else { ',' });
            out.json.push('"');
            lower_first_into(field, &mut out.json);
            out.json.push_str("\":");
            if field == "Tags" {
                // Tag keys only.
                #[derive(Deserialize)]
                struct Tag {
                    #[serde(rename = "TagKey")]
                    key: String,
                }
                let tags: Vec<Tag> = map.next_value()?;
                let keys: Vec<Value> = tags
                    .into_iter()
                    .map(|t| serde_json::json!({ "tagKey": t.key }))
                    .collect();
                out.json.push_str(&Value::Array(keys).to_string());
                continue;
            }
            let raw: &'de RawValue = map.next_value()?;
            out.json.push_str(raw.get());
            if KEY_ID_FIELDS.contains(&field)
                && let Ok(id) = serde_json::from_str::<String>(raw.get())
            {
                out.key_ids.push((field, id));
            } else if field == "KeyMetadata" {
                #[derive(Deserialize)]
                struct Metadata {
                    #[serde(rename = "Arn")]
                    arn: Option<String>,
                }
                out.metadata_arn = serde_json::from_str::<Metadata>(raw.get())
                    .ok()
                    .and_then(|m| m.arn);
            }
        }
        Ok(out)
    }
}

fn allowed(json: &[u8], fields: &'static [&'static str]) -> Allowed {
    use serde::de::DeserializeSeed;
    debug_assert!(fields.len() <= 64, "the visitor tracks members in a u64");
    let mut de = serde_json::Deserializer::from_slice(json);
    AllowedSeed(fields).deserialize(&mut de).unwrap_or_default()
}

/// A KMS key id as an ARN, when it names a key (not an alias).
fn as_key_arn(id: &str, caller: Option<&Caller>) -> Option<String> {
    if id.starts_with("arn:") {
        return id.contains(":key/").then(|| id.to_owned());
    }
    let caller = caller?;
    if let Some(hex) = id.strip_prefix("mrk-") {
        let family = uuid::Uuid::try_parse(hex).ok().filter(is_family)?;
        return Some(mrk_key_arn(&caller.region, caller.account(), &family));
    }
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    Some(key_arn(&caller.region, caller.account(), &uuid))
}

/// What a KMS request's audit event says about its parameters and keys,
/// from its body and (when it succeeded) its response.
pub(crate) fn kms_facts(
    name: &str,
    caller: Option<&Caller>,
    request: &[u8],
    response: Option<&[u8]>,
) -> AuditFacts {
    let params = if request.iter().all(u8::is_ascii_whitespace) {
        Allowed::default()
    } else {
        allowed(request, KMS_REQUEST_FIELDS)
    };
    let mut key_arns: Vec<String> = Vec::new();
    fn push(key_arns: &mut Vec<String>, arn: Option<String>) {
        if let Some(arn) = arn
            && !key_arns.contains(&arn)
        {
            key_arns.push(arn);
        }
    }
    let request_keys = |key_arns: &mut Vec<String>| {
        for f in KEY_ID_FIELDS {
            if let Some(id) = params.key_id(f)
                && !(name == "ReEncrypt" && *f == "SourceKeyId" && !key_arns.is_empty())
            {
                push(key_arns, as_key_arn(id, caller));
            }
        }
    };
    // A crypto operation on a key named by id or ARN names it in the
    // request already: its response (ciphertexts, plaintexts) need not be
    // read at all.
    let crypto = is_crypto(name);
    let crypto_keys_known = crypto && name != "ReEncrypt" && {
        request_keys(&mut key_arns);
        !key_arns.is_empty()
    };
    let mut response_elements = None;
    if let Some(response) = response
        && !crypto_keys_known
    {
        let fields: &'static [&'static str] = if crypto {
            &["KeyId", "SourceKeyId"]
        } else {
            KMS_RESPONSE_FIELDS
        };
        let r = allowed(response, fields);
        for f in ["SourceKeyId", "KeyId"] {
            push(&mut key_arns, r.key_id(f).map(str::to_owned));
        }
        push(&mut key_arns, r.metadata_arn.clone());
        if !crypto {
            response_elements = r.into_json();
        }
    }
    if !crypto_keys_known {
        request_keys(&mut key_arns);
    }
    AuditFacts {
        request_parameters: params.into_json().map(Into::into),
        response_elements,
        key_arns: key_arns.into_iter().map(Into::into).collect(),
        elsewhere: Vec::new(),
    }
}

/// `requestParameters` of the hot-path operations from their typed
/// requests: the members [`KMS_REQUEST_FIELDS`] allows, as CloudTrail names
/// them (the same object the allow-list reads from the body; tested).
pub mod params {
    use serde::Serialize;
    use std::borrow::Cow;
    use trent_wire::{
        DecryptRequest, EncryptRequest, GenerateDataKeyRequest,
        GenerateDataKeyWithoutPlaintextRequest,
    };

    /// A JSON object of the members that are present, built in a buffer
    /// the thread keeps.
    struct Object(Vec<u8>);

    thread_local! {
        static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    }

    impl Object {
        fn new() -> Self {
            let mut buffer = BUFFER.take();
            buffer.clear();
            Self(buffer)
        }

        fn member<T: Serialize + ?Sized>(mut self, name: &str, value: Option<&T>) -> Self {
            if let Some(value) = value {
                self.0.push(if self.0.is_empty() { b'{' } else { b',' });
                self.0.push(b'"');
                self.0.extend_from_slice(name.as_bytes());
                self.0.extend_from_slice(b"\":");
                serde_json::to_writer(&mut self.0, value).expect("wire values serialize to JSON");
            }
            self
        }

        /// The object's text, interned (an owned copy once the interner
        /// is full or for a long one).
        fn finish(mut self) -> Option<Cow<'static, str>> {
            let text = (!self.0.is_empty()).then(|| {
                self.0.push(b'}');
                let text = std::str::from_utf8(&self.0).expect("serde_json writes UTF-8");
                trent_core::audit::intern_request_parameters(text)
            });
            // Kept for the thread's next event unless a large context
            // made it large.
            if self.0.capacity() <= 4096 {
                BUFFER.set(std::mem::take(&mut self.0));
            }
            text
        }
    }

    pub fn encrypt(r: &EncryptRequest) -> Option<Cow<'static, str>> {
        sealing(
            Some(&r.key_id),
            r.encryption_context.as_ref(),
            r.encryption_algorithm.as_ref(),
            r.dry_run.as_ref(),
        )
    }

    pub fn decrypt(r: &DecryptRequest) -> Option<Cow<'static, str>> {
        sealing(
            r.key_id.as_ref(),
            r.encryption_context.as_ref(),
            r.encryption_algorithm.as_ref(),
            r.dry_run.as_ref(),
        )
    }

    pub fn generate_data_key(r: &GenerateDataKeyRequest) -> Option<Cow<'static, str>> {
        data_key(
            &r.key_id,
            r.encryption_context.as_ref(),
            r.number_of_bytes.as_ref(),
            r.key_spec.as_ref(),
            r.dry_run.as_ref(),
        )
    }

    pub fn generate_data_key_without_plaintext(
        r: &GenerateDataKeyWithoutPlaintextRequest,
    ) -> Option<Cow<'static, str>> {
        data_key(
            &r.key_id,
            r.encryption_context.as_ref(),
            r.number_of_bytes.as_ref(),
            r.key_spec.as_ref(),
            r.dry_run.as_ref(),
        )
    }

    /// Encrypt's and Decrypt's members (Decrypt's key id is optional).
    fn sealing(
        key_id: Option<&String>,
        context: Option<&impl Serialize>,
        algorithm: Option<&impl Serialize>,
        dry_run: Option<&bool>,
    ) -> Option<Cow<'static, str>> {
        Object::new()
            .member("keyId", key_id)
            .member("encryptionContext", context)
            .member("encryptionAlgorithm", algorithm)
            .member("dryRun", dry_run)
            .finish()
    }

    /// The members of both GenerateDataKey operations.
    fn data_key(
        key_id: &String,
        context: Option<&impl Serialize>,
        number_of_bytes: Option<&impl Serialize>,
        key_spec: Option<&impl Serialize>,
        dry_run: Option<&bool>,
    ) -> Option<Cow<'static, str>> {
        Object::new()
            .member("keyId", Some(key_id))
            .member("encryptionContext", context)
            .member("numberOfBytes", number_of_bytes)
            .member("keySpec", key_spec)
            .member("dryRun", dry_run)
            .finish()
    }
}

/// The allow-listed parameters of a Query (IAM, STS) request, as JSON
/// object text.
pub fn query_parameters<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut out = Map::new();
    for (k, v) in pairs {
        if QUERY_FIELDS.contains(&k) {
            out.insert(lower_first(k), Value::String(v.to_owned()));
        }
    }
    (!out.is_empty()).then(|| Value::Object(out).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns(key_arns: &trent_core::audit::KeyArns) -> Vec<&str> {
        key_arns.iter().map(|arn| arn.as_ref()).collect()
    }

    #[test]
    fn only_allow_listed_fields_are_read() {
        let body = br#"{"KeyId":"alias/x","Plaintext":"c2VjcmV0","EncryptionContext":{"a":"b"},
            "GrantTokens":["t"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#;
        let facts = kms_facts(
            "Encrypt",
            None,
            body,
            Some(
                br#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/k","CiphertextBlob":"eA=="}"#,
            ),
        );
        let p: Value = serde_json::from_str(&facts.request_parameters.unwrap()).unwrap();
        assert_eq!(
            p,
            serde_json::json!({"keyId":"alias/x","encryptionContext":{"a":"b"},
                "encryptionAlgorithm":"SYMMETRIC_DEFAULT"})
        );
        assert_eq!(facts.response_elements, None);
        assert_eq!(
            arns(&facts.key_arns),
            ["arn:aws:kms:us-east-1:111122223333:key/k"]
        );
    }

    #[test]
    fn crypto_responses_are_not_read_when_the_request_names_the_key() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let body = format!(r#"{{"KeyId":"{arn}","Plaintext":"c2VjcmV0"}}"#);
        // Not JSON: proves it is not parsed.
        let facts = kms_facts("Encrypt", None, body.as_bytes(), Some(b"not json"));
        assert_eq!(arns(&facts.key_arns), [arn]);
        // An alias needs the response's key ARN.
        let facts = kms_facts(
            "Encrypt",
            None,
            br#"{"KeyId":"alias/x"}"#,
            Some(format!(r#"{{"KeyId":"{arn}"}}"#).as_bytes()),
        );
        assert_eq!(arns(&facts.key_arns), [arn]);
    }

    /// The typed capture of the hot path records what the allow-list
    /// reads from the same body.
    #[test]
    fn typed_parameters_match_the_allow_list() {
        fn same<T: serde::de::DeserializeOwned>(
            name: &str,
            body: &str,
            typed: impl Fn(&T) -> Option<std::borrow::Cow<'static, str>>,
        ) {
            let request: T = serde_json::from_str(body).unwrap();
            let typed: Value = serde_json::from_str(&typed(&request).unwrap()).unwrap();
            let listed = kms_facts(name, None, body.as_bytes(), None)
                .request_parameters
                .unwrap();
            let listed: Value = serde_json::from_str(&listed).unwrap();
            assert_eq!(typed, listed, "{name}");
        }
        let context = r#""EncryptionContext":{"a":"b \"q\"","c":"d"}"#;
        same(
            "Encrypt",
            &format!(
                r#"{{"KeyId":"alias/x","Plaintext":"c2VjcmV0",{context},"GrantTokens":["t"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","DryRun":false}}"#
            ),
            params::encrypt,
        );
        same(
            "Decrypt",
            &format!(r#"{{"CiphertextBlob":"eA==",{context},"KeyId":"k"}}"#),
            params::decrypt,
        );
        same(
            "Decrypt",
            r#"{"CiphertextBlob":"eA==","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}"#,
            params::decrypt,
        );
        same(
            "GenerateDataKey",
            &format!(r#"{{"KeyId":"k","KeySpec":"AES_256",{context}}}"#),
            params::generate_data_key,
        );
        same(
            "GenerateDataKeyWithoutPlaintext",
            r#"{"KeyId":"k","NumberOfBytes":64,"DryRun":true}"#,
            params::generate_data_key_without_plaintext,
        );
    }

    #[test]
    fn tags_keep_only_their_keys() {
        let body = br#"{"KeyId":"k","Tags":[{"TagKey":"team","TagValue":"secret-ish"}]}"#;
        let p = kms_facts("TagResource", None, body, None)
            .request_parameters
            .unwrap();
        let p: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(p["tags"], serde_json::json!([{"tagKey":"team"}]));
    }

    #[test]
    fn a_repeated_member_is_recorded_once_and_responses_name_keys() {
        let body = br#"{"KeyId":"a","KeyId":"b","Description":"d"}"#;
        let facts = kms_facts(
            "DescribeKey",
            None,
            body,
            Some(br#"{"KeyMetadata":{"Arn":"arn:aws:kms:us-east-1:111122223333:key/k","KeyId":"k"}}"#),
        );
        let p: Value = serde_json::from_str(&facts.request_parameters.unwrap()).unwrap();
        assert_eq!(p, serde_json::json!({"keyId":"a","description":"d"}));
        assert_eq!(
            arns(&facts.key_arns),
            ["arn:aws:kms:us-east-1:111122223333:key/k"]
        );
        let r: Value = serde_json::from_str(&facts.response_elements.unwrap()).unwrap();
        assert_eq!(r["keyMetadata"]["KeyId"], "k");
    }
}
