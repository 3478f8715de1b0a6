//! `aws-sigv4` (the AWS SDK for Rust's signer) as an oracle: what it signs,
//! `verify` accepts; what `sign` produces, it produces; and tampered or
//! out-of-scope requests are rejected with AWS's error codes.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningParams, SigningSettings,
    sign as aws_sign,
};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use trent_sigv4::{
    RequestParts, SigV4Error, SigningKey, Verified, format_amz_date, parse_amz_date,
    parse_authorization, parse_request_authorization, precheck, sign, verify,
};

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "127.0.0.1:4599";
const REGION: &str = "us-east-1";
const SERVICE: &str = "kms";
/// 2015-08-30T12:36:00Z
const T0: i64 = 1_440_938_160;

/// A request signed by aws-sigv4, as the server would receive it.
struct Signed {
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The signature aws-sigv4 reported.
    signature: String,
}

impl Signed {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: "POST",
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn authorization(&self) -> &str {
        self.headers.get("authorization").unwrap().to_str().unwrap()
    }

    /// Our verdict with a key derived the way the server does (its own
    /// service, the scope's date and region).
    fn verify_at(&self, now: i64) -> Result<Verified<'_>, SigV4Error> {
        self.verify_with(SECRET, now)
    }

    fn verify_with(&self, secret: &str, now: i64) -> Result<Verified<'_>, SigV4Error> {
        let auth = parse_request_authorization(&self.headers)?;
        let key = SigningKey::derive(secret.as_bytes(), auth.date, auth.region, SERVICE);
        verify(&self.parts(), &auth, &key, now, SERVICE)
    }
}

struct Options<'a> {
    path_and_query: &'a str,
    region: &'a str,
    service: &'a str,
    token: Option<&'a str>,
    time: i64,
    content_sha256: bool,
    unsigned_payload: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            path_and_query: "/",
            region: REGION,
            service: SERVICE,
            token: None,
            time: T0,
            content_sha256: false,
            unsigned_payload: false,
        }
    }
}

fn kms_headers(target: &str) -> Vec<(&'static str, String)> {
    vec![
        ("host", HOST.to_owned()),
        ("content-type", "application/x-amz-json-1.1".to_owned()),
        ("x-amz-target", format!("TrentService.{target}")),
    ]
}

/// Signs a POST with aws-sigv4 and returns the request with its signing
/// headers (x-amz-date, authorization, x-amz-security-token) applied.
fn aws_signed(headers: &[(&str, String)], body: &[u8], opts: &Options<'_>) -> Signed {
    let identity = Credentials::new(
        ACCESS_KEY_ID,
        SECRET,
        opts.token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    if opts.content_sha256 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(opts.region)
        .name(opts.service)
        .time(UNIX_EPOCH + Duration::from_secs(opts.time as u64))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = format!("http://{HOST}{}", opts.path_and_query);
    let signable_body = if opts.unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(body)
    };
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        signable_body,
    )
    .unwrap();
    let (instructions, signature) = aws_sign(signable, &params).unwrap().into_parts();
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    for (name, value) in instructions.headers() {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let parsed: http::Uri = uri.parse().unwrap();
    Signed {
        path: parsed.path().to_owned(),
        query: parsed.query().unwrap_or("").to_owned(),
        headers: map,
        body: body.to_vec(),
        signature,
    }
}

fn encrypt_body() -> Vec<u8> {
    br#"{"KeyId":"alias/trent","Plaintext":"aGVsbG8gd29ybGQ=","EncryptionContext":{"purpose":"test"}}"#.to_vec()
}

fn signed_encrypt(opts: &Options<'_>) -> Signed {
    aws_signed(&kms_headers("Encrypt"), &encrypt_body(), opts)
}

/// Our signature of the same request (without its Authorization header).
fn our_authorization(s: &Signed, region: &str, service: &str, time: i64) -> String {
    let mut headers = s.headers.clone();
    headers.remove("authorization");
    let amz_date = format_amz_date(time);
    let key = SigningKey::derive(SECRET.as_bytes(), &amz_date[..8], region, service);
    let parts = RequestParts {
        headers: &headers,
        ..s.parts()
    };
    sign(&parts, ACCESS_KEY_ID, &key, region, service, &amz_date)
}

#[test]
fn accepts_aws_sigv4_requests_and_signs_the_same() {
    for token in [None, Some("FwoGZXIvYXdzEBYaDH+token/with=chars")] {
        let s = signed_encrypt(&Options {
            token,
            ..Options::default()
        });
        let verified = s.verify_at(T0 + 30).unwrap();
        assert_eq!(
            verified,
            Verified {
                amz_date_unix: T0,
                session_token: token
            }
        );
        assert_eq!(
            our_authorization(&s, REGION, SERVICE, T0),
            s.authorization()
        );
        assert!(
            s.authorization()
                .ends_with(&format!("Signature={}", s.signature))
        );
        let signed_headers = parse_authorization(s.authorization())
            .unwrap()
            .signed_headers
            .as_str()
            .to_owned();
        let expected = if token.is_some() {
            "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        } else {
            "content-type;host;x-amz-date;x-amz-target"
        };
        assert_eq!(signed_headers, expected);
    }
}

#[test]
fn our_signatures_verify() {
    let mut headers = HeaderMap::new();
    for (name, value) in kms_headers("GenerateDataKey") {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    headers.insert("user-agent", HeaderValue::from_static("trent-bench/0.1"));
    let body = br#"{"KeyId":"alias/trent","KeySpec":"AES_256"}"#;
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let key = SigningKey::derive(SECRET.as_bytes(), "20150830", REGION, SERVICE);
    let mut header = String::from("stale");
    header.clear();
    trent_sigv4::sign_into(
        &mut header,
        &req,
        ACCESS_KEY_ID,
        &key,
        REGION,
        SERVICE,
        "20150830T123600Z",
    );
    assert!(
        !header.contains("user-agent"),
        "user-agent is not signed: {header}"
    );
    let auth = parse_authorization(&header).unwrap();
    assert_eq!(
        verify(&req, &auth, &key, T0, SERVICE)
            .unwrap()
            .amz_date_unix,
        T0
    );
    // A proxy may change the user agent.
    headers.insert("user-agent", HeaderValue::from_static("other"));
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    assert!(verify(&req, &auth, &key, T0, SERVICE).is_ok());
}

#[test]
fn tampering_is_rejected() {
    let s = signed_encrypt(&Options {
        token: Some("session"),
        ..Options::default()
    });
    assert!(s.verify_at(T0).is_ok());

    // A flipped body byte.
    for i in [0, 17, s.body.len() - 1] {
        let mut t = signed_encrypt(&Options {
            token: Some("session"),
            ..Options::default()
        });
        t.body[i] ^= 0x20;
        assert_eq!(
            t.verify_at(T0),
            Err(SigV4Error::SignatureDoesNotMatch),
            "byte {i}"
        );
    }
    // A changed signed header (operation, host, token).
    for (name, value) in [
        ("x-amz-target", "TrentService.Decrypt"),
        ("host", "127.0.0.1:4600"),
        ("x-amz-security-token", "other"),
    ] {
        let mut t = signed_encrypt(&Options {
            token: Some("session"),
            ..Options::default()
        });
        t.headers.insert(name, HeaderValue::from_static(value));
        let e = t.verify_at(T0).unwrap_err();
        assert_eq!(e, SigV4Error::SignatureDoesNotMatch, "{name}");
        assert_eq!(e.code(), "InvalidSignatureException");
        assert_eq!(
            e.to_string(),
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
             Access Key and signing method. Consult the service documentation for details."
        );
    }
    // A second value for a signed header.
    let mut t = signed_encrypt(&Options::default());
    t.headers.append(
        "x-amz-target",
        HeaderValue::from_static("TrentService.Decrypt"),
    );
    assert_eq!(t.verify_at(T0), Err(SigV4Error::SignatureDoesNotMatch));
    // Path and query are covered.
    let mut t = signed_encrypt(&Options::default());
    t.path = "/x".into();
    assert_eq!(t.verify_at(T0), Err(SigV4Error::SignatureDoesNotMatch));
    let mut t = signed_encrypt(&Options::default());
    t.query = "a=b".into();
    assert_eq!(t.verify_at(T0), Err(SigV4Error::SignatureDoesNotMatch));
    // An unsigned header may be added.
    let mut t = signed_encrypt(&Options::default());
    t.headers
        .insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    assert!(t.verify_at(T0).is_ok());
    // A signed header removed.
    let mut t = signed_encrypt(&Options::default());
    t.headers.remove("content-type");
    let e = t.verify_at(T0).unwrap_err();
    assert_eq!(
        e,
        SigV4Error::SignedHeaderMissing {
            name: "content-type".into()
        }
    );
    assert_eq!(e.code(), "InvalidSignatureException");
}

#[test]
fn another_secret_is_rejected() {
    let s = signed_encrypt(&Options::default());
    let e = s
        .verify_with("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", T0)
        .unwrap_err();
    assert_eq!(e, SigV4Error::SignatureDoesNotMatch);
    assert_eq!(e.code(), "InvalidSignatureException");
}

#[test]
fn another_region_is_rejected() {
    let s = signed_encrypt(&Options {
        region: "eu-west-1",
        ..Options::default()
    });
    let auth = parse_request_authorization(&s.headers).unwrap();
    // A server that serves us-east-1 only says so...
    let e = auth.check_region(REGION).unwrap_err();
    assert_eq!(e.code(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
    // ...and a key derived for its own region cannot verify the request.
    let key = SigningKey::derive(SECRET.as_bytes(), auth.date, REGION, SERVICE);
    assert_eq!(
        verify(&s.parts(), &auth, &key, T0, SERVICE),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    // A server serving every region derives from the scope and accepts it.
    assert!(s.verify_at(T0).is_ok());
    assert_eq!(
        our_authorization(&s, "eu-west-1", SERVICE, T0),
        s.authorization()
    );
}

#[test]
fn another_service_is_rejected() {
    let s = signed_encrypt(&Options {
        service: "dynamodb",
        ..Options::default()
    });
    let e = s.verify_at(T0).unwrap_err();
    assert_eq!(
        e,
        SigV4Error::WrongService {
            expected: "kms".into()
        }
    );
    assert_eq!(e.code(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "Credential should be scoped to correct service: 'kms'. "
    );
}

#[test]
fn clock_skew_window() {
    let s = signed_encrypt(&Options::default());
    assert!(s.verify_at(T0 + 900).is_ok());
    assert!(s.verify_at(T0 - 900).is_ok());

    let e = s.verify_at(T0 + 20 * 60).unwrap_err();
    assert_eq!(e.code(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T125600Z - 15 min.)"
    );
    assert!(matches!(
        s.verify_at(T0 + 901),
        Err(SigV4Error::SignatureExpired { .. })
    ));

    let e = s.verify_at(T0 - 20 * 60).unwrap_err();
    assert_eq!(e.code(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z (20150830T121600Z + 15 min.)"
    );
    assert!(matches!(
        s.verify_at(T0 - 901),
        Err(SigV4Error::SignatureNotYetCurrent { .. })
    ));

    // precheck reports the same without a key.
    let auth = parse_request_authorization(&s.headers).unwrap();
    assert_eq!(precheck(&s.parts(), &auth, T0, SERVICE), Ok(T0));
    assert!(matches!(
        precheck(&s.parts(), &auth, T0 + 901, SERVICE),
        Err(SigV4Error::SignatureExpired { .. })
    ));
}

#[test]
fn scope_date_must_be_the_request_day() {
    // Signed one second before midnight; the date header then moved past it.
    let t = parse_amz_date("20150830T235959Z").unwrap();
    let mut s = signed_encrypt(&Options {
        time: t,
        ..Options::default()
    });
    assert!(s.verify_at(t).is_ok());
    s.headers
        .insert("x-amz-date", HeaderValue::from_static("20150831T000001Z"));
    let e = s.verify_at(t).unwrap_err();
    assert_eq!(e.code(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150830' != \
         '20150831', from '20150831T000001Z'."
    );
}

#[test]
fn request_dates() {
    // No date at all.
    let mut s = signed_encrypt(&Options::default());
    s.headers.remove("x-amz-date");
    let e = s.verify_at(T0).unwrap_err();
    assert_eq!(e.code(), "IncompleteSignatureException");
    assert_eq!(
        e.to_string(),
        format!(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={}",
            s.authorization()
        )
    );
    // A malformed one.
    let mut s = signed_encrypt(&Options::default());
    s.headers.insert(
        "x-amz-date",
        HeaderValue::from_static("2015-08-30T12:36:00Z"),
    );
    let e = s.verify_at(T0).unwrap_err();
    assert_eq!(e.code(), "IncompleteSignatureException");
    assert_eq!(
        e.to_string(),
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
    // Signed with a Date header (RFC 7231) and no x-amz-date.
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static(HOST));
    headers.insert(
        "date",
        HeaderValue::from_static("Sun, 30 Aug 2015 12:36:00 GMT"),
    );
    let body = b"{}";
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let key = SigningKey::derive(SECRET.as_bytes(), "20150830", REGION, SERVICE);
    let header = sign(
        &req,
        ACCESS_KEY_ID,
        &key,
        REGION,
        SERVICE,
        "20150830T123600Z",
    );
    let auth = parse_authorization(&header).unwrap();
    assert_eq!(
        verify(&req, &auth, &key, T0, SERVICE)
            .unwrap()
            .amz_date_unix,
        T0
    );
}

#[test]
fn host_must_be_signed() {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    let body = b"{}";
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let key = SigningKey::derive(SECRET.as_bytes(), "20150830", REGION, SERVICE);
    let header = sign(
        &req,
        ACCESS_KEY_ID,
        &key,
        REGION,
        SERVICE,
        "20150830T123600Z",
    );
    headers.insert("host", HeaderValue::from_static(HOST));
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let e = verify(
        &req,
        &parse_authorization(&header).unwrap(),
        &key,
        T0,
        SERVICE,
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::HostNotSigned);
    assert_eq!(e.code(), "InvalidSignatureException");
    assert_eq!(
        e.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
}

#[test]
fn content_sha256_header() {
    let s = signed_encrypt(&Options {
        content_sha256: true,
        ..Options::default()
    });
    assert!(
        parse_authorization(s.authorization())
            .unwrap()
            .signed_headers
            .contains("x-amz-content-sha256")
    );
    assert!(s.verify_at(T0).is_ok());
    assert_eq!(
        our_authorization(&s, REGION, SERVICE, T0),
        s.authorization()
    );

    let mut t = signed_encrypt(&Options {
        content_sha256: true,
        ..Options::default()
    });
    t.body.push(b' ');
    let e = t.verify_at(T0).unwrap_err();
    assert_eq!(e, SigV4Error::ContentSha256Mismatch);
    assert_eq!(e.code(), "InvalidSignatureException");

    let u = signed_encrypt(&Options {
        content_sha256: true,
        unsigned_payload: true,
        ..Options::default()
    });
    assert_eq!(
        u.headers.get("x-amz-content-sha256").unwrap(),
        "UNSIGNED-PAYLOAD"
    );
    let e = u.verify_at(T0).unwrap_err();
    assert!(matches!(e, SigV4Error::UnsignedPayload { .. }), "{e:?}");
    assert_eq!(e.code(), "InvalidSignatureException");
}

#[test]
fn unusable_session_token() {
    let mut s = signed_encrypt(&Options::default());
    // Not signed, so the signature holds; the token itself is unusable.
    s.headers.insert(
        "x-amz-security-token",
        HeaderValue::from_bytes(b"tok\xffen").unwrap(),
    );
    let e = s.verify_at(T0).unwrap_err();
    assert_eq!(e, SigV4Error::UnrecognizedClient);
    assert_eq!(e.code(), "UnrecognizedClientException");
    assert_eq!(
        e.to_string(),
        "The security token included in the request is invalid."
    );
}

#[test]
fn authorization_errors() {
    let mut headers = HeaderMap::new();
    assert_eq!(
        parse_request_authorization(&headers).unwrap_err().code(),
        "MissingAuthenticationTokenException"
    );
    headers.insert(
        "authorization",
        HeaderValue::from_static("Bearer eyJhbGciOi"),
    );
    let e = parse_request_authorization(&headers).unwrap_err();
    assert_eq!(e.code(), "MissingAuthenticationTokenException");
    assert_eq!(e.to_string(), "Request is missing Authentication Token");
}

/// Paths and queries the SDK would send, with aws-sigv4's double encoding
/// and normalization.
#[test]
fn paths_and_queries() {
    for path_and_query in [
        "/",
        "/a%20b/c%3Ad/./e/../f",
        "//x//y/",
        "/%E1%88%B4?%E1%88%B4=v",
        "/?b=2&a=1&a=0&c=x%2By+z&d&e=",
        "/p?k=v%2F%3D%26&K=V",
        "/-._~!$&'()*+,;=:@?q=-._~!$'()*,;:@/?",
    ] {
        let s = aws_signed(
            &kms_headers("ListKeys"),
            b"{}",
            &Options {
                path_and_query,
                ..Options::default()
            },
        );
        s.verify_at(T0)
            .unwrap_or_else(|e| panic!("{path_and_query}: {e}"));
        assert_eq!(
            our_authorization(&s, REGION, SERVICE, T0),
            s.authorization(),
            "{path_and_query}"
        );
    }
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~!$&'()*+,;=:@-]{0,8}",
        Just(".".to_owned()),
        Just("..".to_owned()),
        any::<u8>().prop_map(|b| format!("%{b:02X}")),
    ]
}

fn query_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~!$'()*+,;:@/?-]{0,6}",
        any::<u8>().prop_map(|b| format!("%{b:02x}"))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random KMS-like requests: aws-sigv4's signature verifies and is ours;
    /// any flipped body byte is caught.
    #[test]
    fn random_requests_agree(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        op in prop_oneof![Just("Encrypt"), Just("Decrypt"), Just("GenerateDataKey"), Just("Sign")],
        token in proptest::option::of("[A-Za-z0-9+/=]{16,64}"),
        meta in "[ a-z]{0,12}",
        time in 946_684_800i64..4_102_444_800,
        skew in -900i64..=900,
        flip in any::<prop::sample::Index>(),
    ) {
        let body = format!(
            r#"{{"KeyId":"alias/k","Plaintext":"{}","EncryptionContext":{{"m":"{meta}"}}}}"#,
            hex::encode(&plaintext)
        ).into_bytes();
        let mut headers = kms_headers(op);
        if !meta.trim().is_empty() {
            headers.push(("x-trent-meta", meta.trim().to_owned()));
        }
        let mut s = aws_signed(&headers, &body, &Options { token: token.as_deref(), time, ..Options::default() });
        let verified = s.verify_at(time + skew).unwrap();
        prop_assert_eq!(verified.amz_date_unix, time);
        prop_assert_eq!(verified.session_token, token.as_deref());
        prop_assert_eq!(our_authorization(&s, REGION, SERVICE, time), s.authorization());
        let i = flip.index(s.body.len());
        s.body[i] ^= 1;
        prop_assert_eq!(s.verify_at(time), Err(SigV4Error::SignatureDoesNotMatch));
    }

    /// Random paths (with dot segments and escapes) and queries.
    #[test]
    fn random_paths_agree(
        segments in proptest::collection::vec(path_segment(), 0..6),
        trailing in any::<bool>(),
        pairs in proptest::collection::vec((query_part(), proptest::option::of(query_part())), 0..5),
    ) {
        let mut path_and_query = String::new();
        for segment in &segments {
            path_and_query.push('/');
            path_and_query.push_str(segment);
        }
        if trailing || segments.is_empty() {
            path_and_query.push('/');
        }
        for (i, (k, v)) in pairs.iter().enumerate() {
            path_and_query.push(if i == 0 { '?' } else { '&' });
            path_and_query.push_str(k);
            if let Some(v) = v {
                path_and_query.push('=');
                path_and_query.push_str(v);
            }
        }
        let s = aws_signed(&kms_headers("ListKeys"), b"{}", &Options { path_and_query: &path_and_query, ..Options::default() });
        prop_assert!(s.verify_at(T0).is_ok(), "{}: {:?}", path_and_query, s.verify_at(T0));
        prop_assert_eq!(our_authorization(&s, REGION, SERVICE, T0), s.authorization());
    }
}

#[test]
fn now_is_sane() {
    // The load generator signs with the wall clock; make sure formatting it works.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(parse_amz_date(&format_amz_date(now)), Some(now));
}

/// Fuzzing found `SignedHeaders=host;host;…` (40,000 times, in a 400 KB
/// head) made the canonical request write the `host` value once per
/// mention: gigabytes hashed before the signature was compared, for
/// anyone who knows an access key id. A list that is not strictly
/// ascending is refused before anything is hashed.
#[test]
fn a_signed_headers_list_must_name_each_header_once_in_order() {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    let host = "a".repeat(20_000);
    headers.insert("host", HeaderValue::from_str(&host).unwrap());
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.ListKeys"),
    );
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: b"{}",
    };
    let key = SigningKey::derive(SECRET.as_bytes(), "20150830", REGION, SERVICE);
    let authorization = |signed: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20150830/{REGION}/{SERVICE}/aws4_request, \
             SignedHeaders={signed}, Signature={}",
            "0".repeat(64)
        )
    };
    let repeated = vec!["host"; 20_000].join(";");
    for list in [
        repeated.as_str(),
        "x-amz-date;host",
        "host;host",
        "host;x-amz-date;x-amz-date",
    ] {
        let header = authorization(list);
        let auth = parse_authorization(&header).unwrap();
        let started = std::time::Instant::now();
        let e = verify(&req, &auth, &key, T0, SERVICE).unwrap_err();
        assert!(
            matches!(e, SigV4Error::SignedHeadersUnsorted { .. }),
            "{list:.40}: {e:?}"
        );
        assert_eq!(e.code(), "InvalidSignatureException");
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }
    // A sorted list (as the SDKs send) gets as far as the signature.
    let header = authorization("host;x-amz-date;x-amz-target");
    let e = verify(
        &req,
        &parse_authorization(&header).unwrap(),
        &key,
        T0,
        SERVICE,
    )
    .unwrap_err();
    assert_eq!(e, SigV4Error::SignatureDoesNotMatch);
}
