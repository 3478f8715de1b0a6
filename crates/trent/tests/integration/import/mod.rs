//! Issue 17, imported key material (Origin EXTERNAL), with material
//! wrapped here with aws-lc-rs as a client would; the helpers here, the
//! tests by theme: `basics.rs` (each wrapping algorithm, delete and
//! re-import of the same material only, import tokens bound to their key,
//! intact and expiring), `durability.rs` (expiry at ValidTo across a
//! restart, two PostgreSQL nodes, a root-key rotation), `access.rs` (who
//! may not import; the import condition keys), `material.rs` (the
//! material's id, ImportType, ListKeyRotations' IncludeKeyMaterial,
//! KeyMaterialDescription), `rotation.rs` (several materials per key:
//! staged, rotated to, deleted and imported again by id, expiring each at
//! its ValidTo; who may not stage or rotate).

mod access;
mod basics;
mod durability;
mod material;
mod multi_region;
mod rotation;

use crate::common::{
    ACCESS_KEY, ACCOUNT, SECRET_KEY, Server, code, create_account, iam, message, new_key, xml_value,
};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, KeyState, OriginType, WrappingKeySpec,
};
use base64::Engine as _;

const DAY: i64 = 24 * 60 * 60;

/// Wraps `material` under the DER SPKI `public` as AWS documents it.
fn wrap(public: &[u8], algorithm: &AlgorithmSpec, material: &[u8]) -> Vec<u8> {
    let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public).unwrap()).unwrap();
    let oaep = match algorithm {
        AlgorithmSpec::RsaesOaepSha1 | AlgorithmSpec::RsaAesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
        _ => &OAEP_SHA256_MGF1SHA256,
    };
    let encrypt = |plaintext: &[u8]| {
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key.encrypt(oaep, plaintext, &mut out, None).unwrap().len();
        out.truncate(n);
        out
    };
    match algorithm {
        AlgorithmSpec::RsaAesKeyWrapSha1 | AlgorithmSpec::RsaAesKeyWrapSha256 => {
            let mut aes = [0u8; 32];
            aws_lc_rs::rand::fill(&mut aes).unwrap();
            let mut out = encrypt(&aes);
            let mut wrapped = vec![0u8; material.len() + 16];
            let n = AesKek::new(&AES_256, &aes)
                .unwrap()
                .wrap_with_padding(material, &mut wrapped)
                .unwrap()
                .len();
            out.extend_from_slice(&wrapped[..n]);
            out
        }
        _ => encrypt(material),
    }
}

fn random_material() -> Vec<u8> {
    let mut material = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut material).unwrap();
    material
}

async fn external_key(kms: &Client) -> String {
    kms.create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// (import token, wrapping public key) for `key`.
async fn parameters(
    kms: &Client,
    key: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> (Vec<u8>, Vec<u8>) {
    let out = kms
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(algorithm)
        .wrapping_key_spec(spec)
        .send()
        .await
        .unwrap();
    (
        out.import_token.unwrap().into_inner(),
        out.public_key.unwrap().into_inner(),
    )
}

/// Imports `material` for good (no expiry), wrapped with `algorithm`.
async fn import(kms: &Client, key: &str, algorithm: AlgorithmSpec, material: &[u8]) {
    let (token, public) = parameters(kms, key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    kms.import_key_material()
        .key_id(key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(&public, &algorithm, material)))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
}

async fn metadata(kms: &Client, key: &str) -> aws_sdk_kms::types::KeyMetadata {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

async fn state(kms: &Client, key: &str) -> KeyState {
    metadata(kms, key).await.key_state.unwrap()
}

/// Gives account 444455556666 everything on `key` by its key policy (the
/// owner's root keeps it too): what operations not for use across accounts
/// still refuse.
async fn open_to_other_account(kms: &Client, key: &str) {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    kms.put_key_policy()
        .key_id(key)
        .policy(policy)
        .send()
        .await
        .unwrap();
}

async fn encrypt(kms: &Client, key: &str) -> Vec<u8> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new("under imported material"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

async fn decrypts(kms: &Client, ciphertext: &[u8]) -> bool {
    decrypt(kms, ciphertext).await.plaintext.unwrap().as_ref() == b"under imported material"
}

async fn decrypt(
    kms: &Client,
    ciphertext: &[u8],
) -> aws_sdk_kms::operation::decrypt::DecryptOutput {
    kms.decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .send()
        .await
        .unwrap()
}

/// Two nodes on a fresh PostgreSQL schema, sharing one root key, each
/// started with `extra` too (`None`: no PostgreSQL to test on).
async fn two_nodes(extra: &[&str]) -> Option<TwoNodes> {
    use trent_store::test_support::{Schema, test_url};
    let schema = Schema::fresh(&test_url()?);
    schema.create().await;
    let db = schema.database_url();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let args: Vec<&str> = ["--database-url", db.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let a = Server::start_in(dirs[0].path(), &args);
    std::fs::copy(
        dirs[0].path().join("root.key"),
        dirs[1].path().join("root.key"),
    )
    .unwrap();
    let b = Server::start_in(dirs[1].path(), &args);
    Some(TwoNodes {
        a,
        b,
        _dirs: dirs,
        _schema: schema,
    })
}

/// Two nodes of one database; the schema and the data directories go when
/// this does (bind them all: `TwoNodes { a, b, _dirs, _schema }`).
struct TwoNodes {
    a: Server,
    b: Server,
    _dirs: Vec<tempfile::TempDir>,
    _schema: trent_store::test_support::Schema,
}

/// An IAM user of the server's account allowed `actions` (on every
/// resource): a client with its access key, and its ARN.
fn user_allowed(server: &Server, name: &str, actions: &[&str]) -> (Client, String) {
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    })
    .to_string();
    crate::common::iam_user(
        server,
        name,
        (!actions.is_empty()).then_some(document.as_str()),
    )
}

/// The trail of a stopped server's data directory (`trent audit export`),
/// one event a value.
fn trail(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "export", "--data-dir"])
        .arg(dir)
        .env("TRENT_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
