//! Issue 16, root-key rotation: `trent root-key rotate` on the real binary.
//! A store rotated from one provider to another (file → passphrase →
//! another passphrase → file → another Trent's data key → file → PKCS#11)
//! keeps every key's every material version and every access key (an
//! account root's, an IAM user's); after each rotation only the new key
//! opens it and the trail verifies. Kill trials: rotations of 1,000 keys
//! (file → passphrase, passphrase → file) killed with SIGKILL at random
//! moments always leave a store that exactly one of the two keys opens,
//! and running the rotation again finishes it.

use crate::common::{self, Server, iam, new_key, xml_value};
use crate::custody::{PIN, SOFTHSM, aws_env, borrowed, meta, refused, softhsm_token};
use aws_sdk_kms::primitives::Blob;
use futures_util::StreamExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

const OTHER_ACCOUNT: &str = "444455556666";

/// `trent ARGS` with `env` and no other TRENT_* variable.
fn trent(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trent"));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("TRENT_")) {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `trent root-key rotate --data-dir DATA [--root-key CURRENT] --to NEW`.
fn rotate(data: &Path, current: Option<&str>, to: &str, env: &[(&str, &str)]) -> Output {
    let mut args = vec!["root-key", "rotate", "--data-dir", path(data), "--to", to];
    if let Some(current) = current {
        args.extend(["--root-key", current]);
    }
    trent(&args, env)
}

/// Whether `trent audit verify` opens the store with `spec` (and the trail
/// verifies).
fn opens(data: &Path, spec: &str, env: &[(&str, &str)]) -> bool {
    trent(
        &[
            "audit",
            "verify",
            "--data-dir",
            path(data),
            "--root-key",
            spec,
        ],
        env,
    )
    .status
    .success()
}

/// An IAM user allowed to decrypt, and its access key (id, secret).
fn iam_user(server: &Server) -> (String, String) {
    let (status, answer) = iam(
        server,
        &[("Action", "CreateUser"), ("UserName", "rotation")],
    );
    assert_eq!(status, 200, "{answer}");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let (status, answer) = iam(
        server,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "rotation"),
            ("PolicyName", "decrypt"),
            ("PolicyDocument", policy),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = iam(
        server,
        &[("Action", "CreateAccessKey"), ("UserName", "rotation")],
    );
    assert_eq!(status, 200, "{answer}");
    (
        xml_value(&answer, "AccessKeyId"),
        xml_value(&answer, "SecretAccessKey"),
    )
}

/// (ciphertext, plaintext) pairs, each under some key.
type Ciphertexts = Vec<(Vec<u8>, Vec<u8>)>;

async fn encrypt(kms: &aws_sdk_kms::Client, key: &str, n: usize) -> (Vec<u8>, Vec<u8>) {
    let plaintext = format!("secret {n} under {key}").into_bytes();
    let out = kms
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext.clone()))
        .send()
        .await
        .unwrap();
    (out.ciphertext_blob.unwrap().into_inner(), plaintext)
}

/// Decrypts every ciphertext, 32 at a time.
async fn decrypt_all(kms: &aws_sdk_kms::Client, ciphertexts: &Ciphertexts) {
    futures_util::stream::iter(ciphertexts)
        .map(|(ciphertext, plaintext)| async move {
            let out = kms
                .decrypt()
                .ciphertext_blob(Blob::new(ciphertext.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(out.plaintext.unwrap().as_ref(), plaintext.as_slice());
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

/// Starts the server with `spec`: every ciphertext decrypts, with the
/// bootstrap access key and another account's; then stops it.
async fn serves(
    data: &Path,
    spec: &str,
    env: &[(&str, &str)],
    ciphertexts: &Ciphertexts,
    other: &(String, String, Ciphertexts),
    user: &(String, String),
) {
    let server = Server::start_with(data, &["--root-key", spec], env);
    decrypt_all(&server.client(), ciphertexts).await;
    let (access_key, secret, theirs) = other;
    decrypt_all(&server.client_with(access_key, secret, "us-east-1"), theirs).await;
    let (access_key, secret) = user;
    decrypt_all(
        &server.client_with(access_key, secret, "us-east-1"),
        ciphertexts,
    )
    .await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_rotated_across_providers_keeps_every_key_and_access_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let default_key = data.join("root.key");
    let default_spec = format!("file:{}", default_key.display());

    // Keys with several material versions, ciphertexts under each version;
    // another account's access key (sealed like every access key) and its
    // key.
    let server = Server::start_in(&data, &[]);
    let kms = server.client();
    let mut ciphertexts = Vec::new();
    for k in 0..3 {
        let key = new_key(&kms).await;
        for version in 0..3 {
            if version > 0 {
                kms.rotate_key_on_demand()
                    .key_id(&key)
                    .send()
                    .await
                    .unwrap();
            }
            ciphertexts.push(encrypt(&kms, &key, k * 10 + version).await);
        }
    }
    let (access_key, secret) = common::create_account(&data, OTHER_ACCOUNT);
    let theirs = server.client_with(&access_key, &secret, "us-east-1");
    let their_key = new_key(&theirs).await;
    let other = (
        access_key,
        secret,
        vec![encrypt(&theirs, &their_key, 99).await],
    );
    // An IAM user's access key.
    let user = iam_user(&server);
    decrypt_all(
        &server.client_with(&user.0, &user.1, "us-east-1"),
        &ciphertexts,
    )
    .await;

    // Not while the server runs; nor a second server.
    let out = rotate(&data, None, "passphrase", &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is in use; stop the server first"),
        "{}",
        text(&out)
    );
    let stderr = refused(&data, &[], &[]);
    assert!(
        stderr.contains("is in use, Trent will not serve it twice"),
        "{stderr}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("trent.lock"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    server.stop();
    let before = meta(&data).await;

    // Refusals write nothing: a wrong current key, the current key as the
    // new one, an unusable new spec.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let wrong_spec = format!("file:{}", wrong.display());
    let out = rotate(
        &data,
        Some(&wrong_spec),
        "passphrase",
        &[("TRENT_NEW_ROOT_PASSPHRASE", "x")],
    );
    assert!(
        !out.status.success() && text(&out).contains("does not open this store"),
        "{}",
        text(&out)
    );
    let out = rotate(&data, None, &default_spec, &[]);
    assert!(
        !out.status.success() && text(&out).contains("is the current root key file"),
        "{}",
        text(&out)
    );
    let copy = dir.path().join("copy.key");
    std::fs::copy(&default_key, &copy).unwrap();
    let out = rotate(&data, None, &format!("file:{}", copy.display()), &[]);
    assert!(
        !out.status.success() && text(&out).contains("is the store's current root key"),
        "{}",
        text(&out)
    );
    let out = rotate(&data, None, "passphrase", &[]);
    assert!(
        !out.status.success() && text(&out).contains("set TRENT_NEW_ROOT_PASSPHRASE"),
        "{}",
        text(&out)
    );
    assert_eq!(meta(&data).await, before);

    // file → passphrase.
    const FIRST: &str = "first rotation passphrase";
    const SECOND: &str = "second rotation passphrase";
    let out = rotate(
        &data,
        None,
        "passphrase",
        &[("TRENT_NEW_ROOT_PASSPHRASE", FIRST)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("10 key material versions, 3 access keys and 3 server values re-sealed"),
        "{said}"
    );
    assert!(said.contains("no longer opens this store"), "{said}");
    assert!(!said.contains(FIRST), "{said}");
    let first = [("TRENT_ROOT_PASSPHRASE", FIRST)];
    serves(&data, "passphrase", &first, &ciphertexts, &other, &user).await;
    let stderr = refused(&data, &[], &[]);
    assert!(stderr.contains("does not open this store"), "{stderr}");
    assert!(opens(&data, "passphrase", &first));
    assert!(!opens(&data, &default_spec, &[]));
    // Every account's trail records it, naming both specs.
    let out = trent(
        &[
            "audit",
            "export",
            "--data-dir",
            path(&data),
            "--root-key",
            "passphrase",
        ],
        &first,
    );
    let events: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"RotateRootKey\""))
        .collect();
    assert_eq!(events.len(), 2, "{}", text(&out));
    assert!(
        events
            .iter()
            .all(|e| e.contains(&default_spec) && !e.contains(FIRST)),
        "{events:?}"
    );

    // passphrase → another passphrase (the same one is refused).
    let same = [
        ("TRENT_ROOT_PASSPHRASE", FIRST),
        ("TRENT_NEW_ROOT_PASSPHRASE", FIRST),
    ];
    let out = rotate(&data, Some("passphrase"), "passphrase", &same);
    assert!(
        !out.status.success() && text(&out).contains("is the store's current root key"),
        "{}",
        text(&out)
    );
    let both = [
        ("TRENT_ROOT_PASSPHRASE", FIRST),
        ("TRENT_NEW_ROOT_PASSPHRASE", SECOND),
    ];
    let out = rotate(&data, Some("passphrase"), "passphrase", &both);
    assert!(out.status.success(), "{}", text(&out));
    // Again: it already happened.
    let out = rotate(&data, Some("passphrase"), "passphrase", &both);
    assert!(
        out.status.success() && text(&out).contains("was already rotated"),
        "{}",
        text(&out)
    );
    let second = [("TRENT_ROOT_PASSPHRASE", SECOND)];
    serves(&data, "passphrase", &second, &ciphertexts, &other, &user).await;
    let stderr = refused(&data, &["--root-key", "passphrase"], &first);
    assert!(stderr.contains("the passphrase is wrong"), "{stderr}");
    assert!(opens(&data, "passphrase", &second));

    // passphrase → file.
    let new_file = dir.path().join("keys").join("rotated.key");
    std::fs::create_dir(new_file.parent().unwrap()).unwrap();
    let file_spec = format!("file:{}", new_file.display());
    let out = rotate(&data, Some("passphrase"), &file_spec, &second);
    assert!(out.status.success(), "{}", text(&out));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&new_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // The passphrase's parameters went with it.
    assert!(
        !meta(&data)
            .await
            .iter()
            .any(|(name, _)| name == trent_seal::passphrase::META)
    );
    serves(&data, &file_spec, &[], &ciphertexts, &other, &user).await;
    let stderr = refused(&data, &["--root-key", "passphrase"], &second);
    assert!(stderr.contains("does not open this store"), "{stderr}");
    assert!(opens(&data, &file_spec, &[]));

    // file → a data key of another Trent → file again: the wrapped key is
    // kept while it is the root key, and removed after.
    let outer = Server::start_in(&dir.path().join("outer"), &[]);
    let wrapping = format!(
        "arn:aws:kms:us-east-1:{}:key/{}",
        common::ACCOUNT,
        new_key(&outer.client()).await
    );
    let kms_spec = format!("kms:{wrapping},endpoint={}", outer.url);
    let aws = aws_env(dir.path(), common::ACCESS_KEY, common::SECRET_KEY);
    let out = rotate(&data, Some(&file_spec), &kms_spec, &borrowed(&aws));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        meta(&data)
            .await
            .iter()
            .any(|(name, _)| name == trent_seal::kms::META)
    );
    serves(
        &data,
        &kms_spec,
        &borrowed(&aws),
        &ciphertexts,
        &other,
        &user,
    )
    .await;
    assert!(!opens(&data, &file_spec, &[]));
    let back_file = dir.path().join("keys").join("after-kms.key");
    let back_spec = format!("file:{}", back_file.display());
    let out = rotate(&data, Some(&kms_spec), &back_spec, &borrowed(&aws));
    assert!(out.status.success(), "{}", text(&out));
    outer.stop();
    assert!(
        !meta(&data)
            .await
            .iter()
            .any(|(name, _)| name == trent_seal::kms::META)
    );
    serves(&data, &back_spec, &[], &ciphertexts, &other, &user).await;
    let file_spec = back_spec;

    // file → PKCS#11 (SoftHSM2).
    let Some(conf) = softhsm_token(dir.path(), "rotation") else {
        return;
    };
    let hsm_spec = format!("pkcs11:module={SOFTHSM},token=rotation,key=trent-root-2");
    let hsm = [("SOFTHSM2_CONF", conf.as_str()), ("TRENT_PKCS11_PIN", PIN)];
    let out = rotate(&data, Some(&file_spec), &hsm_spec, &hsm);
    assert!(out.status.success(), "{}", text(&out));
    serves(&data, &hsm_spec, &hsm, &ciphertexts, &other, &user).await;
    let stderr = refused(&data, &["--root-key", &file_spec], &[]);
    assert!(stderr.contains("does not open this store"), "{stderr}");
    assert!(opens(&data, &hsm_spec, &hsm));
    // The same HSM key as the new one: refused.
    let out = rotate(&data, Some(&hsm_spec), &hsm_spec, &hsm);
    assert!(
        !out.status.success() && text(&out).contains("is the store's current root key"),
        "{}",
        text(&out)
    );
}

/// A small generator for the kill delays (no dependency for it); the seed
/// is printed.
struct Lcg(u64);

impl Lcg {
    fn next_fraction(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_killed_at_any_moment_loses_nothing() {
    const KEYS: usize = 1000;
    const TRIALS: usize = 24;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys_dir = dir.path().join("keys");
    std::fs::create_dir(&keys_dir).unwrap();
    // The n-th root key: a key file for even n, a passphrase (from a file,
    // so the parameters change in the transaction) for odd n.
    let key_spec = |n: usize| {
        if n.is_multiple_of(2) {
            format!("file:{}", keys_dir.join(format!("{n}.key")).display())
        } else {
            let file = keys_dir.join(format!("{n}.passphrase"));
            if !file.exists() {
                std::fs::write(&file, format!("passphrase number {n}")).unwrap();
                std::fs::set_permissions(
                    &file,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .unwrap();
            }
            format!("passphrase:file:{}", file.display())
        }
    };
    let mut current = key_spec(0);
    let server = Server::start_in(
        &data,
        &[
            "--root-key",
            &current,
            "--quota",
            "keys=2000",
            "--request-quotas",
            "off",
        ],
    );
    let kms = server.client();
    let ciphertexts: Ciphertexts = futures_util::stream::iter(0..KEYS)
        .map(|n| {
            let kms = kms.clone();
            async move {
                let key = new_key(&kms).await;
                encrypt(&kms, &key, n).await
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    server.stop();
    let made = started.elapsed();

    // One rotation of each kind, measured, to spread the kills over:
    // (whole process, the re-seal transaction as the command reports it).
    let mut measured = Vec::new();
    for n in 1..=2 {
        let next = key_spec(n);
        let clock = Instant::now();
        let out = rotate(&data, Some(&current), &next, &[]);
        let duration = clock.elapsed();
        let said = text(&out);
        assert!(out.status.success(), "{said}");
        assert!(
            said.contains(&format!("{KEYS} key material versions")),
            "{said}"
        );
        let transaction_ms: u64 = said
            .split(" ms;")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {said}"));
        measured.push((duration, transaction_ms));
        current = next;
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = Lcg(seed);
    let (mut before_commit, mut after_commit, mut finished) = (0, 0, 0);
    let mut delays = Vec::new();
    for trial in 0..TRIALS {
        // Even trials: file → passphrase; odd ones: passphrase → file.
        let next = key_spec(trial + 3);
        let (duration, transaction_ms) = measured[trial % 2];
        // Half the trials: anywhere in 1.2 times the measured duration
        // (some kills land after the process ended); the other half: in
        // its last part, where the re-seal and the commit are.
        let delay = if (trial / 2) % 2 == 0 {
            duration.mul_f64(1.2 * random.next_fraction())
        } else {
            let window = std::time::Duration::from_millis(2 * transaction_ms + 10).min(duration);
            duration - window + window.mul_f64(random.next_fraction())
        };
        delays.push(delay.as_millis());
        let mut child = Command::new(env!("CARGO_BIN_EXE_trent"))
            .args(["root-key", "rotate", "--data-dir", path(&data)])
            .args(["--root-key", &current, "--to", &next])
            .env_remove("TRENT_ROOT_KEY")
            .env_remove("TRENT_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            finished += 1;
        }

        // Exactly one of the two keys opens the store.
        let (old_opens, new_opens) = (opens(&data, &current, &[]), opens(&data, &next, &[]));
        assert!(
            old_opens != new_opens,
            "trial {trial} (killed after {delay:?}): old opens {old_opens}, new opens {new_opens}"
        );
        if old_opens {
            before_commit += 1;
        } else {
            after_commit += 1;
        }

        // Again, to the end.
        let out = rotate(&data, Some(&current), &next, &[]);
        assert!(out.status.success(), "trial {trial}: {}", text(&out));
        assert!(!opens(&data, &current, &[]), "trial {trial}");
        current = next;

        // Every key decrypts what it encrypted before any rotation.
        let server = Server::start_in(&data, &["--root-key", &current, "--request-quotas", "off"]);
        decrypt_all(&server.client(), &ciphertexts).await;
        server.stop();
    }
    assert!(opens(&data, &current, &[]));
    println!(
        "kill trials: {KEYS} keys made in {made:?}; a rotation file → passphrase took {:?} (the whole process; the re-seal transaction {} ms), passphrase → file {:?} ({} ms); \
         {TRIALS} trials (seed {seed}, kills after {delays:?} ms): {before_commit} killed before the commit, \
         {after_commit} after it ({finished} of them had exited on their own); total {:?}",
        measured[0].0,
        measured[0].1,
        measured[1].0,
        measured[1].1,
        started.elapsed()
    );
    assert_eq!(before_commit + after_commit, TRIALS);
}
