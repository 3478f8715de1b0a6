//! The console's SigV4 signer (`console/src/sigv4.ts`) against this crate's:
//! requests as the console sends them (KMS and CloudTrail JSON, IAM and STS
//! forms, with and without a session token), signed here, written to
//! `console/src/sigv4.rust-cases.json`, which the console's unit tests sign
//! again and compare (`console/src/sigv4.rust.test.ts`). This test fails
//! when the file is not what this crate signs today; `TRENT_BLESS=1`
//! rewrites it.

use std::path::Path;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use trent_sigv4::{RequestParts, SigningKey, sign};

struct Case {
    name: &'static str,
    service: &'static str,
    content_type: &'static str,
    target: Option<&'static str>,
    body: &'static str,
    session_token: Option<&'static str>,
}

const CASES: [Case; 5] = [
    Case {
        name: "kms-encrypt",
        service: "kms",
        content_type: "application/x-amz-json-1.1",
        target: Some("TrentService.Encrypt"),
        body: r#"{"KeyId":"alias/MyKey","Plaintext":"U29tZSB0ZXh0","EncryptionContext":{"purpose":"seed004"}}"#,
        session_token: None,
    },
    Case {
        name: "kms-list-keys-temporary-credentials",
        service: "kms",
        content_type: "application/x-amz-json-1.1",
        target: Some("TrentService.ListKeys"),
        body: r#"{"Limit":25}"#,
        session_token: Some("FwoGZXIvYXdzEtrent/session+token=="),
    },
    Case {
        name: "iam-create-access-key",
        service: "iam",
        content_type: "application/x-www-form-urlencoded; charset=utf-8",
        target: None,
        body: "Action=CreateAccessKey&UserName=MyKeyUser&Version=2010-05-08",
        session_token: None,
    },
    Case {
        name: "sts-get-caller-identity",
        service: "sts",
        content_type: "application/x-www-form-urlencoded; charset=utf-8",
        target: None,
        body: "Action=GetCallerIdentity&Version=2011-06-15",
        session_token: Some("IQoJb3JpZ2luX2VjEtrent"),
    },
    Case {
        name: "cloudtrail-lookup-events",
        service: "cloudtrail",
        content_type: "application/x-amz-json-1.1",
        target: Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"),
        body: r#"{"LookupAttributes":[{"AttributeKey":"ResourceName","AttributeValue":"k"}],"MaxResults":50}"#,
        session_token: None,
    },
];

const HOST: &str = "127.0.0.1:4599";
const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "AKIATRENTCONSOLE0001";
const SECRET: &str = "trent/console/secret/0123456789abcdefghij";
const AMZ_DATE: &str = "20261207T020304Z";

fn signed(case: &Case) -> Value {
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    };
    put("host", HOST);
    put("content-type", case.content_type);
    put("x-amz-date", AMZ_DATE);
    if let Some(target) = case.target {
        put("x-amz-target", target);
    }
    if let Some(token) = case.session_token {
        put("x-amz-security-token", token);
    }
    let request = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: case.body.as_bytes(),
    };
    let key = SigningKey::derive(SECRET.as_bytes(), &AMZ_DATE[..8], REGION, case.service);
    let authorization = sign(&request, ACCESS_KEY, &key, REGION, case.service, AMZ_DATE);
    let mut sent = serde_json::Map::new();
    sent.insert("Content-Type".into(), case.content_type.into());
    if let Some(target) = case.target {
        sent.insert("X-Amz-Target".into(), target.into());
    }
    json!({
        "name": case.name,
        "service": case.service,
        "url": format!("http://{HOST}/"),
        "headers": sent,
        "body": case.body,
        "sessionToken": case.session_token,
        "authorization": authorization,
    })
}

#[test]
fn the_console_s_cases_are_what_this_crate_signs() {
    let cases: Vec<Value> = CASES.iter().map(signed).collect();
    let file = json!({
        "region": REGION,
        "accessKeyId": ACCESS_KEY,
        "secretAccessKey": SECRET,
        "amzDate": AMZ_DATE,
        "cases": cases,
    });
    let text = serde_json::to_string_pretty(&file).unwrap() + "\n";
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console/src/sigv4.rust-cases.json");
    if std::env::var_os("TRENT_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not what trent-sigv4 signs: run TRENT_BLESS=1 cargo test -p trent-sigv4 --test console_cases",
        path.display()
    );
}
