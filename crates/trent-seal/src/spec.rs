//! `--root-key SPEC`: which provider gives the root key, and where it finds
//! it. A spec names places (files, an HSM token and key label, a KMS key),
//! never a secret: it may be printed and logged.
//!
//! ```text
//! file:PATH
//! passphrase                  (TRENT_ROOT_PASSPHRASE, or a prompt on a terminal)
//! passphrase:file:PATH
//! pkcs11:module=PATH,token=LABEL,key=LABEL[,pin-file=PATH]
//! kms:KEY_ARN[,endpoint=URL]
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the root key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootKeySpec {
    /// 32 random bytes in a file (mode 0600), made at a new installation's
    /// first start.
    File(PathBuf),
    /// Derived with Argon2id from a passphrase; the salt and parameters are
    /// in the store.
    Passphrase(PassphraseSource),
    /// A non-extractable AES-256 key in an HSM.
    Pkcs11(Pkcs11Spec),
    /// A data key of another KMS, kept wrapped in the store.
    Kms(KmsSpec),
}

/// Where the passphrase is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassphraseSource {
    /// `TRENT_ROOT_PASSPHRASE`, else a prompt when stdin is a terminal.
    EnvironmentOrPrompt,
    /// The file's contents (one trailing newline removed); mode 0600.
    File(PathBuf),
}

/// `pkcs11:module=PATH,token=LABEL,key=LABEL[,pin-file=PATH]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Spec {
    /// The PKCS#11 module (a shared library).
    pub module: PathBuf,
    /// The label of the token holding the key.
    pub token: String,
    /// The label of the AES-256 key on the token.
    pub key: String,
    /// A file (mode 0600) holding the user PIN; without it,
    /// `TRENT_PKCS11_PIN`.
    pub pin_file: Option<PathBuf>,
}

/// `kms:KEY_ARN[,endpoint=URL]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsSpec {
    /// The KMS key that wraps the root key (an ARN, key id or alias).
    pub key_id: String,
    /// The KMS's endpoint, instead of the SDK's (from `AWS_ENDPOINT_URL*`
    /// or the Region).
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "unknown root key provider {0:?}: expected file:PATH, passphrase, passphrase:file:PATH, \
         pkcs11:module=PATH,token=LABEL,key=LABEL[,pin-file=PATH] or kms:KEY_ARN[,endpoint=URL]"
    )]
    UnknownProvider(String),
    #[error("{provider}: missing {field}")]
    Missing {
        provider: &'static str,
        field: &'static str,
    },
    #[error("{provider}: {field} is empty")]
    Empty {
        provider: &'static str,
        field: &'static str,
    },
    #[error("{provider}: unknown field {field:?} (it takes {takes})")]
    UnknownField {
        provider: &'static str,
        field: String,
        takes: &'static str,
    },
    #[error("{provider}: {field} is given twice")]
    Repeated {
        provider: &'static str,
        field: String,
    },
    #[error("{provider}: {part:?} is not FIELD=VALUE")]
    NotAField {
        provider: &'static str,
        part: String,
    },
    #[error("passphrase: expected `passphrase` or `passphrase:file:PATH`, not {0:?}")]
    Passphrase(String),
    #[error("kms: endpoint must be an http:// or https:// URL, not {0:?}")]
    Endpoint(String),
}

const PKCS11_FIELDS: &str = "module=PATH, token=LABEL, key=LABEL, pin-file=PATH";
const KMS_FIELDS: &str = "endpoint=URL after the key";

impl FromStr for RootKeySpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let (provider, rest) = match text.split_once(':') {
            Some((provider, rest)) => (provider, Some(rest)),
            None => (text, None),
        };
        match (provider, rest) {
            ("file", None) => Err(SpecError::Missing {
                provider: "file",
                field: "the path (file:PATH)",
            }),
            ("file", Some("")) => Err(SpecError::Empty {
                provider: "file",
                field: "the path",
            }),
            ("file", Some(path)) => Ok(RootKeySpec::File(path.into())),
            ("passphrase", None) => Ok(RootKeySpec::Passphrase(
                PassphraseSource::EnvironmentOrPrompt,
            )),
            ("passphrase", Some(rest)) => match rest.strip_prefix("file:") {
                Some("") => Err(SpecError::Empty {
                    provider: "passphrase",
                    field: "the passphrase file's path",
                }),
                Some(path) => Ok(RootKeySpec::Passphrase(PassphraseSource::File(path.into()))),
                None => Err(SpecError::Passphrase(text.to_owned())),
            },
            ("pkcs11", rest) => parse_pkcs11(rest.unwrap_or_default()).map(RootKeySpec::Pkcs11),
            ("kms", rest) => parse_kms(rest.unwrap_or_default()).map(RootKeySpec::Kms),
            (other, _) => Err(SpecError::UnknownProvider(other.to_owned())),
        }
    }
}

/// `FIELD=VALUE` pairs separated by commas, each field at most once.
fn fields<'a>(provider: &'static str, text: &'a str) -> Result<Vec<(&'a str, &'a str)>, SpecError> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (field, value) = part.split_once('=').ok_or_else(|| SpecError::NotAField {
            provider,
            part: part.to_owned(),
        })?;
        if out.iter().any(|(f, _)| *f == field) {
            return Err(SpecError::Repeated {
                provider,
                field: field.to_owned(),
            });
        }
        out.push((field, value));
    }
    Ok(out)
}

fn parse_pkcs11(text: &str) -> Result<Pkcs11Spec, SpecError> {
    const P: &str = "pkcs11";
    let (mut module, mut token, mut key, mut pin_file) = (None, None, None, None);
    for (field, value) in fields(P, text)? {
        let slot = match field {
            "module" => &mut module,
            "token" => &mut token,
            "key" => &mut key,
            "pin-file" => &mut pin_file,
            other => {
                return Err(SpecError::UnknownField {
                    provider: P,
                    field: other.to_owned(),
                    takes: PKCS11_FIELDS,
                });
            }
        };
        *slot = Some(value);
    }
    let required = |value: Option<&str>, field: &'static str| match value {
        None => Err(SpecError::Missing { provider: P, field }),
        Some("") => Err(SpecError::Empty { provider: P, field }),
        Some(v) => Ok(v.to_owned()),
    };
    Ok(Pkcs11Spec {
        module: required(module, "module=PATH")?.into(),
        token: required(token, "token=LABEL")?,
        key: required(key, "key=LABEL")?,
        pin_file: match pin_file {
            None => None,
            Some(_) => Some(required(pin_file, "pin-file=PATH")?.into()),
        },
    })
}

fn parse_kms(text: &str) -> Result<KmsSpec, SpecError> {
    const P: &str = "kms";
    let (key_id, rest) = text.split_once(',').unwrap_or((text, ""));
    if key_id.is_empty() {
        return Err(SpecError::Missing {
            provider: P,
            field: "the key (kms:KEY_ARN)",
        });
    }
    let mut endpoint = None;
    for (field, value) in fields(P, rest)? {
        match field {
            "endpoint" if value.starts_with("http://") || value.starts_with("https://") => {
                endpoint = Some(value.to_owned());
            }
            "endpoint" => return Err(SpecError::Endpoint(value.to_owned())),
            other => {
                return Err(SpecError::UnknownField {
                    provider: P,
                    field: other.to_owned(),
                    takes: KMS_FIELDS,
                });
            }
        }
    }
    Ok(KmsSpec {
        key_id: key_id.to_owned(),
        endpoint,
    })
}

/// The spec as it would be written on the command line.
impl fmt::Display for RootKeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootKeySpec::File(path) => write!(f, "file:{}", path.display()),
            RootKeySpec::Passphrase(PassphraseSource::EnvironmentOrPrompt) => {
                f.write_str("passphrase")
            }
            RootKeySpec::Passphrase(PassphraseSource::File(path)) => {
                write!(f, "passphrase:file:{}", path.display())
            }
            RootKeySpec::Pkcs11(spec) => {
                write!(
                    f,
                    "pkcs11:module={},token={},key={}",
                    spec.module.display(),
                    spec.token,
                    spec.key
                )?;
                if let Some(pin_file) = &spec.pin_file {
                    write!(f, ",pin-file={}", pin_file.display())?;
                }
                Ok(())
            }
            RootKeySpec::Kms(spec) => {
                write!(f, "kms:{}", spec.key_id)?;
                if let Some(endpoint) = &spec.endpoint {
                    write!(f, ",endpoint={endpoint}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RootKeySpec, SpecError> {
        text.parse()
    }

    #[test]
    fn parses_every_provider_and_prints_it_back() {
        let cases = [
            (
                "file:/var/lib/trent/root.key",
                RootKeySpec::File("/var/lib/trent/root.key".into()),
            ),
            (
                "passphrase",
                RootKeySpec::Passphrase(PassphraseSource::EnvironmentOrPrompt),
            ),
            (
                "passphrase:file:/run/secrets/pass",
                RootKeySpec::Passphrase(PassphraseSource::File("/run/secrets/pass".into())),
            ),
            (
                "pkcs11:module=/usr/lib/softhsm/libsofthsm2.so,token=trent,key=root",
                RootKeySpec::Pkcs11(Pkcs11Spec {
                    module: "/usr/lib/softhsm/libsofthsm2.so".into(),
                    token: "trent".into(),
                    key: "root".into(),
                    pin_file: None,
                }),
            ),
            (
                "pkcs11:module=/m.so,token=t,key=k,pin-file=/run/pin",
                RootKeySpec::Pkcs11(Pkcs11Spec {
                    module: "/m.so".into(),
                    token: "t".into(),
                    key: "k".into(),
                    pin_file: Some("/run/pin".into()),
                }),
            ),
            (
                "kms:arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                RootKeySpec::Kms(KmsSpec {
                    key_id: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                        .into(),
                    endpoint: None,
                }),
            ),
            (
                "kms:alias/trent-root,endpoint=https://kms.example:4599",
                RootKeySpec::Kms(KmsSpec {
                    key_id: "alias/trent-root".into(),
                    endpoint: Some("https://kms.example:4599".into()),
                }),
            ),
        ];
        for (text, spec) in cases {
            assert_eq!(parse(text).as_ref(), Ok(&spec), "{text}");
            assert_eq!(spec.to_string(), text);
        }
        // Field order is free.
        assert_eq!(
            parse("pkcs11:key=k,pin-file=/p,token=t,module=/m.so")
                .unwrap()
                .to_string(),
            "pkcs11:module=/m.so,token=t,key=k,pin-file=/p"
        );
    }

    #[test]
    fn says_what_is_wrong() {
        let error = |text: &str| parse(text).unwrap_err().to_string();
        assert!(error("vault:x").starts_with("unknown root key provider \"vault\""));
        assert!(error("").starts_with("unknown root key provider \"\""));
        assert_eq!(error("file"), "file: missing the path (file:PATH)");
        assert_eq!(error("file:"), "file: the path is empty");
        assert_eq!(
            error("passphrase:env"),
            "passphrase: expected `passphrase` or `passphrase:file:PATH`, not \"passphrase:env\""
        );
        assert_eq!(
            error("passphrase:file:"),
            "passphrase: the passphrase file's path is empty"
        );
        assert_eq!(error("pkcs11"), "pkcs11: missing module=PATH");
        assert_eq!(
            error("pkcs11:module=/m.so,key=k"),
            "pkcs11: missing token=LABEL"
        );
        assert_eq!(
            error("pkcs11:module=/m.so,token=t"),
            "pkcs11: missing key=LABEL"
        );
        assert_eq!(
            error("pkcs11:module=/m.so,token=t,key="),
            "pkcs11: key=LABEL is empty"
        );
        assert_eq!(
            error("pkcs11:module=/m.so,token=t,key=k,pin=1234"),
            "pkcs11: unknown field \"pin\" (it takes module=PATH, token=LABEL, key=LABEL, pin-file=PATH)"
        );
        assert_eq!(
            error("pkcs11:module=/m.so,token=t,token=u,key=k"),
            "pkcs11: token is given twice"
        );
        assert_eq!(
            error("pkcs11:module=/m.so,token"),
            "pkcs11: \"token\" is not FIELD=VALUE"
        );
        assert_eq!(error("kms"), "kms: missing the key (kms:KEY_ARN)");
        assert_eq!(error("kms:"), "kms: missing the key (kms:KEY_ARN)");
        assert_eq!(
            error("kms:alias/x,region=eu-west-1"),
            "kms: unknown field \"region\" (it takes endpoint=URL after the key)"
        );
        assert_eq!(
            error("kms:alias/x,endpoint=kms.example"),
            "kms: endpoint must be an http:// or https:// URL, not \"kms.example\""
        );
    }
}
