//! The administrative commands that work on a data directory, the server
//! running or not: `trent account`, `trent audit`.

use crate::AuditCommand;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trent_core::Identities;
use trent_core::audit;

/// The audit trail's Ed25519 key: created once, kept sealed under the root
/// key in the store's `meta` table.
pub async fn audit_signing_key(
    store: &Arc<dyn trent_core::Store>,
    root: &Arc<dyn trent_core::RootKey>,
) -> anyhow::Result<trent_crypto::SigningKey> {
    let candidate = trent_crypto::SigningKey::generate_pkcs8()?;
    let sealed = root.seal(audit::SIGNING_KEY_AAD, &candidate)?;
    let stored = store.meta_secret(audit::SIGNING_KEY_META, &sealed).await?;
    let pkcs8 = root.unseal(audit::SIGNING_KEY_AAD, &stored)?;
    Ok(trent_crypto::SigningKey::from_pkcs8(&pkcs8)?)
}

/// Checks a store's whole trail, event by event, against its digests (their
/// signatures too, given the trail's `public_key`). `Err`: `TAMPERED: ` and
/// the first problem.
pub async fn verify_trail(
    store: &dyn trent_core::Store,
    public_key: Option<&[u8]>,
) -> anyhow::Result<audit::VerifyReport> {
    const PAGE: usize = 1000;
    let mut digests = Vec::new();
    loop {
        let after = digests.last().map_or(0, |d: &audit::AuditDigest| d.seq);
        let page = store.audit_digests(after, PAGE).await?;
        let done = page.len() < PAGE;
        digests.extend(page);
        if done {
            break;
        }
    }
    let mut verifier = audit::Verifier::checking(public_key, digests);
    let mut after = 0;
    loop {
        let page = audit::read::events(store, after, PAGE).await?;
        for event in &page {
            verifier
                .event(event)
                .map_err(|e| anyhow::anyhow!("TAMPERED: {e}"))?;
            after = event.seq;
        }
        if page.len() < PAGE {
            break;
        }
    }
    verifier
        .finish()
        .map_err(|e| anyhow::anyhow!("TAMPERED: {e}"))
}

/// Records what an operator's command did to the installation (`name`:
/// `RestoreBackup`, `RotateRootKey`) as a service event in every account's
/// trail, durably, through a short-lived audit writer (the server is not
/// running, or may be: the trail takes several writers).
pub async fn record_operator_event(
    store: Arc<dyn trent_core::Store>,
    root: &Arc<dyn trent_core::RootKey>,
    accounts: Vec<String>,
    name: &'static str,
    parameters: serde_json::Value,
) -> anyhow::Result<()> {
    use trent_core::audit::{Actor, AuditConfig, AuditEvent, AuditLog, EventSource};
    let signer = audit_signing_key(&store, root).await?;
    let log = AuditLog::start_with_stream(store, signer, AuditConfig::default(), None)
        .await
        .context("starting the audit trail")?;
    let parameters = parameters.to_string();
    for account in accounts {
        log.record_durable(AuditEvent {
            time_ms: trent_core::now_millis(),
            source: EventSource::Kms,
            name: name.into(),
            region: "".into(),
            source_ip: None,
            user_agent: None,
            actor: Actor::Service { account },
            request_parameters: Some(parameters.clone().into()),
            response_elements: None,
            error: None,
            request_id: None,
            read_only: false,
            service_event: true,
            key_arns: Default::default(),
            recipient: None,
        })
        .await
        .with_context(|| format!("recording {name} in the audit trail"))?;
    }
    log.close().await;
    Ok(())
}

pub async fn audit(command: AuditCommand) -> anyhow::Result<()> {
    const PAGE: usize = 1000;
    match command {
        AuditCommand::PublicKey { store } => {
            let (store, root) = open_existing(&store).await?;
            let key = audit_signing_key(&store, &root).await?;
            println!("{}", hex(&key.public_key()));
        }
        AuditCommand::Verify { store, public_key } => {
            let (store, root) = open_existing(&store).await?;
            let own = audit_signing_key(&store, &root)
                .await?
                .public_key()
                .to_vec();
            let public_key = match public_key {
                Some(h) => {
                    let given = unhex(&h).context("--public-key must be hex")?;
                    anyhow::ensure!(
                        given == own,
                        "the data directory's signing key is not the given public key"
                    );
                    given
                }
                None => own,
            };
            let report = verify_trail(store.as_ref(), Some(&public_key)).await?;
            println!(
                "OK: {} events, {} digests; signed through seq {}; {} unsigned events after the last digest",
                report.events, report.digests, report.signed_through, report.unsigned
            );
        }
        AuditCommand::Export {
            store,
            key_id,
            principal,
            since,
            until,
        } => {
            let (store, _root) = open_existing(&store).await?;
            let time = |s: Option<String>| -> anyhow::Result<Option<i64>> {
                s.map(|s| {
                    audit::parse_rfc3339_ms(&s)
                        .with_context(|| format!("{s:?} is not an RFC 3339 time"))
                })
                .transpose()
            };
            let (since, until) = (time(since)?, time(until)?);
            let mut stdout = std::io::stdout().lock();
            let mut after = 0;
            loop {
                let page = audit::read::events(store.as_ref(), after, PAGE).await?;
                for event in &page {
                    after = event.seq;
                    if since.is_some_and(|t| event.event_time_ms < t)
                        || until.is_some_and(|t| event.event_time_ms >= t)
                        || principal
                            .as_deref()
                            .is_some_and(|p| event.principal_arn.as_deref() != Some(p))
                    {
                        continue;
                    }
                    if let Some(key) = &key_id {
                        // Every key of the event (ReEncrypt has two).
                        let v: serde_json::Value = serde_json::from_str(&event.event_json)?;
                        let hit = v["resources"].as_array().is_some_and(|r| {
                            r.iter().any(|r| {
                                r["ARN"].as_str().is_some_and(|arn| {
                                    arn == key || arn.ends_with(&format!("/{key}"))
                                })
                            })
                        });
                        if !hit {
                            continue;
                        }
                    }
                    writeln!(stdout, "{}", event.event_json)?;
                }
                if page.len() < PAGE {
                    break;
                }
            }
            stdout.flush()?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where a command finds the store and the root key.
#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// Where the root key lives, and the store unless `--database-url`
    /// names one.
    #[arg(long, default_value = "./trent-data", env = "TRENT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The store in PostgreSQL instead of `DATA_DIR/trent.db`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=verify-full]`):
    /// several Trent nodes with the same root key share one database.
    #[arg(
        long,
        value_name = "URL",
        env = "TRENT_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Most connections to PostgreSQL at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000), env = "TRENT_DATABASE_POOL_SIZE")]
    pub database_pool_size: u32,
    /// Where the root key comes from: `file:PATH` (default
    /// `file:DATA_DIR/root.key`), `passphrase` (TRENT_ROOT_PASSPHRASE, or
    /// asked on a terminal), `passphrase:file:PATH`,
    /// `pkcs11:module=PATH,token=LABEL,key=LABEL[,pin-file=PATH]` (PIN in
    /// TRENT_PKCS11_PIN without pin-file) or `kms:KEY_ARN[,endpoint=URL]`.
    #[arg(long, value_name = "SPEC", env = "TRENT_ROOT_KEY", value_parser = parse_root_key)]
    pub root_key: Option<trent_seal::RootKeySpec>,
}

pub fn parse_root_key(text: &str) -> Result<trent_seal::RootKeySpec, trent_seal::SpecError> {
    text.parse()
}

impl StoreArgs {
    /// `--root-key`, or the data directory's `root.key`.
    pub(crate) fn root_key_spec(&self) -> trent_seal::RootKeySpec {
        self.root_key
            .clone()
            .unwrap_or_else(|| trent_seal::RootKeySpec::File(self.data_dir.join("root.key")))
    }

    /// Where the store is, for messages (never a password).
    fn describe(&self) -> String {
        match &self.database_url {
            Some(_) => "the PostgreSQL database of --database-url".into(),
            None => self.data_dir.join("trent.db").display().to_string(),
        }
    }
}

/// Takes the data directory's lock: an exclusive `flock` on
/// `DATA_DIR/trent.lock` (made 0600), held until the file returned is
/// dropped (or the process ends, however it ends). `trent serve` on a
/// SQLite store holds it while it runs, `trent root-key rotate` while it
/// rewrites the store; the other admin commands work beside a running
/// server and do not take it. `busy`: what to say when another process
/// holds it.
pub fn lock_data_dir(data_dir: &Path, busy: &str) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("trent.lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "{busy}: another Trent process holds {} (a running `trent serve`, or a `trent root-key rotate`)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// The store and root key of an installation that already exists.
async fn open_existing(
    at: &StoreArgs,
) -> anyhow::Result<(Arc<dyn trent_core::Store>, Arc<dyn trent_core::RootKey>)> {
    anyhow::ensure!(
        at.database_url.is_some() || at.data_dir.join("trent.db").exists(),
        "{} holds no Trent data (no trent.db)",
        at.data_dir.display()
    );
    open_store(at, false).await
}

/// Opens the store and its root key (`--root-key`, by default the data
/// directory's `root.key`), and checks that the key opens the store.
/// `create`: a new installation gets a new root key; a store that holds
/// sealed data is never given another (its material would be lost for
/// good), and nothing is written to it then.
pub async fn open_store(
    at: &StoreArgs,
    create: bool,
) -> anyhow::Result<(Arc<dyn trent_core::Store>, Arc<dyn trent_core::RootKey>)> {
    let spec = at.root_key_spec();
    // The file provider's root.key is never made beside an existing store.
    let missing_file = match &spec {
        trent_seal::RootKeySpec::File(path) if !path.exists() => Some(path.clone()),
        _ => None,
    };
    let store: Arc<dyn trent_core::Store> = match &at.database_url {
        None => {
            let store_path = at.data_dir.join("trent.db");
            if let Some(root_path) = &missing_file
                && (store_path.exists() || !create)
            {
                anyhow::bail!(
                    "{} has a store but no root key ({} is missing): restore it; Trent will not make a new one beside an existing store",
                    at.data_dir.display(),
                    root_path.display()
                );
            }
            Arc::new(
                trent_store::SqliteStore::open(&store_path)
                    .await
                    .context("opening the store")?,
            )
        }
        Some(url) => {
            let store = trent_store::PgStore::open(url, at.database_pool_size)
                .await
                .context("opening the store")?;
            if let Some(root_path) = &missing_file
                && (!create || trent_core::holds_sealed_data(&store).await?)
            {
                anyhow::bail!(
                    "{} is sealed under a root key this node does not have ({} is missing): copy root.key from a node of this installation",
                    at.describe(),
                    root_path.display()
                );
            }
            Arc::new(store)
        }
    };
    let root = trent_seal::open_root_key(&spec, store.as_ref(), create)
        .await
        .with_context(|| format!("opening the root key ({spec}) for {}", at.describe()))?;
    Ok((store, root))
}

pub async fn create_account(account_id: &str, at: &StoreArgs, profile: &str) -> anyhow::Result<()> {
    let (store, root) = open_existing(at).await?;
    let identities = Identities::new(store, root);
    let key = identities.create_account(account_id).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}",
        key.info.access_key_id,
        key.secret.as_str()
    )?;
    Ok(())
}

/// `trent store copy`: the data directory's SQLite store into PostgreSQL.
pub async fn store_copy(
    from: &Path,
    to: &str,
    into_non_empty: bool,
    root_key: Option<trent_seal::RootKeySpec>,
) -> anyhow::Result<()> {
    // The root key must open the store copied: the copy is of no use
    // without it.
    let source = StoreArgs {
        data_dir: from.to_owned(),
        database_url: None,
        database_pool_size: 4,
        root_key,
    };
    let (_, root) = open_existing(&source).await?;
    let sqlite = trent_store::SqliteStore::open(&from.join("trent.db"))
        .await
        .context("opening the store")?;
    let postgres = trent_store::PgStore::open(to, 4)
        .await
        .context("opening the database")?;
    let copied = trent_store::copy::sqlite_to_postgres(&sqlite, &postgres, into_non_empty)
        .await
        .context("copying")?;
    trent_core::verify_root_key(&postgres, root.as_ref())
        .await
        .context("checking the root key against the copy")?;
    println!(
        "copied {} accounts, {} access keys, {} IAM users/groups/roles, {} keys ({} material versions, {} grants), {} aliases, {} deleted-key tombstones, {} audit events and {} digests",
        copied.accounts,
        copied.access_keys,
        copied.iam_entities,
        copied.keys,
        copied.material_versions,
        copied.grants,
        copied.aliases,
        copied.tombstones,
        copied.events,
        copied.digests
    );
    Ok(())
}
