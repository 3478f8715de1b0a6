//! AWS's published SigV4 test vectors (see `aws-sig-v4-test-suite/README.md`):
//! for each case, our canonical request, string to sign and signature must be
//! AWS's, `verify` must accept AWS's signed request, and `sign` must produce
//! AWS's `Authorization` header.

use http::{HeaderMap, HeaderName, HeaderValue};
use std::path::{Path, PathBuf};
use trent_sigv4::{
    RequestParts, SigV4Error, SigningKey, canonical_request, parse_amz_date, parse_authorization,
    sign, string_to_sign, verify,
};

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20150830T123600Z";
const REGION: &str = "us-east-1";
const SERVICE: &str = "service";

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws-sig-v4-test-suite")
}

fn read(case: &str, file: &str) -> String {
    let path = suite().join(case).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request parsed from the suite's HTTP/1.1 text.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Request {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(byte) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Parses `METHOD target [HTTP/1.1]`, headers (obsolete line folding joined
/// with a space, values trimmed as an HTTP server does) and the body after
/// the blank line.
fn parse_request(text: &str) -> Request {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, target) = request_line.split_once(' ').unwrap();
    let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = &mut fields.last_mut().unwrap().1;
            last.push(' ');
            last.push_str(line.trim());
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// The cases of the current (CRT) suite, which have a `context.json`.
fn crt_cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(suite())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("context.json").exists())
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    cases.sort();
    cases
}

fn check_crt_case(case: &str) {
    let context = read(case, "context.json");
    assert!(
        context.contains("\"normalize\": true"),
        "{case}: only normalized cases are kept"
    );
    assert!(
        context.contains("\"timestamp\": \"2015-08-30T12:36:00Z\""),
        "{case}"
    );

    let mut req = parse_request(&read(case, "header-signed-request.txt"));
    // The CRT suite encodes the *decoded* path once (its request texts carry
    // `%20` or raw UTF-8 for the same thing); the server, like every SDK for
    // services other than S3, encodes the path as sent once more. Feeding the
    // decoded path makes the two agree.
    req.path = percent_decode(&req.path);

    let header = req
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let auth = parse_authorization(&header).unwrap();
    let expected_signature = read(case, "header-signature.txt");
    assert_eq!(
        hex::encode(auth.signature),
        expected_signature.trim(),
        "{case}: signature in the signed request"
    );

    let creq = canonical_request(&req.parts(), auth.signed_headers).unwrap();
    assert_eq!(
        creq,
        read(case, "header-canonical-request.txt").trim_end_matches('\n'),
        "{case}: canonical request"
    );
    let sts = string_to_sign(AMZ_DATE, REGION, SERVICE, &creq);
    assert_eq!(
        sts,
        read(case, "header-string-to-sign.txt").trim_end_matches('\n'),
        "{case}: string to sign"
    );

    let key = SigningKey::derive(SECRET, auth.date, auth.region, SERVICE);
    let now = parse_amz_date(AMZ_DATE).unwrap() + 300;
    let verified =
        verify(&req.parts(), &auth, &key, now, SERVICE).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(verified.amz_date_unix, now - 300);
    let token = req
        .headers
        .get("x-amz-security-token")
        .map(|t| t.to_str().unwrap());
    assert_eq!(verified.session_token, token, "{case}: session token");

    // A wrong signature is rejected.
    let mut bad = auth.clone();
    bad.signature[31] ^= 1;
    assert_eq!(
        verify(&req.parts(), &bad, &key, now, SERVICE),
        Err(SigV4Error::SignatureDoesNotMatch),
        "{case}"
    );

    // Signing the request without its Authorization (and without a session
    // token that AWS left unsigned) gives AWS's header, byte for byte.
    req.headers.remove("authorization");
    if !auth.signed_headers.contains("x-amz-security-token") {
        req.headers.remove("x-amz-security-token");
    }
    let key = SigningKey::derive(SECRET, "20150830", REGION, SERVICE);
    assert_eq!(
        sign(&req.parts(), ACCESS_KEY_ID, &key, REGION, SERVICE, AMZ_DATE),
        header,
        "{case}: sign"
    );
}

#[test]
fn aws_test_suite() {
    let cases = crt_cases();
    assert!(cases.len() >= 30, "test vectors missing: {cases:?}");
    for case in &cases {
        check_crt_case(case);
    }
    eprintln!("checked {} AWS SigV4 test-suite cases", cases.len());
}

#[test]
fn named_vectors() {
    // The ones everybody knows, spelled out.
    for (case, signature) in [
        (
            "get-vanilla",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "post-vanilla",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "get-vanilla-query-order-key-case",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "get-vanilla-with-session-token",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        ),
        (
            "post-x-www-form-urlencoded",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        ),
    ] {
        assert_eq!(read(case, "header-signature.txt").trim(), signature);
        let req = parse_request(&read(case, "request.txt"));
        let mut headers = req.headers.clone();
        headers.insert("x-amz-date", HeaderValue::from_static(AMZ_DATE));
        if case == "get-vanilla-with-session-token" {
            headers.insert(
                "x-amz-security-token",
                HeaderValue::from_static(
                    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
                ),
            );
        }
        if case == "post-x-www-form-urlencoded" {
            headers.insert(
                "x-amz-content-sha256",
                HeaderValue::from_static(
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                ),
            );
        }
        let parts = RequestParts {
            headers: &headers,
            ..req.parts()
        };
        let key = SigningKey::derive(SECRET, "20150830", REGION, SERVICE);
        let header = sign(&parts, ACCESS_KEY_ID, &key, REGION, SERVICE, AMZ_DATE);
        assert!(
            header.ends_with(&format!("Signature={signature}")),
            "{case}: {header}"
        );
    }
}

/// The two cases of the older suite that pin the non-S3 double encoding of
/// paths that are already percent-encoded on the wire.
#[test]
fn double_encoded_paths() {
    for (case, region, service) in [
        ("double-url-encode", "us-east-2", "lambda"),
        ("double-encode-path", "us-east-1", "service"),
    ] {
        let expected = read(case, "header-canonical-request.txt");
        let amz_date = expected
            .lines()
            .find_map(|l| l.strip_prefix("x-amz-date:"))
            .unwrap();
        let mut req = parse_request(&read(case, "request.txt"));
        req.headers.remove("x-amz-date");
        req.headers
            .insert("x-amz-date", HeaderValue::from_str(amz_date).unwrap());
        let signed = trent_sigv4::SignedHeaders::new("host;x-amz-date");
        let creq = canonical_request(&req.parts(), signed).unwrap();
        assert_eq!(creq, expected.trim_end_matches('\n'), "{case}");
        if case == "double-url-encode" {
            let sts = string_to_sign(amz_date, region, service, &creq);
            assert_eq!(
                sts,
                read(case, "header-string-to-sign.txt").trim_end_matches('\n')
            );
            // And its signed request verifies.
            let signed = parse_request(&read(case, "header-signed-request.txt"));
            let header = signed
                .headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap();
            let auth = parse_authorization(header).unwrap();
            let key = SigningKey::derive(SECRET, auth.date, auth.region, service);
            let now = parse_amz_date(amz_date).unwrap();
            verify(&signed.parts(), &auth, &key, now, service).unwrap();
        }
    }
}
