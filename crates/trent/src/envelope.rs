//! `trent encrypt` and `trent decrypt`: files and streams in the AWS
//! Encryption SDK's message format, their data keys from KMS (Trent or AWS
//! KMS itself), through the crate `trent-client`.
//!
//! Plaintext is never released unauthenticated into a file: the output is
//! written to a temporary file beside it (mode 0600) and renamed over it
//! only when the whole message verified; on failure the temporary file is
//! removed and nothing is left at the output's path.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::Context;
use trent_client::header::Limits;
use trent_client::kms::{Arn, Kms, Unwrap};
use trent_client::message::{self, EncryptionMaterials, Options};
use trent_client::{Suite, context};

/// What both commands share.
#[derive(clap::Args)]
pub struct Common {
    /// The most encrypted data keys a message may carry (one per wrapping
    /// key): encrypt refuses to write more, decrypt to read more. The AWS
    /// Encryption SDK's guidance is to set such a limit: a message with
    /// very many keys is a denial of service.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    max_encrypted_data_keys: u16,
    /// The AWS profile (default: AWS_PROFILE, then `default`).
    #[arg(long)]
    profile: Option<String>,
    /// Grant tokens passed to every KMS call.
    #[arg(long = "grant-token", value_name = "TOKEN")]
    grant_tokens: Vec<String>,
    /// Threads sealing or opening frames (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// `trent encrypt`.
#[derive(clap::Args)]
pub struct EncryptArgs {
    /// A KMS key to wrap the data key with (key id, key ARN, alias name or
    /// alias ARN); repeat for several: the first generates the data key,
    /// each other one wraps it too, and any of them decrypts the message.
    #[arg(long = "key-id", value_name = "KEY", required = true)]
    key_ids: Vec<String>,
    /// An encryption context pair, stored in the message's header and bound
    /// to its data keys; repeat for several.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// The algorithm suite: the AWS Encryption SDK's default, signed with
    /// ECDSA P-384 (readers need no trust in whoever else can decrypt the
    /// data key), or AES_256_GCM_HKDF_SHA512_COMMIT_KEY (unsigned, faster).
    #[arg(long, value_name = "SUITE", default_value = Suite::CommittedSigned.name(), value_parser = parse_suite)]
    algorithm: Suite,
    /// The plaintext bytes per frame.
    #[arg(long, value_name = "BYTES", default_value_t = message::DEFAULT_FRAME_LENGTH)]
    frame_length: u32,
    #[command(flatten)]
    common: Common,
    /// The file to encrypt, or `-` for standard input.
    input: PathBuf,
    /// The message to write, or `-` for standard output.
    output: PathBuf,
}

/// `trent decrypt`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("keys").required(true).args(["key_ids", "discovery"])))]
pub struct DecryptArgs {
    /// A key ARN the message's data key may be decrypted with; repeat for
    /// several. A multi-Region key also decrypts what a related key
    /// wrapped (asked in its own Region).
    #[arg(long = "key-id", value_name = "KEY_ARN")]
    key_ids: Vec<String>,
    /// Decrypt with whichever KMS key the message names, asked in that
    /// key's Region (limit it with --account and --partition).
    #[arg(long)]
    discovery: bool,
    /// With --discovery: only keys of this account; repeat for several.
    #[arg(long = "account", value_name = "ACCOUNT_ID", requires = "discovery")]
    accounts: Vec<String>,
    /// With --discovery: only keys of this partition.
    #[arg(long, default_value = "aws", requires = "discovery")]
    partition: String,
    /// A pair the message's encryption context must hold; repeat for
    /// several. Without it, any context is accepted (and still
    /// authenticated).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    #[command(flatten)]
    common: Common,
    /// The message to decrypt, or `-` for standard input.
    input: PathBuf,
    /// The plaintext to write, or `-` for standard output. To a file,
    /// nothing is written unless the whole message authenticates. To
    /// standard output, each frame is released once its tag verifies
    /// (and, for the signed suite, the last batch of frames once the
    /// signature verifies): a message cut or changed later makes the
    /// command fail after part of the plaintext was written.
    output: PathBuf,
}

fn parse_suite(name: &str) -> Result<Suite, String> {
    Suite::from_name(name).ok_or_else(|| {
        format!(
            "unknown algorithm suite {name:?}: {} or {}",
            Suite::CommittedSigned.name(),
            Suite::Committed.name()
        )
    })
}

impl Common {
    fn options(&self, frame_length: u32) -> Options {
        let mut options = Options {
            frame_length,
            ..Options::default()
        };
        if let Some(threads) = self.threads {
            options.threads = usize::from(threads);
        }
        options.limits = Limits {
            max_data_keys: self.max_encrypted_data_keys,
            ..options.limits
        };
        options
    }

    fn kms(&self, runtime: &tokio::runtime::Runtime) -> anyhow::Result<Kms> {
        Ok(runtime.block_on(Kms::from_env(
            self.profile.as_deref(),
            self.grant_tokens.clone(),
        ))?)
    }
}

pub fn encrypt(args: EncryptArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let caller_context = context::parse_pairs(&args.context)?;
    let options = args.common.options(args.frame_length);
    let input = open_input(&args.input)?;
    let mut materials = EncryptionMaterials::new(args.algorithm, caller_context)?;
    let kms = args.common.kms(runtime)?;
    runtime.block_on(kms.wrap(&mut materials, &args.key_ids))?;
    let mut output = Output::create(&args.output)?;
    message::encrypt(materials, &options, input, output.writer(), &|_| {})?;
    output.commit()
}

pub fn decrypt(args: DecryptArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let required = context::parse_pairs(&args.context)?;
    let unwrap = if args.discovery {
        Unwrap::Discovery {
            partition: args.partition.clone(),
            accounts: args.accounts.clone(),
        }
    } else {
        let keys = args
            .key_ids
            .iter()
            .map(|k| {
                Arn::parse_key(k).with_context(|| {
                    format!("decrypt --key-id takes key ARNs (a message names its keys by ARN), not {k:?}")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Unwrap::Keys(keys)
    };
    let options = args.common.options(message::DEFAULT_FRAME_LENGTH);
    let mut input = open_input(&args.input)?;
    let incoming = message::read_header(&mut input, &options.limits)?;
    context::require(&incoming.header.context, &required)?;
    let kms = args.common.kms(runtime)?;
    let data_key = runtime.block_on(kms.unwrap(&incoming.header, &unwrap))?;
    let mut output = Output::create(&args.output)?;
    message::decrypt(
        incoming,
        &data_key,
        &options,
        input,
        output.writer(),
        &|_| {},
    )?;
    output.commit()
}

/// The input as a file: a path, or standard input (`-`) without Rust's
/// buffering.
fn open_input(path: &Path) -> anyhow::Result<File> {
    if path.as_os_str() == "-" {
        let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
        return Ok(File::from(fd));
    }
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

/// Standard output, or a temporary file beside the output's path that
/// becomes it on [`Output::commit`] and is removed if dropped before.
enum Output {
    Stdout(File),
    File {
        temp: tempfile::NamedTempFile,
        path: PathBuf,
    },
}

impl Output {
    fn create(path: &Path) -> anyhow::Result<Output> {
        if path.as_os_str() == "-" {
            let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
            return Ok(Output::Stdout(File::from(fd)));
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".trent-partial-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        Ok(Output::File {
            temp,
            path: path.to_owned(),
        })
    }

    fn writer(&mut self) -> &mut File {
        match self {
            Output::Stdout(file) => file,
            Output::File { temp, .. } => temp.as_file_mut(),
        }
    }

    fn commit(self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(mut file) => Ok(file.flush()?),
            Output::File { temp, path } => {
                temp.persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(())
            }
        }
    }
}
