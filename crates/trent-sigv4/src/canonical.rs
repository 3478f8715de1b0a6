//! The canonical request and string to sign, shared by signing and
//! verification. Both are streamed into their hash (or HMAC) through a small
//! buffer, so neither is built as a string except for debugging.

use crate::{RequestParts, SigV4Error, SigningKey, authz::ALGORITHM};
use aws_lc_rs::{digest, hmac};

/// Where canonical bytes go: a hash, an HMAC, or (for debugging) a buffer.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A hash or MAC context that absorbs bytes.
pub(crate) trait Absorb {
    fn absorb(&mut self, bytes: &[u8]);
}

impl Absorb for digest::Context {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Absorb for hmac::Context {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

const BUFFER: usize = 256;

/// Batches the many small pieces of a canonical request into fewer calls
/// into the hash implementation.
pub(crate) struct Buffered<A: Absorb> {
    inner: A,
    buf: [u8; BUFFER],
    len: usize,
}

impl<A: Absorb> Buffered<A> {
    pub(crate) fn new(inner: A) -> Self {
        Buffered {
            inner,
            buf: [0; BUFFER],
            len: 0,
        }
    }

    pub(crate) fn into_inner(mut self) -> A {
        self.flush();
        self.inner
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.inner.absorb(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<A: Absorb> Sink for Buffered<A> {
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > BUFFER {
            self.flush();
            if bytes.len() >= BUFFER {
                self.inner.absorb(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// Lowercase hex of SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> [u8; 64] {
    hex64(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// Lowercase hex of a 32-byte value.
pub(crate) fn hex64(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // Infallible: 32 bytes always fill 64 hex digits.
    hex::encode_to_slice(bytes, &mut out).expect("32 bytes encode to 64 hex digits");
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved characters: the only ones SigV4 leaves unencoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Writes `bytes` URI-encoded the SigV4 way: everything but unreserved
/// characters (and `/` if `keep_slash`) as `%XX`, uppercase hex.
fn put_encoded<S: Sink>(s: &mut S, bytes: &[u8], keep_slash: bool) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            continue;
        }
        if start < i {
            s.put(&bytes[start..i]);
        }
        s.put(&[
            b'%',
            HEX_UPPER[usize::from(b >> 4)],
            HEX_UPPER[usize::from(b & 15)],
        ]);
        start = i + 1;
    }
    if start < bytes.len() {
        s.put(&bytes[start..]);
    }
}

/// Writes the canonical URI of a request path as AWS does for every service
/// but S3: the path as sent (already percent-encoded), with empty and `.`
/// segments removed and `..` segments applied (RFC 3986 §5.2.4), then
/// URI-encoded again, so `%` becomes `%25` ("double encoding"). An empty
/// path is `/`.
pub(crate) fn put_canonical_path<S: Sink>(s: &mut S, path: &str) {
    if path.is_empty() {
        s.put(b"/");
        return;
    }
    let prefixed;
    let path = if path.starts_with('/') {
        path
    } else {
        prefixed = format!("/{path}");
        prefixed.as_str()
    };
    if !path.contains('.') && !path.contains("//") {
        put_encoded(s, path.as_bytes(), true);
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    for segment in &segments {
        s.put(b"/");
        put_encoded(s, segment.as_bytes(), false);
    }
    let trailing = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|end| path.ends_with(end));
    if segments.is_empty() || trailing {
        s.put(b"/");
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a query-string key or value as `application/x-www-form-urlencoded`
/// (`+` is a space, `%XX` a byte, a malformed escape stays literal, invalid
/// UTF-8 becomes U+FFFD, as the AWS SDKs decode) and encodes it again the
/// SigV4 way.
fn reencode_query_component(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    if !b.iter().any(|&c| c == b'+' || c == b'%') {
        put_encoded(&mut out, b, false);
    } else {
        let mut decoded = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let (byte, step) = match b[i] {
                b'+' => (b' ', 1),
                b'%' => match (
                    b.get(i + 1).copied().and_then(hex_value),
                    b.get(i + 2).copied().and_then(hex_value),
                ) {
                    (Some(hi), Some(lo)) => (hi << 4 | lo, 3),
                    _ => (b'%', 1),
                },
                other => (other, 1),
            };
            decoded.push(byte);
            i += step;
        }
        put_encoded(
            &mut out,
            String::from_utf8_lossy(&decoded).as_bytes(),
            false,
        );
    }
    // Only ASCII was written.
    String::from_utf8(out).expect("percent-encoding yields ASCII")
}

/// Writes the canonical query string: each `key=value` pair of the raw
/// query decoded and re-encoded, sorted by encoded key then value, joined by
/// `&`; a key without `=` gets an empty value.
pub(crate) fn put_canonical_query<S: Sink>(s: &mut S, query: &str) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            (reencode_query_component(k), reencode_query_component(v))
        })
        .collect();
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.put(b"&");
        }
        s.put(k.as_bytes());
        s.put(b"=");
        s.put(v.as_bytes());
    }
}

/// Writes a header value trimmed of spaces at both ends, with inner runs of
/// spaces collapsed to one (SigV4's "Trimall"; as AWS's SDKs, only spaces).
fn put_trimmed<S: Sink>(s: &mut S, value: &[u8]) {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    let v = &value[start..end];
    let (mut from, mut i) = (0, 0);
    while i < v.len() {
        if v[i] == b' ' && v.get(i + 1) == Some(&b' ') {
            s.put(&v[from..=i]);
            // `v` does not end with a space, so this stops inside it.
            while v[i] == b' ' {
                i += 1;
            }
            from = i;
        } else {
            i += 1;
        }
    }
    s.put(&v[from..]);
}

/// Writes a header name in lowercase.
fn put_lowercase<S: Sink>(s: &mut S, name: &str) {
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        s.put(name.as_bytes());
        return;
    }
    let mut chunk = [0u8; 64];
    for piece in name.as_bytes().chunks(chunk.len()) {
        let out = &mut chunk[..piece.len()];
        out.copy_from_slice(piece);
        out.make_ascii_lowercase();
        s.put(out);
    }
}

/// Writes the canonical request:
///
/// ```text
/// METHOD\n
/// canonical path\n
/// canonical query\n
/// name:values\n   (one line per signed header, in the order given)
/// \n
/// signed;header;names\n
/// payload hash (hex)
/// ```
///
/// A header's values are trimmed and joined by `,` in the order received.
/// Fails only when a named header is absent from the request.
pub(crate) fn write_canonical_request<'n, S, I>(
    s: &mut S,
    req: &RequestParts<'_>,
    signed_headers: I,
    payload_hash_hex: &[u8; 64],
) -> Result<(), SigV4Error>
where
    S: Sink,
    I: Iterator<Item = &'n str> + Clone,
{
    s.put(req.method.as_bytes());
    s.put(b"\n");
    put_canonical_path(s, req.path);
    s.put(b"\n");
    put_canonical_query(s, req.query);
    s.put(b"\n");
    for name in signed_headers.clone() {
        let mut values = req.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Err(SigV4Error::SignedHeaderMissing {
                name: name.to_owned(),
            });
        };
        put_lowercase(s, name);
        s.put(b":");
        put_trimmed(s, first.as_bytes());
        for value in values {
            s.put(b",");
            put_trimmed(s, value.as_bytes());
        }
        s.put(b"\n");
    }
    s.put(b"\n");
    for (i, name) in signed_headers.enumerate() {
        if i > 0 {
            s.put(b";");
        }
        put_lowercase(s, name);
    }
    s.put(b"\n");
    s.put(payload_hash_hex);
    Ok(())
}

/// The scope pieces that go into the string to sign.
pub(crate) struct Scope<'a> {
    pub(crate) date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// Writes the string to sign:
/// `AWS4-HMAC-SHA256\n<amz date>\n<date>/<region>/<service>/aws4_request\n<hex SHA-256 of the canonical request>`.
pub(crate) fn write_string_to_sign<S: Sink>(
    s: &mut S,
    amz_date: &str,
    scope: &Scope<'_>,
    canonical_request_hash_hex: &[u8; 64],
) {
    s.put(ALGORITHM.as_bytes());
    s.put(b"\n");
    s.put(amz_date.as_bytes());
    s.put(b"\n");
    s.put(scope.date.as_bytes());
    s.put(b"/");
    s.put(scope.region.as_bytes());
    s.put(b"/");
    s.put(scope.service.as_bytes());
    s.put(b"/aws4_request\n");
    s.put(canonical_request_hash_hex);
}

/// Hashes the canonical request and signs the string to sign: the signature.
pub(crate) fn signature<'n, I>(
    req: &RequestParts<'_>,
    signed_headers: I,
    payload_hash_hex: &[u8; 64],
    amz_date: &str,
    scope: &Scope<'_>,
    key: &SigningKey,
) -> Result<hmac::Tag, SigV4Error>
where
    I: Iterator<Item = &'n str> + Clone,
{
    let mut creq = Buffered::new(digest::Context::new(&digest::SHA256));
    write_canonical_request(&mut creq, req, signed_headers, payload_hash_hex)?;
    let creq_hash = hex64(creq.into_inner().finish().as_ref());
    let mut sts = Buffered::new(hmac::Context::with_key(&key.hmac_key()));
    write_string_to_sign(&mut sts, amz_date, scope, &creq_hash);
    Ok(sts.into_inner().sign())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> String {
        let mut out = Vec::new();
        put_canonical_path(&mut out, p);
        String::from_utf8(out).unwrap()
    }

    fn query(q: &str) -> String {
        let mut out = Vec::new();
        put_canonical_query(&mut out, q);
        String::from_utf8(out).unwrap()
    }

    fn trimmed(v: &str) -> String {
        let mut out = Vec::new();
        put_trimmed(&mut out, v.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(path(""), "/");
        assert_eq!(path("/"), "/");
        assert_eq!(path("foo"), "/foo");
        assert_eq!(path("/foo/bar/"), "/foo/bar/");
        assert_eq!(path("//example//"), "/example/");
        assert_eq!(path("/example1/example2/../.."), "/");
        assert_eq!(path("/example/.."), "/");
        assert_eq!(path("/./example"), "/example");
        assert_eq!(path("/foo/bar/."), "/foo/bar/");
        assert_eq!(path("/../foo"), "/foo");
        assert_eq!(path("./"), "/");
        assert_eq!(path("/a.b/c"), "/a.b/c");
        // Double encoding of an already-encoded path.
        assert_eq!(path("/example%20space/"), "/example%2520space/");
        assert_eq!(
            path("/test/@connections/JBDvjfGEIAMCERw%3D"),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
        assert_eq!(path("/ሴ"), "/%E1%88%B4");
        assert_eq!(path("/-._~AZaz09"), "/-._~AZaz09");
    }

    #[test]
    fn queries() {
        assert_eq!(query(""), "");
        assert_eq!(
            query("Param2=value2&Param1=value1"),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(query("a=1&a=0&b"), "a=0&a=1&b=");
        assert_eq!(query("k=a+b%20c&&x=%2f%zz"), "k=a%20b%20c&x=%2F%25zz");
        assert_eq!(query("ሴ=bar"), "%E1%88%B4=bar");
        assert_eq!(query("x=a=b"), "x=a%3Db");
        assert_eq!(query("%80=%E1%88"), "%EF%BF%BD=%EF%BF%BD");
    }

    #[test]
    fn header_values() {
        assert_eq!(trimmed("value1"), "value1");
        assert_eq!(trimmed("  \"a   b   c\"  "), "\"a b c\"");
        assert_eq!(trimmed("a b  c   d"), "a b c d");
        assert_eq!(trimmed("   "), "");
        assert_eq!(trimmed(""), "");
        assert_eq!(trimmed("a\t b"), "a\t b");
    }

    #[test]
    fn buffered_sink_equals_direct() {
        let mut pieces = Vec::new();
        for n in [0usize, 1, 100, 255, 256, 257, 1000, 3] {
            pieces.push(vec![b'x'; n]);
        }
        let mut buffered = Buffered::new(digest::Context::new(&digest::SHA256));
        let mut all = Vec::new();
        for p in &pieces {
            buffered.put(p);
            all.extend_from_slice(p);
        }
        assert_eq!(
            buffered.into_inner().finish().as_ref(),
            digest::digest(&digest::SHA256, &all).as_ref()
        );
    }
}
