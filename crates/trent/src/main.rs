//! `trent`: the one binary. `trent serve` runs the KMS server; `trent bench`
//! benchmarks it (crate `trent-bench`).

mod admin;
mod backup;
mod config;
mod envelope;
mod rotate;
mod s3;
mod serve;

use clap::{Parser, Subcommand};
use serve::ServeArgs;

/// mimalloc instead of glibc's malloc: buffers allocated on one thread and
/// freed on another (request facts taken by the audit writer, response
/// bodies) took glibc's arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "trent",
    version,
    about = "A self-hosted key management service that speaks the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the KMS server.
    Serve(Box<ServeArgs>),
    /// Administer accounts (works while the server runs).
    #[command(subcommand)]
    Account(AccountCommand),
    /// The audit trail: verify, export, public key (work on a stopped or
    /// running server's data directory).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The store: move an installation from SQLite into PostgreSQL.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Back a data directory's store up into one file (the server may be
    /// running), or check a backup (`trent backup verify FILE`).
    Backup(BackupArgs),
    /// Restore a backup into a new data directory, opened with the
    /// store's root key (by default DATA_DIR/root.key: copy it there
    /// first).
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        #[command(flatten)]
        store: admin::StoreArgs,
    },
    /// The root key: re-seal everything under a new one (the server
    /// stopped).
    #[command(subcommand)]
    RootKey(RootKeyCommand),
    /// Encrypt a file or a stream into an AWS Encryption SDK message, its
    /// data key wrapped by one or more KMS keys (Trent's or AWS KMS's).
    Encrypt(Box<envelope::EncryptArgs>),
    /// Decrypt an AWS Encryption SDK message (from `trent encrypt` or
    /// `aws-encryption-cli`), its data key unwrapped by KMS.
    Decrypt(Box<envelope::DecryptArgs>),
    /// Copy files to and from S3 (or an S3-compatible endpoint), encrypted
    /// as `trent encrypt` does.
    #[command(subcommand)]
    S3(s3::S3Command),
    /// Benchmark Trent against a bare baseline server in the same run.
    Bench(trent_bench::cli::BenchArgs),
    /// The bare baseline server `trent bench` starts (internal).
    #[command(hide = true)]
    BenchBaseline(trent_bench::cli::BaselineArgs),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and print its root credentials (shown once) in the
    /// AWS shared-credentials format.
    Create {
        /// The new account's 12-digit id.
        #[arg(long)]
        account_id: String,
        #[command(flatten)]
        store: admin::StoreArgs,
        /// The profile name in the printed credentials.
        #[arg(long, default_value = "default")]
        profile: String,
    },
}

#[derive(Subcommand)]
enum RootKeyCommand {
    /// Re-seal every sealed value of a data directory's store (key
    /// material, access keys' secrets, the server's secrets) under a new
    /// root key, of the same provider or another, in one transaction: a
    /// crash leaves the store under the old key or the new one, and running
    /// the command again finishes. The server must be stopped (the data
    /// directory's lock is taken); SQLite stores only.
    Rotate {
        /// The data directory and its current root key (`--root-key`,
        /// default `file:DATA_DIR/root.key`).
        #[command(flatten)]
        store: admin::StoreArgs,
        /// The new root key, as `--root-key` takes it: `file:PATH` (another
        /// path than the current key's; made if missing), `passphrase` (the
        /// new passphrase in TRENT_NEW_ROOT_PASSPHRASE, or asked twice on a
        /// terminal), `passphrase:file:PATH`, `pkcs11:…` (the key made on
        /// the token if no key has its label) or `kms:KEY_ARN` (a new data
        /// key).
        #[arg(long, value_name = "SPEC", value_parser = admin::parse_root_key)]
        to: trent_seal::RootKeySpec,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy a single-node installation (SQLite in a data directory, its
    /// server stopped) into PostgreSQL with nothing lost: keys with every
    /// material version, aliases, grants, identities, and the audit trail
    /// (it still verifies). Nodes on the database then use the data
    /// directory's root.key.
    Copy {
        /// The data directory holding trent.db and root.key.
        #[arg(long, value_name = "DATA_DIR")]
        from: std::path::PathBuf,
        /// The PostgreSQL database to copy into
        /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Copy into a database that already holds Trent data (what is
        /// there stays; a clash fails the copy).
        #[arg(long)]
        into_non_empty: bool,
        /// The installation's root key, as `trent serve --root-key` takes
        /// it (default: `file:DATA_DIR/root.key`). A passphrase's
        /// parameters and a KMS's wrapped key are copied with the store.
        #[arg(long, value_name = "SPEC", env = "TRENT_ROOT_KEY", value_parser = admin::parse_root_key)]
        root_key: Option<trent_seal::RootKeySpec>,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// The data directory whose store to back up.
    #[arg(long, default_value = "./trent-data", env = "TRENT_DATA_DIR")]
    data_dir: std::path::PathBuf,
    /// The backup file to write (never over an existing file).
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Check a backup without restoring it: its checksum, the database's
    /// integrity, its keys and its audit trail.
    Verify {
        file: std::path::PathBuf,
        /// The trail's public key (hex, from `trent audit public-key`): the
        /// digests' signatures are checked with it.
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the whole trail: hash chain, signed digests, truncation. Names
    /// the first event that was changed, removed, inserted or reordered.
    Verify {
        #[command(flatten)]
        store: admin::StoreArgs,
        /// The expected signing public key (hex), as `audit public-key`
        /// printed it earlier; default: the data directory's own.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print events as JSON lines.
    Export {
        #[command(flatten)]
        store: admin::StoreArgs,
        /// Only events on this key (key id or ARN).
        #[arg(long, visible_alias = "key")]
        key_id: Option<String>,
        /// Only events by this principal ARN.
        #[arg(long)]
        principal: Option<String>,
        /// Only events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
    },
    /// Print the Ed25519 public key (hex) that verifies the digests.
    PublicKey {
        #[command(flatten)]
        store: admin::StoreArgs,
    },
}

fn main() -> anyhow::Result<()> {
    // Logs go to stderr, filtered by `TRENT_LOG` (default `info`; `warn`
    // for the client commands, whose output may be a terminal, and the
    // SDK's notes on missing profile files silenced), as text or,
    // with `TRENT_LOG_FORMAT=json`, one JSON object per line.
    let client = matches!(
        std::env::args().nth(1).as_deref(),
        Some("encrypt" | "decrypt" | "s3")
    );
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG").unwrap_or_else(|_| {
                if client {
                    "warn,aws_runtime=error"
                } else {
                    "info"
                }
                .into()
            }),
        );
    if std::env::var("TRENT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    let (cli, effective) = config::parse()?;
    if let (Command::Serve(args), Some(effective)) = (&cli.command, &effective)
        && args.print_config
    {
        print!("{}", config::render(effective));
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::serve(*args)),
        Command::Account(AccountCommand::Create {
            account_id,
            store,
            profile,
        }) => runtime.block_on(admin::create_account(&account_id, &store, &profile)),
        Command::Audit(command) => runtime.block_on(admin::audit(command)),
        Command::Store(StoreCommand::Copy {
            from,
            to,
            into_non_empty,
            root_key,
        }) => runtime.block_on(admin::store_copy(&from, &to, into_non_empty, root_key)),
        Command::Backup(BackupArgs {
            command: Some(BackupCommand::Verify { file, public_key }),
            ..
        }) => runtime.block_on(backup::verify(&file, public_key.as_deref())),
        Command::Backup(BackupArgs {
            command: None,
            data_dir,
            out,
        }) => {
            let out = out.ok_or_else(|| anyhow::anyhow!("trent backup needs --out FILE"))?;
            runtime.block_on(backup::backup(&data_dir, &out))
        }
        Command::Restore { file, store } => runtime.block_on(backup::restore(&file, &store)),
        Command::RootKey(RootKeyCommand::Rotate { store, to }) => {
            runtime.block_on(rotate::rotate(&store, &to))
        }
        Command::Encrypt(args) => envelope::encrypt(*args, &runtime),
        Command::Decrypt(args) => envelope::decrypt(*args, &runtime),
        Command::S3(command) => s3::run(command, &runtime),
        Command::Bench(args) => runtime.block_on(trent_bench::cli::bench(args)),
        Command::BenchBaseline(args) => runtime.block_on(trent_bench::cli::baseline(args)),
    }
}
