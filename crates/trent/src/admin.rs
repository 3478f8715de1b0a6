//! The administrative commands that work on a data directory, the server
//! running or not: `trent account`, `trent audit`.

use crate::AuditCommand;
use anyhow::Context;
use std::io::Write;
use std::path::Path;
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

pub async fn audit(command: AuditCommand) -> anyhow::Result<()> {
    const PAGE: usize = 1000;
    match command {
        AuditCommand::PublicKey { data_dir } => {
            let (store, root) = open_data_dir(&data_dir).await?;
            let key = audit_signing_key(&store, &root).await?;
            println!("{}", hex(&key.public_key()));
        }
        AuditCommand::Verify {
            data_dir,
            public_key,
        } => {
            let (store, root) = open_data_dir(&data_dir).await?;
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
            let mut verifier = audit::Verifier::new(&public_key, digests);
            let mut after = 0;
            loop {
                let page = audit::read::events(store.as_ref(), after, PAGE).await?;
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
            let report = verifier
                .finish()
                .map_err(|e| anyhow::anyhow!("TAMPERED: {e}"))?;
            println!(
                "OK: {} events, {} digests; signed through seq {}; {} unsigned events after the last digest",
                report.events, report.digests, report.signed_through, report.unsigned
            );
        }
        AuditCommand::Export {
            data_dir,
            key_id,
            principal,
            since,
            until,
        } => {
            let (store, _root) = open_data_dir(&data_dir).await?;
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

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The store and root key of a data directory that already exists.
async fn open_data_dir(
    data_dir: &Path,
) -> anyhow::Result<(Arc<dyn trent_core::Store>, Arc<dyn trent_core::RootKey>)> {
    anyhow::ensure!(
        data_dir.join("trent.db").exists(),
        "{} holds no Trent data (no trent.db)",
        data_dir.display()
    );
    open_store(data_dir, false).await
}

/// Opens the data directory's store and root key, and checks that the key
/// opens the store. `create`: a new data directory gets a new root key; a
/// store whose root key is missing is never given another (its material
/// would be lost for good), and nothing is written to it then.
pub async fn open_store(
    data_dir: &Path,
    create: bool,
) -> anyhow::Result<(Arc<dyn trent_core::Store>, Arc<dyn trent_core::RootKey>)> {
    let root_path = data_dir.join("root.key");
    let store_path = data_dir.join("trent.db");
    if !root_path.exists() && (store_path.exists() || !create) {
        anyhow::bail!(
            "{} has a store but no root key ({} is missing): restore it; Trent will not make a new one beside an existing store",
            data_dir.display(),
            root_path.display()
        );
    }
    let root = trent_seal::FileRootKey::open_or_create(&root_path)?;
    let store = trent_store::SqliteStore::open(&store_path)
        .await
        .context("opening the store")?;
    let store: Arc<dyn trent_core::Store> = Arc::new(store);
    trent_core::verify_root_key(store.as_ref(), &root)
        .await
        .with_context(|| format!("checking {}", root_path.display()))?;
    Ok((store, Arc::new(root)))
}

pub async fn create_account(
    account_id: &str,
    data_dir: &Path,
    profile: &str,
) -> anyhow::Result<()> {
    let (store, root) = open_data_dir(data_dir).await?;
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
