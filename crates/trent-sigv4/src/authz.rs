//! Parsing the `Authorization` header.

use crate::SigV4Error;
use http::HeaderMap;

/// The only algorithm supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every SigV4 credential scope.
pub const TERMINATOR: &str = "aws4_request";

/// The parsed value of a SigV4 `Authorization` header:
/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>`.
///
/// Borrows from the header value; parsing does not allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The whole header value, for AWS's error messages that echo it.
    pub header: &'a str,
    /// The access key id (first element of the credential).
    pub access_key_id: &'a str,
    /// The scope date, `YYYYMMDD` if well-formed (checked against the
    /// request date by [`verify`](crate::verify)).
    pub date: &'a str,
    /// The scope region.
    pub region: &'a str,
    /// The scope service.
    pub service: &'a str,
    /// The `SignedHeaders=` list.
    pub signed_headers: SignedHeaders<'a>,
    /// The `Signature=` value, decoded.
    pub signature: [u8; 32],
}

impl<'a> Authorization<'a> {
    /// Rejects a scope whose region is not `expected` with AWS's message
    /// ([`SigV4Error::WrongRegion`]). For servers that serve fixed regions.
    pub fn check_region(&self, expected: &str) -> Result<(), SigV4Error> {
        if self.region == expected {
            Ok(())
        } else {
            Err(SigV4Error::WrongRegion {
                region: self.region.to_owned(),
            })
        }
    }
}

/// The `SignedHeaders=` list of an `Authorization` header: lowercase header
/// names separated by `;`, split lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedHeaders<'a>(&'a str);

impl<'a> SignedHeaders<'a> {
    /// Wraps a raw `;`-separated list.
    pub fn new(list: &'a str) -> Self {
        SignedHeaders(list)
    }

    /// The list as received.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The header names, in the order listed (empty names skipped).
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + Clone + use<'a> {
        self.0.split(';').filter(|name| !name.is_empty())
    }

    /// Whether each name is greater than the one before (ASCII
    /// case-insensitively): sorted, none twice, as SigV4 requires.
    pub fn is_strictly_sorted(&self) -> bool {
        let mut names = self.iter();
        let Some(mut previous) = names.next() else {
            return true;
        };
        for name in names {
            let ascending = previous
                .bytes()
                .map(|b| b.to_ascii_lowercase())
                .lt(name.bytes().map(|b| b.to_ascii_lowercase()));
            if !ascending {
                return false;
            }
            previous = name;
        }
        true
    }

    /// Whether `name` is listed (ASCII case-insensitively).
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|listed| listed.eq_ignore_ascii_case(name))
    }
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses an `Authorization` header value (see [`Authorization`]).
///
/// In AWS's order of checks: a value not starting with `AWS4-` is
/// [`SigV4Error::MissingAuthentication`]; a component without `=` is
/// [`SigV4Error::MalformedParameter`]; missing `Credential`, `Signature` or
/// `SignedHeaders` is [`SigV4Error::MissingParameters`] (without the date
/// clause, which needs the headers: see [`parse_request_authorization`]);
/// then the algorithm ([`SigV4Error::UnsupportedAlgorithm`]), the credential's
/// shape ([`SigV4Error::MalformedCredential`]) and terminator
/// ([`SigV4Error::InvalidTerminator`]). A signature that is not 64 hex digits
/// cannot match: [`SigV4Error::SignatureDoesNotMatch`].
///
/// Components may be separated by commas and/or spaces, in any order;
/// unknown components are ignored; a repeated component's last value wins.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigV4Error> {
    let trimmed = value.trim_matches(is_space);
    if !trimmed.starts_with("AWS4-") {
        return Err(SigV4Error::MissingAuthentication);
    }
    let (algorithm, rest) = trimmed.split_once(is_space).unwrap_or((trimmed, ""));

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for piece in rest.split(|c| c == ',' || is_space(c)) {
        if piece.is_empty() {
            continue;
        }
        let Some((key, val)) = piece.split_once('=') else {
            return Err(SigV4Error::MalformedParameter {
                pair: piece.to_owned(),
                authorization: value.to_owned(),
            });
        };
        match key {
            "Credential" => credential = Some(val),
            "SignedHeaders" => signed_headers = Some(val),
            "Signature" => signature = Some(val),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (
        credential.filter(|c| !c.is_empty()),
        signed_headers,
        signature.filter(|s| !s.is_empty()),
    ) else {
        return Err(SigV4Error::MissingParameters {
            credential: credential.is_none_or(str::is_empty),
            signature: signature.is_none_or(str::is_empty),
            signed_headers: signed_headers.is_none(),
            date: false,
            authorization: value.to_owned(),
        });
    };

    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm {
            algorithm: algorithm.to_owned(),
        });
    }

    let mut parts = credential.trim_end_matches('/').split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SigV4Error::MalformedCredential {
            credential: credential.to_owned(),
        });
    };
    if terminator != TERMINATOR {
        return Err(SigV4Error::InvalidTerminator {
            terminator: terminator.to_owned(),
        });
    }

    let mut decoded = [0u8; 32];
    hex::decode_to_slice(signature, &mut decoded).map_err(|_| SigV4Error::SignatureDoesNotMatch)?;

    Ok(Authorization {
        header: value,
        access_key_id,
        date,
        region,
        service,
        signed_headers: SignedHeaders(signed_headers),
        signature: decoded,
    })
}

/// Parses the `Authorization` header of a request: like
/// [`parse_authorization`], but a missing (or non-text) header is
/// [`SigV4Error::MissingAuthentication`], and when parameters are missing the
/// message also says so if the request has neither `X-Amz-Date` nor `Date`,
/// as AWS's does. With several `Authorization` headers the first is used.
pub fn parse_request_authorization(headers: &HeaderMap) -> Result<Authorization<'_>, SigV4Error> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(SigV4Error::MissingAuthentication)?;
    parse_authorization(value).map_err(|e| match e {
        SigV4Error::MissingParameters {
            credential,
            signature,
            signed_headers,
            authorization,
            ..
        } => SigV4Error::MissingParameters {
            credential,
            signature,
            signed_headers,
            date: !headers.contains_key("x-amz-date") && !headers.contains_key(http::header::DATE),
            authorization,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                        SignedHeaders=host;x-amz-date, \
                        Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn parses_the_sdk_format() {
        let a = parse_authorization(GOOD).unwrap();
        assert_eq!(a.access_key_id, "AKIDEXAMPLE");
        assert_eq!(a.date, "20150830");
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.service, "service");
        assert_eq!(
            a.signed_headers.iter().collect::<Vec<_>>(),
            ["host", "x-amz-date"]
        );
        assert!(a.signed_headers.contains("Host"));
        assert!(!a.signed_headers.contains("x-amz-target"));
        assert_eq!(
            hex::encode(a.signature),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(a.header, GOOD);
    }

    #[test]
    fn tolerates_other_separators_and_order() {
        let v = "  AWS4-HMAC-SHA256   Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,\
                 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request//,SignedHeaders=host Extra=1 ";
        let a = parse_authorization(v).unwrap();
        assert_eq!(a.service, "service");
        assert_eq!(a.signed_headers.as_str(), "host");
    }

    #[test]
    fn not_aws4_is_missing_authentication() {
        for v in [
            "",
            "Bearer abc",
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
            "aws4-hmac-sha256 x",
        ] {
            assert_eq!(
                parse_authorization(v),
                Err(SigV4Error::MissingAuthentication),
                "{v:?}"
            );
        }
    }

    #[test]
    fn missing_parameters() {
        let e = parse_authorization("AWS4-HMAC-SHA256 Credential=ABCDEF").unwrap_err();
        assert_eq!(e.code(), "IncompleteSignatureException");
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF"
        );
        let e = parse_authorization("AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' \
             parameter. Authorization=AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature="
        );
    }

    #[test]
    fn missing_equal_sign() {
        let v = "AWS4-HMAC-SHA256 Credential=AKID /20150830/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00";
        let e = parse_authorization(v).unwrap_err();
        assert_eq!(e.code(), "IncompleteSignatureException");
        assert_eq!(
            e.to_string(),
            format!(
                "'/20150830/us-east-1/kms/aws4_request' not a valid key=value pair (missing equal-sign) in \
                 Authorization header: '{v}'."
            )
        );
    }

    #[test]
    fn unsupported_algorithm() {
        let v = GOOD.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        let e = parse_authorization(&v).unwrap_err();
        assert_eq!(e.code(), "IncompleteSignatureException");
        assert_eq!(
            e.to_string(),
            "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256' (only AWS4-HMAC-SHA256 for now). "
        );
    }

    #[test]
    fn malformed_credentials() {
        let v = GOOD.replace(
            "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
            "a/b/c/d",
        );
        let e = parse_authorization(&v).unwrap_err();
        assert_eq!(e.code(), "IncompleteSignatureException");
        assert_eq!(
            e.to_string(),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'"
        );
        let v = GOOD.replace("service/aws4_request", "service/aws4_request/extra");
        assert!(matches!(
            parse_authorization(&v),
            Err(SigV4Error::MalformedCredential { .. })
        ));

        let v = GOOD.replace("aws4_request", "aws5_request");
        let e = parse_authorization(&v).unwrap_err();
        assert_eq!(e.code(), "InvalidSignatureException");
        assert_eq!(
            e.to_string(),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        );
    }

    #[test]
    fn bad_signature_hex_cannot_match() {
        for sig in [
            "5fa0",
            "zz00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ] {
            let v = GOOD.replace(
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                sig,
            );
            assert_eq!(
                parse_authorization(&v),
                Err(SigV4Error::SignatureDoesNotMatch)
            );
        }
    }

    #[test]
    fn region_check() {
        let a = parse_authorization(GOOD).unwrap();
        assert!(a.check_region("us-east-1").is_ok());
        let e = a.check_region("eu-west-1").unwrap_err();
        assert_eq!(e.code(), "InvalidSignatureException");
        assert_eq!(
            e.to_string(),
            "Credential should be scoped to a valid region, not 'us-east-1'. "
        );
    }

    #[test]
    fn request_authorization_adds_the_date_clause() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            parse_request_authorization(&headers),
            Err(SigV4Error::MissingAuthentication)
        );
        headers.insert("authorization", "AWS4-HMAC-SHA256 Foo=bar".parse().unwrap());
        let e = parse_request_authorization(&headers).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' \
             parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires \
             existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Foo=bar"
        );
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let e = parse_request_authorization(&headers).unwrap_err();
        assert!(!e.to_string().contains("X-Amz-Date"));
    }
}
