//! The AWS KMS keyring (`framework/aws-kms/aws-kms-keyring.md` and its
//! discovery and multi-Region variants): data keys generated and wrapped by
//! KMS on encrypt, unwrapped by KMS on decrypt, through `aws-sdk-kms` with
//! the SDK's standard configuration ([`crate::config`]).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use zeroize::Zeroizing;

use crate::config::refusal;
use crate::header::{EncryptedDataKey, Header};
use crate::message::EncryptionMaterials;
use crate::suite::DATA_KEY_LEN;
use crate::{Error, Result};

/// The key provider id of KMS's encrypted data keys.
pub const PROVIDER_ID: &str = "aws-kms";

/// A KMS key or alias ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub resource_type: String,
    pub resource: String,
}

impl Arn {
    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("kms"), Some(region), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let (resource_type, resource) = rest.split_once('/')?;
        let valid = !partition.is_empty()
            && !region.is_empty()
            && !account.is_empty()
            && !resource.is_empty()
            && matches!(resource_type, "key" | "alias");
        valid.then(|| Arn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource_type: resource_type.to_owned(),
            resource: resource.to_owned(),
        })
    }

    /// A key ARN, as encrypted data keys name their wrapping key.
    pub fn parse_key(s: &str) -> Option<Arn> {
        Arn::parse(s).filter(|arn| arn.resource_type == "key")
    }

    pub fn is_multi_region(&self) -> bool {
        self.resource_type == "key" && self.resource.starts_with("mrk-")
    }

    /// The same key, or related multi-Region keys (the same key id in
    /// another Region of the same account and partition).
    pub fn matches(&self, other: &Arn) -> bool {
        self == other
            || (self.is_multi_region()
                && other.is_multi_region()
                && self.partition == other.partition
                && self.account == other.account
                && self.resource == other.resource)
    }
}

impl std::fmt::Display for Arn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Arn {
            partition,
            region,
            account,
            resource_type,
            resource,
        } = self;
        write!(
            f,
            "arn:{partition}:kms:{region}:{account}:{resource_type}/{resource}"
        )
    }
}

/// Which encrypted data keys decrypt may ask KMS to unwrap.
#[derive(Clone, Debug)]
pub enum Unwrap {
    /// Only these keys (key ARNs; a multi-Region key also unwraps what a
    /// related key wrapped, asked in its own Region).
    Keys(Vec<Arn>),
    /// Any key ARN in the message, asked in the ARN's Region, if it is in
    /// this partition and one of these accounts (none named: any account).
    Discovery {
        partition: String,
        accounts: Vec<String>,
    },
}

/// KMS clients, one per Region, from one SDK configuration.
pub struct Kms {
    config: SdkConfig,
    clients: Mutex<HashMap<String, Client>>,
    grant_tokens: Vec<String>,
    endpoints: HashMap<String, String>,
}

impl Kms {
    /// Clients made from `config` (see [`crate::config::load`]), passing
    /// `grant_tokens` to every call.
    pub fn new(config: &SdkConfig, grant_tokens: Vec<String>) -> Kms {
        Kms {
            config: config.clone(),
            clients: Mutex::new(HashMap::new()),
            grant_tokens,
            endpoints: HashMap::new(),
        }
    }

    /// KMS endpoints by Region, over the configuration's own: keys of one
    /// message may live on several servers (two Trents, or Trent and AWS).
    pub fn with_endpoints(mut self, endpoints: HashMap<String, String>) -> Kms {
        self.endpoints = endpoints;
        self
    }

    /// The client for `region`, or for the configuration's own Region.
    fn client(&self, region: Option<&str>) -> Result<Client> {
        let region = match region {
            Some(region) => region.to_owned(),
            None => self
                .config
                .region()
                .map(|r| r.as_ref().to_owned())
                .ok_or_else(|| {
                    Error::Kms(
                        "no AWS Region: set AWS_REGION (or a profile's region), or name keys by ARN"
                            .into(),
                    )
                })?,
        };
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients.entry(region.clone()).or_insert_with(|| {
            let mut conf = aws_sdk_kms::config::Builder::from(&self.config);
            if let Some(endpoint) = self.endpoints.get(&region) {
                conf = conf.endpoint_url(endpoint);
            }
            Client::from_conf(
                conf.region(aws_sdk_kms::config::Region::new(region))
                    .build(),
            )
        });
        Ok(client.clone())
    }

    /// Encrypt's keyring: a data key from the first key (GenerateDataKey),
    /// wrapped again by each other key (Encrypt), all under the materials'
    /// encryption context.
    pub async fn wrap(
        &self,
        materials: &mut EncryptionMaterials,
        key_ids: &[String],
    ) -> Result<()> {
        let (first, others) = key_ids
            .split_first()
            .ok_or_else(|| Error::Kms("encrypt needs at least one --key-id".into()))?;
        let context: HashMap<String, String> = materials.context().clone().into_iter().collect();
        let out = self
            .client(Arn::parse(first).map(|a| a.region).as_deref())?
            .generate_data_key()
            .key_id(first)
            .number_of_bytes(DATA_KEY_LEN as i32)
            .set_encryption_context(Some(context.clone()))
            .set_grant_tokens(self.tokens())
            .send()
            .await
            .map_err(|e| refusal(format_args!("{first}: GenerateDataKey"), e))?;
        let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
        let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        if plaintext.len() != DATA_KEY_LEN {
            return Err(Error::Kms(format!(
                "{first}: GenerateDataKey answered a {}-byte data key, not {DATA_KEY_LEN}",
                plaintext.len()
            )));
        }
        data_key.copy_from_slice(&plaintext);
        let wrapped = wrapped_by(first, "GenerateDataKey", out.key_id, out.ciphertext_blob)?;
        materials.set_data_key(data_key, wrapped);
        for key_id in others {
            let out = self
                .client(Arn::parse(key_id).map(|a| a.region).as_deref())?
                .encrypt()
                .key_id(key_id)
                .plaintext(Blob::new(materials.data_key().expect("set above").to_vec()))
                .set_encryption_context(Some(context.clone()))
                .set_grant_tokens(self.tokens())
                .send()
                .await
                .map_err(|e| refusal(format_args!("{key_id}: Encrypt"), e))?;
            materials.add_wrapped(wrapped_by(
                key_id,
                "Encrypt",
                out.key_id,
                out.ciphertext_blob,
            )?);
        }
        Ok(())
    }

    /// Decrypt's keyring: the message's KMS-wrapped data keys that `unwrap`
    /// allows, tried in order until KMS unwraps one. Every refusal is
    /// collected into the error.
    pub async fn unwrap(&self, header: &Header, unwrap: &Unwrap) -> Result<Zeroizing<Vec<u8>>> {
        let context: HashMap<String, String> = header.context.clone().into_iter().collect();
        let mut errors = Vec::new();
        for wrapped in &header.data_keys {
            if wrapped.provider_id != PROVIDER_ID {
                errors.push(format!(
                    "a data key of key provider {:?} (not KMS)",
                    wrapped.provider_id
                ));
                continue;
            }
            let info = String::from_utf8_lossy(&wrapped.provider_info);
            let Some(arn) = Arn::parse_key(&info) else {
                return Err(Error::Malformed(format!(
                    "an encrypted data key names {info:?}, which is not a KMS key ARN"
                )));
            };
            let Some(ask) = ask_as(&arn, unwrap) else {
                errors.push(format!("{arn}: not a key this decrypt may use"));
                continue;
            };
            let answer = self
                .client(Some(&ask.region))?
                .decrypt()
                .key_id(ask.to_string())
                .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()))
                .set_encryption_context(Some(context.clone()))
                .set_grant_tokens(self.tokens())
                .send()
                .await;
            match answer {
                Err(e) => errors.push(refusal(format_args!("{ask}: Decrypt"), e).to_string()),
                Ok(out) if out.key_id.as_deref() != Some(&ask.to_string()) => errors.push(format!(
                    "{ask}: Decrypt answered for another key ({:?})",
                    out.key_id
                )),
                Ok(out) => {
                    let plaintext =
                        Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
                    if plaintext.len() == DATA_KEY_LEN {
                        return Ok(plaintext);
                    }
                    errors.push(format!(
                        "{ask}: Decrypt answered a {}-byte data key",
                        plaintext.len()
                    ));
                }
            }
        }
        Err(Error::Kms(format!(
            "no encrypted data key of the message could be decrypted: {}",
            errors.join("; ")
        )))
    }

    fn tokens(&self) -> Option<Vec<String>> {
        (!self.grant_tokens.is_empty()).then(|| self.grant_tokens.clone())
    }
}

/// The key to ask KMS with for an encrypted data key wrapped by `arn`, if
/// `unwrap` allows it.
fn ask_as(arn: &Arn, unwrap: &Unwrap) -> Option<Arn> {
    match unwrap {
        Unwrap::Keys(keys) => keys.iter().find(|k| k.matches(arn)).cloned(),
        Unwrap::Discovery {
            partition,
            accounts,
        } => (arn.partition == *partition
            && (accounts.is_empty() || accounts.contains(&arn.account)))
        .then(|| arn.clone()),
    }
}

fn wrapped_by(
    key_id: &str,
    action: &str,
    answered_key: Option<String>,
    blob: Option<Blob>,
) -> Result<EncryptedDataKey> {
    let arn = answered_key
        .filter(|k| Arn::parse_key(k).is_some())
        .ok_or_else(|| Error::Kms(format!("{key_id}: {action} answered no key ARN")))?;
    let ciphertext = blob
        .map(Blob::into_inner)
        .ok_or_else(|| Error::Kms(format!("{key_id}: {action} answered no CiphertextBlob")))?;
    Ok(EncryptedDataKey {
        provider_id: PROVIDER_ID.into(),
        provider_info: arn.into_bytes(),
        ciphertext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(s: &str) -> Arn {
        Arn::parse(s).unwrap()
    }

    #[test]
    fn arns_parse_and_print() {
        let s = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
        assert_eq!(arn(s).to_string(), s);
        assert!(Arn::parse_key("arn:aws:kms:us-east-1:111122223333:alias/a").is_none());
        for bad in [
            "1234abcd",
            "alias/a",
            "arn:aws:s3:us-east-1:111122223333:key/k",
            "arn:aws:kms::111122223333:key/k",
            "arn:aws:kms:us-east-1::key/k",
            "arn:aws:kms:us-east-1:111122223333:key/",
            "arn:aws:kms:us-east-1:111122223333:grant/k",
        ] {
            assert!(Arn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn multi_region_keys_match_across_regions_and_nothing_else_does() {
        let east = arn("arn:aws:kms:us-east-1:111122223333:key/mrk-1");
        let west = arn("arn:aws:kms:us-west-2:111122223333:key/mrk-1");
        let other_account = arn("arn:aws:kms:us-west-2:444455556666:key/mrk-1");
        let single = arn("arn:aws:kms:us-east-1:111122223333:key/k1");
        let single_west = arn("arn:aws:kms:us-west-2:111122223333:key/k1");
        assert!(east.matches(&west));
        assert!(!east.matches(&other_account));
        assert!(!single.matches(&single_west));
        assert!(single.matches(&single.clone()));
    }

    #[test]
    fn discovery_filters_by_partition_and_account() {
        let key = arn("arn:aws:kms:us-east-1:111122223333:key/k1");
        let any = Unwrap::Discovery {
            partition: "aws".into(),
            accounts: vec![],
        };
        let mine = Unwrap::Discovery {
            partition: "aws".into(),
            accounts: vec!["111122223333".into()],
        };
        let theirs = Unwrap::Discovery {
            partition: "aws".into(),
            accounts: vec!["444455556666".into()],
        };
        let china = Unwrap::Discovery {
            partition: "aws-cn".into(),
            accounts: vec![],
        };
        assert_eq!(ask_as(&key, &any), Some(key.clone()));
        assert_eq!(ask_as(&key, &mine), Some(key.clone()));
        assert_eq!(ask_as(&key, &theirs), None);
        assert_eq!(ask_as(&key, &china), None);
        let west = arn("arn:aws:kms:us-west-2:111122223333:key/mrk-1");
        let east = arn("arn:aws:kms:us-east-1:111122223333:key/mrk-1");
        assert_eq!(ask_as(&west, &Unwrap::Keys(vec![east.clone()])), Some(east));
    }
}
