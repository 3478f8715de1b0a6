//! The audit trail end to end: events for successful, failing and
//! unauthenticated calls, `trent audit export` and `trent audit verify` on
//! the data directory, no secret anywhere on disk, tampering detected.

use crate::common::*;
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine as _;
use std::path::Path;
use std::process::Command;

const PLAINTEXT: &str = "audit-plaintext-do-not-log-7f3c9a";

fn trent(args: &[&str], data_dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TRENT_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `trent audit export`: its text and its events.
fn export(data_dir: &Path) -> (String, Vec<serde_json::Value>) {
    let (ok, text, err) = trent(&["audit", "export"], data_dir);
    assert!(ok, "{err}");
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, events)
}

/// Every byte of every file under `dir`.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
    }
    to
}

/// One stored event: (seq, its stored record, chain hash).
type StoredEvent = (i64, Vec<u8>, Vec<u8>);

/// Tampers with a copy of the data directory's trail (its events, as
/// `edit` changes them, written back an event per block) and returns what
/// `trent audit verify` says about it.
async fn tamper(dir: &Path, edit: impl FnOnce(&mut Vec<StoredEvent>)) -> String {
    use sqlx::Row;
    use trent_core::audit::block::{AuditBlock, BlockDecoder, ENCODING_RECIPIENT};
    let copy = copy_dir(dir);
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        copy.path().join("trent.db").display()
    ))
    .await
    .unwrap();
    let mut events = Vec::new();
    let mut decoder = BlockDecoder::default();
    for row in sqlx::query(
        "SELECT first_seq, last_seq, encoding, events, hashes FROM audit_blocks ORDER BY first_seq",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    {
        let block = AuditBlock {
            first_seq: row.get("first_seq"),
            last_seq: row.get("last_seq"),
            first_time_ms: 0,
            last_time_ms: 0,
            encoding: row.get("encoding"),
            events: row.get("events"),
            hashes: row.get("hashes"),
            accounts: Vec::new(),
        };
        assert_eq!(block.encoding, ENCODING_RECIPIENT);
        for r in decoder.block(&block, &[]) {
            events.push((r.seq, r.stored, r.hash));
        }
    }
    edit(&mut events);
    sqlx::query("DELETE FROM audit_blocks")
        .execute(&db)
        .await
        .unwrap();
    for (seq, record, hash) in events {
        sqlx::query(
            "INSERT INTO audit_blocks (first_seq, last_seq, first_time_ms, last_time_ms, encoding, events, hashes) \
             VALUES (?, ?, 0, 0, ?, ?, ?)",
        )
        .bind(seq)
        .bind(seq)
        .bind(ENCODING_RECIPIENT)
        .bind(record)
        .bind(hash)
        .execute(&db)
        .await
        .unwrap();
    }
    db.close().await;
    let (ok, out, err) = trent(&["audit", "verify"], copy.path());
    assert!(!ok, "verify passed a tampered trail: {out}");
    err
}

/// Replaces `from` by `to` (the same length) in a stored record.
fn replace(record: &mut [u8], from: &[u8], to: &[u8]) {
    let at = record
        .windows(from.len())
        .position(|w| w == from)
        .expect("the record holds the text");
    record[at..at + to.len()].copy_from_slice(to);
}

#[tokio::test]
async fn every_call_is_audited_verifiably_and_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let key = kms
        .create_key()
        .description("audited")
        .send()
        .await
        .unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let encrypted = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(PLAINTEXT))
        .encryption_context("purpose", "audit-test")
        .send()
        .await
        .unwrap();
    let encrypt_request_id = encrypted.request_id().unwrap().to_owned();
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(encrypted.ciphertext_blob().unwrap().clone())
        .encryption_context("purpose", "audit-test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        PLAINTEXT.as_bytes()
    );
    let data_key = kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let data_key = data_key.plaintext().unwrap().as_ref().to_vec();
    let random = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    let random = random.plaintext().unwrap().as_ref().to_vec();
    // A failing call and an unauthenticated one.
    let missing = "11111111-2222-4333-8444-555555555555";
    let err = kms
        .encrypt()
        .key_id(missing)
        .plaintext(Blob::new(PLAINTEXT))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let forged = server.client_with(ACCESS_KEY, "not-the-secret", "us-east-1");
    let err = forged.list_keys().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidSignatureException");
    drop((kms, forged));
    server.stop();

    let (ok, out, err) = trent(&["audit", "verify"], dir.path());
    assert!(ok, "verify failed: {out}{err}");
    assert!(out.starts_with("OK: 7 events, "), "{out}");
    assert!(out.contains("signed through seq 7; 0 unsigned"), "{out}");

    let (export, events) = export(dir.path());
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CreateKey",
            "Encrypt",
            "Decrypt",
            "GenerateDataKey",
            "GenerateRandom",
            "Encrypt",
            "ListKeys"
        ]
    );
    let encrypt = &events[1];
    assert_eq!(encrypt["eventVersion"], "1.08");
    assert_eq!(encrypt["eventSource"], "kms.amazonaws.com");
    assert_eq!(encrypt["eventType"], "AwsApiCall");
    assert_eq!(encrypt["awsRegion"], "us-east-1");
    assert_eq!(encrypt["sourceIPAddress"], "127.0.0.1");
    assert_eq!(encrypt["readOnly"], true);
    assert_eq!(encrypt["requestID"], encrypt_request_id.as_str());
    assert_eq!(encrypt["requestParameters"]["keyId"], key_id.as_str());
    assert_eq!(
        encrypt["requestParameters"]["encryptionContext"]["purpose"],
        "audit-test"
    );
    assert_eq!(encrypt["responseElements"], serde_json::Value::Null);
    assert_eq!(encrypt["resources"][0]["ARN"], key_arn.as_str());
    assert_eq!(encrypt["resources"][0]["type"], "AWS::KMS::Key");
    assert_eq!(encrypt["userIdentity"]["type"], "Root");
    assert_eq!(encrypt["userIdentity"]["accessKeyId"], ACCESS_KEY);
    assert_eq!(encrypt["userIdentity"]["accountId"], ACCOUNT);
    assert!(
        encrypt["userAgent"]
            .as_str()
            .unwrap()
            .contains("aws-sdk-rust")
    );
    assert!(encrypt["eventTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[0]["readOnly"], false);
    assert_eq!(
        events[0]["responseElements"]["keyMetadata"]["Arn"],
        key_arn.as_str()
    );
    let failed = &events[5];
    assert_eq!(failed["errorCode"], "NotFoundException");
    assert!(failed["errorMessage"].as_str().unwrap().contains(missing));
    let denied = &events[6];
    assert_eq!(denied["errorCode"], "InvalidSignatureException");
    assert_eq!(denied["userIdentity"]["type"], "Unknown");
    assert_eq!(denied["userIdentity"]["accessKeyId"], ACCESS_KEY);
    println!("Encrypt event: {}", export.lines().nth(1).unwrap());
    println!("Denied event: {}", export.lines().nth(6).unwrap());

    // Filters.
    let (_, by_key, _) = trent(&["audit", "export", "--key-id", &key_id], dir.path());
    assert_eq!(by_key.lines().count(), 4, "{by_key}");
    let (_, later, _) = trent(
        &["audit", "export", "--since", "2999-01-01T00:00:00Z"],
        dir.path(),
    );
    assert!(later.is_empty());
    // `--key` takes the ARN too; `--principal`, `--since` and `--until`
    // combine with it.
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}");
    let (_, by_arn, _) = trent(&["audit", "export", "--key", &arn], dir.path());
    assert_eq!(by_arn, by_key);
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let (_, combined, _) = trent(
        &[
            "audit",
            "export",
            "--key",
            &key_id,
            "--principal",
            &root,
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2999-01-01T00:00:00Z",
        ],
        dir.path(),
    );
    assert_eq!(combined, by_key);
    let (_, nobody, _) = trent(
        &[
            "audit",
            "export",
            "--principal",
            "arn:aws:iam::999999999999:root",
        ],
        dir.path(),
    );
    assert!(nobody.is_empty());

    // No plaintext, data key or random bytes anywhere: not in the data
    // directory's files (raw bytes), not in the export.
    let disk = all_bytes(dir.path());
    let b64 = base64::engine::general_purpose::STANDARD;
    for secret in [PLAINTEXT.as_bytes(), &data_key, &random] {
        for form in [secret.to_vec(), b64.encode(secret).into_bytes()] {
            assert!(!contains(&disk, &form), "a secret is on disk");
            assert!(
                !contains(export.as_bytes(), &form),
                "a secret is in the export"
            );
        }
    }
    assert!(!contains(&disk, SECRET_KEY.as_bytes()));

    // Tampering, each on a copy of the data directory.
    let index = |events: &Vec<StoredEvent>, seq: i64| {
        events
            .iter()
            .position(|e| e.0 == seq)
            .expect("event stored")
    };
    let err = tamper(dir.path(), |events| {
        let i = index(events, 2);
        replace(&mut events[i].1, b"audit-test", b"audit-TEST");
    })
    .await;
    assert!(
        err.contains("event seq 2 (eventID") && err.contains("was changed"),
        "{err}"
    );
    let err = tamper(dir.path(), |events| {
        events.remove(index(events, 3));
    })
    .await;
    assert!(err.contains("event seq 3 was removed"), "{err}");
    let err = tamper(dir.path(), |events| {
        // Events 4 and 5 trade places (each keeps its position's seq).
        let i = index(events, 4);
        let (a, b) = (events[i].clone(), events[i + 1].clone());
        events[i] = (a.0, b.1, b.2);
        events[i + 1] = (b.0, a.1, a.2);
    })
    .await;
    assert!(
        err.contains("event seq 4 (eventID") && err.contains("reordered"),
        "{err}"
    );
    let err = tamper(dir.path(), |events| {
        // A copy of event 3 inserted after it; the later events move up.
        let i = index(events, 3);
        events.insert(i + 1, events[i].clone());
        for (n, e) in events.iter_mut().enumerate().skip(i + 1) {
            e.0 = n as i64 + 1;
        }
    })
    .await;
    assert!(
        err.contains("event seq 4 (eventID") && err.contains("inserted"),
        "{err}"
    );
    let err = tamper(dir.path(), |events| {
        events.truncate(index(events, 7));
    })
    .await;
    assert!(
        err.contains("truncated: digest") && err.contains("through seq 7"),
        "{err}"
    );

    // The public key is stable and checks.
    let (ok, public_key, _) = trent(&["audit", "public-key"], dir.path());
    assert!(ok && public_key.trim().len() == 64);
    let (ok, _, _) = trent(
        &["audit", "verify", "--public-key", public_key.trim()],
        dir.path(),
    );
    assert!(ok);
}

/// A crash (kill -9) loses no acknowledged mutation's event; the tail since
/// the last digest is reported unsigned, and the restarted server signs it.
#[tokio::test]
async fn acknowledged_mutation_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(new_key(&kms).await);
    }
    drop(kms);
    server.kill();
    let (ok, out, err) = trent(&["audit", "verify"], dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("OK: 5 events"), "{out}");
    let (_, export, _) = trent(&["audit", "export"], dir.path());
    for id in &ids {
        assert!(export.contains(&format!("key/{id}")), "no event for {id}");
    }
    // The restarted server closes the crash's tail with a digest.
    let server = Server::start_in(dir.path(), &[]);
    server.stop();
    let (ok, out, err) = trent(&["audit", "verify"], dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("signed through seq 5; 0 unsigned"), "{out}");
}

#[tokio::test]
async fn scheduled_deletion_and_rotation_are_audited_as_service_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let rotating = new_key(&kms).await;
    kms.enable_key_rotation()
        .key_id(&rotating)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let doomed = new_key(&kms).await;
    kms.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    server.advance_clock(91 * 86_400);
    drop(kms);
    server.stop();

    let (export, events) = export(dir.path());
    for (name, key) in [("RotateKey", &rotating), ("DeleteKey", &doomed)] {
        let event = events
            .iter()
            .find(|e| e["eventName"] == name)
            .unwrap_or_else(|| panic!("no {name} event in {export}"));
        assert_eq!(event["eventType"], "AwsServiceEvent");
        assert!(
            event["resources"][0]["ARN"]
                .as_str()
                .unwrap()
                .ends_with(key.as_str())
        );
    }
    let (ok, out, err) = trent(&["audit", "verify"], dir.path());
    assert!(ok, "{out}{err}");
}

/// GetKeyLastUsage, after the audit writer has committed what it should
/// show (crypto events are written asynchronously; AWS documents the
/// operation as eventually consistent too).
async fn last_usage_when(
    kms: &aws_sdk_kms::Client,
    key: &str,
    ready: impl Fn(&aws_sdk_kms::operation::get_key_last_usage::GetKeyLastUsageOutput) -> bool,
) -> aws_sdk_kms::operation::get_key_last_usage::GetKeyLastUsageOutput {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let out = kms.get_key_last_usage().key_id(key).send().await.unwrap();
        if ready(&out) || std::time::Instant::now() > deadline {
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Issue #7: GetKeyLastUsage reports the last successful cryptographic
/// operation with the CloudTrail event id that recorded it.
#[tokio::test]
async fn get_key_last_usage_names_the_last_crypto_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let a = new_key(&kms).await;
    let b = new_key(&kms).await;

    let fresh = kms.get_key_last_usage().key_id(&a).send().await.unwrap();
    assert!(fresh.key_last_usage.is_none(), "{fresh:?}");
    let created = fresh.key_creation_date.unwrap();
    // Tracking began when the server first started, before the key existed.
    assert_eq!(fresh.tracking_start_date.unwrap(), created);
    assert_eq!(
        fresh.key_id.as_deref(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{a}").as_str())
    );

    let encrypted = kms
        .encrypt()
        .key_id(&a)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let request_id = encrypted.request_id().unwrap().to_owned();
    let used = last_usage_when(&kms, &a, |o| o.key_last_usage.is_some()).await;
    let usage = used.key_last_usage.unwrap();
    assert_eq!(usage.operation.unwrap().as_str(), "Encrypt");
    assert_eq!(usage.kms_request_id.as_deref(), Some(request_id.as_str()));
    let event_id = usage.cloud_trail_event_id.unwrap();
    let (_, export, _) = trent(&["audit", "export"], dir.path());
    let event: serde_json::Value = export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["eventID"] == event_id.as_str())
        .expect("the event id is in the trail");
    assert_eq!(event["eventName"], "Encrypt");
    assert_eq!(event["requestID"], request_id.as_str());

    // A failing call is no use: B is disabled, its Encrypt fails.
    kms.disable_key().key_id(&b).send().await.unwrap();
    let err = kms
        .encrypt()
        .key_id(&b)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
    kms.enable_key().key_id(&b).send().await.unwrap();
    // ReEncrypt uses both keys; afterwards both name it (and B only it).
    kms.re_encrypt()
        .ciphertext_blob(encrypted.ciphertext_blob.unwrap())
        .destination_key_id(&b)
        .send()
        .await
        .unwrap();
    for key in [&a, &b] {
        let out = last_usage_when(&kms, key, |o| {
            o.key_last_usage
                .as_ref()
                .and_then(|u| u.operation.as_ref())
                .is_some_and(|op| op.as_str() == "ReEncrypt")
        })
        .await;
        let usage = out.key_last_usage.unwrap();
        assert_eq!(usage.operation.unwrap().as_str(), "ReEncrypt", "{key}");
        assert_ne!(usage.cloud_trail_event_id.unwrap(), event_id);
    }

    // Alias names are not accepted; unknown keys are not found.
    kms.create_alias()
        .alias_name("alias/last-usage")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    for bad in ["alias/last-usage", "00000000-0000-4000-8000-000000000000"] {
        let err = kms
            .get_key_last_usage()
            .key_id(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "NotFoundException", "{bad}");
    }
    // The usage survives a restart (it is in the store).
    drop(kms);
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let out = fresh_last_usage(&server, &b).await;
    assert_eq!(
        out.key_last_usage.unwrap().operation.unwrap().as_str(),
        "ReEncrypt"
    );

    // Usage is stored every few seconds, and shown from memory before
    // then; after a crash the next start replays it from the trail. Here
    // the server dies a moment after its start, before its first store of
    // usage: only the replay can know of this Decrypt.
    let kms = server.client();
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(
            kms.encrypt()
                .key_id(&b)
                .plaintext(Blob::new("y"))
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let request_id = decrypted.request_id().unwrap().to_owned();
    let is_decrypt = |o: &aws_sdk_kms::operation::get_key_last_usage::GetKeyLastUsageOutput| {
        o.key_last_usage
            .as_ref()
            .and_then(|u| u.kms_request_id.as_deref())
            == Some(request_id.as_str())
    };
    let before = last_usage_when(&kms, &b, is_decrypt).await;
    assert!(is_decrypt(&before), "{before:?}");
    drop(kms);
    server.kill();
    let server = Server::start_in(dir.path(), &[]);
    let after = fresh_last_usage(&server, &b).await;
    assert_eq!(after.key_last_usage, before.key_last_usage);
}

/// GetKeyLastUsage of `key` from a server just started.
async fn fresh_last_usage(
    server: &Server,
    key: &str,
) -> aws_sdk_kms::operation::get_key_last_usage::GetKeyLastUsageOutput {
    server
        .client()
        .get_key_last_usage()
        .key_id(key)
        .send()
        .await
        .unwrap()
}

/// `GET /metrics` over a raw connection.
fn metrics(server: &Server) -> String {
    use std::io::{Read, Write};
    let addr = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the sample on the line that starts with `series `.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

/// Issue #7: a stream that cannot be written (here /dev/full: every write
/// fails with ENOSPC) makes Trent refuse mutations with a retryable AWS
/// error before they happen; reads go on and are recorded in the store.
#[tokio::test]
async fn failing_audit_stream_refuses_mutations_before_they_happen() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--audit-stream", "/dev/full"]);
    let kms = server.client();
    // A read is answered; its event reaches the store, not the stream.
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metric(&metrics(&server), "trent_audit_failing{sink=\"stream\"}") != 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no stream failure seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = metrics(&server);
    assert!(metric(&before, "trent_audit_write_failures_total{sink=\"stream\"}") >= 1.0);
    assert_eq!(
        metric(&before, "trent_audit_write_failures_total{sink=\"store\"}"),
        0.0
    );

    let err = kms
        .create_key()
        .description("never created")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DependencyTimeoutException");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 500);
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
    let after = metrics(&server);
    assert!(
        metric(
            &after,
            "trent_requests_total{operation=\"CreateKey\",error_type=\"DependencyTimeoutException\"}"
        ) >= 1.0
    );
    assert!(
        metric(&after, "trent_audit_write_failures_total{sink=\"stream\"}")
            > metric(&before, "trent_audit_write_failures_total{sink=\"stream\"}")
    );
    drop(kms);
    server.stop();
    // The store, the authoritative trail, has every call, the refusal too.
    let (_, events) = export(dir.path());
    assert!(
        events.iter().any(
            |e| e["eventName"] == "CreateKey" && e["errorCode"] == "DependencyTimeoutException"
        )
    );
    assert!(
        !events
            .iter()
            .any(|e| e["eventName"] == "CreateKey" && e["errorCode"].is_null())
    );
    let (ok, out, err) = trent(&["audit", "verify"], dir.path());
    assert!(ok, "{out}{err}");
}

/// The audit writer runs below the request workers' priority (nice 10 and
/// 0), so its batches fill idle time instead of holding answers back.
#[tokio::test]
async fn the_audit_writer_runs_below_the_request_workers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let nice_of = |name: &str| -> Vec<i64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
        tasks
            .filter_map(|task| {
                let path = task.unwrap().path();
                let comm = std::fs::read_to_string(path.join("comm")).ok()?;
                let stat = std::fs::read_to_string(path.join("stat")).ok()?;
                // The fields after the command's closing parenthesis start
                // at the third (state); nice is the nineteenth.
                let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                (comm.trim() == name).then(|| fields[19 - 3].parse().unwrap())
            })
            .collect()
    };
    assert_eq!(nice_of("trent-audit"), [10]);
    let workers = nice_of("tokio-rt-worker");
    assert!(
        !workers.is_empty() && workers.iter().all(|n| *n == 0),
        "{workers:?}"
    );
    server.stop();
}
