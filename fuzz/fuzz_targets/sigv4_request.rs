//! A whole request through SigV4 as the server authenticates it
//! (`trent-server/src/auth.rs`): the `Authorization` header of the request's
//! headers, the checks before the key lookup, then verification with the
//! signing key of AWS's example secret, which streams the canonical request
//! (path, query, signed headers, body hash) into the signature.
//!
//! Input: a request as HTTP/1.1 text (see `trent_fuzz::http_request`); the
//! server's clock is `trent_fuzz::NOW`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use trent_fuzz::{NOW, SECRET, SERVICES, http_request};
use trent_sigv4::{SigV4Error, SigningKey, parse_amz_date, parse_request_authorization};

static NOW_UNIX: LazyLock<i64> = LazyLock::new(|| parse_amz_date(NOW).expect("NOW is an amz date"));

fn report(e: SigV4Error) {
    let _ = (e.code(), e.to_string());
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = http_request(data) else {
        return;
    };
    let parts = request.parts();
    let auth = match parse_request_authorization(&request.headers) {
        Ok(auth) => auth,
        Err(e) => return report(e),
    };
    let service = SERVICES
        .into_iter()
        .find(|s| *s == auth.service)
        .unwrap_or("kms");
    if let Err(e) = trent_sigv4::precheck(&parts, &auth, *NOW_UNIX, service) {
        return report(e);
    }
    let key = SigningKey::derive(SECRET, auth.date, auth.region, service);
    match trent_sigv4::verify(&parts, &auth, &key, *NOW_UNIX, service) {
        Ok(verified) => {
            let _ = verified.session_token.map(str::len);
        }
        Err(e) => report(e),
    }
});
