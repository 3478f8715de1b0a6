//! The bare baseline server the benchmark compares Trent with.
//!
//! It speaks the same wire protocol for the benchmarked operations (AWS JSON
//! 1.1: `POST /`, `X-Amz-Target: TrentService.Encrypt`, JSON bodies with
//! base64 blobs) on the same stack as Trent (axum 0.8 over hyper, HTTP/1.1,
//! a multi-threaded tokio runtime), and does all of the per-request work a
//! KMS must do at the least: read the body, verify the SigV4 signature over
//! it with `trent-sigv4` (the derived signing key is cached per day and
//! region, as Trent caches it), parse the JSON into `trent-wire`'s structs,
//! seal or open a `trent-crypto` blob with AES-256-GCM, and serialize the
//! response. Nothing per request is precomputed.
//!
//! What it leaves out is everything that makes Trent a KMS rather than a
//! cipher behind an HTTP endpoint: one in-memory key and one credential, no
//! store, no key states or policies, no validation beyond what the crypto
//! needs, no audit. Trent's figures as ratios to it show the cost of those.
//!
//! `CreateKey` answers the metadata of its one key (so the benchmark sets
//! up both servers the same way); `/health` answers 200.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use trent_crypto::SymmetricKey;
use trent_crypto::blob::{self, BlobHeader};
use trent_sigv4::{RequestParts, SigningKey};
use trent_wire::{
    Blob, CreateKeyResponse, DataKeySpec, DecryptRequest, DecryptResponse, EncryptRequest,
    EncryptResponse, EncryptionAlgorithmSpec, GenerateDataKeyRequest, GenerateDataKeyResponse,
    GenerateRandomRequest, GenerateRandomResponse, KeyMetadata, ReEncryptRequest,
    ReEncryptResponse, SecretBlob,
};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const MAX_BODY: usize = 1024 * 1024;
const ACCOUNT: &str = "000000000000";

struct Baseline {
    access_key: String,
    secret: zeroize::Zeroizing<String>,
    /// The last derived signing key: (date, region) → key.
    signing_key: RwLock<Option<(String, String, Arc<SigningKey>)>>,
    key: SymmetricKey,
    key_uuid: [u8; 16],
    key_id: String,
    key_arn: String,
    request_ids: AtomicU64,
}

/// An AWS-style error: status, `__type`, message.
struct Failure(StatusCode, &'static str, String);

impl Failure {
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Failure(StatusCode::BAD_REQUEST, code, message.into())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    code: &'a str,
    message: &'a str,
}

/// Serves the baseline on `listener` until the process ends. Requests must
/// be signed with `access_key`/`secret` (any region).
pub async fn serve(
    listener: tokio::net::TcpListener,
    access_key: String,
    secret: String,
) -> std::io::Result<()> {
    let key_bytes = SymmetricKey::generate_bytes().map_err(std::io::Error::other)?;
    let key = SymmetricKey::from_bytes(key_bytes.as_ref()).map_err(std::io::Error::other)?;
    let id = uuid::Uuid::new_v4();
    let state = Arc::new(Baseline {
        access_key,
        secret: zeroize::Zeroizing::new(secret),
        signing_key: RwLock::new(None),
        key,
        key_uuid: *id.as_bytes(),
        key_id: id.to_string(),
        key_arn: format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"),
        request_ids: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/health", axum::routing::get(health))
        .fallback(handle)
        .with_state(state);
    axum::serve(listener, app).await
}

async fn health() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
}

async fn handle(State(state): State<Arc<Baseline>>, request: Request) -> Response {
    let id = state.request_ids.fetch_add(1, Ordering::Relaxed);
    let (status, body) = match handle_inner(&state, request).await {
        Ok(body) => (StatusCode::OK, body),
        Err(Failure(status, code, message)) => (
            status,
            serde_json::to_vec(&ErrorBody {
                code,
                message: &message,
            })
            .unwrap_or_default(),
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&format!("baseline-{id:016x}")) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn parse<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| Failure::bad("SerializationException", e.to_string()))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(value).map_err(|e| {
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "KMSInternalException",
            e.to_string(),
        )
    })
}

fn internal<E: std::fmt::Display>(e: E) -> Failure {
    Failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        "KMSInternalException",
        e.to_string(),
    )
}

static EMPTY: BTreeMap<String, String> = BTreeMap::new();

impl Baseline {
    fn signing_key(&self, date: &str, region: &str) -> Arc<SigningKey> {
        if let Ok(guard) = self.signing_key.read()
            && let Some((d, r, key)) = guard.as_ref()
            && d == date
            && r == region
        {
            return key.clone();
        }
        let key = Arc::new(SigningKey::derive(
            self.secret.as_bytes(),
            date,
            region,
            "kms",
        ));
        if let Ok(mut guard) = self.signing_key.write() {
            *guard = Some((date.to_owned(), region.to_owned(), key.clone()));
        }
        key
    }

    fn check_key_id(&self, key_id: &str) -> Result<(), Failure> {
        if key_id == self.key_id || key_id == self.key_arn {
            Ok(())
        } else {
            Err(Failure::bad(
                "NotFoundException",
                format!("Key '{key_id}' does not exist"),
            ))
        }
    }

    fn header(&self) -> BlobHeader {
        BlobHeader {
            key_id: self.key_uuid,
            material_version: 1,
        }
    }

    fn seal(
        &self,
        context: &Option<BTreeMap<String, String>>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Failure> {
        blob::seal(
            self.header(),
            &self.key,
            context.as_ref().unwrap_or(&EMPTY),
            plaintext,
        )
        .map_err(internal)
    }

    fn open(
        &self,
        ciphertext: &Option<Blob>,
        context: &Option<BTreeMap<String, String>>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Failure> {
        let invalid = || Failure::bad("InvalidCiphertextException", "");
        let ciphertext = ciphertext.as_ref().ok_or_else(invalid)?;
        let header = BlobHeader::parse(&ciphertext.0).map_err(|_| invalid())?;
        if header.key_id != self.key_uuid {
            return Err(invalid());
        }
        blob::open(&ciphertext.0, &self.key, context.as_ref().unwrap_or(&EMPTY))
            .map_err(|_| invalid())
    }

    fn random(&self, len: usize) -> Result<Vec<u8>, Failure> {
        let mut bytes = vec![0u8; len];
        trent_crypto::random_bytes(&mut bytes).map_err(internal)?;
        Ok(bytes)
    }
}

fn plaintext_len_ok(len: usize) -> Result<(), Failure> {
    if (1..=4096).contains(&len) {
        Ok(())
    } else {
        Err(Failure::bad(
            "ValidationException",
            "Plaintext must be 1 to 4096 bytes",
        ))
    }
}

async fn handle_inner(state: &Baseline, request: Request) -> Result<Vec<u8>, Failure> {
    let (parts, body) = request.into_parts();
    if parts.method != axum::http::Method::POST || parts.uri.path() != "/" {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "POST / only".into(),
        ));
    }
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Failure::bad("ValidationException", "body too large"))?;

    // SigV4: the signature over the canonical request, body hash included.
    let sigv4 = |e: trent_sigv4::SigV4Error| Failure::bad(e.code(), e.to_string());
    let auth = trent_sigv4::parse_request_authorization(&parts.headers).map_err(sigv4)?;
    if auth.access_key_id != state.access_key {
        return Err(sigv4(trent_sigv4::SigV4Error::UnrecognizedClient));
    }
    let key = state.signing_key(auth.date, auth.region);
    let req = RequestParts::from_http(&parts, &body);
    trent_sigv4::verify(&req, &auth, &key, unix_now(), "kms").map_err(sigv4)?;

    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix("TrentService.").unwrap_or("");
    match operation {
        "Encrypt" => {
            let r: EncryptRequest = parse(&body)?;
            state.check_key_id(&r.key_id)?;
            plaintext_len_ok(r.plaintext.len())?;
            let ciphertext = state.seal(&r.encryption_context, r.plaintext.as_bytes())?;
            to_json(&EncryptResponse {
                ciphertext_blob: Some(Blob(ciphertext)),
                key_id: Some(state.key_arn.clone()),
                encryption_algorithm: Some(EncryptionAlgorithmSpec::SymmetricDefault),
            })
        }
        "Decrypt" => {
            let r: DecryptRequest = parse(&body)?;
            if let Some(key_id) = &r.key_id {
                state.check_key_id(key_id)?;
            }
            let plaintext = state.open(&r.ciphertext_blob, &r.encryption_context)?;
            to_json(&DecryptResponse {
                key_id: Some(state.key_arn.clone()),
                plaintext: Some(SecretBlob::new(plaintext.to_vec())),
                encryption_algorithm: Some(EncryptionAlgorithmSpec::SymmetricDefault),
                ..Default::default()
            })
        }
        "GenerateDataKey" => {
            let r: GenerateDataKeyRequest = parse(&body)?;
            state.check_key_id(&r.key_id)?;
            let len = match (r.number_of_bytes, &r.key_spec) {
                (None, Some(DataKeySpec::Aes256)) => 32,
                (None, Some(DataKeySpec::Aes128)) => 16,
                (Some(n @ 1..=1024), None) => n as usize,
                _ => {
                    return Err(Failure::bad(
                        "ValidationException",
                        "Specify either KeySpec or NumberOfBytes",
                    ));
                }
            };
            let plaintext = zeroize::Zeroizing::new(state.random(len)?);
            let ciphertext = state.seal(&r.encryption_context, &plaintext)?;
            to_json(&GenerateDataKeyResponse {
                ciphertext_blob: Some(Blob(ciphertext)),
                plaintext: Some(SecretBlob::new(plaintext.to_vec())),
                key_id: Some(state.key_arn.clone()),
                ..Default::default()
            })
        }
        "ReEncrypt" => {
            let r: ReEncryptRequest = parse(&body)?;
            state.check_key_id(&r.destination_key_id)?;
            let plaintext = state.open(&r.ciphertext_blob, &r.source_encryption_context)?;
            let ciphertext = state.seal(&r.destination_encryption_context, &plaintext)?;
            to_json(&ReEncryptResponse {
                ciphertext_blob: Some(Blob(ciphertext)),
                source_key_id: Some(state.key_arn.clone()),
                key_id: Some(state.key_arn.clone()),
                source_encryption_algorithm: Some(EncryptionAlgorithmSpec::SymmetricDefault),
                destination_encryption_algorithm: Some(EncryptionAlgorithmSpec::SymmetricDefault),
                ..Default::default()
            })
        }
        "GenerateRandom" => {
            let r: GenerateRandomRequest = parse(&body)?;
            let len = match r.number_of_bytes {
                Some(n @ 1..=1024) => n as usize,
                _ => {
                    return Err(Failure::bad(
                        "ValidationException",
                        "NumberOfBytes must be 1 to 1024",
                    ));
                }
            };
            to_json(&GenerateRandomResponse {
                plaintext: Some(SecretBlob::new(state.random(len)?)),
                ..Default::default()
            })
        }
        "CreateKey" => to_json(&CreateKeyResponse {
            key_metadata: Some(KeyMetadata {
                key_id: state.key_id.clone(),
                arn: Some(state.key_arn.clone()),
                aws_account_id: Some(ACCOUNT.to_owned()),
                enabled: Some(true),
                ..Default::default()
            }),
        }),
        _ => Err(Failure::bad(
            "UnknownOperationException",
            format!("the baseline does not implement '{target}'"),
        )),
    }
}
