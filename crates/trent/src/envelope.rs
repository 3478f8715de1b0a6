//! `trent encrypt` and `trent decrypt`: files and streams in the AWS
//! Encryption SDK's message format, their data keys from KMS (Trent or AWS
//! KMS itself), through the crate `trent-client`.
//!
//! Plaintext is never released unauthenticated into a file: the output is
//! written to a temporary file beside it (mode 0600) and renamed over it
//! only when the whole message verified; on failure the temporary file is
//! removed and nothing is left at the output's path.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use aws_config::SdkConfig;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trent_client::cache::{self, DecryptCache, EncryptCache};
use trent_client::header::Limits;
use trent_client::kms::{Arn, Kms, Unwrap};
use trent_client::message::{self, EncryptionMaterials, Options};
use trent_client::{EncryptionContext, Suite, context};

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
    /// The KMS endpoint of one Region, over the standard configuration's
    /// (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, the profile): keys of
    /// one message on two servers. Repeat for several Regions.
    #[arg(long = "endpoint", value_name = "REGION=URL", value_parser = parse_endpoint)]
    endpoints: Vec<(String, String)>,
    /// Grant tokens passed to every KMS call.
    #[arg(long = "grant-token", value_name = "TOKEN")]
    grant_tokens: Vec<String>,
    /// Threads sealing or opening frames (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// With several inputs: reuse a data key across messages (fewer KMS
    /// calls for many small files) within these limits:
    /// `max-age=SECONDS[,max-messages=N][,max-bytes=N]`. Keys are cached in
    /// this process's memory only.
    #[arg(long, value_name = "LIMITS", value_parser = parse_cache)]
    cache: Option<cache::Limits>,
}

fn parse_endpoint(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((region, url))
            if !region.is_empty()
                && (url.starts_with("http://") || url.starts_with("https://")) =>
        {
            Ok((region.to_owned(), url.to_owned()))
        }
        _ => Err(format!("{spec:?} is not REGION=http(s)://HOST[:PORT]")),
    }
}

fn parse_cache(spec: &str) -> Result<cache::Limits, String> {
    cache::Limits::parse(spec).map_err(|e| e.to_string())
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
    /// The file to encrypt (`-`: standard input) and the message to write
    /// (`-`: standard output); or several files and a directory, where each
    /// is written with `.encrypted` added to its name.
    #[arg(value_name = "INPUT... OUTPUT", num_args = 2.., required = true)]
    paths: Vec<PathBuf>,
}

/// Decrypt's `--discovery` and its filter.
#[derive(clap::Args)]
pub(crate) struct Discovery {
    /// Decrypt with whichever KMS key the message names, asked in that
    /// key's Region (limit it with --account and --partition).
    #[arg(long)]
    pub discovery: bool,
    /// With --discovery: only keys of this account; repeat for several.
    #[arg(long = "account", value_name = "ACCOUNT_ID", requires = "discovery")]
    accounts: Vec<String>,
    /// With --discovery: only keys of this partition.
    #[arg(long, default_value = "aws", requires = "discovery")]
    partition: String,
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
    #[command(flatten)]
    discovery: Discovery,
    /// A pair the message's encryption context must hold; repeat for
    /// several. Without it, any context is accepted (and still
    /// authenticated).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    #[command(flatten)]
    common: Common,
    /// The message to decrypt (`-`: standard input) and the plaintext to
    /// write (`-`: standard output); or several messages and a directory,
    /// where each is written without its `.encrypted` (or with
    /// `.decrypted` added). To a file, nothing is written unless the whole
    /// message authenticates. To standard output, each frame is released
    /// once its tag verifies (and, for the signed suite, the last batch of
    /// frames once the signature verifies): a message cut or changed later
    /// makes the command fail after part of the plaintext was written. A
    /// non-framed message (`aws-encryption-cli --frame-length 0`) is held
    /// whole, up to 16 MiB of content, and written once it verifies.
    #[arg(value_name = "INPUT... OUTPUT", num_args = 2.., required = true)]
    paths: Vec<PathBuf>,
}

pub(crate) fn parse_suite(name: &str) -> Result<Suite, String> {
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

    /// KMS clients from `config`, with this command's grant tokens and
    /// endpoints.
    fn kms(&self, config: &SdkConfig) -> Kms {
        Kms::new(config, self.grant_tokens.clone())
            .with_endpoints(self.endpoints.iter().cloned().collect())
    }

    /// The AWS SDK's configuration, as the AWS CLI would find it.
    pub(crate) fn sdk_config(
        &self,
        runtime: &tokio::runtime::Runtime,
    ) -> anyhow::Result<SdkConfig> {
        Ok(runtime.block_on(trent_client::config::load(self.profile.as_deref()))?)
    }

    /// A progress bar on standard error when it is a terminal, else
    /// nothing (`--quiet`, or output piped or redirected).
    fn progress(&self, size: Option<u64>) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = match size {
            Some(size) => ProgressBar::new(size).with_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
                )
                .expect("a valid template"),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
                    .expect("a valid template"),
            ),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        bar
    }
}

/// What a new message is made of, besides its plaintext.
pub(crate) struct Sealing<'a> {
    pub key_ids: &'a [String],
    pub context: EncryptionContext,
    pub suite: Suite,
    pub frame_length: u32,
}

/// New encryption materials: a data key from KMS, wrapped by every key.
pub(crate) fn materials(
    common: &Common,
    config: &SdkConfig,
    runtime: &tokio::runtime::Runtime,
    sealing: &Sealing,
) -> anyhow::Result<EncryptionMaterials> {
    let mut materials = EncryptionMaterials::new(sealing.suite, sealing.context.clone())?;
    let kms = common.kms(config);
    runtime.block_on(kms.wrap(&mut materials, sealing.key_ids))?;
    Ok(materials)
}

/// Encrypts `input` (`size` bytes, if known) into a message on `output`.
pub(crate) fn seal(
    common: &Common,
    sealing: &Sealing,
    materials: &EncryptionMaterials,
    input: impl Read + Send,
    size: Option<u64>,
    output: &mut (impl Write + Send),
) -> anyhow::Result<()> {
    let options = common.options(sealing.frame_length);
    let bar = common.progress(size);
    message::encrypt(materials, &options, input, output, &|done| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    Ok(())
}

/// Which of a message's data keys decrypt may ask KMS for: `--key-id`
/// ARNs, or `--discovery` with its filter.
pub(crate) fn unwrap_rule(key_ids: &[String], discovery: &Discovery) -> anyhow::Result<Unwrap> {
    if discovery.discovery {
        return Ok(Unwrap::Discovery {
            partition: discovery.partition.clone(),
            accounts: discovery.accounts.clone(),
        });
    }
    let keys = key_ids
        .iter()
        .map(|k| {
            Arn::parse_key(k).with_context(|| {
                format!(
                    "decrypt --key-id takes key ARNs (a message names its keys by ARN), not {k:?}"
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Unwrap::Keys(keys))
}

/// Decrypts the message on `input` to `output`: its context must hold
/// `required`, its data key is unwrapped by KMS under `unwrap`'s rule.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open(
    common: &Common,
    config: &SdkConfig,
    runtime: &tokio::runtime::Runtime,
    unwrap: &Unwrap,
    required: &EncryptionContext,
    mut cache: Option<&mut DecryptCache>,
    mut input: impl Read + Send,
    size: Option<u64>,
    output: &mut (impl Write + Send),
) -> anyhow::Result<()> {
    let options = common.options(message::DEFAULT_FRAME_LENGTH);
    let incoming = message::read_header(&mut input, &options.limits)?;
    context::require(&incoming.header.context, required)?;
    let cached = match cache.as_deref_mut() {
        Some(cache) => cache.get(&incoming.header)?,
        None => None,
    };
    let data_key = match cached {
        Some(key) => key,
        None => {
            let kms = common.kms(config);
            let key = runtime.block_on(kms.unwrap(&incoming.header, unwrap))?;
            if let Some(cache) = cache {
                cache.put(&incoming.header, &key)?;
            }
            key
        }
    };
    // The plaintext is about as long as the message.
    let bar = common.progress(size);
    message::decrypt(incoming, &data_key, &options, input, output, &|done| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    Ok(())
}

pub fn encrypt(args: EncryptArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let undo = Undo::watch(runtime)?;
    let sealing = Sealing {
        key_ids: &args.key_ids,
        context: context::parse_pairs(&args.context)?,
        suite: args.algorithm,
        frame_length: args.frame_length,
    };
    let jobs = pairs(&args.paths, Rename::Encrypted)?;
    let config = args.common.sdk_config(runtime)?;
    let mut cache = args.common.cache.map(EncryptCache::new);
    for (input, output) in jobs {
        let (input, size) = open_input(&input)?;
        let make = || materials(&args.common, &config, runtime, &sealing);
        let mut fresh = None;
        let materials = match cache.as_mut() {
            Some(cache) => cache.get_or_make(size, make)?,
            None => fresh.insert(make()?),
        };
        let mut output = Output::create(&output, &undo)?;
        seal(
            &args.common,
            &sealing,
            materials,
            input,
            size,
            output.writer(),
        )?;
        output.commit()?;
    }
    Ok(())
}

pub fn decrypt(args: DecryptArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let undo = Undo::watch(runtime)?;
    let required = context::parse_pairs(&args.context)?;
    let unwrap = unwrap_rule(&args.key_ids, &args.discovery)?;
    let jobs = pairs(&args.paths, Rename::Decrypted)?;
    let config = args.common.sdk_config(runtime)?;
    let mut cache = args.common.cache.map(DecryptCache::new);
    for (input, output) in jobs {
        let (input, size) = open_input(&input)?;
        let mut output = Output::create(&output, &undo)?;
        let (common, cache) = (&args.common, cache.as_mut());
        open(
            common,
            &config,
            runtime,
            &unwrap,
            &required,
            cache,
            input,
            size,
            output.writer(),
        )?;
        output.commit()?;
    }
    Ok(())
}

/// How an output in a directory is named after its input.
#[derive(Clone, Copy)]
enum Rename {
    /// `NAME` → `NAME.encrypted`.
    Encrypted,
    /// `NAME.encrypted` → `NAME`, another `NAME` → `NAME.decrypted`.
    Decrypted,
}

/// `INPUT OUTPUT`, or `INPUT... DIRECTORY`: the (input, output) pairs.
fn pairs(paths: &[PathBuf], rename: Rename) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let (last, inputs) = paths
        .split_last()
        .context("an input and an output are needed")?;
    if let [input] = inputs
        && !last.is_dir()
    {
        return Ok(vec![(input.clone(), last.clone())]);
    }
    anyhow::ensure!(
        last.is_dir(),
        "with several inputs, the last argument must be a directory to write into ({} is not one)",
        last.display()
    );
    inputs
        .iter()
        .map(|input| {
            let name = input
                .file_name()
                .filter(|_| input.as_os_str() != "-")
                .with_context(|| format!("{} cannot be written into a directory", input.display()))?
                .to_string_lossy();
            let name = match (rename, name.strip_suffix(".encrypted")) {
                (Rename::Encrypted, _) => format!("{name}.encrypted"),
                (Rename::Decrypted, Some(stem)) if !stem.is_empty() => stem.to_owned(),
                (Rename::Decrypted, _) => format!("{name}.decrypted"),
            };
            Ok((input.clone(), last.join(name)))
        })
        .collect()
}

/// The input as a file: a path, or standard input (`-`) without Rust's
/// buffering; and its size, if it is a regular file.
pub(crate) fn open_input(path: &Path) -> anyhow::Result<(File, Option<u64>)> {
    let file = if path.as_os_str() == "-" {
        File::from(std::io::stdin().as_fd().try_clone_to_owned()?)
    } else {
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?
    };
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok((file, size))
}

type UndoAction = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// What an interrupted command (SIGINT, SIGTERM, SIGHUP) undoes before it
/// exits with status 130: its temporary output file is removed (no partial
/// plaintext is left behind) and an unfinished multipart upload is
/// aborted. Without this, a signal would end the process before any
/// destructor ran.
#[derive(Clone, Default)]
pub(crate) struct Undo(Arc<Mutex<UndoList>>);

#[derive(Default)]
struct UndoList {
    files: Vec<PathBuf>,
    actions: Vec<UndoAction>,
}

impl Undo {
    /// Watches for the signals on `runtime` for as long as the process
    /// lives.
    pub(crate) fn watch(runtime: &tokio::runtime::Runtime) -> anyhow::Result<Undo> {
        use tokio::signal::unix::{SignalKind, signal};
        let undo = Undo::default();
        let _guard = runtime.enter();
        let mut signals = [
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ];
        let list = undo.0.clone();
        runtime.spawn(async move {
            let [a, b, c] = &mut signals;
            tokio::select! {
                _ = a.recv() => {}
                _ = b.recv() => {}
                _ = c.recv() => {}
            }
            let (files, actions) = {
                let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
                (
                    std::mem::take(&mut list.files),
                    std::mem::take(&mut list.actions),
                )
            };
            for file in files {
                let _ = std::fs::remove_file(file);
            }
            for action in actions {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), action()).await;
            }
            eprintln!("interrupted: nothing was written");
            std::process::exit(130);
        });
        Ok(undo)
    }

    fn list(&self) -> std::sync::MutexGuard<'_, UndoList> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remove_on_interrupt(&self, path: &Path) {
        self.list().files.push(path.to_owned());
    }

    pub(crate) fn forget(&self, path: &Path) {
        self.list().files.retain(|p| p != path);
    }

    pub(crate) fn on_interrupt(&self, action: UndoAction) {
        self.list().actions.push(action);
    }
}

/// Standard output, or a temporary file beside the output's path that
/// becomes it on [`Output::commit`] and is removed if dropped before, or
/// if the command is interrupted.
pub(crate) enum Output {
    Stdout(File),
    File {
        temp: tempfile::NamedTempFile,
        path: PathBuf,
        undo: Undo,
    },
}

impl Output {
    pub(crate) fn create(path: &Path, undo: &Undo) -> anyhow::Result<Output> {
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
        undo.remove_on_interrupt(temp.path());
        Ok(Output::File {
            temp,
            path: path.to_owned(),
            undo: undo.clone(),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut File {
        match self {
            Output::Stdout(file) => file,
            Output::File { temp, .. } => temp.as_file_mut(),
        }
    }

    pub(crate) fn commit(self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(mut file) => Ok(file.flush()?),
            Output::File { temp, path, undo } => {
                let temp_path = temp.path().to_owned();
                let persisted = temp
                    .persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()));
                undo.forget(&temp_path);
                persisted.map(drop)
            }
        }
    }
}
