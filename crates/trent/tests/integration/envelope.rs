//! `trent encrypt` and `trent decrypt` from the attacker's side: the real
//! binary as a child process, configured only by the standard AWS
//! environment, against a Trent whose keys, grants, users and policies the
//! tests set up with `aws-sdk-kms`. A refusal must come from KMS (its error
//! code on stderr) and leave nothing behind: no output file, no
//! `.trent-partial-*` temporary file, an existing file untouched.
//!
//! The interoperability with the AWS Encryption SDK (aws-encryption-cli) is
//! `tests/python/test_envelope.py`'s.

use crate::common::*;
use aws_sdk_kms::Client;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The default suite, signed with ECDSA P-384.
const SIGNED: &str = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384";
/// The key-committing suite without a signature.
const UNSIGNED: &str = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY";
/// The suites' ids, the message's bytes 1 and 2 (after the version, 2).
const SIGNED_ID: [u8; 2] = [0x05, 0x78];
const UNSIGNED_ID: [u8; 2] = [0x04, 0x78];
/// The signed suite's public key, which joins the encryption context.
const PUBLIC_KEY: &[u8] = b"aws-crypto-public-key";
const OTHER_ACCOUNT: &str = "444455556666";

/// A principal as `trent encrypt` and `trent decrypt` run it: an access key
/// against one server, and a home of its own with no AWS files in it.
struct Caller {
    url: String,
    access: String,
    secret: String,
    home: tempfile::TempDir,
}

impl Caller {
    fn new(server: &Server, access: &str, secret: &str) -> Caller {
        Caller {
            url: server.url.clone(),
            access: access.to_owned(),
            secret: secret.to_owned(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The bootstrap account's root, which made the keys.
    fn admin(server: &Server) -> Caller {
        Caller::new(server, ACCESS_KEY, SECRET_KEY)
    }

    /// `trent` pointed at the server with this caller's credentials, and
    /// nothing else of the test's environment: no profile or credentials
    /// file (their paths do not exist), no instance metadata, no TRENT_*.
    fn trent_client(&self) -> Command {
        let absent = self.home.path().join("absent");
        let mut command = Command::new(env!("CARGO_BIN_EXE_trent"));
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command
            .env("HOME", self.home.path())
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &self.access)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_CONFIG_FILE", absent.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", absent.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        command
    }

    /// `trent encrypt --key-id KEY [--context C]... ARGS INPUT OUTPUT`.
    fn encrypt(
        &self,
        key: &str,
        context: &[&str],
        args: &[&str],
        input: &Path,
        output: &Path,
    ) -> Output {
        let mut command = self.trent_client();
        command.args(["encrypt", "--key-id", key]);
        for pair in context {
            command.args(["--context", pair]);
        }
        command.args(args).arg(input).arg(output);
        command.output().unwrap()
    }

    /// `trent decrypt --key-id KEY_ARN ARGS INPUT OUTPUT`.
    fn decrypt(&self, key_arn: &str, args: &[&str], input: &Path, output: &Path) -> Output {
        self.trent_client()
            .args(["decrypt", "--key-id", key_arn])
            .args(args)
            .arg(input)
            .arg(output)
            .output()
            .unwrap()
    }

    /// `trent ARGS`, `stdin` on its standard input.
    fn piped(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .trent_client()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            // The child may fail before it reads everything.
            let _ = pipe.write_all(&stdin);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        output
    }
}

/// A new IAM user of the bootstrap account with `policy` as its inline
/// policy if given, as a caller of `trent`, and the user's ARN.
fn iam_user_caller(server: &Server, name: &str, policy: Option<&str>) -> (Caller, String) {
    let (access, secret, arn) = iam_user_keys(server, name, policy);
    (Caller::new(server, &access, &secret), arn)
}

/// A new symmetric key's ARN (what `trent decrypt --key-id` takes).
async fn new_key_arn(kms: &Client) -> String {
    kms.create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

/// `len` bytes that are not all alike.
fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// A directory of the test's files: `write`s inputs, names outputs.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "trent exited with {}: {}",
        out.status,
        stderr(out)
    );
}

/// Asserts that `trent` failed with each of `needles` in its stderr.
#[track_caller]
fn failed(out: &Output, needles: &[&str]) {
    let text = stderr(out);
    assert!(
        !out.status.success(),
        "trent succeeded; stdout {} bytes, stderr: {text}",
        out.stdout.len()
    );
    assert_ne!(out.status.code(), None, "killed by a signal: {text}");
    for needle in needles {
        assert!(text.contains(needle), "no {needle:?} in: {text}");
    }
}

/// Asserts that nothing is at `output` and that no temporary file was left
/// beside it.
#[track_caller]
fn nothing_written(output: &Path) {
    assert!(!output.exists(), "{} was written", output.display());
    let partial: Vec<_> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".trent-partial-"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

/// Asserts that `message` is a version 2 message of `suite_id` whose data
/// key `key_arn` wrapped, with the public key in its header if and only if
/// the suite is signed, and without the plaintext in clear.
#[track_caller]
fn looks_like_message(message: &[u8], suite_id: [u8; 2], key_arn: &str, plain: &[u8]) {
    assert_eq!(message[0], 2, "not a version 2 message");
    assert_eq!(message[1..3], suite_id, "another suite");
    assert!(contains(message, key_arn.as_bytes()), "no {key_arn}");
    assert_eq!(
        contains(message, PUBLIC_KEY),
        suite_id == SIGNED_ID,
        "the public key is in the header if and only if the suite is signed"
    );
    if plain.len() >= 64 {
        assert!(!contains(message, &plain[..64]), "the plaintext shows");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A file, a stream and an empty file go through `trent encrypt` and back
/// through `trent decrypt` under both suites, the encryption context
/// stored in the message: files to files, standard input to standard
/// output, and each form read by the other. `decrypt --context` demands
/// pairs of the message's context and refuses (writing nothing) when they
/// are not there.
#[tokio::test]
async fn messages_round_trip_through_files_and_streams_under_both_suites() {
    let server = Server::start();
    let key = new_key_arn(&server.client()).await;
    let admin = Caller::admin(&server);
    let files = Files::new();
    let context = ["purpose=backup", "team=ops"];
    for (suite, suite_id) in [(SIGNED, SIGNED_ID), (UNSIGNED, UNSIGNED_ID)] {
        // Spans several frames, the last one short.
        for plain in [plaintext(3 * 4096 + 7), Vec::new()] {
            let what = format!("{suite}, {} bytes", plain.len());
            let input = files.write("plain", &plain);
            let message = files.path("message");
            let out = admin.encrypt(&key, &context, &["--algorithm", suite], &input, &message);
            succeeded(&out);
            assert!(out.stdout.is_empty(), "{what}");
            let bytes = std::fs::read(&message).unwrap();
            looks_like_message(&bytes, suite_id, &key, &plain);
            assert!(contains(&bytes, b"purpose") && contains(&bytes, b"backup"));

            // File to file.
            let output = files.path("decrypted");
            let out = admin.decrypt(&key, &["--context", "purpose=backup"], &message, &output);
            succeeded(&out);
            assert_eq!(std::fs::read(&output).unwrap(), plain, "{what}");
            std::fs::remove_file(&output).unwrap();

            // A context pair the message lacks, or holds with another value.
            for wrong in ["purpose=payroll", "owner=ops"] {
                let out = admin.decrypt(&key, &["--context", wrong], &message, &output);
                failed(&out, &["encryption context"]);
                nothing_written(&output);
            }

            // The file's message on standard input, to standard output.
            let out = admin.piped(&["decrypt", "--key-id", &key, "-", "-"], &bytes);
            succeeded(&out);
            assert_eq!(out.stdout, plain, "{what}");

            // Standard input to standard output, then read from the file.
            let mut args = vec!["encrypt", "--key-id", &key, "--algorithm", suite];
            for pair in &context {
                args.extend(["--context", pair]);
            }
            args.extend(["-", "-"]);
            let out = admin.piped(&args, &plain);
            succeeded(&out);
            looks_like_message(&out.stdout, suite_id, &key, &plain);
            // A new data key and message id every time.
            assert_ne!(out.stdout, bytes, "{what}");
            let streamed = files.write("streamed", &out.stdout);
            let out = admin.piped(&["decrypt", "--discovery", "-", "-"], &out.stdout);
            succeeded(&out);
            assert_eq!(out.stdout, plain, "{what}");
            let out = admin.decrypt(&key, &["--context", "team=ops"], &streamed, &output);
            succeeded(&out);
            assert_eq!(std::fs::read(&output).unwrap(), plain, "{what}");
            std::fs::remove_file(&output).unwrap();
        }
    }
}

/// `trent decrypt --key-id` asks KMS only about the keys it names: a
/// message wrapped by another key of the same account, which the caller
/// could decrypt, is refused without asking, and nothing is written.
#[tokio::test]
async fn decrypt_asks_only_the_keys_it_is_given() {
    let server = Server::start();
    let kms = server.client();
    let (key, other) = (new_key_arn(&kms).await, new_key_arn(&kms).await);
    let admin = Caller::admin(&server);
    let files = Files::new();
    let input = files.write("plain", b"for the one key");
    let message = files.path("message");
    succeeded(&admin.encrypt(&key, &[], &[], &input, &message));
    let output = files.path("decrypted");
    let out = admin.decrypt(&other, &[], &message, &output);
    failed(&out, &[&format!("{key}: not a key this decrypt may use")]);
    nothing_written(&output);
    // Either key named: the message's own is used.
    let out = admin.decrypt(&other, &["--key-id", &key], &message, &output);
    succeeded(&out);
    assert_eq!(std::fs::read(&output).unwrap(), b"for the one key");
}

/// A grantee (an IAM user with no policy of its own) whose one grant on
/// the key is for Decrypt: refused before the grant, it decrypts with it,
/// cannot encrypt with the key (GenerateDataKey is refused, no message
/// written), and is refused again once the grant is revoked.
#[tokio::test]
async fn a_decrypt_grant_decrypts_and_does_not_encrypt() {
    let server = Server::start();
    let kms = server.client();
    let key = new_key_arn(&kms).await;
    let admin = Caller::admin(&server);
    let (grantee, grantee_arn) = iam_user_caller(&server, "grantee", None);
    let files = Files::new();
    let plain = plaintext(10_000);
    let input = files.write("plain", &plain);
    let message = files.path("message");
    succeeded(&admin.encrypt(&key, &["purpose=x"], &[], &input, &message));
    let output = files.path("decrypted");

    let out = grantee.decrypt(&key, &[], &message, &output);
    failed(&out, &["Decrypt", "AccessDeniedException"]);
    nothing_written(&output);

    let grant_id = kms
        .create_grant()
        .key_id(&key)
        .grantee_principal(&grantee_arn)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap();
    let out = grantee.decrypt(&key, &[], &message, &output);
    succeeded(&out);
    assert_eq!(std::fs::read(&output).unwrap(), plain);
    std::fs::remove_file(&output).unwrap();

    let sealed = files.path("sealed");
    let out = grantee.encrypt(&key, &["purpose=x"], &[], &input, &sealed);
    failed(&out, &["GenerateDataKey", "AccessDeniedException"]);
    nothing_written(&sealed);
    // Nor beside a key it may encrypt with, in either order: first, the
    // key generates the data key (refused); second, it wraps the data key
    // the permitted one made (refused too), and no message is left that
    // only the permitted key opens.
    let own = new_key_arn(&kms).await;
    kms.create_grant()
        .key_id(&own)
        .grantee_principal(&grantee_arn)
        .operations(GrantOperation::GenerateDataKey)
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    succeeded(&grantee.encrypt(&own, &[], &[], &input, &sealed));
    std::fs::remove_file(&sealed).unwrap();
    let out = grantee.encrypt(&key, &[], &["--key-id", &own], &input, &sealed);
    failed(&out, &["GenerateDataKey", "AccessDeniedException"]);
    nothing_written(&sealed);
    let out = grantee.encrypt(&own, &[], &["--key-id", &key], &input, &sealed);
    failed(&out, &[": Encrypt: AccessDeniedException"]);
    nothing_written(&sealed);

    kms.revoke_grant()
        .key_id(&key)
        .grant_id(&grant_id)
        .send()
        .await
        .unwrap();
    let out = grantee.decrypt(&key, &[], &message, &output);
    failed(&out, &["Decrypt", "AccessDeniedException"]);
    nothing_written(&output);
}

/// A Decrypt grant constrained to an encryption context: with
/// EncryptionContextSubset the grantee decrypts a message whose context
/// holds the pair (among others) and is refused one whose context differs;
/// with EncryptionContextEquals only a message of exactly that context
/// decrypts, which the signed suite's message never is (its public key is
/// part of the context KMS sees). Every refusal writes nothing.
#[tokio::test]
async fn a_grant_constrained_to_a_context_decrypts_only_that_context() {
    let server = Server::start();
    let kms = server.client();
    let key = new_key_arn(&kms).await;
    let admin = Caller::admin(&server);
    let (subset, subset_arn) = iam_user_caller(&server, "subset", None);
    let (equals, equals_arn) = iam_user_caller(&server, "equals", None);
    for (arn, constraints) in [
        (
            &subset_arn,
            GrantConstraints::builder()
                .encryption_context_subset("purpose", "x")
                .build(),
        ),
        (
            &equals_arn,
            GrantConstraints::builder()
                .encryption_context_equals("purpose", "x")
                .build(),
        ),
    ] {
        kms.create_grant()
            .key_id(&key)
            .grantee_principal(arn)
            .operations(GrantOperation::Decrypt)
            .constraints(constraints)
            .send()
            .await
            .unwrap();
    }
    let files = Files::new();
    let plain = plaintext(5_000);
    let input = files.write("plain", &plain);
    let seal = |name: &str, context: &[&str], suite: &str| {
        let message = files.path(name);
        succeeded(&admin.encrypt(&key, context, &["--algorithm", suite], &input, &message));
        message
    };
    let exact = seal("exact", &["purpose=x"], UNSIGNED);
    let wider = seal("wider", &["purpose=x", "team=ops"], UNSIGNED);
    let signed = seal("signed", &["purpose=x"], SIGNED);
    let other = seal("other", &["purpose=y"], UNSIGNED);
    let none = seal("none", &[], UNSIGNED);
    let cases = [
        (&subset, &exact, true),
        (&subset, &wider, true),
        (&subset, &signed, true),
        (&subset, &other, false),
        (&subset, &none, false),
        (&equals, &exact, true),
        (&equals, &wider, false),
        (&equals, &signed, false),
        (&equals, &other, false),
        (&equals, &none, false),
    ];
    let outputs = files.path("out");
    std::fs::create_dir(&outputs).unwrap();
    for (i, (grantee, message, allowed)) in cases.into_iter().enumerate() {
        let output = outputs.join(format!("decrypted-{i}"));
        let out = grantee.decrypt(&key, &[], message, &output);
        if allowed {
            succeeded(&out);
            assert_eq!(std::fs::read(&output).unwrap(), plain, "case {i}");
        } else {
            failed(&out, &["Decrypt", "AccessDeniedException"]);
            nothing_written(&output);
        }
    }
}

/// An identity policy that allows kms:Decrypt only when the encryption
/// context's `purpose` is `x`: its user decrypts messages made with
/// `--context purpose=x` (alone or with other pairs, under either suite)
/// and is refused those made with `purpose=y`, `purpose=X` or no context;
/// it may not encrypt at all.
#[tokio::test]
async fn an_identity_policy_condition_on_the_context_decides_decrypt() {
    let server = Server::start();
    let key = new_key_arn(&server.client()).await;
    let admin = Caller::admin(&server);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"x"}}}]}"#;
    let (user, _) = iam_user_caller(&server, "reader", Some(policy));
    let files = Files::new();
    let plain = plaintext(9_000);
    let input = files.write("plain", &plain);
    for suite in [SIGNED, UNSIGNED] {
        for (context, allowed) in [
            (&["purpose=x"][..], true),
            (&["purpose=x", "team=ops"][..], true),
            (&["purpose=y"][..], false),
            (&["purpose=X"][..], false),
            (&[][..], false),
        ] {
            let message = files.path("message");
            succeeded(&admin.encrypt(&key, context, &["--algorithm", suite], &input, &message));
            let output = files.path("decrypted");
            let out = user.decrypt(&key, &[], &message, &output);
            if allowed {
                succeeded(&out);
                assert_eq!(
                    std::fs::read(&output).unwrap(),
                    plain,
                    "{suite} {context:?}"
                );
                std::fs::remove_file(&output).unwrap();
            } else {
                failed(&out, &["Decrypt", "AccessDeniedException"]);
                nothing_written(&output);
            }
        }
    }
    let sealed = files.path("sealed");
    let out = user.encrypt(&key, &["purpose=x"], &[], &input, &sealed);
    failed(&out, &["GenerateDataKey", "AccessDeniedException"]);
    nothing_written(&sealed);
}

/// Another account's root, which the key's default policy does not trust,
/// cannot decrypt a message under this account's key, whether it names
/// the key or discovers it (AccessDeniedException naming that root), nor
/// encrypt with the key; discovery limited to its own account does not
/// even ask KMS. Nothing is written. The same message decrypts for the
/// key's own account.
#[tokio::test]
async fn another_account_cannot_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (access, secret) = create_account(dir.path(), OTHER_ACCOUNT);
    let key = new_key_arn(&server.client()).await;
    let admin = Caller::admin(&server);
    let stranger = Caller::new(&server, &access, &secret);
    let files = Files::new();
    let plain = plaintext(6_000);
    let input = files.write("plain", &plain);
    let message = files.path("message");
    succeeded(&admin.encrypt(&key, &["purpose=x"], &[], &input, &message));
    let output = files.path("decrypted");

    let out = stranger.decrypt(&key, &[], &message, &output);
    failed(
        &out,
        &[
            "Decrypt",
            "AccessDeniedException",
            &format!("arn:aws:iam::{OTHER_ACCOUNT}:root"),
        ],
    );
    nothing_written(&output);
    let discover = |args: &[&str]| {
        stranger
            .trent_client()
            .args(["decrypt", "--discovery"])
            .args(args)
            .arg(&message)
            .arg(&output)
            .output()
            .unwrap()
    };
    let out = discover(&[]);
    failed(&out, &["Decrypt", "AccessDeniedException"]);
    nothing_written(&output);
    let out = discover(&["--account", OTHER_ACCOUNT]);
    failed(&out, &["not a key this decrypt may use"]);
    assert!(
        !stderr(&out).contains("AccessDeniedException"),
        "KMS was asked"
    );
    nothing_written(&output);
    let sealed = files.path("sealed");
    let out = stranger.encrypt(&key, &[], &[], &input, &sealed);
    failed(&out, &["GenerateDataKey", "AccessDeniedException"]);
    nothing_written(&sealed);

    let out = admin.decrypt(&key, &[], &message, &output);
    succeeded(&out);
    assert_eq!(std::fs::read(&output).unwrap(), plain);
}

/// A disabled key: decrypt fails with DisabledException and writes
/// nothing, and so does encrypt; once enabled again the same message
/// decrypts.
#[tokio::test]
async fn a_disabled_key_decrypts_nothing_until_enabled() {
    let server = Server::start();
    let kms = server.client();
    let key = new_key_arn(&kms).await;
    let admin = Caller::admin(&server);
    let files = Files::new();
    let plain = plaintext(4_097);
    let input = files.write("plain", &plain);
    let message = files.path("message");
    succeeded(&admin.encrypt(&key, &["purpose=x"], &[], &input, &message));
    let output = files.path("decrypted");

    kms.disable_key().key_id(&key).send().await.unwrap();
    let out = admin.decrypt(&key, &[], &message, &output);
    failed(&out, &["Decrypt", "DisabledException"]);
    nothing_written(&output);
    let sealed = files.path("sealed");
    let out = admin.encrypt(&key, &[], &[], &input, &sealed);
    failed(&out, &["GenerateDataKey", "DisabledException"]);
    nothing_written(&sealed);

    kms.enable_key().key_id(&key).send().await.unwrap();
    let out = admin.decrypt(&key, &[], &message, &output);
    succeeded(&out);
    assert_eq!(std::fs::read(&output).unwrap(), plain);
}

/// A message changed in its body (one bit of a frame, under either suite)
/// does not authenticate: decrypt exits nonzero saying so, writes nothing,
/// leaves no temporary file, and a file already at the output's path keeps
/// its bytes. A message cut short, or with bytes after its end, is refused
/// the same way.
#[tokio::test]
async fn a_tampered_message_writes_nothing() {
    let server = Server::start();
    let key = new_key_arn(&server.client()).await;
    let admin = Caller::admin(&server);
    let files = Files::new();
    // Many frames, so that the middle of the message is a frame's body.
    let plain = plaintext(64 * 4096 + 100);
    let input = files.write("plain", &plain);
    let outputs = files.path("out");
    std::fs::create_dir(&outputs).unwrap();
    let existing = outputs.join("existing");
    let before = b"bytes that were here before".to_vec();
    std::fs::write(&existing, &before).unwrap();
    for suite in [SIGNED, UNSIGNED] {
        let message = files.path("message");
        succeeded(&admin.encrypt(
            &key,
            &["purpose=x"],
            &["--algorithm", suite],
            &input,
            &message,
        ));
        let good = std::fs::read(&message).unwrap();
        let fresh = outputs.join("fresh");
        // The message as written decrypts.
        succeeded(&admin.decrypt(&key, &[], &message, &fresh));
        assert_eq!(std::fs::read(&fresh).unwrap(), plain);
        std::fs::remove_file(&fresh).unwrap();

        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 0x01;
        let mut cut = good.clone();
        cut.truncate(good.len() - 1);
        let mut longer = good.clone();
        longer.push(0);
        for (what, bytes, says) in [
            ("flipped", &flipped, "does not authenticate"),
            ("cut", &cut, "truncated"),
            ("longer", &longer, "bytes follow the end of the message"),
        ] {
            let tampered = files.write("tampered", bytes);
            let out = admin.decrypt(&key, &[], &tampered, &fresh);
            failed(&out, &[says]);
            nothing_written(&fresh);
            let out = admin.decrypt(&key, &[], &tampered, &existing);
            failed(&out, &[says]);
            assert_eq!(
                std::fs::read(&existing).unwrap(),
                before,
                "{suite}, {what}: the existing file changed"
            );
            nothing_written(&fresh);
        }
    }
}
