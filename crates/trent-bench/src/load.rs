//! Workloads and the timed cell: N connections, each sending signed
//! requests back to back for a bounded time, latencies into histograms,
//! CPU time of the server, of this process and of the machine read at the
//! edges of the measured window.

use crate::client::{ClientKind, Credentials, Requester};
use crate::procfs::CpuClock;
use crate::stats::{Sample, new_histogram, percentiles_ms};
use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::HeaderValue;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// The operations a benchmark cell can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Encrypt 32 bytes under the hot key.
    Encrypt,
    /// Decrypt one of a pool of ciphertexts made by Encrypt.
    Decrypt,
    /// GenerateDataKey with KeySpec AES_256.
    GenerateDataKey,
    /// ReEncrypt one of the pool of ciphertexts to the same key.
    ReEncrypt,
    /// GenerateRandom of 32 bytes.
    GenerateRandom,
    /// Sign of a 32-byte RAW message with an ECC_NIST_P256 key (ECDSA_SHA_256).
    SignP256,
    /// Sign of a 32-byte RAW message with an RSA_2048 key (RSASSA_PSS_SHA_256).
    SignRsa2048,
    /// Verify of an ECDSA_SHA_256 signature with an ECC_NIST_P256 key.
    VerifyP256,
}

impl Op {
    /// The symmetric operations: the default set, which the baseline serves too.
    pub const ALL: [Op; 5] = [
        Op::Encrypt,
        Op::Decrypt,
        Op::GenerateDataKey,
        Op::ReEncrypt,
        Op::GenerateRandom,
    ];

    /// The KMS operation name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Encrypt => "Encrypt",
            Op::Decrypt => "Decrypt",
            Op::GenerateDataKey => "GenerateDataKey",
            Op::ReEncrypt => "ReEncrypt",
            Op::GenerateRandom => "GenerateRandom",
            Op::SignP256 => "Sign P-256",
            Op::SignRsa2048 => "Sign RSA-2048",
            Op::VerifyP256 => "Verify P-256",
        }
    }

    /// Operations on asymmetric keys, which the baseline does not serve.
    pub fn asymmetric(self) -> bool {
        matches!(self, Op::SignP256 | Op::SignRsa2048 | Op::VerifyP256)
    }
}

/// The `X-Amz-Target` of a KMS operation.
pub fn target(operation: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("TrentService.{operation}")).expect("ASCII operation name")
}

/// What one cell sends: the operation and a pool of request bodies, cycled
/// through (or picked at random) by each connection.
pub struct Bodies {
    pub target: HeaderValue,
    pub bodies: Vec<Bytes>,
    pub random: bool,
}

impl Bodies {
    pub fn fixed(operation: &str, body: Value) -> Self {
        Self::cycle(operation, vec![body])
    }

    pub fn cycle(operation: &str, bodies: Vec<Value>) -> Self {
        Self {
            target: target(operation),
            bodies: bodies
                .into_iter()
                .map(|b| Bytes::from(b.to_string()))
                .collect(),
            random: false,
        }
    }

    /// The body for this connection's next request.
    fn pick(&self, counter: &mut usize, rng: &mut u64) -> &Bytes {
        let i = if self.random {
            // xorshift64: cheap, and good enough to spread keys.
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (*rng % self.bodies.len() as u64) as usize
        } else {
            *counter = counter.wrapping_add(1);
            *counter % self.bodies.len()
        };
        &self.bodies[i]
    }
}

/// Where a cell sends its requests.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    pub creds: Arc<Credentials>,
}

/// How a cell runs.
#[derive(Debug, Clone, Copy)]
pub struct CellOptions {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub client: ClientKind,
    /// OS threads of the load generator (each a single-threaded tokio
    /// runtime with its share of the connections).
    pub threads: usize,
    pub request_timeout: Duration,
}

/// A measured cell, with a few of its error messages if any.
#[derive(Debug, Clone)]
pub struct CellOutcome {
    pub sample: Sample,
    pub error_samples: Vec<String>,
}

/// Upper bound on the requests one connection sends in one cell (the time
/// bound is what normally ends it).
const MAX_REQUESTS_PER_CONNECTION: u64 = 50_000_000;
const MAX_ERROR_SAMPLES: usize = 8;

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

struct ConnResult {
    histogram: Histogram<u64>,
    ok: u64,
    errors: u64,
    error_samples: Vec<String>,
}

fn note(samples: &mut Vec<String>, message: String) {
    if samples.len() < MAX_ERROR_SAMPLES && !samples.contains(&message) {
        samples.push(message);
    }
}

/// `HTTP 400 SomeException: message` from an error response.
pub fn describe_error(status: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct AwsError {
        #[serde(rename = "__type", default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<AwsError>(body) {
        Ok(e) => {
            let mut message = e.message;
            if message.len() > 120 {
                let mut cut = 120;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
                message.push('…');
            }
            format!("HTTP {status} {}: {message}", e.code)
        }
        Err(_) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
            format!("HTTP {status}: {text}")
        }
    }
}

async fn drive(
    mut requester: Requester,
    bodies: Arc<Bodies>,
    index: usize,
    window: Window,
    timeout: Duration,
) -> ConnResult {
    enum Outcome {
        Ok,
        Failed(String),
        Broken(String),
    }
    let mut result = ConnResult {
        histogram: new_histogram(),
        ok: 0,
        errors: 0,
        error_samples: Vec::new(),
    };
    let mut counter = index;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((index as u64 + 1) << 17);
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let start = Instant::now();
        if start >= window.end {
            break;
        }
        let body = bodies.pick(&mut counter, &mut rng);
        let outcome =
            match tokio::time::timeout(timeout, requester.call(&bodies.target, body)).await {
                Ok(Ok((200, _))) => Outcome::Ok,
                Ok(Ok((status, body))) => Outcome::Failed(describe_error(status, body)),
                Ok(Err(e)) => Outcome::Broken(format!("transport: {e}")),
                Err(_) => Outcome::Broken(format!("no response within {timeout:?}")),
            };
        let done = Instant::now();
        match outcome {
            Outcome::Ok => {
                // Requests completed inside the window count, as the CPU
                // time read at its edges does.
                if done >= window.start && done <= window.end {
                    result.ok += 1;
                    let micros = done.duration_since(start).as_micros() as u64;
                    let _ = result.histogram.record(micros.max(1));
                }
            }
            Outcome::Failed(message) => {
                result.errors += 1;
                note(&mut result.error_samples, message);
            }
            Outcome::Broken(message) => {
                result.errors += 1;
                note(&mut result.error_samples, message);
                if Instant::now() >= window.end {
                    break;
                }
                if let Err(e) = requester.reconnect().await {
                    note(&mut result.error_samples, format!("reconnect: {e}"));
                    break;
                }
            }
        }
    }
    result
}

/// Runs one cell on the calling thread (which it blocks): connects, warms
/// up, measures for `options.duration`, and reads CPU times at the edges.
pub fn run_cell_blocking(
    endpoint: &Endpoint,
    bodies: Arc<Bodies>,
    options: CellOptions,
    clock: CpuClock,
) -> anyhow::Result<CellOutcome> {
    anyhow::ensure!(options.connections > 0, "no connections");
    anyhow::ensure!(!bodies.bodies.is_empty(), "no request bodies");
    let threads = options.threads.clamp(1, options.connections);
    let connected = Arc::new(Barrier::new(threads + 1));
    let go = Arc::new(Barrier::new(threads + 1));
    let window: Arc<Mutex<Option<Window>>> = Arc::new(Mutex::new(None));
    let mut handles = Vec::new();
    for t in 0..threads {
        // Connections t, t + threads, t + 2 * threads, ...
        let indexes: Vec<usize> = (t..options.connections).step_by(threads).collect();
        let endpoint = endpoint.clone();
        let bodies = bodies.clone();
        let (connected, go, window) = (connected.clone(), go.clone(), window.clone());
        let handle = std::thread::Builder::new()
            .name(format!("bench-load-{t}"))
            .spawn(move || -> anyhow::Result<Vec<ConnResult>> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let mut requesters = Vec::new();
                    let mut failure = None;
                    for _ in &indexes {
                        match Requester::connect(
                            endpoint.addr,
                            endpoint.creds.clone(),
                            options.client,
                        )
                        .await
                        {
                            Ok(r) => requesters.push(r),
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                    }
                    // Both barriers are always reached, so no thread waits forever.
                    connected.wait();
                    go.wait();
                    if let Some(e) = failure {
                        return Err(anyhow!("connecting to {}: {e}", endpoint.addr));
                    }
                    let window = window
                        .lock()
                        .map_err(|_| anyhow!("poisoned"))?
                        .ok_or_else(|| anyhow!("window not set"))?;
                    let tasks: Vec<_> = requesters
                        .into_iter()
                        .zip(indexes)
                        .map(|(r, i)| {
                            tokio::spawn(drive(
                                r,
                                bodies.clone(),
                                i,
                                window,
                                options.request_timeout,
                            ))
                        })
                        .collect();
                    let mut results = Vec::new();
                    for task in tasks {
                        results.push(task.await?);
                    }
                    Ok(results)
                })
            })?;
        handles.push(handle);
    }
    connected.wait();
    let start = Instant::now() + options.warmup;
    let end = start + options.duration;
    *window.lock().map_err(|_| anyhow!("poisoned"))? = Some(Window { start, end });
    go.wait();

    std::thread::sleep(start.saturating_duration_since(Instant::now()));
    let t0 = Instant::now();
    let server0 = endpoint.pid.and_then(|p| clock.process(Some(p)));
    let self0 = clock.process(None);
    let machine0 = clock.machine();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let server1 = endpoint.pid.and_then(|p| clock.process(Some(p)));
    let self1 = clock.process(None);
    let machine1 = clock.machine();
    let wall = t0.elapsed().as_secs_f64();

    let mut histogram = new_histogram();
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut error_samples = Vec::new();
    let mut first_failure = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok(results)) => {
                for r in results {
                    histogram.add(&r.histogram).context("merging histograms")?;
                    ok += r.ok;
                    errors += r.errors;
                    for m in r.error_samples {
                        note(&mut error_samples, m);
                    }
                }
            }
            Ok(Err(e)) => first_failure = first_failure.or(Some(e)),
            Err(_) => first_failure = first_failure.or(Some(anyhow!("a load thread panicked"))),
        }
    }
    if let Some(e) = first_failure {
        return Err(e);
    }
    let seconds = options.duration.as_secs_f64();
    let per_req = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if ok > 0 => Some(b.saturating_sub(a).as_secs_f64() * 1e6 / ok as f64),
        _ => None,
    };
    let cores = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if wall > 0.0 => Some(b.saturating_sub(a).as_secs_f64() / wall),
        _ => None,
    };
    let (p50_ms, p99_ms, p999_ms) = percentiles_ms(&histogram);
    Ok(CellOutcome {
        sample: Sample {
            requests: ok,
            errors,
            seconds,
            req_per_sec: ok as f64 / seconds,
            p50_ms,
            p99_ms,
            p999_ms,
            server_cpu_us_per_req: per_req(server0, server1),
            generator_cpu_us_per_req: per_req(self0, self1),
            server_cores: cores(server0, server1),
            generator_cores: cores(self0, self1),
            machine_busy_cores: cores(machine0.map(|m| m.0), machine1.map(|m| m.0)),
        },
        error_samples,
    })
}

/// One request whose JSON answer the caller needs (setup, checks).
pub async fn call_json(
    requester: &mut Requester,
    operation: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let body = Bytes::from(body.to_string());
    let (status, response) = tokio::time::timeout(
        Duration::from_secs(30),
        requester.call(&target(operation), &body),
    )
    .await
    .map_err(|_| anyhow!("{operation}: no response within 30 s"))?
    .with_context(|| operation.to_string())?;
    if status != 200 {
        bail!("{operation}: {}", describe_error(status, response));
    }
    serde_json::from_slice(response).with_context(|| format!("{operation}: response is not JSON"))
}

/// A base64 blob member of a JSON response.
pub fn blob(value: &Value, member: &str) -> anyhow::Result<Vec<u8>> {
    let text = value
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("response has no {member}"))?;
    B64.decode(text)
        .with_context(|| format!("{member} is not base64"))
}

/// Up to `count` ids of the keys the server already has (ListKeys, paged);
/// fails if it has fewer.
pub async fn list_keys(
    endpoint: &Endpoint,
    client: ClientKind,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut requester = Requester::connect(endpoint.addr, endpoint.creds.clone(), client).await?;
    let mut ids = Vec::with_capacity(count);
    let mut marker: Option<String> = None;
    while ids.len() < count {
        let mut body = json!({ "Limit": 1000 });
        if let Some(m) = &marker {
            body["Marker"] = json!(m);
        }
        let page = call_json(&mut requester, "ListKeys", &body).await?;
        let keys = page
            .get("Keys")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("ListKeys: no Keys"))?;
        ids.extend(
            keys.iter()
                .filter_map(|k| k.get("KeyId").and_then(Value::as_str))
                .take(count - ids.len())
                .map(str::to_owned),
        );
        marker = page
            .get("NextMarker")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    if ids.len() < count {
        bail!(
            "--existing-keys: the server has {} keys, not {count}",
            ids.len()
        );
    }
    Ok(ids)
}

/// Creates `count` keys with CreateKey over `connections` connections;
/// returns their ids. Bounded by `deadline`; each request is tried up to
/// three times before the whole setup fails. `created` counts the keys made
/// so far (for progress reports).
pub async fn create_keys(
    endpoint: &Endpoint,
    client: ClientKind,
    count: usize,
    connections: usize,
    deadline: Instant,
    created: Arc<AtomicUsize>,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.clamp(1, count.max(1)) {
        let next = next.clone();
        let created = created.clone();
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let mut requester =
                Requester::connect(endpoint.addr, endpoint.creds.clone(), client).await?;
            let mut ids = Vec::new();
            let body = json!({ "Description": "trent-bench" });
            while next.fetch_add(1, Ordering::Relaxed) < count {
                if Instant::now() > deadline {
                    bail!("creating {count} keys took too long");
                }
                let mut attempt = 0;
                let response = loop {
                    attempt += 1;
                    match call_json(&mut requester, "CreateKey", &body).await {
                        Ok(v) => break v,
                        Err(e) if attempt >= 3 => return Err(e),
                        Err(_) => {
                            let _ = requester.reconnect().await;
                        }
                    }
                };
                let id = response
                    .pointer("/KeyMetadata/KeyId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("CreateKey: no KeyMetadata.KeyId"))?;
                ids.push(id.to_owned());
                created.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for task in tasks {
        ids.extend(task.await??);
    }
    Ok(ids)
}

/// Plaintexts the Encrypt workload cycles through: 32 bytes each.
pub fn plaintexts(count: usize) -> Vec<[u8; 32]> {
    (0..count)
        .map(|i| {
            let mut p = [0u8; 32];
            for (j, b) in p.iter_mut().enumerate() {
                *b = (i * 31 + j * 7) as u8 ^ 0x5a;
            }
            p
        })
        .collect()
}

/// The bodies of every workload for one server whose hot key is `key_id`,
/// made and checked over one connection: Encrypt then Decrypt must give back
/// the plaintext, GenerateDataKey's ciphertext must decrypt to its
/// plaintext, ReEncrypt's output must decrypt to the original, and
/// GenerateRandom must return 32 bytes. Run before any timed cell.
pub struct Workloads {
    pub encrypt: Arc<Bodies>,
    pub decrypt: Arc<Bodies>,
    pub generate_data_key: Arc<Bodies>,
    pub re_encrypt: Arc<Bodies>,
    pub generate_random: Arc<Bodies>,
    /// Made by [`Workloads::add_asymmetric`], for Trent only.
    pub asymmetric: Option<AsymmetricWorkloads>,
}

/// Sign and Verify bodies on keys created at bench start.
pub struct AsymmetricWorkloads {
    pub sign_p256: Arc<Bodies>,
    pub sign_rsa2048: Arc<Bodies>,
    pub verify_p256: Arc<Bodies>,
}

impl Workloads {
    pub fn get(&self, op: Op) -> anyhow::Result<Arc<Bodies>> {
        let asymmetric = || {
            self.asymmetric
                .as_ref()
                .ok_or_else(|| anyhow!("{}: no asymmetric keys were set up", op.name()))
        };
        Ok(match op {
            Op::Encrypt => self.encrypt.clone(),
            Op::Decrypt => self.decrypt.clone(),
            Op::GenerateDataKey => self.generate_data_key.clone(),
            Op::ReEncrypt => self.re_encrypt.clone(),
            Op::GenerateRandom => self.generate_random.clone(),
            Op::SignP256 => asymmetric()?.sign_p256.clone(),
            Op::SignRsa2048 => asymmetric()?.sign_rsa2048.clone(),
            Op::VerifyP256 => asymmetric()?.verify_p256.clone(),
        })
    }

    /// Creates an ECC_NIST_P256 and an RSA_2048 signing key and checks one
    /// Sign and Verify on each, for the Sign and Verify cells.
    pub async fn add_asymmetric(
        &mut self,
        endpoint: &Endpoint,
        client: ClientKind,
    ) -> anyhow::Result<()> {
        let mut r = Requester::connect(endpoint.addr, endpoint.creds.clone(), client)
            .await
            .with_context(|| format!("connecting to {}", endpoint.addr))?;
        let message = B64.encode(plaintexts(1)[0]);
        let mut sign_and_check = async |spec: &str, algorithm: &str| {
            let created = call_json(
                &mut r,
                "CreateKey",
                &json!({ "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "Description": "trent-bench" }),
            )
            .await?;
            let key_id = created
                .pointer("/KeyMetadata/KeyId")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("CreateKey: no KeyMetadata.KeyId"))?
                .to_owned();
            let sign = json!({
                "KeyId": key_id, "Message": message, "MessageType": "RAW",
                "SigningAlgorithm": algorithm,
            });
            let signature = blob(&call_json(&mut r, "Sign", &sign).await?, "Signature")?;
            let verify = json!({
                "KeyId": key_id, "Message": message, "MessageType": "RAW",
                "SigningAlgorithm": algorithm, "Signature": B64.encode(&signature),
            });
            let verified = call_json(&mut r, "Verify", &verify).await?;
            anyhow::ensure!(
                verified.get("SignatureValid") == Some(&Value::Bool(true)),
                "Verify did not accept Sign's signature ({spec})"
            );
            anyhow::Ok((sign, verify))
        };
        let (sign_p256, verify_p256) = sign_and_check("ECC_NIST_P256", "ECDSA_SHA_256").await?;
        let (sign_rsa2048, _) = sign_and_check("RSA_2048", "RSASSA_PSS_SHA_256").await?;
        self.asymmetric = Some(AsymmetricWorkloads {
            sign_p256: Arc::new(Bodies::fixed("Sign", sign_p256)),
            sign_rsa2048: Arc::new(Bodies::fixed("Sign", sign_rsa2048)),
            verify_p256: Arc::new(Bodies::fixed("Verify", verify_p256)),
        });
        Ok(())
    }

    pub async fn prepare(
        endpoint: &Endpoint,
        client: ClientKind,
        key_id: &str,
        pool: usize,
    ) -> anyhow::Result<Workloads> {
        let mut r = Requester::connect(endpoint.addr, endpoint.creds.clone(), client)
            .await
            .with_context(|| format!("connecting to {}", endpoint.addr))?;
        let plaintexts = plaintexts(pool);
        let encrypt_bodies: Vec<Value> = plaintexts
            .iter()
            .map(|p| json!({ "KeyId": key_id, "Plaintext": B64.encode(p) }))
            .collect();
        let mut ciphertexts = Vec::with_capacity(pool);
        for (plaintext, body) in plaintexts.iter().zip(&encrypt_bodies) {
            let response = call_json(&mut r, "Encrypt", body).await?;
            ciphertexts.push(blob(&response, "CiphertextBlob")?);
            let _ = plaintext;
        }
        // Checks: one of each, answers verified.
        let decrypted = call_json(
            &mut r,
            "Decrypt",
            &json!({ "CiphertextBlob": B64.encode(&ciphertexts[0]) }),
        )
        .await?;
        anyhow::ensure!(
            blob(&decrypted, "Plaintext")? == plaintexts[0],
            "Decrypt did not give back the plaintext"
        );
        let data_key = call_json(
            &mut r,
            "GenerateDataKey",
            &json!({ "KeyId": key_id, "KeySpec": "AES_256" }),
        )
        .await?;
        let data_plain = blob(&data_key, "Plaintext")?;
        anyhow::ensure!(data_plain.len() == 32, "GenerateDataKey: not 32 bytes");
        let opened = call_json(
            &mut r,
            "Decrypt",
            &json!({ "CiphertextBlob": B64.encode(blob(&data_key, "CiphertextBlob")?) }),
        )
        .await?;
        anyhow::ensure!(
            blob(&opened, "Plaintext")? == data_plain,
            "GenerateDataKey's ciphertext does not decrypt to its plaintext"
        );
        let re = call_json(
            &mut r,
            "ReEncrypt",
            &json!({ "CiphertextBlob": B64.encode(&ciphertexts[0]), "DestinationKeyId": key_id }),
        )
        .await?;
        let re_opened = call_json(
            &mut r,
            "Decrypt",
            &json!({ "CiphertextBlob": B64.encode(blob(&re, "CiphertextBlob")?) }),
        )
        .await?;
        anyhow::ensure!(
            blob(&re_opened, "Plaintext")? == plaintexts[0],
            "ReEncrypt's ciphertext does not decrypt to the original plaintext"
        );
        let random = call_json(&mut r, "GenerateRandom", &json!({ "NumberOfBytes": 32 })).await?;
        anyhow::ensure!(
            blob(&random, "Plaintext")?.len() == 32,
            "GenerateRandom: not 32 bytes"
        );

        Ok(Workloads {
            encrypt: Arc::new(Bodies::cycle("Encrypt", encrypt_bodies)),
            decrypt: Arc::new(Bodies::cycle(
                "Decrypt",
                ciphertexts
                    .iter()
                    .map(|c| json!({ "CiphertextBlob": B64.encode(c) }))
                    .collect(),
            )),
            generate_data_key: Arc::new(Bodies::fixed(
                "GenerateDataKey",
                json!({ "KeyId": key_id, "KeySpec": "AES_256" }),
            )),
            re_encrypt: Arc::new(Bodies::cycle(
                "ReEncrypt",
                ciphertexts
                    .iter()
                    .map(|c| json!({ "CiphertextBlob": B64.encode(c), "DestinationKeyId": key_id }))
                    .collect(),
            )),
            generate_random: Arc::new(Bodies::fixed(
                "GenerateRandom",
                json!({ "NumberOfBytes": 32 }),
            )),
            asymmetric: None,
        })
    }
}

/// Encrypt of 32 bytes on a key picked at random (per request) from `keys`.
pub fn random_key_encrypt(keys: &[String]) -> Bodies {
    let plaintext = B64.encode(plaintexts(1)[0]);
    let mut bodies = Bodies::cycle(
        "Encrypt",
        keys.iter()
            .map(|k| json!({ "KeyId": k, "Plaintext": plaintext }))
            .collect(),
    );
    bodies.random = true;
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_descriptions() {
        assert_eq!(
            describe_error(
                400,
                br#"{"__type":"NotFoundException","message":"Key 'x' does not exist"}"#
            ),
            "HTTP 400 NotFoundException: Key 'x' does not exist"
        );
        assert_eq!(describe_error(502, b"bad gateway"), "HTTP 502: bad gateway");
    }

    #[test]
    fn bodies_cycle_and_random_stay_in_range() {
        let b = Bodies::cycle("Encrypt", vec![json!(1), json!(2), json!(3)]);
        let (mut c, mut rng) = (0usize, 1u64);
        let picked: Vec<_> = (0..6).map(|_| b.pick(&mut c, &mut rng).clone()).collect();
        assert_eq!(picked[0], picked[3]);
        assert_ne!(picked[0], picked[1]);
        let mut r = Bodies::cycle("Encrypt", (0..10).map(|i| json!(i)).collect());
        r.random = true;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            seen.insert(r.pick(&mut c, &mut rng).clone());
        }
        assert_eq!(seen.len(), 10);
    }

    #[test]
    fn plaintexts_are_distinct() {
        let p = plaintexts(64);
        let set: std::collections::HashSet<_> = p.iter().collect();
        assert_eq!(set.len(), 64);
    }
}
