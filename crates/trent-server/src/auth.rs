//! Authentication: SigV4 on every request. Identities come from
//! [`Identities`]' in-memory cache and derived signing keys are cached here,
//! so a request costs no store read and no key derivation.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use trent_core::{Caller, IamError, Identities, Identity};
use trent_sigv4::{Authorization, RequestParts, SigV4Error, SigningKey};

/// Why a request is not authenticated; each protocol words it its own way.
#[derive(Debug)]
pub enum AuthError {
    /// No usable signature, a wrong one, an unknown access key, a scope
    /// or time out of bounds.
    SigV4(SigV4Error),
    /// Temporary credentials past their expiry.
    ExpiredToken,
    /// The identity store cannot be reached now (retryable; the detail is
    /// for the log).
    Unavailable(String),
    /// The identity store failed (the detail is for the log).
    Internal(String),
}

/// A derived signing key and the scope it was derived for.
#[derive(Clone)]
struct ScopedKey {
    scope: [String; 4],
    key: SigningKey,
}

impl ScopedKey {
    fn is_for(&self, scope: &[&str; 4]) -> bool {
        self.scope
            .iter()
            .map(String::as_str)
            .eq(scope.iter().copied())
    }
}

pub struct Authenticator {
    /// Tells this authenticator's keys from another's (several servers in
    /// one process) in each thread's [`LAST_KEY`].
    instance: u64,
    /// Derived signing keys by (access key id, scope date, region, service).
    /// Keyed by a hash of (access key id, scope date, region, service) so a
    /// lookup allocates nothing; the entry keeps the scope to rule out
    /// collisions.
    signing_keys: papaya::HashMap<u64, Arc<ScopedKey>>,
}

impl Default for Authenticator {
    fn default() -> Self {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        Self {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            signing_keys: papaya::HashMap::new(),
        }
    }
}

thread_local! {
    /// The signing key this thread used last, with its authenticator's
    /// instance: a caller repeating its scope (the common case) is served
    /// by comparing four strings, without hashing them, entering the
    /// shared map or touching a shared reference count.
    static LAST_KEY: RefCell<Option<(u64, ScopedKey)>> = const { RefCell::new(None) };
}

/// Drop cached signing keys when the map grows past this (old dates).
const MAX_SIGNING_KEYS: usize = 10_000;

impl Authenticator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the request's signature for `service` (and, when `regions`
    /// is not empty, that its scope names one of them) and answers who is
    /// calling. `secure`: the request came over TLS (`aws:SecureTransport`).
    #[allow(clippy::too_many_arguments)]
    pub async fn authenticate(
        &self,
        identities: &Identities,
        req: &RequestParts<'_>,
        now_unix: i64,
        service: &str,
        regions: &[String],
        source_ip: Option<IpAddr>,
        secure: bool,
    ) -> Result<Caller, AuthError> {
        let auth =
            trent_sigv4::parse_request_authorization(req.headers).map_err(AuthError::SigV4)?;
        if !regions.is_empty() && !regions.iter().any(|r| r == auth.region) {
            return Err(AuthError::SigV4(SigV4Error::WrongRegion {
                region: auth.region.to_owned(),
            }));
        }
        let identity = match identities.lookup(auth.access_key_id).await {
            Ok(Some(identity)) => identity,
            other => {
                // Time, scope and signed-header errors come first, as in
                // AWS, so they are reported even for an unknown access key.
                // (A known key's `verify` below makes the same checks first.)
                trent_sigv4::precheck(req, &auth, now_unix, service).map_err(AuthError::SigV4)?;
                return Err(match other {
                    Ok(_) => AuthError::SigV4(SigV4Error::UnrecognizedClient),
                    Err(IamError::ExpiredToken) => AuthError::ExpiredToken,
                    Err(e @ IamError::Unavailable(_)) => AuthError::Unavailable(e.to_string()),
                    Err(e) => AuthError::Internal(e.to_string()),
                });
            }
        };
        let verified = self
            .with_signing_key(&identity, &auth, |key| {
                trent_sigv4::verify(req, &auth, key, now_unix, service)
            })
            .map_err(AuthError::SigV4)?;
        if !session_token_matches(&identity, verified.session_token) {
            return Err(AuthError::SigV4(SigV4Error::UnrecognizedClient));
        }
        Ok(Caller::new(identity, auth.region, source_ip, secure))
    }

    /// Calls `f` with the signing key for `auth`'s scope: this thread's
    /// last one when it matches, else the shared map's (derived on a miss).
    fn with_signing_key<T>(
        &self,
        identity: &Identity,
        auth: &Authorization<'_>,
        f: impl FnOnce(&SigningKey) -> T,
    ) -> T {
        let scope = [auth.access_key_id, auth.date, auth.region, auth.service];
        LAST_KEY.with_borrow_mut(|last| {
            if let Some((instance, key)) = last
                && *instance == self.instance
                && key.is_for(&scope)
            {
                return f(&key.key);
            }
            let key = self.signing_key(identity, auth);
            let (_, key) = last.insert((self.instance, ScopedKey::clone(&key)));
            f(&key.key)
        })
    }

    fn signing_key(&self, identity: &Identity, auth: &Authorization<'_>) -> Arc<ScopedKey> {
        let scope = [auth.access_key_id, auth.date, auth.region, auth.service];
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&scope, &mut hasher);
        let hash = std::hash::Hasher::finish(&hasher);
        let pinned = self.signing_keys.pin();
        if let Some(found) = pinned.get(&hash)
            && found.is_for(&scope)
        {
            return found.clone();
        }
        if pinned.len() > MAX_SIGNING_KEYS {
            pinned.clear();
        }
        let key = Arc::new(ScopedKey {
            scope: scope.map(str::to_owned),
            key: SigningKey::derive(&identity.secret, auth.date, auth.region, auth.service),
        });
        pinned.insert(hash, key.clone());
        key
    }
}

/// What a request that failed authentication claims to be: the access key
/// id and region of its `Authorization` header, if it parses (for its audit
/// event).
pub fn claimed(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    let auth = trent_sigv4::parse_request_authorization(headers).ok()?;
    Some((auth.access_key_id.to_owned(), auth.region.to_owned()))
}

/// Temporary credentials must come with their session token; long-term
/// keys must come without one.
fn session_token_matches(identity: &Identity, presented: Option<&str>) -> bool {
    match (&identity.session_token_sha256, presented) {
        (None, None) => true,
        (Some(expected), Some(token)) => {
            trent_crypto::constant_time_eq(expected, &trent_crypto::sha256(token.as_bytes()))
        }
        _ => false,
    }
}
