//! `pkcs11:module=PATH,token=LABEL,key=LABEL[,pin-file=PATH]`: the root key
//! is an AES-256 key inside an HSM, which never leaves it (CKA_SENSITIVE,
//! not CKA_EXTRACTABLE, CKA_TOKEN). Every seal and unseal is one
//! CKM_AES_GCM operation inside the HSM: Trent unseals on cache misses
//! and at warm-up, not per request, so the cost of a round trip to the HSM
//! is paid rarely, and no copy of a root key is ever in Trent's memory.
//!
//! Sealed format: `0x01 || IV (12 bytes) || ciphertext || tag (16 bytes)`,
//! the `aad` the caller passes as GCM's additional authenticated data. The
//! IV is random (Trent's generator), 96 bits as for Trent's own sealing.
//!
//! A PKCS#11 session is not thread-safe: one session, logged in once,
//! behind a mutex. Seals and unseals are rare enough that one suffices.
//! When the HSM loses the session (restarted, token removed and put back,
//! logged out), the next call opens a new one, logs in again and finds the
//! key again (never creates it), once, then retries; the PIN is kept for
//! that, in a zeroizing `SecretString`.

use crate::{Pkcs11Spec, RootKeyError};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::sync::Mutex;
use trent_core::{RootKey, SealError};
use zeroize::Zeroizing;

/// The variable holding the user PIN (without `pin-file=`).
pub const PIN_ENV: &str = "TRENT_PKCS11_PIN";

const VERSION: u8 = 1;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const TAG_BITS: std::os::raw::c_ulong = 128;

/// A root key inside an HSM.
pub struct Pkcs11RootKey {
    connection: Mutex<Connection>,
    spec: Pkcs11Spec,
    pin: AuthPin,
    // The module stays loaded and initialized while the key lives.
    context: Pkcs11,
}

/// A logged-in session and the key's handle in it.
struct Connection {
    session: Session,
    key: ObjectHandle,
}

impl Pkcs11RootKey {
    /// Loads the module, finds the token by label, logs in with the PIN and
    /// finds the key by label; `create`: a missing key is made (a new
    /// installation). Blocks while the HSM answers.
    pub fn open(spec: &Pkcs11Spec, create: bool) -> Result<Self, RootKeyError> {
        let pin = read_pin(spec)?;
        let context = Pkcs11::new(&spec.module).map_err(|e| RootKeyError::Pkcs11Module {
            module: spec.module.clone(),
            reason: e.to_string(),
        })?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(RootKeyError::Pkcs11Module {
                    module: spec.module.clone(),
                    reason: e.to_string(),
                });
            }
        }
        let connection = connect(&context, spec, &pin, create)?;
        Ok(Self {
            connection: Mutex::new(connection),
            spec: spec.clone(),
            pin,
            context,
        })
    }

    /// Runs `operation` on the session; if the HSM lost the session, opens
    /// a new one and runs it once more.
    fn with_session<T>(
        &self,
        what: &str,
        operation: impl Fn(&Session, ObjectHandle) -> Result<T, CkError>,
    ) -> Result<T, SealError> {
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        match operation(&connection.session, connection.key) {
            Err(CkError::Pkcs11(rv, _)) if session_lost(rv) => {
                *connection = connect(&self.context, &self.spec, &self.pin, false)
                    .map_err(|e| SealError::Unavailable(format!("{what}: {e}")))?;
                operation(&connection.session, connection.key)
            }
            other => other,
        }
        .map_err(|e| {
            SealError::Unavailable(format!("PKCS#11 token {:?}: {what}: {e}", self.spec.token))
        })
    }
}

/// Errors after which a new session may succeed.
fn session_lost(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::UserNotLoggedIn
            | RvError::KeyHandleInvalid
            | RvError::ObjectHandleInvalid
            | RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::CryptokiNotInitialized
    )
}

/// Finds the token, opens a session, logs in and finds (or, `create`,
/// makes) the key.
fn connect(
    context: &Pkcs11,
    spec: &Pkcs11Spec,
    pin: &AuthPin,
    create: bool,
) -> Result<Connection, RootKeyError> {
    let token = spec.token.clone();
    let fail = |action: &'static str| {
        let token = token.clone();
        move |e: CkError| RootKeyError::Pkcs11 {
            token,
            action,
            reason: e.to_string(),
        }
    };
    let slot = find_token(context, spec)?;
    let session = context
        .open_rw_session(slot)
        .map_err(fail("opening a session"))?;
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(CkError::Pkcs11(
            reason @ (RvError::PinIncorrect
            | RvError::PinInvalid
            | RvError::PinLenRange
            | RvError::PinLocked
            | RvError::PinExpired),
            _,
        )) => {
            return Err(RootKeyError::Pkcs11PinRefused {
                token,
                reason: format!("{reason:?}"),
            });
        }
        Err(e) => return Err(fail("logging in")(e)),
    }
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(spec.key.as_bytes().to_vec()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(fail("looking for the key"))?;
    let key = match found.as_slice() {
        [key] => *key,
        [] if create => session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Label(spec.key.as_bytes().to_vec()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                ],
            )
            .map_err(fail("creating the key"))?,
        [] => {
            return Err(RootKeyError::Pkcs11NoKey {
                token,
                key: spec.key.clone(),
            });
        }
        several => {
            return Err(RootKeyError::Pkcs11AmbiguousKey {
                token,
                key: spec.key.clone(),
                count: several.len(),
            });
        }
    };
    Ok(Connection { session, key })
}

/// The slot of the token labelled `spec.token`.
fn find_token(context: &Pkcs11, spec: &Pkcs11Spec) -> Result<Slot, RootKeyError> {
    let fail = |action: &'static str| {
        move |e: CkError| RootKeyError::Pkcs11 {
            token: spec.token.clone(),
            action,
            reason: e.to_string(),
        }
    };
    let mut labels = Vec::new();
    for slot in context
        .get_slots_with_token()
        .map_err(fail("listing the slots"))?
    {
        let info = context
            .get_token_info(slot)
            .map_err(fail("reading a token's information"))?;
        let label = info.label().trim_end();
        if label == spec.token {
            return Ok(slot);
        }
        // An uninitialized token (SoftHSM2's free slot) has no label.
        if !label.is_empty() {
            labels.push(format!("{label:?}"));
        }
    }
    Err(RootKeyError::Pkcs11NoToken {
        token: spec.token.clone(),
        module: spec.module.clone(),
        found: if labels.is_empty() {
            "none".into()
        } else {
            labels.join(", ")
        },
    })
}

impl std::fmt::Debug for Pkcs11RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11RootKey")
            .field("token", &self.spec.token)
            .field("key", &self.spec.key)
            .finish_non_exhaustive()
    }
}

fn read_pin(spec: &Pkcs11Spec) -> Result<AuthPin, RootKeyError> {
    let bytes = match &spec.pin_file {
        Some(path) => crate::read_secret_file(path, "PIN file")?,
        None => match std::env::var_os(PIN_ENV) {
            Some(value) => {
                use std::os::unix::ffi::OsStringExt;
                Zeroizing::new(value.into_vec())
            }
            None => {
                return Err(RootKeyError::NoPin {
                    token: spec.token.clone(),
                });
            }
        },
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| RootKeyError::Pkcs11PinRefused {
        token: spec.token.clone(),
        reason: "the PIN is not UTF-8".into(),
    })?;
    Ok(AuthPin::new(text.into()))
}

impl RootKey for Pkcs11RootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut iv = [0u8; IV_LEN];
        trent_crypto::random_bytes(&mut iv)
            .map_err(|_| SealError::Unavailable("no randomness".into()))?;
        let ciphertext = self.with_session("sealing", |session, key| {
            let mut params_iv = iv;
            let params = GcmParams::new(&mut params_iv, aad, TAG_BITS.into())?;
            session.encrypt(&Mechanism::AesGcm(params), key, plaintext)
        })?;
        let mut sealed = Vec::with_capacity(1 + IV_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&iv);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealError::Unauthentic);
        };
        if rest.len() < IV_LEN + TAG_LEN {
            return Err(SealError::Unauthentic);
        }
        let (iv, ciphertext) = rest.split_at(IV_LEN);
        let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| SealError::Unauthentic)?;
        self.with_session("unsealing", |session, key| {
            let mut params_iv = iv;
            let params = GcmParams::new(&mut params_iv, aad, TAG_BITS.into())?;
            match session.decrypt(&Mechanism::AesGcm(params), key, ciphertext) {
                Ok(plaintext) => Ok(Ok(Zeroizing::new(plaintext))),
                // A tag that does not verify: another key, another aad, or
                // changed bytes. PKCS#11 says CKR_ENCRYPTED_DATA_INVALID;
                // SoftHSM2 answers CKR_GENERAL_ERROR, so that one, and
                // CKR_FUNCTION_FAILED, count as a bad tag while the session
                // still answers (the HSM is there).
                Err(CkError::Pkcs11(
                    RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange,
                    _,
                )) => Ok(Err(SealError::Unauthentic)),
                Err(CkError::Pkcs11(RvError::GeneralError | RvError::FunctionFailed, _))
                    if session.get_session_info().is_ok() =>
                {
                    Ok(Err(SealError::Unauthentic))
                }
                Err(e) => Err(e),
            }
        })?
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    pub const PIN: &str = "1234";

    /// A SoftHSM2 configuration and token in a temporary directory (never
    /// the system's), or `None` when SoftHSM2 is not installed.
    pub struct SoftHsm {
        pub dir: tempfile::TempDir,
        pub conf: PathBuf,
    }

    impl SoftHsm {
        pub fn new(token: &str) -> Option<SoftHsm> {
            if !Path::new(MODULE).exists() {
                println!("skipped: SoftHSM2 is not installed ({MODULE} is missing)");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let tokens = dir.path().join("tokens");
            std::fs::create_dir(&tokens).unwrap();
            let conf = dir.path().join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .unwrap();
            let out = Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", token])
                .args(["--pin", PIN, "--so-pin", "5678"])
                .env("SOFTHSM2_CONF", &conf)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            Some(SoftHsm { dir, conf })
        }
    }

    /// SoftHSM2 reads `SOFTHSM2_CONF` when the module is initialized: the
    /// test runs in a child process of this test binary with it set.
    #[test]
    fn seals_inside_softhsm() {
        const TEST: &str = "pkcs11::tests::seals_inside_softhsm";
        if std::env::var_os("TRENT_SEAL_TEST_IN_CHILD").is_none() {
            let Some(hsm) = SoftHsm::new("trent-unit") else {
                return;
            };
            let pin_file = hsm.dir.path().join("pin");
            std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
                .env("SOFTHSM2_CONF", &hsm.conf)
                .env("TRENT_SEAL_TEST_IN_CHILD", &pin_file)
                .env_remove(PIN_ENV)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let pin_file: PathBuf = std::env::var_os("TRENT_SEAL_TEST_IN_CHILD").unwrap().into();
        let spec = |key: &str, pin_file: &Path| Pkcs11Spec {
            module: MODULE.into(),
            token: "trent-unit".into(),
            key: key.into(),
            pin_file: Some(pin_file.to_owned()),
        };
        // No key yet: refused unless creating.
        assert!(matches!(
            Pkcs11RootKey::open(&spec("root", &pin_file), false),
            Err(RootKeyError::Pkcs11NoKey { .. })
        ));
        let root = Pkcs11RootKey::open(&spec("root", &pin_file), true).unwrap();
        let sealed = root.seal(b"key:1/v1", b"material").unwrap();
        assert_eq!(sealed.len(), 1 + IV_LEN + b"material".len() + TAG_LEN);
        assert_eq!(&root.unseal(b"key:1/v1", &sealed).unwrap()[..], b"material");
        // The aad is bound; every byte is authenticated.
        assert!(matches!(
            root.unseal(b"key:2/v1", &sealed),
            Err(SealError::Unauthentic)
        ));
        for i in 1..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            assert!(
                matches!(
                    root.unseal(b"key:1/v1", &changed),
                    Err(SealError::Unauthentic)
                ),
                "byte {i}"
            );
        }
        // Two seals of one plaintext differ (random IVs).
        assert_ne!(
            root.seal(b"a", b"m").unwrap(),
            root.seal(b"a", b"m").unwrap()
        );
        // The same key is found again; another label is another key.
        let again = Pkcs11RootKey::open(&spec("root", &pin_file), false).unwrap();
        assert_eq!(
            &again.unseal(b"key:1/v1", &sealed).unwrap()[..],
            b"material"
        );
        let other = Pkcs11RootKey::open(&spec("other", &pin_file), true).unwrap();
        assert!(matches!(
            other.unseal(b"key:1/v1", &sealed),
            Err(SealError::Unauthentic)
        ));
        // The key cannot be read out.
        {
            let connection = root.connection.lock().unwrap();
            let (session, key) = (&connection.session, connection.key);
            let attributes = session
                .get_attributes(
                    key,
                    &[
                        cryptoki::object::AttributeType::Sensitive,
                        cryptoki::object::AttributeType::Extractable,
                        cryptoki::object::AttributeType::Token,
                    ],
                )
                .unwrap();
            assert!(attributes.contains(&Attribute::Sensitive(true)));
            assert!(attributes.contains(&Attribute::Extractable(false)));
            assert!(attributes.contains(&Attribute::Token(true)));
            let value = session.get_attributes(key, &[cryptoki::object::AttributeType::Value]);
            assert!(
                !matches!(value.as_deref(), Ok([Attribute::Value(_)])),
                "{value:?}"
            );
        }
        // A session the HSM lost (here: logged out) is opened again.
        root.connection.lock().unwrap().session.logout().unwrap();
        assert_eq!(&root.unseal(b"key:1/v1", &sealed).unwrap()[..], b"material");
        let resealed = root.seal(b"key:1/v1", b"again").unwrap();
        assert_eq!(&again.unseal(b"key:1/v1", &resealed).unwrap()[..], b"again");
        // A wrong PIN is refused (once every session has closed: the
        // login is the application's, not the session's).
        drop((root, again, other));
        let wrong = pin_file.with_file_name("wrong-pin");
        std::fs::write(&wrong, "9999").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            Pkcs11RootKey::open(&spec("root", &wrong), false),
            Err(RootKeyError::Pkcs11PinRefused { .. })
        ));
        let mut no_token = spec("root", &pin_file);
        no_token.token = "absent".into();
        let error = Pkcs11RootKey::open(&no_token, false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no PKCS#11 token labelled \"absent\""),
            "{error}"
        );
        assert!(error.contains("\"trent-unit\""), "{error}");
    }
}
