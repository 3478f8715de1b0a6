use super::*;
use serde_json::json;

pub(super) fn event(n: i64) -> AuditEvent {
    AuditEvent {
        time_ms: 1_700_000_000_000 + n,
        source: EventSource::Kms,
        name: "Encrypt".into(),
        region: "us-east-1".into(),
        source_ip: Some("127.0.0.1".parse().unwrap()),
        user_agent: Some("test".into()),
        actor: Actor::Unknown {
            access_key_id: Some("AKIAEXAMPLE".into()),
        },
        request_parameters: Some(json!({"keyId": format!("k{n}")}).to_string().into()),
        response_elements: None,
        error: None,
        request_id: Some(Id::parse(&format!("req-{n}"))),
        read_only: true,
        service_event: false,
        key_arns: [format!(
            "arn:aws:kms:us-east-1:111122223333:key/0000000{n}-0000-4000-8000-000000000000"
        )
        .into()]
        .into_iter()
        .collect(),
        recipient: None,
    }
}

/// The stored record of `event` as event `seq` after `prev`: a one-event
/// block, encoded and decoded.
fn record(event: &AuditEvent, seq: i64, prev: &[u8]) -> AuditRecord {
    let mut encoder = block::BlockEncoder::new([7; 8]);
    encoder.push(event, seq, prev);
    let stored = encoder.into_block(seq).unwrap();
    block::BlockDecoder::default()
        .block(&stored, prev)
        .remove(0)
}

/// `events` as one block from event `first_seq` on, and its last hash.
fn encode_block(
    id_prefix: [u8; 8],
    events: &[AuditEvent],
    first_seq: i64,
) -> (block::AuditBlock, [u8; 32]) {
    let mut encoder = block::BlockEncoder::new(id_prefix);
    let mut prev = [0u8; 32];
    for (e, seq) in events.iter().zip(first_seq..) {
        prev = encoder.push(e, seq, &prev);
    }
    (encoder.into_block(first_seq).unwrap(), prev)
}

/// Replaces `from` by `to` (the same length) in a stored record.
fn edit(stored: &mut [u8], from: &[u8], to: &[u8]) {
    let at = stored
        .windows(from.len())
        .position(|w| w == from)
        .expect("the record holds the text");
    stored[at..at + to.len()].copy_from_slice(to);
}

/// A trail of `n` events with a digest every `every` events (and none
/// after the last `n % every`).
fn trail(n: i64, every: i64) -> (SigningKey, Vec<AuditRecord>, Vec<AuditDigest>) {
    let pkcs8 = SigningKey::generate_pkcs8().unwrap();
    let key = SigningKey::from_pkcs8(&pkcs8).unwrap();
    let mut prev = vec![0; 32];
    let mut records = Vec::new();
    let mut digests = Vec::new();
    for seq in 1..=n {
        let r = record(&event(seq), seq, &prev);
        prev = r.hash.clone();
        records.push(r);
        if seq % every == 0 {
            let d = digests.len() as i64 + 1;
            digests.push(AuditDigest::sign(&key, d, seq - every + 1, seq, &prev, 5));
        }
    }
    (key, records, digests)
}

fn verify(
    key: &SigningKey,
    records: &[AuditRecord],
    digests: &[AuditDigest],
) -> Result<VerifyReport, String> {
    let mut v = Verifier::new(&key.public_key(), digests.to_vec());
    for r in records {
        v.event(r)?;
    }
    v.finish()
}

#[test]
fn an_intact_trail_verifies() {
    let (key, records, digests) = trail(10, 4);
    let report = verify(&key, &records, &digests).unwrap();
    assert_eq!(report.events, 10);
    assert_eq!(report.digests, 2);
    assert_eq!(report.signed_through, 8);
    assert_eq!(report.unsigned, 2);
}

#[test]
fn an_edited_event_is_named() {
    let (key, mut records, digests) = trail(10, 4);
    edit(&mut records[5].stored, b"Encrypt", b"Decrypt");
    let err = verify(&key, &records, &digests).unwrap_err();
    let id = &records[5].event_id;
    assert!(
        err.contains(&format!("event seq 6 (eventID {id}) was changed")),
        "{err}"
    );
}

#[test]
fn an_edit_with_the_chain_recomputed_fails_the_digest() {
    let (key, mut records, digests) = trail(10, 4);
    edit(&mut records[5].stored, b"Encrypt", b"Decrypt");
    let mut prev = records[4].hash.clone();
    for r in &mut records[5..] {
        r.prev_hash = prev.clone();
        r.hash = chain_hash(&prev, r.seq, &r.stored).to_vec();
        prev = r.hash.clone();
    }
    let err = verify(&key, &records, &digests).unwrap_err();
    assert!(
        err.contains("digest 2 does not match events 5..=8"),
        "{err}"
    );
}

#[test]
fn a_removed_event_is_named() {
    let (key, mut records, digests) = trail(10, 4);
    records.remove(2);
    let err = verify(&key, &records, &digests).unwrap_err();
    assert!(err.contains("event seq 3 was removed"), "{err}");
}

#[test]
fn an_inserted_event_is_named() {
    let (key, mut records, digests) = trail(10, 4);
    // Renumber from seq 3 on and put a forged event there.
    for r in &mut records[2..] {
        r.seq += 1;
    }
    let forged = record(&event(99), 3, &records[1].hash);
    records.insert(2, forged);
    let err = verify(&key, &records, &digests).unwrap_err();
    let id = &records[3].event_id;
    assert!(
        err.contains(&format!(
            "seq 4 (eventID {id}) was changed, inserted or reordered"
        )),
        "{err}"
    );
}

#[test]
fn reordered_events_are_named() {
    let (key, mut records, digests) = trail(10, 4);
    // Swap the contents of seq 2 and 3 (each row keeps its stored hash).
    let (a, b) = (records[1].clone(), records[2].clone());
    records[1] = AuditRecord { seq: 2, ..b };
    records[2] = AuditRecord { seq: 3, ..a };
    let err = verify(&key, &records, &digests).unwrap_err();
    let id = &records[1].event_id;
    assert!(
        err.contains(&format!(
            "event seq 2 (eventID {id}) was changed, inserted or reordered"
        )),
        "{err}"
    );
}

#[test]
fn a_truncated_tail_is_detected() {
    let (key, mut records, digests) = trail(10, 4);
    records.truncate(7);
    let err = verify(&key, &records, &digests).unwrap_err();
    assert!(
        err.contains("truncated: digest 2 covers events through seq 8"),
        "{err}"
    );
    // Cut after the last digest: only the unsigned events are gone, which
    // the report shows as nothing unsigned.
    let (key, mut records, digests) = trail(10, 4);
    records.truncate(8);
    assert_eq!(verify(&key, &records, &digests).unwrap().unsigned, 0);
}

#[test]
fn a_forged_digest_is_refused() {
    let (key, records, mut digests) = trail(8, 4);
    let other = SigningKey::from_pkcs8(&SigningKey::generate_pkcs8().unwrap()).unwrap();
    let d = &digests[1];
    digests[1] = AuditDigest::sign(
        &other,
        d.seq,
        d.first_event_seq,
        d.last_event_seq,
        &d.last_hash,
        5,
    );
    let err = verify(&key, &records, &digests).unwrap_err();
    assert!(err.contains("digest 2 has an invalid signature"), "{err}");
}

#[test]
fn the_event_json_is_cloudtrail_shaped() {
    let v: Value = serde_json::from_str(&event(1).to_json("eid")).unwrap();
    assert_eq!(v["eventVersion"], "1.08");
    assert_eq!(v["eventTime"], "2023-11-14T22:13:20Z");
    assert_eq!(v["eventSource"], "kms.amazonaws.com");
    assert_eq!(v["eventType"], "AwsApiCall");
    assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
    assert_eq!(v["resources"][0]["accountId"], "111122223333");
    // Unauthenticated (its actor is Unknown): filed into no account.
    assert_eq!(v["recipientAccountId"], Value::Null);
    assert_eq!(v["responseElements"], Value::Null);
}

/// Every kind of actor, with and without an error: the JSON's keys are
/// sorted at every level, as a `serde_json::Map` would write them, the
/// identity fields are CloudTrail's, and the stored record decodes to the
/// same JSON.
#[test]
fn the_event_json_is_canonical_for_every_actor() {
    let identity = |kind: PrincipalKind| {
        Arc::new(crate::model::Identity {
            account: "111122223333".into(),
            principal_arn: "arn:aws:sts::111122223333:assumed-role/r/s".into(),
            user_id: "AROAEXAMPLE:s".into(),
            username: None,
            kind,
            access_key_id: "ASIAEXAMPLE".into(),
            secret: zeroize::Zeroizing::new(Vec::new()),
            session_token_sha256: None,
            expires_ms: None,
            policies: Vec::new(),
        })
    };
    let actors = [
        Actor::Caller(identity(PrincipalKind::AssumedRole {
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
        })),
        Actor::Caller(identity(PrincipalKind::Root)),
        Actor::Unknown {
            access_key_id: None,
        },
        Actor::Service {
            account: "111122223333".into(),
        },
    ];
    for (i, actor) in actors.into_iter().enumerate() {
        let mut e = event(1);
        e.actor = actor;
        e.service_event = i == 3;
        e.error = (i % 2 == 0).then(|| ("AccessDeniedException".into(), "no \"quote\"".into()));
        let text = e.to_json("eid");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, v.to_string(), "keys not sorted: {text}");
        let stored = record(&e, 1, &[0; 32]);
        assert_eq!(
            stored.event_json,
            e.to_json(&stored.event_id),
            "the record decodes to another event"
        );
        match i {
            0 => {
                assert_eq!(v["userIdentity"]["type"], "AssumedRole");
                assert_eq!(
                    v["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
                    "arn:aws:iam::111122223333:role/r"
                );
                assert_eq!(v["errorCode"], "AccessDeniedException");
            }
            1 => assert_eq!(v["userIdentity"]["type"], "Root"),
            2 => assert_eq!(v["userIdentity"], json!({"type": "Unknown"})),
            _ => {
                assert_eq!(v["eventType"], "AwsServiceEvent");
                assert_eq!(v["sourceIPAddress"], "kms.amazonaws.com");
                assert_eq!(v["userIdentity"]["invokedBy"], "kms.amazonaws.com");
            }
        }
    }
}

#[test]
fn event_ids_are_uuids_unique_by_seq() {
    let a = event_id([7; 8], 1);
    let b = event_id([7; 8], 2);
    assert_ne!(a, b);
    let parsed = uuid::Uuid::parse_str(&a).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_ne!(event_id([8; 8], 1), a);
}

#[test]
fn rfc3339_round_trips() {
    assert_eq!(
        parse_rfc3339_ms("2023-11-14T22:13:20Z"),
        Some(1_700_000_000_000)
    );
    assert_eq!(
        parse_rfc3339_ms("2023-11-14T23:13:20.5+01:00"),
        Some(1_700_000_000_500)
    );
    assert_eq!(parse_rfc3339_ms("2023-11-14"), Some(1_699_920_000_000));
    assert_eq!(parse_rfc3339_ms("yesterday"), None);
    assert_eq!(iso8601(1_700_000_000_999), "2023-11-14T22:13:20Z");
    assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
    assert_eq!(iso8601(253_402_300_799_000), "9999-12-31T23:59:59Z");
    assert_eq!(iso8601(253_402_300_800_000), "10000-01-01T00:00:00Z");
}

#[test]
fn key_usage_keeps_the_last_successful_tracked_operation_per_key() {
    let key =
        |n: i64| uuid::Uuid::parse_str(&format!("0000000{n}-0000-4000-8000-000000000000")).unwrap();
    let mut failed = event(1);
    failed.error = Some(("DisabledException".into(), "disabled".into()));
    let mut describe = event(2);
    describe.name = "DescribeKey".into();
    let mut re_encrypt = event(3);
    re_encrypt.name = "ReEncrypt".into();
    re_encrypt.key_arns.push(event(4).key_arns[0].clone());
    let events = [event(1), failed, describe, event(2), re_encrypt, event(4)];
    let usage = usage::of_batch(events.iter(), 1, [7; 8]).rows();
    let got: Vec<(uuid::Uuid, &str, String)> = usage
        .iter()
        .map(|u| (u.key_id, u.last.operation(), u.last.event_id.to_string()))
        .collect();
    let id = |seq| event_id([7; 8], seq);
    assert_eq!(
        got,
        [
            (key(1), "Encrypt", id(1)),
            (key(2), "Encrypt", id(4)),
            (key(3), "ReEncrypt", id(5)),
            (key(4), "Encrypt", id(6)),
        ]
    );
    assert_eq!(
        usage[1].last.request_id.as_ref().map(|id| id.to_string()),
        Some("req-2".into())
    );
    // The same usage, read back from the events' CloudTrail records (the
    // replay after a crash).
    let replayed: Vec<usage::KeyUsage> = events
        .iter()
        .zip(1..)
        .flat_map(|(e, seq)| {
            let json: Value = serde_json::from_str(&e.to_json(&id(seq))).unwrap();
            usage::usage_of_record(e.time_ms, &json)
        })
        .collect();
    let mut last: std::collections::BTreeMap<uuid::Uuid, usage::KeyUsage> = Default::default();
    for u in replayed {
        last.insert(u.key_id, u);
    }
    assert_eq!(last.into_values().collect::<Vec<_>>(), usage);
}

#[test]
fn ids_are_16_bytes_when_they_are_canonical_uuids() {
    use usage::Id;
    let uuid = "0f3b2c1a-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
    assert!(matches!(Id::parse(uuid), Id::Uuid(_)));
    assert_eq!(Id::parse(uuid).to_string(), uuid);
    for text in [
        "req-2",
        "0F3B2C1A-9D8E-4F7A-8B6C-5D4E3F2A1B0C",
        "0f3b2c1a9d8e4f7a8b6c5d4e3f2a1b0c",
    ] {
        assert_eq!(Id::parse(text), Id::Text(text.into()));
        assert_eq!(Id::parse(text).to_string(), text);
    }
}

/// Accepts `budget` bytes, then fails until given more.
struct FlakyWriter {
    written: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    budget: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::io::Write for FlakyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::sync::atomic::Ordering::SeqCst;
        let n = buf.len().min(self.budget.load(SeqCst));
        if n == 0 {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        self.budget.fetch_sub(n, SeqCst);
        self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_stream_resumes_without_torn_or_repeated_lines() {
    use std::sync::atomic::Ordering::SeqCst;
    let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut sink = sink::JsonLinesSink::with_writer(Box::new(FlakyWriter {
        written: written.clone(),
        budget: budget.clone(),
    }));
    let stats = sink::AuditStats::default();
    let (_, records, _) = trail(4, 100);
    let json: Vec<String> = records.iter().map(|r| r.event_json.clone()).collect();
    // Half of the first line fits, then the "disk" is full.
    budget.store(json[0].len() / 2, SeqCst);
    assert!(sink.write(&json[..2], &stats).is_err());
    assert!(sink.write(&json[2..3], &stats).is_err());
    budget.store(usize::MAX / 2, SeqCst);
    sink.write(&json[3..], &stats).unwrap();
    let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let expected: Vec<&str> = json.iter().map(String::as_str).collect();
    assert_eq!(lines, expected);
    assert_eq!(stats.stream_dropped.load(SeqCst), 0);
}

#[test]
fn the_stream_refuses_mutations_and_the_store_everything() {
    let stats = sink::AuditStats::default();
    assert!(stats.accepts(true) && stats.accepts(false));
    stats.stream_result(false);
    assert!(!stats.accepts(true) && stats.accepts(false));
    stats.store_result(1, false);
    assert!(!stats.accepts(true) && !stats.accepts(false));
    stats.store_result(1, true);
    stats.stream_result(true);
    assert!(stats.accepts(true));
}

#[test]
fn a_block_stores_repeated_strings_once_and_decodes_to_the_same_events() {
    // Three calls by one caller on one key, as under load.
    let events: Vec<AuditEvent> = (1..=3)
        .map(|n| AuditEvent {
            time_ms: event(n).time_ms,
            request_id: event(n).request_id,
            ..event(1)
        })
        .collect();
    let (stored, prev) = encode_block([9; 8], &events, 10);
    assert_eq!((stored.first_seq, stored.last_seq), (10, 12));
    let spans = block::record_spans(stored.encoding, &stored.events);
    assert_eq!(spans.len(), 3);
    // The first record carries the shared strings; the others name them.
    assert!(spans[1].len() * 3 < spans[0].len(), "{spans:?}");
    let records = block::BlockDecoder::default().block(&stored, &[0; 32]);
    let mut whole = [0u8; 32];
    for ((r, e), seq) in records.iter().zip(&events).zip(10..) {
        assert_eq!(r.seq, seq);
        assert_eq!(r.event_id, event_id([9; 8], seq));
        assert_eq!(r.event_json, e.to_json(&r.event_id));
        // Each event's stored hash is its hash's prefix.
        whole = chain_hash(&whole, seq, &r.stored);
        assert_eq!(r.hash[..], whole[..r.hash.len()]);
        assert!(r.hash.len() >= block::HASH_PREFIX);
    }
    // The last is whole: the chain continues from it.
    assert_eq!(records[2].hash, prev);
    // A record cut from its segment does not decode: it names strings
    // only the segment's earlier records hold.
    let alone = block::AuditBlock {
        first_seq: 11,
        last_seq: 11,
        events: stored.events[spans[1].clone()].to_vec(),
        hashes: stored.hashes[8..16].to_vec(),
        accounts: Vec::new(),
        ..stored
    };
    let records = block::BlockDecoder::default().block(&alone, &[0; 32]);
    assert_eq!(records.len(), 1);
    assert!(records[0].event_json.is_empty());
}

/// Runs of one caller reuse its strings; a caller that comes back after
/// another still decodes to itself.
#[test]
fn callers_alternating_in_a_block_decode_to_themselves() {
    let caller = |name: &str, kind: PrincipalKind| {
        Actor::Caller(Arc::new(crate::model::Identity {
            account: "111122223333".into(),
            principal_arn: format!("arn:aws:iam::111122223333:user/{name}"),
            user_id: format!("AIDA{name}"),
            username: Some(name.into()),
            kind,
            access_key_id: format!("AKIA{name}"),
            secret: zeroize::Zeroizing::new(Vec::new()),
            session_token_sha256: None,
            expires_ms: None,
            policies: Vec::new(),
        }))
    };
    let a = caller("alice", PrincipalKind::User);
    let b = caller(
        "bob",
        PrincipalKind::AssumedRole {
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
        },
    );
    let events: Vec<AuditEvent> = [&a, &a, &b, &a, &b, &b]
        .into_iter()
        .enumerate()
        .map(|(i, actor)| AuditEvent {
            actor: actor.clone(),
            ..event(i as i64 + 1)
        })
        .collect();
    let (stored, _) = encode_block([3; 8], &events, 1);
    let records = block::BlockDecoder::default().block(&stored, &[0; 32]);
    assert_eq!(records.len(), 6);
    for (r, e) in records.iter().zip(&events) {
        assert_eq!(r.event_json, e.to_json(&r.event_id));
    }
}

#[test]
fn repeated_request_strings_are_interned_and_long_ones_are_not() {
    let (a, b) = (intern("eu-west-3"), intern(&String::from("eu-west-3")));
    match (&a, &b) {
        (Cow::Borrowed(a), Cow::Borrowed(b)) => assert!(std::ptr::eq(*a, *b)),
        other => panic!("not interned: {other:?}"),
    }
    let long = "x".repeat(INTERNED_LEN_MAX + 1);
    assert!(matches!(intern(&long), Cow::Owned(text) if text == long));
}

#[test]
fn a_threads_recent_strings_answer_only_for_equal_text() {
    // More distinct strings than a thread remembers, of one length, in
    // turns: each answer is its own text, and the same pointer each time
    // (from the thread's recent ones or from the shared set).
    let texts: Vec<String> = (0..6).map(|i| format!("ap-test-{i}")).collect();
    let first: Vec<Cow<'static, str>> = texts.iter().map(|t| intern(t)).collect();
    for _ in 0..3 {
        for (text, first) in texts.iter().zip(&first) {
            let again = intern(text);
            assert_eq!(again, *text);
            match (&again, first) {
                (Cow::Borrowed(a), Cow::Borrowed(b)) => assert!(std::ptr::eq(*a, *b)),
                other => panic!("not interned: {other:?}"),
            }
        }
    }
    // Another thread finds them in the shared set.
    let text = texts[0].clone();
    let there = std::thread::spawn(move || intern(&text)).join().unwrap();
    assert!(
        matches!((there, &first[0]), (Cow::Borrowed(a), Cow::Borrowed(b)) if std::ptr::eq(a, *b))
    );
}

/// A block an earlier version wrote (`testdata/block-encoding-N.json`,
/// made by that version's encoder) still reads as the same events and
/// verifies. Rendering has changed once since: an unauthenticated
/// request's event is filed into no account (it had been filed into the
/// account of a key ARN it named), so those events' expected JSON loses
/// `recipientAccountId`.
fn an_earlier_encoding_still_reads_and_verifies(fixture: &str, encoding: i64) {
    let fixture: Value = serde_json::from_str(fixture).unwrap();
    let bytes = |field: &str| {
        let text = fixture[field].as_str().unwrap();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let expected: Vec<Value> = fixture["json"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let mut event: Value = serde_json::from_str(j.as_str().unwrap()).unwrap();
            if event["userIdentity"]["type"] == "Unknown" {
                event.as_object_mut().unwrap().remove("recipientAccountId");
            }
            event
        })
        .collect();
    let stored = block::AuditBlock {
        first_seq: 1,
        last_seq: expected.len() as i64,
        first_time_ms: 0,
        last_time_ms: 0,
        encoding,
        events: bytes("events"),
        hashes: bytes("hashes"),
        accounts: Vec::new(),
    };
    let records = block::BlockDecoder::default().block(&stored, &[0; 32]);
    let json: Vec<Value> = records
        .iter()
        .map(|r| serde_json::from_str(&r.event_json).unwrap())
        .collect();
    assert_eq!(json, expected);
    let mut verifier = Verifier::new(&[], Vec::new());
    for r in &records {
        verifier.event(r).unwrap();
    }
    assert_eq!(verifier.finish().unwrap().events, 4);
}

/// Encoding 2: full hashes, text request ids.
#[test]
fn a_block_of_the_second_encoding_still_reads_and_verifies() {
    an_earlier_encoding_still_reads_and_verifies(
        include_str!("testdata/block-encoding-2.json"),
        block::ENCODING_COMPACT,
    );
}

/// Encoding 3: records that refer to the one before, without a recipient.
#[test]
fn a_block_of_the_third_encoding_still_reads_and_verifies() {
    an_earlier_encoding_still_reads_and_verifies(
        include_str!("testdata/block-encoding-3.json"),
        block::ENCODING_DELTA,
    );
}

/// The key owner's copy of a cross-account call is filed into the owner's
/// account, the caller's into the caller's; an unauthenticated event into
/// none, whatever key ARN it names.
#[test]
fn events_are_filed_into_their_recipients_account() {
    let caller = Actor::Caller(Arc::new(crate::model::Identity {
        account: "444455556666".into(),
        principal_arn: "arn:aws:iam::444455556666:user/bob".into(),
        user_id: "AIDABOB".into(),
        username: Some("bob".into()),
        kind: PrincipalKind::User,
        access_key_id: "AKIABOB".into(),
        secret: zeroize::Zeroizing::new(Vec::new()),
        session_token_sha256: None,
        expires_ms: None,
        policies: Vec::new(),
    }));
    let mut own = event(1);
    own.actor = caller;
    let owners = AuditEvent {
        recipient: Some("111122223333".into()),
        ..own.clone()
    };
    let unknown = event(2);
    let mut encoder = block::BlockEncoder::new([3; 8]);
    let mut prev = [0u8; 32];
    for (i, e) in [&own, &owners, &unknown].into_iter().enumerate() {
        prev = encoder.push(e, 1 + i as i64, &prev);
    }
    let stored = encoder.into_block(1).unwrap();
    assert_eq!(stored.encoding, block::ENCODING_RECIPIENT);
    let records = block::BlockDecoder::default().block(&stored, &[0; 32]);
    let recipient = |r: &AuditRecord| {
        let v: Value = serde_json::from_str(&r.event_json).unwrap();
        v["recipientAccountId"].as_str().map(str::to_owned)
    };
    assert_eq!(recipient(&records[0]).as_deref(), Some("444455556666"));
    assert_eq!(recipient(&records[1]).as_deref(), Some("111122223333"));
    assert_eq!(recipient(&records[2]), None);
    let mut verifier = Verifier::new(&[], Vec::new());
    for r in &records {
        verifier.event(r).unwrap();
    }
}

/// What a record takes from the one before it (time, address, caller,
/// request id) decodes to the event's own, in every mix; a steady run
/// costs a few bytes a record.
#[test]
fn records_that_refer_to_the_one_before_decode_to_their_own_facts() {
    let uuid = |prefix: u8, n: u64| Id::Uuid(counter_uuid([prefix; 8], n));
    let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
    let caller = Actor::Caller(Arc::new(crate::model::Identity {
        account: "111122223333".into(),
        principal_arn: "arn:aws:iam::111122223333:user/carol".into(),
        user_id: "AIDACAROL".into(),
        username: Some("carol".into()),
        kind: PrincipalKind::User,
        access_key_id: "AKIACAROL".into(),
        secret: zeroize::Zeroizing::new(Vec::new()),
        session_token_sha256: None,
        expires_ms: None,
        policies: Vec::new(),
    }));
    let facts = [
        (0, ip("10.0.0.1"), Some(uuid(1, 7))),
        (5, ip("10.0.0.1"), Some(uuid(1, 8))),
        (-3, ip("10.0.0.2"), Some(uuid(1, 6))),
        (0, None, Some(uuid(2, 6))),
        (40, ip("::1"), None),
        (1, ip("::1"), Some(Id::parse("not-a-uuid"))),
        (1, ip("::1"), Some(uuid(1, u64::MAX >> 2))),
        (1, ip("::1"), Some(uuid(1, 0))),
    ];
    let mut time = 1_700_000_000_000;
    let events: Vec<AuditEvent> = facts
        .into_iter()
        .enumerate()
        .map(|(i, (step, source_ip, request_id))| {
            time += step;
            AuditEvent {
                time_ms: time,
                source_ip,
                request_id,
                actor: if i % 3 == 2 {
                    Actor::Service {
                        account: "111122223333".into(),
                    }
                } else {
                    caller.clone()
                },
                ..event(1)
            }
        })
        .collect();
    let (stored, _) = encode_block([4; 8], &events, 1);
    assert_eq!(stored.hashes.len(), 7 * block::HASH_PREFIX + 32);
    let records = block::BlockDecoder::default().block(&stored, &[0; 32]);
    assert_eq!(records.len(), events.len());
    for (r, e) in records.iter().zip(&events) {
        assert_eq!(r.event_json, e.to_json(&r.event_id));
    }
    let mut verifier = Verifier::new(&[], Vec::new());
    for r in &records {
        verifier.event(r).unwrap();
    }
    // A steady run: one caller, key, agent and address; ids counting up.
    let steady: Vec<AuditEvent> = (0..4)
        .map(|n| AuditEvent {
            time_ms: time + n,
            source_ip: ip("10.0.0.1"),
            request_id: Some(uuid(1, 100 + n as u64)),
            actor: caller.clone(),
            ..event(1)
        })
        .collect();
    let (stored, _) = encode_block([4; 8], &steady, 1);
    let spans = block::record_spans(stored.encoding, &stored.events);
    // 24 bytes of record and one for its (absent) recipient.
    assert!(spans[1..].iter().all(|s| s.len() <= 25), "{spans:?}");
}

#[test]
fn the_account_of_an_arn() {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(arn_account(arn), Some("111122223333"));
    assert_eq!(
        arn_account("arn:aws:kms:eu-west-1:444455556666:alias/x"),
        Some("444455556666")
    );
    assert_eq!(arn_account("arn:aws:kms:eu-west-1::key/x"), None);
    assert_eq!(arn_account("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
    // As `split(':').nth(4)`: the fifth field, to the next colon or the end.
    assert_eq!(arn_account("a:b:c:d:e"), Some("e"));
    assert_eq!(arn_account("a:b:c:d:"), None);
    assert_eq!(arn_account("a:b:c:d"), None);
}
