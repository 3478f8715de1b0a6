//! What the fuzz targets (`fuzz_targets/`) make of their input bytes, shared
//! with the seed generator (`examples/seeds.rs`), which writes seeds through
//! the inverse functions here, so the two cannot drift apart.
//!
//! Every reader is total: any bytes give some input (or `None` where the
//! server itself would refuse them before the code under test), never a
//! panic of the harness's own.

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use trent_policy::{ConditionContext, Values};
use trent_sigv4::RequestParts;
use trent_wire::Operation;

// ------------------------------------------------------------------- SigV4

/// The access key and secret of AWS's SigV4 examples and test suite: the
/// `sigv4_request` target verifies with the signing key derived from them.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
pub const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The server's clock in the `sigv4_request` target: the time of AWS's test
/// suite, so its signed requests verify.
pub const NOW: &str = "20150830T123600Z";
/// Scope services the `sigv4_request` target accepts as its own: Trent's
/// three, and the test suite's `service`. A scope naming another is checked
/// against `kms` (and fails as `WrongService`).
pub const SERVICES: [&str; 4] = ["kms", "iam", "sts", "service"];

/// An HTTP request as hyper would hand it to the server.
pub struct HttpRequest {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The parts SigV4 covers, as the server takes them
    /// ([`RequestParts::from_http`]).
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: self.method.as_str(),
            path: self.uri.path(),
            query: self.uri.query().unwrap_or(""),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// Reads a request in the HTTP/1.1 text of AWS's SigV4 test suite:
/// `METHOD TARGET [VERSION]`, header lines `Name:value` (a line starting
/// with a space or tab continues the value before it), an empty line, the
/// body. Line ends may be `\n` or `\r\n`.
///
/// `None` when hyper would refuse the request line (a method or target that
/// `http` does not parse); a header line whose name or value `http` refuses
/// is left out.
pub fn http_request(data: &[u8]) -> Option<HttpRequest> {
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    let body = loop {
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line = strip_cr(&rest[..end]);
                rest = &rest[end + 1..];
                if line.is_empty() {
                    break rest;
                }
                lines.push(line);
            }
            None => {
                lines.push(strip_cr(rest));
                break &[][..];
            }
        }
    };
    let (request_line, header_lines) = lines.split_first()?;
    let mut words = request_line.split(|&b| b == b' ');
    let method = http::Method::from_bytes(words.next()?).ok()?;
    let uri = http::Uri::try_from(words.next()?).ok()?;

    let mut fields: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for line in header_lines {
        if let [b' ' | b'\t', ..] = line {
            if let Some((_, value)) = fields.last_mut() {
                value.push(b' ');
                value.extend_from_slice(trim(line));
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            fields.push((&line[..colon], trim(&line[colon + 1..]).to_vec()));
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    Some(HttpRequest {
        method,
        uri,
        headers,
        body: body.to_vec(),
    })
}

/// The text [`http_request`] reads: `METHOD TARGET HTTP/1.1`, the headers
/// in `headers`' order, an empty line, the body.
pub fn http_text(method: &str, target: &str, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

// ------------------------------------------------------------------- blobs

/// The key the `blob` target opens every blob with, and the seeds are
/// sealed under. Not a secret.
pub const BLOB_KEY: [u8; 32] = *b"trent fuzz blob key, not secret!";

/// Reads `[n][n bytes of encryption context][blob]`: the context as lines
/// `key=value` (invalid UTF-8 replaced), the rest the ciphertext blob.
pub fn blob_input(data: &[u8]) -> (BTreeMap<String, String>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (BTreeMap::new(), data);
    };
    let (context, blob) = rest.split_at(usize::from(n).min(rest.len()));
    let context = String::from_utf8_lossy(context)
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    (context, blob)
}

/// The input [`blob_input`] reads as `context` and `blob`. The context's
/// keys must not hold `=` or a newline, its values no newline, and its
/// text must fit in 255 bytes.
pub fn blob_seed(context: &BTreeMap<String, String>, blob: &[u8]) -> Vec<u8> {
    let text: String = context.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let n = u8::try_from(text.len()).expect("a seed's context fits in 255 bytes");
    let mut out = vec![n];
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(blob);
    out
}

// ------------------------------------------------------------ KMS requests

/// Reads `[operation][body]`: the first byte picks the operation (an index
/// into [`Operation::ALL`], modulo its length), the rest is the JSON body.
pub fn kms_request(data: &[u8]) -> Option<(Operation, &[u8])> {
    let (&pick, body) = data.split_first()?;
    Some((
        Operation::ALL[usize::from(pick) % Operation::ALL.len()],
        body,
    ))
}

/// The input [`kms_request`] reads as `op` and `body`.
pub fn kms_seed(op: Operation, body: &[u8]) -> Vec<u8> {
    let index = Operation::ALL
        .iter()
        .position(|o| *o == op)
        .expect("an operation of the model");
    let mut out = vec![u8::try_from(index).expect("fewer than 256 operations")];
    out.extend_from_slice(body);
    out
}

// ---------------------------------------------------------------- policies

/// The caller and key of a policy input without `@` lines, as in
/// `trent-policy`'s tests.
pub const ACCOUNT: &str = "111122223333";
pub const USER: &str = "arn:aws:iam::111122223333:user/alice";
pub const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A policy document with a request to evaluate against it.
pub struct PolicyInput<'a> {
    pub document: Cow<'a, str>,
    pub action: String,
    pub resource: String,
    pub principal_arn: String,
    pub account: String,
    pub context: Context,
}

/// Reads `document NUL lines`: the policy document (invalid UTF-8
/// replaced), then lines `name=value`. `@action`, `@resource`, `@principal`
/// and `@account` set the request (defaults: `kms:Encrypt` on [`KEY`] by
/// [`USER`] of [`ACCOUNT`]); any other name is a condition key, one value
/// per line (a key given once has one value, [`Values::One`]; given several
/// times, [`Values::Many`]; `name` without `=` gives it no value, an empty
/// [`Values::Many`]).
pub fn policy_input(data: &[u8]) -> PolicyInput<'_> {
    let (document, request) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let mut input = PolicyInput {
        document: String::from_utf8_lossy(document),
        action: "kms:Encrypt".to_owned(),
        resource: KEY.to_owned(),
        principal_arn: USER.to_owned(),
        account: ACCOUNT.to_owned(),
        context: Context::default(),
    };
    for line in String::from_utf8_lossy(request).split('\n') {
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (line, None),
        };
        let value = value.map(str::to_owned);
        match (name, value) {
            ("", _) => {}
            ("@action", Some(v)) => input.action = v,
            ("@resource", Some(v)) => input.resource = v,
            ("@principal", Some(v)) => input.principal_arn = v,
            ("@account", Some(v)) => input.account = v,
            (key, value) => input.context.add(key, value),
        }
    }
    input
}

/// The input [`policy_input`] reads as `document` and the request `lines`
/// (`name=value` each).
pub fn policy_seed(document: &str, lines: &[&str]) -> Vec<u8> {
    let mut out = document.as_bytes().to_vec();
    if !lines.is_empty() {
        out.push(0);
        out.extend_from_slice(lines.join("\n").as_bytes());
    }
    out
}

/// Condition keys and their values, looked up ASCII case-insensitively.
#[derive(Debug, Default)]
pub struct Context(Vec<(String, Vec<String>)>);

impl Context {
    fn add(&mut self, key: &str, value: Option<String>) {
        let index = match self.0.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(index) => index,
            None => {
                self.0.push((key.to_owned(), Vec::new()));
                self.0.len() - 1
            }
        };
        self.0[index].1.extend(value);
    }
}

impl ConditionContext for Context {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        // trent-policy's contract with Trent's own contexts.
        assert!(
            !key.bytes().any(|b| b.is_ascii_uppercase()),
            "condition key {key:?} did not arrive lowercased"
        );
        let (_, values) = self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
        Some(match values.as_slice() {
            [one] => Values::One(one),
            many => Values::Many(many.iter().map(|v| Cow::Borrowed(v.as_str())).collect()),
        })
    }
}
