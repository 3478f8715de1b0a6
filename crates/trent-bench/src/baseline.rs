//! The lean baseline server the benchmark compares Trent with.
//!
//! It speaks the same wire protocol for the benchmarked operations (AWS JSON
//! 1.1: `POST /`, `X-Amz-Target: TrentService.Encrypt`, JSON bodies with
//! base64 blobs) and does only the per-request work a KMS cannot skip, on
//! the leanest stack that does it: hyper 1's HTTP/1.1 server connection
//! directly (`hyper::server::conn::http1` over `hyper_util`'s `TokioIo`, one
//! task per connection, `TCP_NODELAY`), a `service_fn` that matches the
//! path and the `X-Amz-Target` header (no framework router, no tower
//! layers), on a multi-threaded tokio runtime. Per request it reads the
//! body, verifies the SigV4 signature over it with `trent-sigv4` (the
//! derived signing key is cached per thread, per day and region), parses the
//! JSON into `trent-wire`'s structs, decodes and encodes base64, seals or
//! opens a `trent-crypto` blob with AES-256-GCM under one in-memory key, and
//! serializes the response. Nothing per request is precomputed.
//!
//! What it leaves out is everything that makes Trent a KMS rather than a
//! cipher behind an HTTP endpoint: one in-memory key and one credential, no
//! store, no key states or policies, no validation beyond what the crypto
//! needs, no audit, no metrics, no logging. Trent's figures as ratios to it
//! show the cost of those.
//!
//! `CreateKey` answers the metadata of its one key (so the benchmark sets
//! up both servers the same way); `GET /health` answers 200.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Distinguishes baselines in one process (tests) in the per-thread cache.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

struct Baseline {
    instance: u64,
    access_key: String,
    secret: zeroize::Zeroizing<String>,
    key: SymmetricKey,
    key_uuid: [u8; 16],
    key_id: String,
    key_arn: String,
    request_ids: AtomicU64,
}

/// A derived signing key, cached per thread: (baseline, date, region).
struct CachedKey {
    instance: u64,
    date: String,
    region: String,
    key: SigningKey,
}

thread_local! {
    static SIGNING_KEY: RefCell<Option<CachedKey>> = const { RefCell::new(None) };
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
        instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        access_key,
        secret: zeroize::Zeroizing::new(secret),
        key,
        key_uuid: *id.as_bytes(),
        key_id: id.to_string(),
        key_arn: format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"),
        request_ids: AtomicU64::new(0),
    });
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: wait, as hyper's and
            // axum's accept loops do, rather than spin or stop.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn handle(state: &Baseline, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() == Method::GET && request.uri().path() == "/health" {
        return response(
            StatusCode::OK,
            "application/json",
            b"{\"status\":\"ok\"}".to_vec(),
        );
    }
    let id = state.request_ids.fetch_add(1, Ordering::Relaxed);
    let (status, body) = match handle_inner(state, request).await {
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
    let mut response = response(status, CONTENT_TYPE, body);
    if let Ok(v) = HeaderValue::from_str(&format!("baseline-{id:016x}")) {
        response.headers_mut().insert("x-amzn-requestid", v);
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
    /// Verifies `req`'s signature with this thread's cached signing key for
    /// `auth`'s day and region (derived on a miss).
    fn verify(
        &self,
        req: &RequestParts<'_>,
        auth: &trent_sigv4::Authorization<'_>,
    ) -> Result<(), trent_sigv4::SigV4Error> {
        SIGNING_KEY.with_borrow_mut(|slot| {
            let cached = match slot {
                Some(c)
                    if c.instance == self.instance
                        && c.date == auth.date
                        && c.region == auth.region =>
                {
                    c
                }
                _ => slot.insert(CachedKey {
                    instance: self.instance,
                    date: auth.date.to_owned(),
                    region: auth.region.to_owned(),
                    key: SigningKey::derive(self.secret.as_bytes(), auth.date, auth.region, "kms"),
                }),
            };
            trent_sigv4::verify(req, auth, &cached.key, unix_now(), "kms").map(|_| ())
        })
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

async fn handle_inner(state: &Baseline, request: Request<Incoming>) -> Result<Vec<u8>, Failure> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST || parts.uri.path() != "/" {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "POST / only".into(),
        ));
    }
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| Failure::bad("ValidationException", "body too large"))?
        .to_bytes();

    // SigV4: the signature over the canonical request, body hash included.
    let sigv4 = |e: trent_sigv4::SigV4Error| Failure::bad(e.code(), e.to_string());
    let auth = trent_sigv4::parse_request_authorization(&parts.headers).map_err(sigv4)?;
    if auth.access_key_id != state.access_key {
        return Err(sigv4(trent_sigv4::SigV4Error::UnrecognizedClient));
    }
    state
        .verify(&RequestParts::from_http(&parts, &body), &auth)
        .map_err(sigv4)?;

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
