//! Authorization as AWS KMS decides it: the key policy is the root of
//! access; an Allow for the key's account delegates to the caller's IAM
//! policies; grants allow exactly their operations; an explicit Deny
//! anywhere wins. The policies are compiled (`trent-policy`) and cached with
//! the key and the identity, so a decision reads only memory.

use crate::model::{Caller, GrantRecord, KeyRecord, PrincipalKind, Tag};
use std::borrow::Cow;
use std::collections::BTreeMap;
use trent_policy::{
    ConditionContext, Outcome, Policy, Principal, Request, ResourceOutcome, Values,
};

/// Declares [`Action`]: each variant, its IAM action name, and whether
/// principals of another account may be allowed it on a key.
macro_rules! actions {
    ($($service:literal $name:ident $cross:literal),* $(,)?) => {
        /// An IAM action that authorizes a KMS (or CloudTrail) call: what
        /// policies name (`kms:Encrypt`). Most are an operation's; ReEncrypt
        /// needs two (`kms:ReEncryptFrom`, `kms:ReEncryptTo`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $($name),*
        }

        impl Action {
            /// The name policies use: `kms:Encrypt`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$name => concat!($service, ":", stringify!($name))),*
                }
            }

            /// Whether a key's policy can allow it to another account
            /// ("Cross-account use: Yes" in the KMS API reference). The
            /// others work only in the key's own account, whatever its
            /// policy says.
            pub fn cross_account(self) -> bool {
                match self {
                    $(Action::$name => $cross),*
                }
            }
        }
    };
}

actions! {
    "kms" CancelKeyDeletion false,
    "kms" CreateAlias false,
    "kms" CreateGrant true,
    "kms" CreateKey false,
    "kms" Decapsulate true,
    "kms" Decrypt true,
    "kms" DeleteAlias false,
    "kms" DeleteImportedKeyMaterial false,
    "kms" DeriveSharedSecret true,
    "kms" DescribeKey true,
    "kms" DisableKey false,
    "kms" DisableKeyRotation false,
    "kms" EnableKey false,
    "kms" EnableKeyRotation false,
    "kms" Encapsulate true,
    "kms" Encrypt true,
    "kms" GenerateDataKey true,
    "kms" GenerateDataKeyPair true,
    "kms" GenerateDataKeyPairWithoutPlaintext true,
    "kms" GenerateDataKeyWithoutPlaintext true,
    "kms" GenerateMac true,
    "kms" GenerateRandom false,
    "kms" GetKeyLastUsage false,
    "kms" GetKeyPolicy false,
    "kms" GetKeyRotationStatus true,
    "kms" GetParametersForImport false,
    "kms" GetPublicKey true,
    "kms" ImportKeyMaterial false,
    "kms" ListAliases false,
    "kms" ListGrants true,
    "kms" ListKeyPolicies false,
    "kms" ListKeyRotations false,
    "kms" ListKeys false,
    "kms" ListResourceTags false,
    "kms" ListRetirableGrants false,
    "kms" PutKeyPolicy false,
    "kms" ReEncryptFrom true,
    "kms" ReEncryptTo true,
    "kms" ReplicateKey false,
    "kms" RetireGrant true,
    "kms" RevokeGrant true,
    "kms" RotateKeyOnDemand false,
    "kms" ScheduleKeyDeletion false,
    "kms" Sign true,
    "kms" TagResource false,
    "kms" UntagResource false,
    "kms" UpdateAlias false,
    "kms" UpdateKeyDescription false,
    "kms" UpdatePrimaryRegion false,
    "kms" Verify true,
    "kms" VerifyMac true,
    "cloudtrail" LookupEvents false,
}

/// Request facts that condition keys can test, beyond the caller's.
#[derive(Default, Clone)]
pub struct RequestFacts<'a> {
    pub encryption_context: Option<&'a BTreeMap<String, String>>,
    /// The alias the request named the key by (`kms:RequestAlias`).
    pub request_alias: Option<&'a str>,
    /// Aliases that point at the key (`kms:ResourceAliases`), computed only
    /// if a policy asks.
    pub resource_aliases: Option<&'a (dyn Fn() -> Vec<String> + Sync)>,
    /// Tags in a CreateKey/TagResource request (`aws:RequestTag/…`, `aws:TagKeys`).
    pub request_tags: Option<&'a [Tag]>,
    pub grant_operations: Option<&'a [String]>,
    pub grantee_principal: Option<&'a str>,
    pub retiring_principal: Option<&'a str>,
    /// CreateGrant's GranteeServicePrincipal (`kms:GranteeServicePrincipal`).
    pub grantee_service_principal: Option<&'a str>,
    /// CreateGrant's constraints: their names (`kms:GrantConstraintType`)
    /// and the SourceArn (`kms:GrantConstraintSourceArn`).
    pub grant_constraint_types: Option<&'a [&'static str]>,
    pub grant_constraint_source_arn: Option<&'a str>,
    pub encryption_algorithm: Option<&'a str>,
    pub signing_algorithm: Option<&'a str>,
    pub message_type: Option<&'a str>,
    pub mac_algorithm: Option<&'a str>,
    pub key_agreement_algorithm: Option<&'a str>,
    pub data_key_pair_spec: Option<&'a str>,
    /// GetParametersForImport (`kms:WrappingAlgorithm`, `kms:WrappingKeySpec`).
    pub wrapping_algorithm: Option<&'a str>,
    pub wrapping_key_spec: Option<&'a str>,
    /// ImportKeyMaterial (`kms:ExpirationModel`; `kms:ValidTo`, in epoch
    /// seconds).
    pub expiration_model: Option<&'a str>,
    pub valid_to: Option<&'a str>,
    /// CreateKey's MultiRegion (`kms:MultiRegion` before there is a key).
    pub multi_region: Option<bool>,
    /// ReplicateKey's ReplicaRegion (`kms:ReplicaRegion`).
    pub replica_region: Option<&'a str>,
    /// UpdatePrimaryRegion's PrimaryRegion (`kms:PrimaryRegion`).
    pub primary_region: Option<&'a str>,
}

/// The condition-key view of one request.
pub struct AuthzContext<'a> {
    caller: &'a Caller,
    key: Option<&'a KeyRecord>,
    facts: Option<&'a RequestFacts<'a>>,
}

impl<'a> AuthzContext<'a> {
    pub fn new(caller: &'a Caller) -> Self {
        Self {
            caller,
            key: None,
            facts: None,
        }
    }

    pub fn for_key(caller: &'a Caller, key: &'a KeyRecord, facts: &'a RequestFacts<'a>) -> Self {
        Self {
            caller,
            key: Some(key),
            facts: Some(facts),
        }
    }

    pub fn for_request(caller: &'a Caller, facts: &'a RequestFacts<'a>) -> Self {
        Self {
            caller,
            key: None,
            facts: Some(facts),
        }
    }
}

fn one(s: &str) -> Option<Values<'_>> {
    Some(Values::One(s))
}

fn many<'v>(items: impl Iterator<Item = Cow<'v, str>>) -> Option<Values<'v>> {
    Some(Values::Many(items.collect()))
}

/// Finds `name` among map keys without regard to case (condition keys are
/// case-insensitive and arrive lowercased).
fn get_ci<'m>(map: &'m BTreeMap<String, String>, name: &str) -> Option<&'m str> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn tag_ci<'t>(tags: &'t [Tag], name: &str) -> Option<&'t str> {
    tags.iter()
        .find(|t| t.key.eq_ignore_ascii_case(name))
        .map(|t| t.value.as_str())
}

impl ConditionContext for AuthzContext<'_> {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        let identity = &self.caller.identity;
        let facts = self.facts;
        match key {
            "aws:principalarn" => one(identity.policy_arn()),
            "aws:principalaccount" | "kms:calleraccount" => one(&identity.account),
            "aws:username" => identity.username.as_deref().and_then(one),
            "aws:userid" => one(&identity.user_id),
            "aws:principaltype" => one(match identity.kind {
                PrincipalKind::Root => "Account",
                PrincipalKind::User => "User",
                PrincipalKind::AssumedRole { .. } => "AssumedRole",
            }),
            "aws:sourceip" => self
                .caller
                .source_ip
                .map(|ip| Values::Many(vec![Cow::Owned(ip.to_string())])),
            "aws:securetransport" => one(if self.caller.secure_transport {
                "true"
            } else {
                "false"
            }),
            "aws:requestedregion" => one(&self.caller.region),
            "aws:currenttime" => Some(Values::Many(vec![Cow::Owned(iso8601_now())])),
            "aws:epochtime" => Some(Values::Many(vec![Cow::Owned(
                (crate::now_millis() / 1000).to_string(),
            )])),
            "kms:keyspec" => self.key.map(|k| Values::One(k.key_spec.as_str())),
            "kms:keyusage" => self.key.map(|k| Values::One(k.key_usage.as_str())),
            "kms:keyorigin" => self.key.map(|k| Values::One(k.origin.as_str())),
            "kms:keymanager" => self.key.map(|_| Values::One("CUSTOMER")),
            "kms:multiregion" => self
                .key
                .map(|k| k.multi_region.is_some())
                .or_else(|| facts.and_then(|f| f.multi_region))
                .map(|multi| Values::One(if multi { "true" } else { "false" })),
            "kms:multiregionkeytype" => self
                .key
                .filter(|k| k.multi_region.is_some())
                .map(|k| Values::One(if k.is_primary() { "PRIMARY" } else { "REPLICA" })),
            "kms:primaryregion" => facts.and_then(|f| f.primary_region).and_then(one),
            "kms:replicaregion" => facts.and_then(|f| f.replica_region).and_then(one),
            "kms:requestalias" => facts.and_then(|f| f.request_alias).and_then(one),
            "kms:resourcealiases" => facts
                .and_then(|f| f.resource_aliases)
                .map(|aliases| Values::Many(aliases().into_iter().map(Cow::Owned).collect())),
            "kms:encryptioncontextkeys" => facts
                .and_then(|f| f.encryption_context)
                .and_then(|c| many(c.keys().map(|k| Cow::Borrowed(k.as_str())))),
            "kms:encryptionalgorithm" => facts.and_then(|f| f.encryption_algorithm).and_then(one),
            "kms:signingalgorithm" => facts.and_then(|f| f.signing_algorithm).and_then(one),
            "kms:messagetype" => facts.and_then(|f| f.message_type).and_then(one),
            "kms:macalgorithm" => facts.and_then(|f| f.mac_algorithm).and_then(one),
            "kms:keyagreementalgorithm" => {
                facts.and_then(|f| f.key_agreement_algorithm).and_then(one)
            }
            "kms:datakeypairspec" => facts.and_then(|f| f.data_key_pair_spec).and_then(one),
            "kms:wrappingalgorithm" => facts.and_then(|f| f.wrapping_algorithm).and_then(one),
            "kms:wrappingkeyspec" => facts.and_then(|f| f.wrapping_key_spec).and_then(one),
            "kms:expirationmodel" => facts.and_then(|f| f.expiration_model).and_then(one),
            "kms:validto" => facts.and_then(|f| f.valid_to).and_then(one),
            "kms:grantoperations" => facts
                .and_then(|f| f.grant_operations)
                .and_then(|ops| many(ops.iter().map(|o| Cow::Borrowed(o.as_str())))),
            "kms:granteeprincipal" => facts.and_then(|f| f.grantee_principal).and_then(one),
            "kms:retiringprincipal" => facts.and_then(|f| f.retiring_principal).and_then(one),
            "kms:granteeserviceprincipal" => facts
                .and_then(|f| f.grantee_service_principal)
                .and_then(one),
            "kms:grantconstrainttype" => facts
                .and_then(|f| f.grant_constraint_types)
                .and_then(|types| many(types.iter().map(|t| Cow::Borrowed(*t)))),
            "kms:grantconstraintsourcearn" => facts
                .and_then(|f| f.grant_constraint_source_arn)
                .and_then(one),
            "kms:grantisforawsresource" => facts
                .and_then(|f| f.grant_operations)
                .map(|_| Values::One("false")),
            "aws:tagkeys" => facts
                .and_then(|f| f.request_tags)
                .and_then(|tags| many(tags.iter().map(|t| Cow::Borrowed(t.key.as_str())))),
            _ => {
                if let Some(name) = key.strip_prefix("kms:encryptioncontext:") {
                    return facts
                        .and_then(|f| f.encryption_context)
                        .and_then(|c| get_ci(c, name))
                        .and_then(one);
                }
                if let Some(name) = key.strip_prefix("aws:resourcetag/") {
                    return self.key.and_then(|k| tag_ci(&k.tags, name)).and_then(one);
                }
                if let Some(name) = key.strip_prefix("aws:requesttag/") {
                    return facts
                        .and_then(|f| f.request_tags)
                        .and_then(|t| tag_ci(t, name))
                        .and_then(one);
                }
                None
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now.
fn iso8601_now() -> String {
    let secs = crate::now_millis() / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The caller's IAM policies together: any explicit Deny wins, then any Allow.
pub fn evaluate_identity(
    caller: &Caller,
    action: &str,
    resource: &str,
    context: &dyn ConditionContext,
) -> Outcome {
    let identity = &caller.identity;
    let principal = Principal {
        arn: identity.policy_arn(),
        account: &identity.account,
    };
    let request = Request {
        action,
        resource,
        principal: &principal,
        context,
    };
    let mut outcome = Outcome::NotApplicable;
    for policy in &identity.policies {
        match policy.evaluate_identity(&request) {
            Outcome::ExplicitDeny => return Outcome::ExplicitDeny,
            Outcome::Allow => outcome = Outcome::Allow,
            Outcome::NotApplicable => {}
        }
    }
    outcome
}

/// A resource policy (key policy, trust policy) for the caller.
pub fn evaluate_resource(
    caller: &Caller,
    policy: &Policy,
    action: &str,
    resource: &str,
    context: &dyn ConditionContext,
) -> ResourceOutcome {
    let identity = &caller.identity;
    let principal = Principal {
        arn: &identity.principal_arn,
        account: &identity.account,
    };
    policy.evaluate_resource(&Request {
        action,
        resource,
        principal: &principal,
        context,
    })
}

/// AWS's AccessDeniedException message.
pub fn deny_message(
    caller: &Caller,
    action: &str,
    resource: &str,
    explicit: bool,
    kind: &str,
) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    if explicit {
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} with an explicit deny in {article} {kind}-based policy",
            caller.principal_arn()
        )
    } else {
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} because no {kind}-based policy allows the {action} action",
            caller.principal_arn()
        )
    }
}

/// Whether `grant` lets the caller perform `operation` (e.g. `Encrypt`) with
/// the request's encryption context.
pub fn grant_allows(
    grant: &GrantRecord,
    caller: &Caller,
    operation: &str,
    context: Option<&BTreeMap<String, String>>,
) -> bool {
    if !grant.grantee.names(&caller.identity) {
        return false;
    }
    if !grant.operations.iter().any(|o| o == operation) {
        return false;
    }
    // A SourceArn constraint allows only requests made on behalf of that
    // resource (`aws:SourceArn`), which an AWS service sends for the
    // resource it acts for. A direct caller sends none, so the grant allows
    // it nothing but RetireGrant, to which AWS does not apply it.
    if grant.source_arn.is_some() && operation != "RetireGrant" {
        return false;
    }
    // The encryption context constraint is for the cryptographic
    // operations: DescribeKey and RetireGrant ignore it, and for
    // CreateGrant it binds the grants created (`derives_from` in
    // `service/grants.rs`).
    if matches!(operation, "DescribeKey" | "RetireGrant" | "CreateGrant") {
        return true;
    }
    let empty = BTreeMap::new();
    let context = context.unwrap_or(&empty);
    // AWS: in a grant constraint the keys are not case sensitive, the
    // values are.
    let includes = |pairs: &BTreeMap<String, String>| {
        pairs
            .iter()
            .all(|(k, v)| get_ci(context, k) == Some(v.as_str()))
    };
    if let Some(equals) = &grant.context_equals
        && !(equals.len() == context.len() && includes(equals))
    {
        return false;
    }
    if let Some(subset) = &grant.context_subset
        && !includes(subset)
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Identity;
    use std::sync::Arc;

    #[test]
    fn secure_transport_is_the_caller_s() {
        let identity = Arc::new(Identity {
            account: "111122223333".into(),
            principal_arn: "arn:aws:iam::111122223333:root".into(),
            user_id: "111122223333".into(),
            username: None,
            kind: PrincipalKind::Root,
            access_key_id: "AKIAEXAMPLE".into(),
            secret: Default::default(),
            session_token_sha256: None,
            expires_ms: None,
            policies: Vec::new(),
        });
        for (secure, expected) in [(true, "true"), (false, "false")] {
            let caller = Caller::new(identity.clone(), "us-east-1", None, secure);
            let context = AuthzContext::new(&caller);
            assert!(
                matches!(context.get("aws:securetransport"), Some(Values::One(v)) if v == expected),
                "{secure}"
            );
        }
    }

    #[test]
    fn multi_region_keys_come_from_the_request_before_there_is_a_key() {
        let identity = Arc::new(Identity {
            account: "111122223333".into(),
            principal_arn: "arn:aws:iam::111122223333:root".into(),
            user_id: "111122223333".into(),
            username: None,
            kind: PrincipalKind::Root,
            access_key_id: "AKIAEXAMPLE".into(),
            secret: Default::default(),
            session_token_sha256: None,
            expires_ms: None,
            policies: Vec::new(),
        });
        let caller = Caller::new(identity, "us-east-1", None, true);
        let one = |context: &AuthzContext<'_>, key: &str| match context.get(key) {
            Some(Values::One(v)) => Some(v.to_owned()),
            _ => None,
        };
        for (multi, expected) in [(true, "true"), (false, "false")] {
            let facts = RequestFacts {
                multi_region: Some(multi),
                replica_region: Some("eu-west-1"),
                ..Default::default()
            };
            let context = AuthzContext::for_request(&caller, &facts);
            assert_eq!(one(&context, "kms:multiregion").as_deref(), Some(expected));
            assert_eq!(
                one(&context, "kms:replicaregion").as_deref(),
                Some("eu-west-1")
            );
            assert_eq!(one(&context, "kms:primaryregion"), None);
        }
    }

    #[test]
    fn iso8601_has_the_right_shape() {
        let now = super::iso8601_now();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20") && now.ends_with('Z'));
    }
}
