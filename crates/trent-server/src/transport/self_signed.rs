//! `--tls self-signed`: a local CA and a server certificate it signs, kept
//! in a directory across restarts.
//!
//! `ca.pem` (0644) is what clients trust (`AWS_CA_BUNDLE`); `ca.key`,
//! `server.key` (0600) never leave the directory. The CA is made once; the
//! server certificate is issued again (by the kept CA) when the names it
//! should carry change, when it expires within 30 days, or when it or its
//! key is missing or does not belong to the CA.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a server certificate is valid.
const SERVER_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A server certificate expiring sooner than this is issued again.
pub(crate) const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Certificates start this long before now (clients with slow clocks).
const BACKDATE: Duration = Duration::from_secs(3600);

/// The files of a self-signed setup.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    pub(crate) ca_cert: PathBuf,
    pub(crate) ca_key: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl Files {
    pub(crate) fn in_dir(dir: &Path) -> Files {
        Files {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

/// What went wrong, naming the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{} exists but {} does not; remove the directory's files to make a new CA (clients must then trust the new ca.pem)", present.display(), missing.display())]
    HalfCa { present: PathBuf, missing: PathBuf },
    #[error("making a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{0:?} is neither a DNS name nor an IP address")]
    BadName(String),
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Made a new CA and server certificate.
    Created,
    /// Kept the CA, issued a new server certificate.
    Reissued,
    /// Kept both.
    Reused,
}

/// The names a self-signed server certificate carries: `localhost`, the
/// loopback addresses, the listen address unless unspecified, and `extra`;
/// DNS names in lower case, addresses in their canonical form. An extra
/// name that is neither an IP address nor a valid DNS name is an error.
pub(crate) fn wanted_names(listen: IpAddr, extra: &[String]) -> Result<BTreeSet<String>, Error> {
    let mut names: BTreeSet<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if !listen.is_unspecified() {
        names.insert(listen.to_string());
    }
    for name in extra {
        let normal = match name.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => match ServerName::try_from(name.as_str()) {
                Ok(ServerName::DnsName(dns)) => dns.as_ref().to_ascii_lowercase(),
                _ => return Err(Error::BadName(name.clone())),
            },
        };
        names.insert(normal);
    }
    Ok(names)
}

/// Makes or reuses the CA and the server certificate in `dir` for `names`.
pub(crate) fn ensure(
    dir: &Path,
    names: &BTreeSet<String>,
    provider: &Arc<CryptoProvider>,
    now: SystemTime,
) -> Result<(Files, Outcome), Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
    let files = Files::in_dir(dir);
    let (ca_cert, ca_key, created) = match (files.ca_cert.exists(), files.ca_key.exists()) {
        (true, true) => {
            let (cert, key) = load_ca(&files, provider)?;
            (cert, key, false)
        }
        (false, false) => {
            let (cert, key) = create_ca(&files, now)?;
            (cert, key, true)
        }
        (true, false) => {
            return Err(Error::HalfCa {
                present: files.ca_cert.clone(),
                missing: files.ca_key.clone(),
            });
        }
        (false, true) => {
            return Err(Error::HalfCa {
                present: files.ca_key.clone(),
                missing: files.ca_cert.clone(),
            });
        }
    };
    if !created && server_is_current(&files, &ca_cert, names, provider, now) {
        return Ok((files, Outcome::Reused));
    }
    issue_server(&files, ca_key, names, now)?;
    let outcome = if created {
        Outcome::Created
    } else {
        Outcome::Reissued
    };
    Ok((files, outcome))
}

/// The CA's distinguished name, key-identifier method and key usages: the
/// same on every start, so the kept CA key issues certificates whose issuer
/// and authority key identifier match the kept `ca.pem`.
fn ca_params(now: SystemTime) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Trent");
    dn.push(DnType::CommonName, "Trent local CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = time(now - BACKDATE)?;
    params.not_after = time(now + CA_VALIDITY)?;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

fn create_ca(files: &Files, now: SystemTime) -> Result<(CertificateDer<'static>, KeyPair), Error> {
    let key = KeyPair::generate()?;
    let cert = ca_params(now)?.self_signed(&key)?;
    // The key first: a CA certificate without its key could never sign.
    write_new(&files.ca_key, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&files.ca_cert, cert.pem().as_bytes(), 0o644)?;
    Ok((cert.der().clone(), key))
}

fn load_ca(
    files: &Files,
    provider: &Arc<CryptoProvider>,
) -> Result<(CertificateDer<'static>, KeyPair), Error> {
    let cert_pem = read(&files.ca_cert)?;
    let cert = CertificateDer::from_pem_slice(&cert_pem).map_err(|e| Error::Invalid {
        path: files.ca_cert.clone(),
        message: format!("no PEM certificate: {e}"),
    })?;
    let key_pem = zeroize::Zeroizing::new(read(&files.ca_key)?);
    let invalid_key = |message: String| Error::Invalid {
        path: files.ca_key.clone(),
        message,
    };
    let key_text = std::str::from_utf8(&key_pem).map_err(|_| invalid_key("not PEM".into()))?;
    let key = KeyPair::from_pem(key_text).map_err(|e| invalid_key(e.to_string()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid_key(format!("no PEM private key: {e}")))?;
    rustls::sign::CertifiedKey::from_der(vec![cert.clone()], key_der, provider)
        .map_err(|e| invalid_key(format!("does not match {}: {e}", files.ca_cert.display())))?;
    Ok((cert, key))
}

/// Whether `server.pem` and `server.key` can be kept: the pair matches,
/// the CA signed the certificate, it carries exactly `names`, and it is
/// valid for at least [`RENEW_BEFORE`].
fn server_is_current(
    files: &Files,
    ca_cert: &CertificateDer<'static>,
    names: &BTreeSet<String>,
    provider: &Arc<CryptoProvider>,
    now: SystemTime,
) -> bool {
    let check = || -> Result<bool, String> {
        let cert_pem = fs::read(&files.cert).map_err(|e| e.to_string())?;
        let cert = CertificateDer::from_pem_slice(&cert_pem).map_err(|e| e.to_string())?;
        let key_pem = zeroize::Zeroizing::new(fs::read(&files.key).map_err(|e| e.to_string())?);
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| e.to_string())?;
        rustls::sign::CertifiedKey::from_der(vec![cert.clone()], key, provider)
            .map_err(|e| e.to_string())?;
        let (carried, not_after) = names_and_expiry(&cert).ok_or("unreadable certificate")?;
        if &carried != names {
            return Ok(false);
        }
        let renew_at = now + RENEW_BEFORE;
        let renew_at = renew_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs() as i64;
        if not_after < renew_at {
            return Ok(false);
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.clone()).map_err(|e| e.to_string())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        verifier
            .verify_server_cert(
                &cert,
                &[],
                &name,
                &[],
                UnixTime::since_unix_epoch(
                    now.duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default(),
                ),
            )
            .map_err(|e| e.to_string())?;
        Ok(true)
    };
    match check() {
        Ok(current) => current,
        Err(e) => {
            tracing::info!(path = %files.cert.display(), reason = %e, "issuing a new server certificate");
            false
        }
    }
}

fn issue_server(
    files: &Files,
    ca_key: KeyPair,
    names: &BTreeSet<String>,
    now: SystemTime,
) -> Result<(), Error> {
    let issuer = Issuer::new(ca_params(now)?, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.iter().cloned().collect::<Vec<_>>())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Trent");
    dn.push(DnType::CommonName, "Trent server");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = time(now - BACKDATE)?;
    params.not_after = time(now + SERVER_VALIDITY)?;
    params.serial_number = Some(random_serial()?);
    let cert = params.signed_by(&key, &issuer)?;
    // Into place by rename, the key first: a crash in between leaves a
    // pair that does not match, which the next start issues again.
    replace(&files.key, key.serialize_pem().as_bytes(), 0o600)?;
    replace(&files.cert, cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn random_serial() -> Result<SerialNumber, Error> {
    let mut serial = [0u8; 16];
    trent_crypto::random_bytes(&mut serial).map_err(|_| rcgen::Error::RingUnspecified)?;
    // Positive, as DER integers go.
    serial[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&serial))
}

fn time(t: SystemTime) -> Result<time::OffsetDateTime, Error> {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| Error::Generate(rcgen::Error::Time))
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Creates `path` with `contents` (never an existing file, never through a
/// symlink: `trent_core::files::create_file`).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    trent_core::files::create_file(path, contents, mode).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `path` anew, whatever was there: a new file beside it, renamed
/// over it (a symlink at `path` is replaced, not followed).
fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    trent_core::files::replace_file(path, contents, mode).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The names a certificate carries in its subject alternative names
/// (DNS names lower-cased, IP addresses canonical) and its notAfter (Unix
/// seconds). `None` for anything that is not a plain X.509 v3 certificate.
pub(crate) fn names_and_expiry(cert: &[u8]) -> Option<(BTreeSet<String>, i64)> {
    const SUBJECT_ALT_NAME: [u64; 4] = [2, 5, 29, 17];
    let (not_after, extensions) = yasna::parse_der(cert, |r| {
        r.read_sequence(|r| {
            let tbs = r.next().read_sequence(|r| {
                r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_der()))?;
                r.next().read_der()?; // serialNumber
                r.next().read_der()?; // signature
                r.next().read_der()?; // issuer
                let not_after = r.next().read_sequence(|r| {
                    r.next().read_der()?; // notBefore
                    read_time(r.next())
                })?;
                r.next().read_der()?; // subject
                r.next().read_der()?; // subjectPublicKeyInfo
                let mut extensions = None;
                while let Some(element) = r.read_optional(|r| r.read_tagged_der())? {
                    if element.tag() == yasna::Tag::context(3) {
                        extensions = Some(element.value().to_vec());
                    }
                }
                Ok((not_after, extensions))
            })?;
            r.next().read_der()?; // signatureAlgorithm
            r.next().read_der()?; // signatureValue
            Ok(tbs)
        })
    })
    .ok()?;
    let mut names = BTreeSet::new();
    let Some(extensions) = extensions else {
        return Some((names, not_after));
    };
    let san = yasna::parse_der(&extensions, |r| {
        let mut san = None;
        r.read_sequence_of(|r| {
            r.read_sequence(|r| {
                let oid = r.next().read_oid()?;
                r.read_optional(|r| r.read_bool())?;
                let value = r.next().read_bytes()?;
                if oid.components().as_slice() == SUBJECT_ALT_NAME {
                    san = Some(value);
                }
                Ok(())
            })
        })?;
        Ok(san)
    })
    .ok()?;
    if let Some(san) = san {
        yasna::parse_der(&san, |r| {
            r.read_sequence_of(|r| {
                let name = r.read_tagged_der()?;
                let tag = name.tag();
                if tag == yasna::Tag::context(2) {
                    if let Ok(dns) = std::str::from_utf8(name.value()) {
                        names.insert(dns.to_ascii_lowercase());
                    }
                } else if tag == yasna::Tag::context(7) {
                    let ip = match name.value().len() {
                        4 => <[u8; 4]>::try_from(name.value()).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(name.value()).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.insert(ip.to_string());
                    }
                }
                Ok(())
            })
        })
        .ok()?;
    }
    Some((names, not_after))
}

fn read_time(r: yasna::BERReader<'_, '_>) -> yasna::ASN1Result<i64> {
    if r.lookahead_tag()? == yasna::tags::TAG_UTCTIME {
        Ok(r.read_utctime()?.datetime().unix_timestamp())
    } else {
        Ok(r.read_generalized_time()?.datetime().unix_timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    fn names(extra: &[&str]) -> BTreeSet<String> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        wanted_names("0.0.0.0".parse().unwrap(), &extra).unwrap()
    }

    fn serial_of(path: &Path) -> Vec<u8> {
        fs::read(path).unwrap()
    }

    #[test]
    fn wanted_names_are_loopback_listen_address_and_extra() {
        let extra = vec!["KMS.Example.com".to_owned(), "::0001".to_owned()];
        let names = wanted_names("10.1.2.3".parse().unwrap(), &extra).unwrap();
        let expected: BTreeSet<String> = [
            "localhost",
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "kms.example.com",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(names, expected);
        assert!(
            !wanted_names("0.0.0.0".parse().unwrap(), &[])
                .unwrap()
                .contains("0.0.0.0")
        );
        assert!(
            !wanted_names("::".parse().unwrap(), &[])
                .unwrap()
                .contains("::")
        );
        for bad in ["bad name!", "", "*.example.com", "a..b"] {
            let err = wanted_names("0.0.0.0".parse().unwrap(), &[bad.to_owned()]).unwrap_err();
            assert!(matches!(err, Error::BadName(_)), "{bad:?}: {err}");
        }
    }

    #[test]
    fn first_start_creates_ca_and_server_with_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let wanted = names(&["kms.example"]);
        let (files, outcome) = ensure(&tls, &wanted, &provider(), SystemTime::now()).unwrap();
        assert_eq!(outcome, Outcome::Created);
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&files.ca_cert), 0o644);
        assert_eq!(mode(&files.cert), 0o644);
        assert_eq!(mode(&files.ca_key), 0o600);
        assert_eq!(mode(&files.key), 0o600);
        assert_eq!(mode(&tls), 0o700);
        let cert = CertificateDer::from_pem_file(&files.cert).unwrap();
        let (carried, not_after) = names_and_expiry(&cert).unwrap();
        assert_eq!(carried, wanted);
        let in_a_year = SystemTime::now() + SERVER_VALIDITY;
        let in_a_year = in_a_year
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((not_after - in_a_year).abs() < 60);
        // The CA verifies it.
        assert!(server_is_current(
            &files,
            &CertificateDer::from_pem_file(&files.ca_cert).unwrap(),
            &wanted,
            &provider(),
            SystemTime::now()
        ));
    }

    #[test]
    fn a_later_start_reuses_both() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = names(&[]);
        let (files, _) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        let (ca, server) = (serial_of(&files.ca_cert), serial_of(&files.cert));
        let (_, outcome) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        assert_eq!(outcome, Outcome::Reused);
        assert_eq!(serial_of(&files.ca_cert), ca);
        assert_eq!(serial_of(&files.cert), server);
    }

    #[test]
    fn new_names_reissue_the_server_certificate_from_the_kept_ca() {
        let dir = tempfile::tempdir().unwrap();
        let (files, _) = ensure(
            dir.path(),
            &names(&["a.example"]),
            &provider(),
            SystemTime::now(),
        )
        .unwrap();
        let ca = serial_of(&files.ca_cert);
        for changed in [
            names(&["a.example", "b.example"]),
            names(&[]),
            names(&["10.0.0.9"]),
        ] {
            let (_, outcome) =
                ensure(dir.path(), &changed, &provider(), SystemTime::now()).unwrap();
            assert_eq!(outcome, Outcome::Reissued, "{changed:?}");
            let cert = CertificateDer::from_pem_file(&files.cert).unwrap();
            assert_eq!(names_and_expiry(&cert).unwrap().0, changed);
        }
        assert_eq!(serial_of(&files.ca_cert), ca, "the CA is kept");
        // The kept CA still verifies the new certificate.
        let ca_cert = CertificateDer::from_pem_file(&files.ca_cert).unwrap();
        assert!(server_is_current(
            &files,
            &ca_cert,
            &names(&["10.0.0.9"]),
            &provider(),
            SystemTime::now()
        ));
    }

    #[test]
    fn a_certificate_expiring_within_30_days_is_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = names(&[]);
        let long_ago =
            SystemTime::now() - SERVER_VALIDITY + RENEW_BEFORE - Duration::from_secs(86_400);
        ensure(dir.path(), &wanted, &provider(), long_ago).unwrap();
        let (_, outcome) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        assert_eq!(outcome, Outcome::Reissued);
        let (_, outcome) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        assert_eq!(outcome, Outcome::Reused);
    }

    #[test]
    fn a_missing_or_foreign_server_key_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = names(&[]);
        let (files, _) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        fs::remove_file(&files.key).unwrap();
        let (_, outcome) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        assert_eq!(outcome, Outcome::Reissued);
        // Another key in its place (as after a crash between the renames).
        fs::copy(&files.ca_key, &files.key).unwrap();
        let (_, outcome) = ensure(dir.path(), &wanted, &provider(), SystemTime::now()).unwrap();
        assert_eq!(outcome, Outcome::Reissued);
        assert_eq!(fs::metadata(&files.key).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn keys_are_never_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"precious").unwrap();
        let tls = dir.path().join("tls");
        fs::create_dir(&tls).unwrap();
        std::os::unix::fs::symlink(&target, tls.join("ca.key")).unwrap();
        std::os::unix::fs::symlink(&target, tls.join("ca.pem")).unwrap();
        // Both "exist" (through the links), so the CA is loaded, not
        // written, and the garbage is refused.
        let err = ensure(&tls, &names(&[]), &provider(), SystemTime::now()).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        // A dangling link where a new key goes: creation fails, nothing
        // is written through it.
        fs::remove_file(tls.join("ca.pem")).unwrap();
        fs::remove_file(tls.join("ca.key")).unwrap();
        let dangling = dir.path().join("nowhere");
        std::os::unix::fs::symlink(&dangling, tls.join("ca.key")).unwrap();
        assert!(ensure(&tls, &names(&[]), &provider(), SystemTime::now()).is_err());
        assert!(!dangling.exists());
    }

    #[test]
    fn half_a_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (files, _) = ensure(dir.path(), &names(&[]), &provider(), SystemTime::now()).unwrap();
        fs::remove_file(&files.ca_key).unwrap();
        let err = ensure(dir.path(), &names(&[]), &provider(), SystemTime::now()).unwrap_err();
        assert!(matches!(err, Error::HalfCa { .. }), "{err}");
    }
}
