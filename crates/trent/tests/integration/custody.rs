//! Issue 16, key custody: every root-key provider of `--root-key` on the real
//! binary. Keys made and used before a restart open after it; every wrong
//! secret refuses the start, says why, and writes nothing to the store; no
//! provider but `file` leaves the root key, or its secret, in a file of
//! the data directory.

use crate::common::{self, ACCESS_KEY, ACCOUNT, SECRET_KEY, Server, new_key};
use aws_sdk_kms::primitives::Blob;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PLAINTEXT: &[u8] = b"sealed under a root key from elsewhere";

/// A key made and a ciphertext under it.
async fn encrypt(server: &Server) -> Vec<u8> {
    let client = server.client();
    let key = new_key(&client).await;
    client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(PLAINTEXT))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

async fn decrypts(server: &Server, ciphertext: &[u8]) {
    let out = server
        .client()
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), PLAINTEXT);
}

/// Runs `trent serve` that must refuse to start: its exit status is not
/// success, it never says it listens; returns what it wrote to stderr.
pub(crate) fn refused(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    refused_command(common::serve_command(data_dir, extra, env))
}

fn refused_command(mut command: Command) -> String {
    let mut child = command
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("trent did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!status.success(), "trent started: {stdout}{stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    stderr
}

/// Every row of the store's `meta` table (the server stopped).
pub(crate) async fn meta(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    use sqlx::Row;
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        data_dir.join("trent.db").display()
    ))
    .await
    .unwrap();
    let rows = sqlx::query("SELECT name, CAST(value AS BLOB) AS value FROM meta ORDER BY name")
        .fetch_all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get("name"), row.get("value")))
        .collect();
    db.close().await;
    rows
}

async fn meta_value(data_dir: &Path, name: &str) -> Vec<u8> {
    meta(data_dir)
        .await
        .into_iter()
        .find_map(|(n, v)| (n == name).then_some(v))
        .unwrap_or_else(|| panic!("no meta {name:?}"))
}

/// The files under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    assert!(!needle.is_empty());
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}

/// A file readable by its owner alone.
fn private_file(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn a_root_key_file_elsewhere_than_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (data, keys) = (dir.path().join("data"), dir.path().join("keys"));
    std::fs::create_dir(&keys).unwrap();
    let spec = format!("file:{}", keys.join("root.key").display());
    let server = Server::start_in(&data, &["--root-key", &spec]);
    let ciphertext = encrypt(&server).await;
    server.stop();
    let mode = std::fs::metadata(keys.join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!data.join("root.key").exists());

    let server = Server::start_in(&data, &["--root-key", &spec]);
    decrypts(&server, &ciphertext).await;
    server.stop();

    let before = meta(&data).await;
    // Without --root-key: the data directory's root.key, which is missing.
    let stderr = refused(&data, &[], &[]);
    assert!(
        stderr.contains("has a store but no root key") && stderr.contains("root.key is missing"),
        "{stderr}"
    );
    // Another key file: the check value says it is not this store's.
    let other = keys.join("other.key");
    std::fs::write(&other, [7u8; 32]).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let other_spec = format!("file:{}", other.display());
    let stderr = refused(&data, &["--root-key", &other_spec], &[]);
    assert!(
        stderr.contains(&format!(
            "the root key from {other_spec} does not open this store"
        )),
        "{stderr}"
    );
    assert_eq!(meta(&data).await, before);
}

#[tokio::test]
async fn a_passphrase_from_the_environment() {
    const PASSPHRASE: &str = "correct horse battery staple, twice";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--root-key", "passphrase"];
    let env = [("TRENT_ROOT_PASSPHRASE", PASSPHRASE)];
    let server = Server::start_with(&data, &args, &env);
    let ciphertext = encrypt(&server).await;
    server.stop();

    let server = Server::start_with(&data, &args, &env);
    decrypts(&server, &ciphertext).await;
    server.stop();

    // The salt and parameters are in the store, public; neither the
    // passphrase nor the key derived from it is in any file.
    let params = meta_value(&data, trent_seal::passphrase::META).await;
    let text = String::from_utf8(params.clone()).unwrap();
    assert!(
        text.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{text}"
    );
    let key = trent_seal::passphrase::KdfParams::decode(&params)
        .unwrap()
        .derive(PASSPHRASE.as_bytes())
        .unwrap();
    assert!(!data.join("root.key").exists());
    assert_eq!(files_holding(&data, key.as_ref()), Vec::<PathBuf>::new());
    assert_eq!(
        files_holding(&data, PASSPHRASE.as_bytes()),
        Vec::<PathBuf>::new()
    );

    let before = meta(&data).await;
    let stderr = refused(&data, &args, &[("TRENT_ROOT_PASSPHRASE", "Correct horse")]);
    assert!(
        stderr.contains("the root key from passphrase does not open this store")
            && stderr.contains("the passphrase is wrong"),
        "{stderr}"
    );
    assert!(!stderr.contains("Correct horse"), "{stderr}");
    // No passphrase, and stdin is no terminal to ask on.
    let stderr = refused(&data, &args, &[]);
    assert!(
        stderr.contains("no passphrase for the root key: set TRENT_ROOT_PASSPHRASE"),
        "{stderr}"
    );
    let stderr = refused(&data, &args, &[("TRENT_ROOT_PASSPHRASE", "")]);
    assert!(
        stderr.contains("passphrase (TRENT_ROOT_PASSPHRASE) is empty"),
        "{stderr}"
    );
    // The default file provider: no root.key beside this store.
    let stderr = refused(&data, &[], &[]);
    assert!(stderr.contains("has a store but no root key"), "{stderr}");
    assert_eq!(meta(&data).await, before);
}

#[tokio::test]
async fn a_passphrase_from_a_file_also_for_the_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("passphrase");
    private_file(&file, "from a file\n");
    let spec = format!("passphrase:file:{}", file.display());
    // From the configuration file, as `root-key = "..."`.
    let config = dir.path().join("trent.toml");
    std::fs::write(&config, format!("root-key = {spec:?}\n")).unwrap();
    let server = Server::start_in(&data, &["--config", path(&config)]);
    let ciphertext = encrypt(&server).await;
    server.stop();

    // The admin commands take --root-key too.
    let (id, secret) = common::create_account_in(&data, &["--root-key", &spec], "444455556666");
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args([
            "audit",
            "verify",
            "--data-dir",
            path(&data),
            "--root-key",
            &spec,
        ])
        .env_remove("TRENT_ROOT_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK: "));

    let server = Server::start_in(&data, &["--root-key", &spec]);
    decrypts(&server, &ciphertext).await;
    let other = server.client_with(&id, &secret, "us-east-1");
    encrypt_with(&other).await;
    server.stop();
    assert_eq!(files_holding(&data, b"from a file"), Vec::<PathBuf>::new());

    let before = meta(&data).await;
    private_file(&file, "from another file\n");
    let stderr = refused(&data, &["--root-key", &spec], &[]);
    assert!(
        stderr.contains(&format!(
            "the root key from {spec} does not open this store"
        )),
        "{stderr}"
    );
    // A passphrase file others may read is refused before it is read.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = refused(&data, &["--root-key", &spec], &[]);
    assert!(
        stderr.contains("is readable by others (mode 644); it must be 0600"),
        "{stderr}"
    );
    // An admin command refuses as the server does.
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args([
            "audit",
            "verify",
            "--data-dir",
            path(&data),
            "--root-key",
            "passphrase",
        ])
        .env("TRENT_ROOT_PASSPHRASE", "from a fil")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the root key from passphrase does not open this store"),
        "{out:?}"
    );
    assert_eq!(meta(&data).await, before);
}

async fn encrypt_with(client: &aws_sdk_kms::Client) {
    let key = new_key(client).await;
    client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(PLAINTEXT))
        .send()
        .await
        .unwrap();
}

pub(crate) const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub(crate) const PIN: &str = "246810";

/// A SoftHSM2 token in a temporary directory with its own configuration
/// (never the system's): the `SOFTHSM2_CONF` to give the server.
pub(crate) fn softhsm_token(dir: &Path, label: &str) -> Option<String> {
    if !Path::new(SOFTHSM).exists() {
        println!(
            "skipped: SoftHSM2 is not installed ({SOFTHSM} is missing; apt-get install softhsm2)"
        );
        return None;
    }
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label])
        .args(["--pin", PIN, "--so-pin", "13579"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    Some(conf.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_root_key_inside_an_hsm() {
    let dir = tempfile::tempdir().unwrap();
    let Some(conf) = softhsm_token(dir.path(), "trent") else {
        return;
    };
    let data = dir.path().join("data");
    let spec = format!("pkcs11:module={SOFTHSM},token=trent,key=trent-root");
    let env = [("SOFTHSM2_CONF", conf.as_str()), ("TRENT_PKCS11_PIN", PIN)];
    let server = Server::start_with(&data, &["--root-key", &spec], &env);
    let ciphertext = encrypt(&server).await;
    server.stop();

    // Again, the PIN from a file this time.
    let pin_file = dir.path().join("pin");
    private_file(&pin_file, &format!("{PIN}\n"));
    let with_pin_file = format!("{spec},pin-file={}", pin_file.display());
    let server = Server::start_with(
        &data,
        &["--root-key", &with_pin_file],
        &[("SOFTHSM2_CONF", &conf)],
    );
    decrypts(&server, &ciphertext).await;
    server.stop();
    assert!(!data.join("root.key").exists());
    assert_eq!(files_holding(&data, PIN.as_bytes()), Vec::<PathBuf>::new());

    let before = meta(&data).await;
    let stderr = refused(
        &data,
        &["--root-key", &spec],
        &[("SOFTHSM2_CONF", &conf), ("TRENT_PKCS11_PIN", "111111")],
    );
    assert!(
        stderr.contains("the PKCS#11 token \"trent\" refused the PIN (PinIncorrect)"),
        "{stderr}"
    );
    assert!(!stderr.contains("111111"), "{stderr}");
    let stderr = refused(&data, &["--root-key", &spec], &[("SOFTHSM2_CONF", &conf)]);
    assert!(
        stderr.contains("no PIN for the PKCS#11 token \"trent\": set TRENT_PKCS11_PIN"),
        "{stderr}"
    );
    // A key label the token does not have: never made for an existing store.
    let absent = format!("pkcs11:module={SOFTHSM},token=trent,key=absent");
    let stderr = refused(&data, &["--root-key", &absent], &env);
    assert!(
        stderr.contains("the PKCS#11 token \"trent\" has no key labelled \"absent\""),
        "{stderr}"
    );
    let stderr = refused(
        &data,
        &["--root-key", &spec.replace("token=trent", "token=other")],
        &env,
    );
    assert!(
        stderr.contains("no PKCS#11 token labelled \"other\"") && stderr.contains("\"trent\""),
        "{stderr}"
    );
    let missing_module = spec.replace(SOFTHSM, "/nonexistent/libpkcs11.so");
    let stderr = refused(&data, &["--root-key", &missing_module], &env);
    assert!(
        stderr.contains("loading the PKCS#11 module /nonexistent/libpkcs11.so"),
        "{stderr}"
    );
    // Another installation's key in the same token is not this store's.
    let other_data = dir.path().join("other");
    let other = format!("pkcs11:module={SOFTHSM},token=trent,key=other-root");
    Server::start_with(&other_data, &["--root-key", &other], &env).stop();
    let stderr = refused(&data, &["--root-key", &other], &env);
    assert!(
        stderr.contains(&format!(
            "the root key from {other} does not open this store"
        )),
        "{stderr}"
    );
    // And the HSM's key does not open a store sealed under a root.key.
    let file_data = dir.path().join("file");
    Server::start_in(&file_data, &[]).stop();
    let file_before = meta(&file_data).await;
    let stderr = refused(&file_data, &["--root-key", &other], &env);
    assert!(
        stderr.contains(&format!(
            "the root key from {other} does not open this store"
        )),
        "{stderr}"
    );
    assert_eq!(meta(&file_data).await, file_before);
    assert_eq!(meta(&data).await, before);
}

/// The environment that gives the inner server's AWS SDK these credentials
/// and nothing of the machine's.
pub(crate) fn aws_env<'a>(
    dir: &'a Path,
    access_key: &'a str,
    secret: &'a str,
) -> Vec<(&'a str, String)> {
    for empty in ["no-aws-config", "no-aws-credentials"] {
        std::fs::write(dir.join(empty), "").unwrap();
    }
    vec![
        ("AWS_ACCESS_KEY_ID", access_key.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        (
            "AWS_CONFIG_FILE",
            dir.join("no-aws-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials").display().to_string(),
        ),
    ]
}

pub(crate) fn borrowed<'a>(env: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_root_key_from_another_trent() {
    let dir = tempfile::tempdir().unwrap();
    let outer_data = dir.path().join("outer");
    let outer = Server::start_in(&outer_data, &[]);
    let arn = |id: String| format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}");
    let wrapping = arn(new_key(&outer.client()).await);
    let another = arn(new_key(&outer.client()).await);
    let (stranger_id, stranger_secret) = common::create_account(&outer_data, "444455556666");

    let data = dir.path().join("inner");
    let spec = format!("kms:{wrapping},endpoint={}", outer.url);
    let env = aws_env(dir.path(), ACCESS_KEY, SECRET_KEY);
    let server = Server::start_with(&data, &["--root-key", &spec], &borrowed(&env));
    let ciphertext = encrypt(&server).await;
    server.stop();

    let server = Server::start_with(&data, &["--root-key", &spec], &borrowed(&env));
    decrypts(&server, &ciphertext).await;
    server.stop();

    // The wrapped key is in the store; the data key itself in no file.
    let wrapped = meta_value(&data, trent_seal::kms::META).await;
    let (name, value) = trent_seal::kms::CONTEXT;
    let data_key = outer
        .client()
        .decrypt()
        .key_id(&wrapping)
        .ciphertext_blob(Blob::new(wrapped))
        .encryption_context(name, value)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner();
    assert_eq!(data_key.len(), 32);
    assert!(!data.join("root.key").exists());
    assert_eq!(files_holding(&data, &data_key), Vec::<PathBuf>::new());

    let before = meta(&data).await;
    // Another key of the outer KMS.
    let wrong_key = format!("kms:{another},endpoint={}", outer.url);
    let stderr = refused(&data, &["--root-key", &wrong_key], &borrowed(&env));
    assert!(
        stderr.contains(&format!(
            "the KMS refused to decrypt the root key with {another}: IncorrectKeyException"
        )),
        "{stderr}"
    );
    // Credentials of an account the key's policy does not let in.
    let stranger = aws_env(dir.path(), &stranger_id, &stranger_secret);
    let stderr = refused(&data, &["--root-key", &spec], &borrowed(&stranger));
    assert!(
        stderr.contains(&format!(
            "the KMS refused to decrypt the root key with {wrapping}: AccessDeniedException"
        )),
        "{stderr}"
    );
    // A wrong secret.
    let forged = aws_env(
        dir.path(),
        ACCESS_KEY,
        "not-the-secret-access-key-000000000000001",
    );
    let stderr = refused(&data, &["--root-key", &spec], &borrowed(&forged));
    assert!(
        stderr.contains(&format!(
            "the KMS refused to decrypt the root key with {wrapping}"
        )) && stderr.contains("Signature"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-secret-access-key"), "{stderr}");
    // A file-sealed store is not the KMS's.
    let file_data = dir.path().join("file");
    Server::start_in(&file_data, &[]).stop();
    let stderr = refused(&file_data, &["--root-key", &spec], &borrowed(&env));
    assert!(
        stderr.contains(&format!(
            "the root key from {spec} does not open this store"
        )),
        "{stderr}"
    );
    // The outer KMS gone.
    outer.stop();
    let stderr = refused(&data, &["--root-key", &spec], &borrowed(&env));
    assert!(
        stderr.contains(&format!(
            "the KMS for the root key ({wrapping}) could not be called"
        )),
        "{stderr}"
    );
    assert_eq!(meta(&data).await, before);
}

/// A passphrase installation moved into PostgreSQL keeps its salt and
/// parameters (they are in the store), and every node on the database
/// derives the same root key from the same passphrase, with no file to
/// copy (skipped, saying so, without `TRENT_TEST_POSTGRES_URL`).
#[tokio::test]
async fn passphrase_nodes_on_one_postgresql_database() {
    use trent_store::test_support::{Schema, test_url};
    let Some(url) = test_url() else {
        return;
    };
    let schema = Schema::fresh(&url);
    schema.create().await;
    let db = schema.database_url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passphrase");
    private_file(&file, "one passphrase for every node\n");
    let spec = format!("passphrase:file:{}", file.display());

    let single = dir.path().join("single");
    let server = Server::start_in(&single, &["--root-key", &spec]);
    let ciphertext = encrypt(&server).await;
    server.stop();
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["store", "copy", "--from", path(&single), "--to", &db])
        .args(["--root-key", &spec])
        .env_remove("TRENT_ROOT_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let args = ["--root-key", spec.as_str(), "--database-url", db.as_str()];
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let node_one = Server::start_in(&one, &args);
    let node_two = Server::start_in(&two, &args);
    decrypts(&node_one, &ciphertext).await;
    decrypts(&node_two, &ciphertext).await;
    let made_on_two = encrypt(&node_two).await;
    decrypts(&node_one, &made_on_two).await;
    for data in [&single, &one, &two] {
        assert!(!data.join("root.key").exists());
    }

    let wrong = dir.path().join("wrong");
    private_file(&wrong, "another passphrase\n");
    let wrong_spec = format!("passphrase:file:{}", wrong.display());
    let stderr = refused(
        &dir.path().join("three"),
        &["--root-key", &wrong_spec, "--database-url", &db],
        &[],
    );
    assert!(
        stderr.contains(&format!(
            "the root key from {wrong_spec} does not open this store"
        )),
        "{stderr}"
    );
    node_one.stop();
    node_two.stop();
}
