//! The transport on the real binary: TLS (self-signed and from files,
//! reloaded without a restart), slow and idle clients, the connection cap,
//! and `aws:SecureTransport`.

use crate::common::*;
use aws_sdk_kms::primitives::Blob;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Fails the test if `test` runs longer than `secs` seconds.
async fn within(secs: u64, test: impl std::future::Future<Output = ()>) {
    timeout(Duration::from_secs(secs), test)
        .await
        .unwrap_or_else(|_| panic!("the test took over {secs} s"));
}

fn addr(server: &Server) -> SocketAddr {
    let host = server
        .url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    host.parse().unwrap()
}

/// An aws-sdk-kms client whose HTTPS client trusts only `ca_pem`.
fn client_trusting(server: &Server, ca_pem: &[u8]) -> aws_sdk_kms::Client {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = TrustStore::empty().with_pem_certificate(ca_pem.to_vec());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap(),
        )
        .build_https();
    server.client_configured(|c| c.http_client(http))
}

fn rustls_client(ca: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The certificate a new TLS connection to `addr` is served, verified
/// against `ca` for `localhost`.
async fn peer_certificate(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
) -> std::io::Result<CertificateDer<'static>> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = rustls_client(ca)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let (_, session) = tls.get_ref();
    assert_eq!(
        session.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "HTTP/1.1 only"
    );
    Ok(session.peer_certificates().unwrap()[0].clone().into_owned())
}

/// Sends `request` on `stream` and reads one response with a
/// Content-Length body; answers its text.
async fn exchange<S>(stream: &mut S, request: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

const HEALTH: &str = "GET /health HTTP/1.1\r\nHost: trent\r\n\r\n";

/// Waits until the server closes `stream` (EOF or reset) and answers the
/// bytes it sent meanwhile, if any.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(within, read)
        .await
        .expect("the server should have closed the connection");
    got
}

/// Raises this test process's open-file limit: the slowloris test holds a
/// thousand sockets.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
}

async fn create_encrypt_decrypt(kms: &aws_sdk_kms::Client) {
    let key = new_key(kms).await;
    let blob = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("over TLS"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = kms
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"over TLS");
}

#[tokio::test]
async fn self_signed_tls_serves_the_sdk_that_trusts_its_ca_and_no_other() {
    within(30, async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(dir.path(), &["--tls", "self-signed"]);
        assert!(
            server.url.starts_with("https://127.0.0.1:"),
            "{}",
            server.url
        );
        let ca_pem = std::fs::read(dir.path().join("tls/ca.pem")).unwrap();

        create_encrypt_decrypt(&client_trusting(&server, &ca_pem)).await;

        // A client that trusts another CA fails the handshake.
        let stranger = KeyPair::generate().unwrap();
        let stranger_ca = ca_params().self_signed(&stranger).unwrap();
        let err = client_trusting(&server, stranger_ca.pem().as_bytes())
            .list_keys()
            .send()
            .await
            .unwrap_err();
        assert!(err.as_service_error().is_none(), "{err:?}");
        let err = peer_certificate(addr(&server), stranger_ca.der())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");

        // Plain HTTP on the TLS port gets no answer.
        let mut tcp = TcpStream::connect(addr(&server)).await.unwrap();
        tcp.write_all(HEALTH.as_bytes()).await.unwrap();
        let got = closed_by_server(&mut tcp, Duration::from_secs(5)).await;
        assert!(
            !got.starts_with(b"HTTP/"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );

        // A restart reuses the CA: the same ca.pem still verifies.
        server.stop();
        let server = Server::start_in(dir.path(), &["--tls", "self-signed"]);
        // SIGHUP, even right after the ready line, reloads the certificate;
        // it does not stop the server.
        let status = std::process::Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            std::fs::read(dir.path().join("tls/ca.pem")).unwrap(),
            ca_pem
        );
        create_encrypt_decrypt(&client_trusting(&server, &ca_pem)).await;
    })
    .await;
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

/// A test CA and leaf certificates for `localhost` it signs.
struct TestCa {
    cert: CertificateDer<'static>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let params = ca_params();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM, certificate DER).
    fn leaf(&self) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }
}

/// Replaces `path` at once, as deployment tools do (write, then rename);
/// mode 0600, as a key file should be.
fn replace(path: &Path, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, contents).unwrap();
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&fresh, path).unwrap();
}

#[tokio::test]
async fn certificate_files_are_reloaded_without_a_restart_and_a_bad_one_is_not_taken() {
    within(40, async {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let (cert_a, key_a, der_a) = ca.leaf();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        replace(&cert_path, &cert_a);
        replace(&key_path, &key_a);
        let data = dir.path().join("data");
        let server = Server::start_in(
            &data,
            &[
                "--tls-cert",
                cert_path.to_str().unwrap(),
                "--tls-key",
                key_path.to_str().unwrap(),
            ],
        );
        assert!(server.url.starts_with("https://"), "{}", server.url);
        assert_eq!(
            peer_certificate(addr(&server), &ca.cert).await.unwrap(),
            der_a
        );
        let kms = client_trusting(&server, ca.cert_pem.as_bytes());
        create_encrypt_decrypt(&kms).await;

        // New files: new connections get the new certificate within seconds.
        let (cert_b, key_b, der_b) = ca.leaf();
        replace(&key_path, &key_b);
        replace(&cert_path, &cert_b);
        let replaced = Instant::now();
        loop {
            let seen = peer_certificate(addr(&server), &ca.cert).await.unwrap();
            if seen == der_b {
                break;
            }
            assert_eq!(seen, der_a);
            assert!(
                replaced.elapsed() < Duration::from_secs(8),
                "the new certificate was not served"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        create_encrypt_decrypt(&kms).await;

        // A broken certificate file, then a key that is not the certificate's:
        // both are refused and the last good certificate stays.
        replace(
            &cert_path,
            "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n",
        );
        tokio::time::sleep(Duration::from_millis(4500)).await;
        assert_eq!(
            peer_certificate(addr(&server), &ca.cert).await.unwrap(),
            der_b
        );
        replace(&cert_path, &cert_b);
        replace(&key_path, &key_a);
        tokio::time::sleep(Duration::from_millis(4500)).await;
        assert_eq!(
            peer_certificate(addr(&server), &ca.cert).await.unwrap(),
            der_b
        );
        create_encrypt_decrypt(&kms).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_beyond_the_cap_do_not_keep_a_client_waiting() {
    within(40, async {
        raise_open_file_limit();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(
            dir.path(),
            &["--max-connections", "200", "--header-read-timeout", "2"],
        );
        let addr = addr(&server);
        // A thousand connections: half silent, half dribbling a request head.
        let mut silent = Vec::new();
        let mut dribbling = Vec::new();
        for i in 0..1000 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            if i % 2 == 0 {
                silent.push(stream);
            } else {
                let _ = stream
                    .write_all(b"POST / HTTP/1.1\r\nHost: trent\r\nX-Slow: ")
                    .await;
                dribbling.push(stream);
            }
        }
        let dribbler = tokio::spawn(async move {
            loop {
                for stream in &mut dribbling {
                    let _ = stream.write_all(b"a").await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        // And more keep coming.
        let flood = tokio::spawn(async move {
            loop {
                if let Ok(stream) = TcpStream::connect(addr).await {
                    silent.push(stream);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });

        let kms = server.client();
        for round in 0..3 {
            let started = Instant::now();
            let listed = timeout(Duration::from_secs(1), kms.list_keys().send()).await;
            assert!(listed.is_ok(), "ListKeys round {round} took over a second");
            listed.unwrap().unwrap();
            let mut raw = TcpStream::connect(addr).await.unwrap();
            let response = timeout(Duration::from_secs(1), exchange(&mut raw, HEALTH))
                .await
                .unwrap_or_else(|_| panic!("GET /health round {round} took over a second"));
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            assert!(started.elapsed() < Duration::from_secs(2));
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        flood.abort();
        dribbler.abort();

        let mut raw = TcpStream::connect(addr).await.unwrap();
        let metrics = exchange(&mut raw, "GET /metrics HTTP/1.1\r\nHost: trent\r\n\r\n").await;
        let value = |series: &str| -> u64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {series} in {metrics}"))
        };
        assert!(value("trent_connections_closed_total{reason=\"evicted\"}") >= 800);
        assert_eq!(value("trent_connections_refused_total"), 0);
        assert!(value("trent_connections_open") <= 200 + 4);
    })
    .await;
}

#[tokio::test]
async fn a_dribbled_head_is_cut_at_the_header_read_timeout_from_its_first_byte() {
    within(20, async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(dir.path(), &["--header-read-timeout", "2"]);
        let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
        // Silent for longer than the header-read timeout: only idle.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: trent\r\nX-Slow: ")
            .await
            .unwrap();
        let first_byte = Instant::now();
        let mut buf = [0u8; 256];
        let got = loop {
            tokio::select! {
                read = stream.read(&mut buf) => break read.unwrap_or(0),
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stream.write_all(b"a").await.is_err() {
                        break 0;
                    }
                }
            }
            assert!(first_byte.elapsed() < Duration::from_secs(6), "never cut");
        };
        let elapsed = first_byte.elapsed();
        assert_eq!(got, 0, "closed without a response");
        assert!(
            elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_millis(4000),
            "cut after {elapsed:?}"
        );
    })
    .await;
}

/// A body that does not arrive within the body timeout is answered 408
/// (`RequestTimeoutException`) by the request pipeline, whatever was sent
/// of it: a client cannot hold a request (which is never evicted) open.
#[tokio::test]
async fn a_body_slower_than_the_body_timeout_is_refused() {
    within(20, async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(dir.path(), &["--body-timeout", "1"]);
        let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
        let started = Instant::now();
        let response = exchange(
            &mut stream,
            "POST / HTTP/1.1\r\nHost: trent\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 100\r\n\r\n{\"Limit\"",
        )
        .await;
        let elapsed = started.elapsed();
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
        assert!(response.contains("RequestTimeoutException"), "{response}");
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(3000),
            "answered after {elapsed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    within(20, async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(dir.path(), &["--idle-timeout", "2"]);
        let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
        let response = exchange(&mut stream, HEALTH).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        // Kept alive while under the timeout.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let response = exchange(&mut stream, HEALTH).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let idle_since = Instant::now();
        let got = closed_by_server(&mut stream, Duration::from_secs(5)).await;
        let elapsed = idle_since.elapsed();
        assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
        assert!(
            elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_millis(4000),
            "closed after {elapsed:?}"
        );
    })
    .await;
}

/// A client that pipelines requests and never reads their answers stalls
/// the server's writes. Its connection must not count as serving a request
/// meanwhile (such a connection is never evicted): a request ends when its
/// answer is handed to hyper, so the stalled connection is idle, and two of
/// them at the cap give way to a third client at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_their_answers_cannot_hold_the_connection_cap() {
    within(40, async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(dir.path(), &["--max-connections", "2"]);
        let addr = addr(&server);
        let pipelined = HEALTH.repeat(1000);
        let mut hogs = Vec::new();
        for _ in 0..2 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(4096).unwrap();
            let mut stream = socket.connect(addr).await.unwrap();
            // Requests written until the server, its answers unread, stops
            // reading them (no progress for a second).
            while let Ok(Ok(())) = timeout(
                Duration::from_secs(1),
                stream.write_all(pipelined.as_bytes()),
            )
            .await
            {}
            hogs.push(stream);
        }
        // A third client is served at once (a refusal would close its
        // connection: `exchange` fails on that).
        let mut raw = TcpStream::connect(addr).await.unwrap();
        let response = timeout(Duration::from_secs(2), exchange(&mut raw, HEALTH))
            .await
            .expect("a third client is kept waiting");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let mut raw = TcpStream::connect(addr).await.unwrap();
        let metrics = exchange(&mut raw, "GET /metrics HTTP/1.1\r\nHost: trent\r\n\r\n").await;
        assert!(
            !metrics.contains("trent_connections_closed_total{reason=\"evicted\"} 0"),
            "{metrics}"
        );
        assert!(
            metrics.contains("trent_connections_refused_total 0"),
            "{metrics}"
        );
        drop(hogs);
    })
    .await;
}

#[tokio::test]
async fn a_tls_handshake_must_finish_within_the_header_read_timeout() {
    within(20, async {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_in(
            dir.path(),
            &["--tls", "self-signed", "--header-read-timeout", "2"],
        );
        let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
        let connected = Instant::now();
        let got = closed_by_server(&mut stream, Duration::from_secs(5)).await;
        let elapsed = connected.elapsed();
        assert!(got.is_empty());
        assert!(
            elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_millis(4000),
            "closed after {elapsed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn secure_transport_is_true_over_tls_only() {
    within(30, async {
        let dir = tempfile::tempdir().unwrap();
        // Deny everything that does not come over TLS.
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
                {{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
                  "Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#
        );
        let (key, blob) = {
            let server = Server::start_in(dir.path(), &["--tls", "self-signed"]);
            let ca_pem = std::fs::read(dir.path().join("tls/ca.pem")).unwrap();
            let kms = client_trusting(&server, &ca_pem);
            let key = kms
                .create_key()
                .policy(&policy)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .key_id;
            let blob = kms
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new("x"))
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap();
            server.stop();
            (key, blob)
        };
        // The same data over plain HTTP: denied by the policy.
        let server = Server::start_in(dir.path(), &[]);
        assert!(server.url.starts_with("http://"));
        let kms = server.client();
        let err = kms
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
        assert!(message(&err).contains("explicit deny"), "{}", message(&err));
        let err = kms
            .decrypt()
            .ciphertext_blob(blob)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
        // Keys without such a policy work as before.
        new_key(&kms).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_at_once_and_lets_a_request_in_flight_finish() {
    within(20, async {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start_in(dir.path(), &[]);
        let addr = addr(&server);
        // Connected and silent; kept alive after a request; part of a head.
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        let mut used = TcpStream::connect(addr).await.unwrap();
        assert!(
            exchange(&mut used, HEALTH)
                .await
                .starts_with("HTTP/1.1 200")
        );
        let mut reading = TcpStream::connect(addr).await.unwrap();
        reading
            .write_all(b"POST / HTTP/1.1\r\nHost: tr")
            .await
            .unwrap();
        // A request whose body is still coming.
        let mut in_flight = TcpStream::connect(addr).await.unwrap();
        in_flight
            .write_all(
                b"POST / HTTP/1.1\r\nHost: trent\r\nContent-Type: application/x-amz-json-1.1\r\n\
                  X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\n\r\n{",
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;

        let status = std::process::Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let signalled = Instant::now();
        for idle in [&mut fresh, &mut used, &mut reading] {
            let got = closed_by_server(idle, Duration::from_secs(2)).await;
            assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
        }
        assert!(signalled.elapsed() < Duration::from_secs(2));
        // New connections are refused.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(TcpStream::connect(addr).await.is_err());

        // The request in flight still gets its answer (unsigned: refused by
        // SigV4, but answered), and its connection is closed after it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let response = exchange(&mut in_flight, "}").await;
        assert!(response.starts_with("HTTP/1.1 4"), "{response}");
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{response}"
        );
        closed_by_server(&mut in_flight, Duration::from_secs(2)).await;
        let exit = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(5)));
        assert!(exit.expect("trent exited").success());
    })
    .await;
}
