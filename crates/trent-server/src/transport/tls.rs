//! TLS: rustls with the aws-lc-rs provider, TLS 1.3 and 1.2 only, ALPN
//! `http/1.1`. The certificate comes from PEM files, reloaded without a
//! restart, or from the self-signed CA ([`super::self_signed`]).
//!
//! Each handshake reads the current certificate once from a
//! [`CertStore`] (an `Arc<CertifiedKey>` behind a `RwLock`); a reload swaps
//! it, so handshakes after a reload get the new one and connections already
//! open keep theirs. A reload that fails keeps the old certificate.

use super::TlsSettings;
use super::self_signed;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are checked for changes.
const POLL_FILES: Duration = Duration::from_secs(2);
/// How often a self-signed certificate is checked for renewal.
const CHECK_SELF_SIGNED: Duration = Duration::from_secs(12 * 3600);

/// The server's TLS: the acceptor and what keeps its certificate current.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    store: Arc<CertStore>,
    provider: Arc<CryptoProvider>,
    source: Source,
    /// Installed with the certificate, before the ready line, so that a
    /// SIGHUP sent right after it reloads instead of killing the process.
    hangup: Option<tokio::signal::unix::Signal>,
}

/// Where the certificate is read from.
#[derive(Debug, Clone)]
enum Source {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    SelfSigned {
        dir: PathBuf,
        names: std::collections::BTreeSet<String>,
        files: self_signed::Files,
    },
}

impl Source {
    fn cert_and_key(&self) -> (&Path, &Path) {
        match self {
            Source::Files { cert, key } => (cert, key),
            Source::SelfSigned { files, .. } => (&files.cert, &files.key),
        }
    }
}

impl Tls {
    /// Loads (or, self-signed, makes) the certificate and builds the
    /// server configuration. Errors name the file at fault.
    pub(crate) fn new(settings: &TlsSettings, listen: SocketAddr) -> io::Result<Tls> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let source = match settings {
            TlsSettings::Files { cert, key } => Source::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            TlsSettings::SelfSigned { dir, extra_names } => {
                let self_signed_error = |e| io::Error::other(format!("self-signed TLS: {e}"));
                let names = self_signed::wanted_names(listen.ip(), extra_names)
                    .map_err(self_signed_error)?;
                let (files, outcome) =
                    self_signed::ensure(dir, &names, &provider, SystemTime::now())
                        .map_err(self_signed_error)?;
                match outcome {
                    self_signed::Outcome::Created => tracing::info!(
                        ca = %files.ca_cert.display(),
                        "made a local CA and a server certificate"
                    ),
                    self_signed::Outcome::Reissued => tracing::info!(
                        cert = %files.cert.display(),
                        ?names,
                        "issued a new server certificate from the kept CA"
                    ),
                    self_signed::Outcome::Reused => {}
                }
                let ca = std::path::absolute(&files.ca_cert).unwrap_or(files.ca_cert.clone());
                tracing::info!(
                    ca = %ca.display(),
                    "TLS with a self-signed CA; clients verify with AWS_CA_BUNDLE={}",
                    ca.display()
                );
                Source::SelfSigned {
                    dir: dir.clone(),
                    names,
                    files,
                }
            }
        };
        let (cert, key) = source.cert_and_key();
        warn_if_key_readable(key);
        let certified = load(cert, key, &provider)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        warn_if_expiring(cert, &certified);
        let store = Arc::new(CertStore::new(certified));
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&provider, store.clone())?));
        Ok(Tls {
            acceptor,
            store,
            provider,
            source,
            hangup: hangup_signal(),
        })
    }

    /// Starts the task that keeps the certificate current: files polled
    /// every 2 s and reloaded on SIGHUP; a self-signed certificate checked
    /// twice a day (and on SIGHUP) and issued again when due.
    pub(crate) fn spawn_reloader(&mut self) -> tokio::task::JoinHandle<()> {
        let reloader = Reloader {
            store: self.store.clone(),
            provider: self.provider.clone(),
            source: self.source.clone(),
        };
        tokio::spawn(reloader.run(self.hangup.take()))
    }
}

/// The SIGHUP stream; `None` (polling only) outside a tokio runtime or if
/// the handler cannot be installed.
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::runtime::Handle::try_current().ok()?;
    match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler; certificate files are still polled");
            None
        }
    }
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    store: Arc<CertStore>,
) -> io::Result<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The current certificate, read once per handshake.
#[derive(Debug)]
pub(crate) struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    pub(crate) fn new(certified: CertifiedKey) -> CertStore {
        CertStore {
            current: RwLock::new(Arc::new(certified)),
        }
    }

    pub(crate) fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, certified: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A certificate or key that could not be used, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not a PEM certificate chain: {message}", path.display())]
    Certificate { path: PathBuf, message: String },
    #[error("{}: not a usable PEM private key (PKCS#8, PKCS#1 or SEC1): {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("{}: the key does not match the certificate in {}", key.display(), cert.display())]
    Mismatch { key: PathBuf, cert: PathBuf },
}

/// Reads a PEM certificate chain (end entity first) and its PEM private
/// key, and checks that they belong together.
pub(crate) fn load(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, LoadError> {
    let cert_pem = std::fs::read(cert).map_err(|source| LoadError::Read {
        path: cert.to_owned(),
        source,
    })?;
    let bad_cert = |message: String| LoadError::Certificate {
        path: cert.to_owned(),
        message,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_cert(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad_cert("no CERTIFICATE section".into()));
    }
    let key_pem =
        zeroize::Zeroizing::new(std::fs::read(key).map_err(|source| LoadError::Read {
            path: key.to_owned(),
            source,
        })?);
    let bad_key = |message: String| LoadError::Key {
        path: key.to_owned(),
        message,
    };
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad_key(e.to_string()))?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => LoadError::Mismatch {
            key: key.to_owned(),
            cert: cert.to_owned(),
        },
        // The end-entity certificate did not parse.
        rustls::Error::InvalidCertificate(reason) => {
            bad_cert(format!("unreadable certificate ({reason:?})"))
        }
        e => bad_key(e.to_string()),
    })
}

/// Warns when the private key file is readable by group or other.
fn warn_if_key_readable(key: &Path) {
    if let Ok(meta) = std::fs::metadata(key)
        && meta.mode() & 0o044 != 0
    {
        tracing::warn!(
            key = %key.display(),
            mode = format!("{:o}", meta.mode() & 0o777),
            "the TLS private key is readable by group or other; chmod 600 it"
        );
    }
}

/// Warns when the certificate has expired or expires within 30 days.
fn warn_if_expiring(path: &Path, certified: &CertifiedKey) {
    let Ok(end_entity) = certified.end_entity_cert() else {
        return;
    };
    let Some((_, not_after)) = self_signed::names_and_expiry(end_entity) else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if not_after < now {
        tracing::warn!(cert = %path.display(), "the TLS certificate has expired");
    } else if not_after < now + self_signed::RENEW_BEFORE.as_secs() as i64 {
        tracing::warn!(
            cert = %path.display(),
            days = (not_after - now) / 86_400,
            "the TLS certificate expires soon"
        );
    }
}

/// What identifies a file's version: a rename, a rewrite or a truncation
/// changes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    // Follows symlinks: a swapped link target (as Kubernetes secrets
    // are updated) is a change.
    let meta = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        ctime: meta.ctime(),
        ctime_nsec: meta.ctime_nsec(),
    })
}

struct Reloader {
    store: Arc<CertStore>,
    provider: Arc<CryptoProvider>,
    source: Source,
}

impl Reloader {
    async fn run(self, mut hangup: Option<tokio::signal::unix::Signal>) {
        let period = match self.source {
            Source::Files { .. } => POLL_FILES,
            Source::SelfSigned { .. } => CHECK_SELF_SIGNED,
        };
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (cert, key) = self.source.cert_and_key();
        let mut seen = (fingerprint(cert), fingerprint(key));
        loop {
            let forced = tokio::select! {
                _ = tick.tick() => false,
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            if forced {
                tracing::info!("SIGHUP: reloading the TLS certificate");
            }
            if let Source::SelfSigned { dir, names, .. } = &self.source {
                let renewed = tokio::task::spawn_blocking({
                    let (dir, names, provider) =
                        (dir.clone(), names.clone(), self.provider.clone());
                    move || self_signed::ensure(&dir, &names, &provider, SystemTime::now())
                })
                .await;
                match renewed {
                    Ok(Ok((_, self_signed::Outcome::Reused))) if !forced => continue,
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "renewing the self-signed certificate failed; keeping the current one");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "renewing the self-signed certificate failed");
                        continue;
                    }
                }
            }
            let now = (fingerprint(cert), fingerprint(key));
            if !forced && now == seen {
                continue;
            }
            seen = now;
            self.reload(cert, key);
        }
    }

    fn reload(&self, cert: &Path, key: &Path) {
        match load(cert, key, &self.provider) {
            Ok(certified) => {
                warn_if_key_readable(key);
                warn_if_expiring(cert, &certified);
                self.store.replace(certified);
                tracing::info!(
                    cert = %cert.display(),
                    key = %key.display(),
                    "reloaded the TLS certificate"
                );
            }
            Err(e) => tracing::error!(
                file = %e.path().display(),
                error = %e,
                "TLS certificate reload failed; still serving the previous certificate"
            ),
        }
    }
}

impl LoadError {
    /// The file at fault.
    pub(crate) fn path(&self) -> &Path {
        match self {
            LoadError::Read { path, .. }
            | LoadError::Certificate { path, .. }
            | LoadError::Key { path, .. } => path,
            LoadError::Mismatch { key, .. } => key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};
    use std::fs;

    fn provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }

    /// A self-signed certificate for `name`: (cert PEM, key PEM).
    fn pair(name: &str, key: KeyPair) -> (String, String) {
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn loads_a_chain_and_its_key_in_each_format() {
        let dir = tempfile::tempdir().unwrap();
        for (label, key) in [
            (
                "ecdsa p256 (pkcs8)",
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            ),
            (
                "ecdsa p384 (pkcs8)",
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            ),
            (
                "ed25519 (pkcs8)",
                KeyPair::generate_for(&rcgen::PKCS_ED25519),
            ),
        ] {
            let (cert, key) = pair("example.test", key.unwrap());
            let cert_path = write(dir.path(), "cert.pem", &cert);
            let key_path = write(dir.path(), "key.pem", &key);
            let certified = load(&cert_path, &key_path, &provider()).expect(label);
            assert_eq!(certified.cert.len(), 1, "{label}");
        }
    }

    #[test]
    fn loads_sec1_and_pkcs1_keys() {
        // SEC1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY"), as the
        // openssl CLI writes them, made from rcgen's PKCS#8 keys.
        use aws_lc_rs::encoding::AsDer;
        let dir = tempfile::tempdir().unwrap();

        let ec = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let signing = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            ec.serialized_der(),
        )
        .unwrap();
        let sec1 = signing.private_key().as_der().unwrap();
        let (cert, _) = pair("example.test", ec);
        let cert_path = write(dir.path(), "cert.pem", &cert);
        let key_path = write(
            dir.path(),
            "key.pem",
            &pem_text("EC PRIVATE KEY", sec1.as_ref()),
        );
        load(&cert_path, &key_path, &provider()).expect("SEC1");

        let rsa =
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
        // PrivateKeyInfo's privateKey OCTET STRING is the PKCS#1 key.
        let pkcs1 = yasna::parse_der(rsa.serialized_der(), |r| {
            r.read_sequence(|r| {
                r.next().read_u8()?;
                r.next().read_der()?;
                r.next().read_bytes()
            })
        })
        .unwrap();
        let (cert, _) = pair("example.test", rsa);
        let cert_path = write(dir.path(), "cert.pem", &cert);
        let key_path = write(dir.path(), "key.pem", &pem_text("RSA PRIVATE KEY", &pkcs1));
        load(&cert_path, &key_path, &provider()).expect("PKCS#1");
    }

    fn pem_text(label: &str, der: &[u8]) -> String {
        pem::encode(&pem::Pem::new(label, der))
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = pair("a.test", KeyPair::generate().unwrap());
        let (_, other_key) = pair("b.test", KeyPair::generate().unwrap());
        let cert_path = write(dir.path(), "cert.pem", &cert);
        let key_path = write(dir.path(), "key.pem", &other_key);
        let err = load(&cert_path, &key_path, &provider()).unwrap_err();
        assert!(matches!(err, LoadError::Mismatch { .. }), "{err}");
        assert_eq!(err.path(), key_path);
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn garbage_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair("a.test", KeyPair::generate().unwrap());
        let good_cert = write(dir.path(), "cert.pem", &cert);
        let good_key = write(dir.path(), "key.pem", &key);
        let garbage = write(dir.path(), "garbage.pem", "hello\n");
        let missing = dir.path().join("missing.pem");

        let err = load(&garbage, &good_key, &provider()).unwrap_err();
        assert!(matches!(err, LoadError::Certificate { .. }), "{err}");
        assert_eq!(err.path(), garbage);
        let err = load(&good_cert, &garbage, &provider()).unwrap_err();
        assert!(matches!(err, LoadError::Key { .. }), "{err}");
        assert_eq!(err.path(), garbage);
        let err = load(&missing, &good_key, &provider()).unwrap_err();
        assert!(matches!(err, LoadError::Read { .. }), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        // A key where the certificate should be.
        let err = load(&good_key, &good_key, &provider()).unwrap_err();
        assert!(matches!(err, LoadError::Certificate { .. }), "{err}");
    }

    #[test]
    fn the_store_hands_out_the_latest_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_a, key_a) = pair("a.test", KeyPair::generate().unwrap());
        let (cert_b, key_b) = pair("b.test", KeyPair::generate().unwrap());
        let a = load(
            &write(dir.path(), "a.pem", &cert_a),
            &write(dir.path(), "a.key", &key_a),
            &provider(),
        )
        .unwrap();
        let b = load(
            &write(dir.path(), "b.pem", &cert_b),
            &write(dir.path(), "b.key", &key_b),
            &provider(),
        )
        .unwrap();
        let (a_der, b_der) = (a.cert[0].clone(), b.cert[0].clone());
        let store = CertStore::new(a);
        let held = store.current();
        store.replace(b);
        assert_eq!(store.current().cert[0], b_der);
        // A handshake in progress keeps what it read.
        assert_eq!(held.cert[0], a_der);
    }

    #[test]
    fn a_rewrite_changes_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "cert.pem", "one");
        let before = fingerprint(&path).unwrap();
        assert_eq!(fingerprint(&path), Some(before));
        let fresh = write(dir.path(), "fresh.pem", "two");
        fs::rename(&fresh, &path).unwrap();
        assert_ne!(fingerprint(&path), Some(before));
        assert_eq!(fingerprint(&dir.path().join("missing")), None);
    }
}
