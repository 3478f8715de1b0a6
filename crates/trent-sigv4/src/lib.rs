//! AWS Signature Version 4 (SigV4) math for Trent: pure functions, no I/O.
//!
//! The server authenticates every request with
//! [`parse_authorization`] (or [`parse_request_authorization`]), a lookup of
//! the access key's secret (its own business: unknown keys are
//! [`SigV4Error::UnrecognizedClient`]), a [`SigningKey`] derived once per
//! key, day, region and service, and [`verify`]:
//!
//! ```
//! use trent_sigv4::{RequestParts, SigningKey, parse_authorization, sign, verify, parse_amz_date};
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("host", "127.0.0.1:4599".parse().unwrap());
//! headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
//! headers.insert("x-amz-target", "TrentService.ListKeys".parse().unwrap());
//! let body = b"{}";
//! let req = RequestParts { method: "POST", path: "/", query: "", headers: &headers, body };
//!
//! // Client side (e.g. a load generator): derive once, sign many.
//! let key = SigningKey::derive(b"secret", "20150830", "us-east-1", "kms");
//! let authorization = sign(&req, "AKIDEXAMPLE", &key, "us-east-1", "kms", "20150830T123600Z");
//!
//! // Server side.
//! let auth = parse_authorization(&authorization).unwrap();
//! let key = SigningKey::derive(b"secret", auth.date, auth.region, "kms");
//! let now = parse_amz_date("20150830T124000Z").unwrap();
//! let verified = verify(&req, &auth, &key, now, "kms").unwrap();
//! assert_eq!(verified.session_token, None);
//! ```
//!
//! What is checked, in AWS's order: the request time (`X-Amz-Date`, else
//! `Date`) is well-formed and within ±15 minutes of `now`; `host` is signed;
//! the credential scope is for the expected service and the request's day;
//! every signed header is present; a signed `x-amz-content-sha256` is the
//! body's SHA-256 (`UNSIGNED-PAYLOAD` is refused); and the signature over the
//! canonical request matches, compared in constant time. Regions are the
//! caller's to restrict ([`Authorization::check_region`]).
//!
//! Canonicalization follows the SigV4 rules for services other than S3
//! (paths normalized and double-encoded, queries decoded, re-encoded and
//! sorted, header values trimmed and joined by `,`). Signing and
//! verification share the same code, which streams the canonical request
//! into SHA-256 without building it; [`canonical_request`] and
//! [`string_to_sign`] build them as text for debugging.
//!
//! Errors carry the AWS `__type` ([`SigV4Error::code`]) and AWS's message
//! (`Display`).

mod authz;
mod canonical;
mod date;
mod error;
mod key;

pub use authz::{
    ALGORITHM, Authorization, SignedHeaders, TERMINATOR, parse_authorization,
    parse_request_authorization,
};
pub use date::{format_amz_date, parse_amz_date, parse_http_date};
pub use error::{
    INCOMPLETE_SIGNATURE, INVALID_SIGNATURE, MISSING_AUTHENTICATION_TOKEN, SigV4Error,
    UNRECOGNIZED_CLIENT,
};
pub use key::SigningKey;

use aws_lc_rs::constant_time;
use canonical::{Scope, hex64, sha256_hex};
use http::HeaderMap;
use std::borrow::Cow;

/// How far the request time may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// The header carrying the request time.
pub const X_AMZ_DATE: &str = "x-amz-date";
/// The header carrying a session token.
pub const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
/// The header carrying the body's SHA-256.
pub const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// The parts of an HTTP request that SigV4 covers.
///
/// `path` and `query` are as received on the wire (still percent-encoded,
/// without the `?`); `headers` must include `host` (for HTTP/2, the
/// `:authority` copied into it). Deliberately not `Debug`: headers carry
/// credentials.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The request path, e.g. `/`.
    pub path: &'a str,
    /// The raw query string without `?`, empty if none.
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    /// The parts of an `http` request head plus its collected body.
    pub fn from_http(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body,
        }
    }
}

/// What a successful [`verify`] learned about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The request time (from `X-Amz-Date`, else `Date`), Unix seconds.
    pub amz_date_unix: i64,
    /// The `x-amz-security-token` header, if any, for the caller to check
    /// (SigV4 allows it signed or not).
    pub session_token: Option<&'a str>,
}

/// The request time, and its `YYYYMMDD'T'HHMMSS'Z'` form for the string to sign.
struct RequestTime<'h> {
    unix: i64,
    iso: Cow<'h, str>,
}

fn lossy(value: &http::HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// The request time from `X-Amz-Date`, else from `Date` (ISO 8601 basic or
/// RFC 7231 IMF-fixdate).
fn request_time<'h>(
    headers: &'h HeaderMap,
    auth: &Authorization<'_>,
) -> Result<RequestTime<'h>, SigV4Error> {
    if let Some(value) = headers.get(X_AMZ_DATE) {
        let text = value.to_str().map_err(|_| SigV4Error::InvalidDate {
            value: lossy(value),
        })?;
        let unix = parse_amz_date(text).ok_or_else(|| SigV4Error::InvalidDate {
            value: text.to_owned(),
        })?;
        return Ok(RequestTime {
            unix,
            iso: Cow::Borrowed(text),
        });
    }
    if let Some(value) = headers.get(http::header::DATE) {
        let text = value.to_str().map_err(|_| SigV4Error::InvalidDate {
            value: lossy(value),
        })?;
        if let Some(unix) = parse_amz_date(text) {
            return Ok(RequestTime {
                unix,
                iso: Cow::Borrowed(text),
            });
        }
        let unix = parse_http_date(text).ok_or_else(|| SigV4Error::InvalidDate {
            value: text.to_owned(),
        })?;
        return Ok(RequestTime {
            unix,
            iso: Cow::Owned(format_amz_date(unix)),
        });
    }
    Err(SigV4Error::MissingParameters {
        credential: false,
        signature: false,
        signed_headers: false,
        date: true,
        authorization: auth.header.to_owned(),
    })
}

/// The checks of [`verify`] that need no key, in AWS's order.
fn check<'h>(
    req: &RequestParts<'h>,
    auth: &Authorization<'_>,
    now_unix: i64,
    expected_service: &str,
) -> Result<RequestTime<'h>, SigV4Error> {
    let time = request_time(req.headers, auth)?;
    if time.unix < now_unix.saturating_sub(MAX_CLOCK_SKEW_SECS) {
        return Err(SigV4Error::SignatureExpired {
            request: time.iso.into_owned(),
            earliest: format_amz_date(now_unix.saturating_sub(MAX_CLOCK_SKEW_SECS)),
            now: format_amz_date(now_unix),
        });
    }
    if time.unix > now_unix.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request: time.iso.into_owned(),
            latest: format_amz_date(now_unix.saturating_add(MAX_CLOCK_SKEW_SECS)),
            now: format_amz_date(now_unix),
        });
    }
    if !auth.signed_headers.is_strictly_sorted() {
        let list = auth.signed_headers.as_str();
        let mut end = list.len().min(256);
        while !list.is_char_boundary(end) {
            end -= 1;
        }
        return Err(SigV4Error::SignedHeadersUnsorted {
            list: list[..end].to_owned(),
        });
    }
    if !auth.signed_headers.contains("host") {
        return Err(SigV4Error::HostNotSigned);
    }
    if auth.service != expected_service {
        return Err(SigV4Error::WrongService {
            expected: expected_service.to_owned(),
        });
    }
    let request_date = &time.iso[..8];
    if auth.date != request_date {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: auth.date.to_owned(),
            request_date: request_date.to_owned(),
            request: time.iso.into_owned(),
        });
    }
    Ok(time)
}

/// The checks of [`verify`] that need no signing key (request time, clock
/// skew, `host` signed, scope service and date), returning the request time
/// in Unix seconds. Lets a server report these before looking up the access
/// key, as AWS does; [`verify`] repeats them.
pub fn precheck(
    req: &RequestParts<'_>,
    auth: &Authorization<'_>,
    now_unix: i64,
    expected_service: &str,
) -> Result<i64, SigV4Error> {
    check(req, auth, now_unix, expected_service).map(|time| time.unix)
}

/// The payload hash for the canonical request: the body's SHA-256. A signed
/// `x-amz-content-sha256` header must say the same.
fn payload_hash(req: &RequestParts<'_>, auth: &Authorization<'_>) -> Result<[u8; 64], SigV4Error> {
    let hash = sha256_hex(req.body);
    if let Some(declared) = req.headers.get(X_AMZ_CONTENT_SHA256)
        && auth.signed_headers.contains(X_AMZ_CONTENT_SHA256)
    {
        let declared = declared.as_bytes();
        if declared == b"UNSIGNED-PAYLOAD" || declared.starts_with(b"STREAMING-") {
            return Err(SigV4Error::UnsignedPayload {
                value: String::from_utf8_lossy(declared).into_owned(),
            });
        }
        if declared != hash {
            return Err(SigV4Error::ContentSha256Mismatch);
        }
    }
    Ok(hash)
}

/// Verifies a request's SigV4 signature with the signing key derived from
/// the caller's secret for `auth`'s scope (`auth.date`, `auth.region` and
/// `expected_service`). `now_unix` is the server's clock.
///
/// See the [crate documentation](crate) for what is checked. On success,
/// returns the request time and the session token, if any.
pub fn verify<'r>(
    req: &RequestParts<'r>,
    auth: &Authorization<'_>,
    key: &SigningKey,
    now_unix: i64,
    expected_service: &str,
) -> Result<Verified<'r>, SigV4Error> {
    let time = check(req, auth, now_unix, expected_service)?;
    let payload = payload_hash(req, auth)?;
    let scope = Scope {
        date: auth.date,
        region: auth.region,
        service: auth.service,
    };
    let tag = canonical::signature(
        req,
        auth.signed_headers.iter(),
        &payload,
        &time.iso,
        &scope,
        key,
    )?;
    constant_time::verify_slices_are_equal(tag.as_ref(), &auth.signature)
        .map_err(|_| SigV4Error::SignatureDoesNotMatch)?;
    let session_token = match req.headers.get(X_AMZ_SECURITY_TOKEN) {
        Some(token) => Some(token.to_str().map_err(|_| SigV4Error::UnrecognizedClient)?),
        None => None,
    };
    Ok(Verified {
        amz_date_unix: time.unix,
        session_token,
    })
}

/// Headers [`sign`] leaves unsigned, as AWS's SDKs do: they are computed by
/// signing or may be changed by proxies.
pub const UNSIGNED_HEADERS: [&str; 4] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
];

/// Signs a request for a client: returns the `Authorization` header value.
///
/// Every header in `req.headers` is signed except [`UNSIGNED_HEADERS`], so
/// the caller puts in `host`, `x-amz-date: amz_date` and, with temporary
/// credentials, `x-amz-security-token` first. `key` must be derived for the
/// scope `(amz_date[..8], region, service)`; `amz_date` is
/// `YYYYMMDD'T'HHMMSS'Z'` (see [`format_amz_date`]). The payload hash is the
/// body's SHA-256. Allocates only the returned string (and a little for
/// requests with a query string or more than 32 headers).
pub fn sign(
    req: &RequestParts<'_>,
    access_key_id: &str,
    key: &SigningKey,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let mut out = String::new();
    sign_into(&mut out, req, access_key_id, key, region, service, amz_date);
    out
}

/// [`sign`], appending the `Authorization` header value to `out` (so a
/// caller can reuse one buffer).
pub fn sign_into(
    out: &mut String,
    req: &RequestParts<'_>,
    access_key_id: &str,
    key: &SigningKey,
    region: &str,
    service: &str,
    amz_date: &str,
) {
    const INLINE: usize = 32;
    debug_assert!(
        parse_amz_date(amz_date).is_some(),
        "amz_date must be YYYYMMDD'T'HHMMSS'Z'"
    );
    let mut inline = [""; INLINE];
    let mut spilled: Vec<&str> = Vec::new();
    let mut count = 0;
    for name in req
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| !UNSIGNED_HEADERS.contains(n))
    {
        if count < INLINE {
            inline[count] = name;
        } else {
            if spilled.is_empty() {
                spilled.extend_from_slice(&inline);
            }
            spilled.push(name);
        }
        count += 1;
    }
    let names: &mut [&str] = if spilled.is_empty() {
        &mut inline[..count]
    } else {
        &mut spilled
    };
    names.sort_unstable();

    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = Scope {
        date,
        region,
        service,
    };
    let payload = sha256_hex(req.body);
    let tag = canonical::signature(req, names.iter().copied(), &payload, amz_date, &scope, key)
        .expect("every signed header name comes from the request's own headers");
    let signature = hex64(tag.as_ref());

    let signed_len: usize = names.iter().map(|n| n.len() + 1).sum();
    out.reserve(
        ALGORITHM.len() + 64 + access_key_id.len() + region.len() + service.len() + signed_len + 80,
    );
    out.push_str(ALGORITHM);
    out.push_str(" Credential=");
    out.push_str(access_key_id);
    out.push('/');
    out.push_str(date);
    out.push('/');
    out.push_str(region);
    out.push('/');
    out.push_str(service);
    out.push_str("/aws4_request, SignedHeaders=");
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push_str(", Signature=");
    // Hex digits are ASCII.
    out.push_str(std::str::from_utf8(&signature).expect("hex is ASCII"));
}

/// Debugging aid: the canonical request, as text, that [`verify`] hashes
/// for `req` under `signed_headers` (payload hash = SHA-256 of the body).
/// Fails if a signed header is missing from the request.
pub fn canonical_request(
    req: &RequestParts<'_>,
    signed_headers: SignedHeaders<'_>,
) -> Result<String, SigV4Error> {
    let mut out = Vec::new();
    canonical::write_canonical_request(
        &mut out,
        req,
        signed_headers.iter(),
        &sha256_hex(req.body),
    )?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Debugging aid: the string to sign for a canonical request (as from
/// [`canonical_request`]) at `amz_date` in the scope `(amz_date[..8], region, service)`.
pub fn string_to_sign(
    amz_date: &str,
    region: &str,
    service: &str,
    canonical_request: &str,
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let mut out = Vec::new();
    canonical::write_string_to_sign(
        &mut out,
        amz_date,
        &Scope {
            date,
            region,
            service,
        },
        &sha256_hex(canonical_request.as_bytes()),
    );
    String::from_utf8_lossy(&out).into_owned()
}
