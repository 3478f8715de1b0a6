//! Smoke test: the baseline server in-process on port 0, one short cell
//! against it through the whole `run` path (CreateKey, ciphertext pool,
//! checks of every operation, then a timed Encrypt cell).

use std::time::Duration;
use trent_bench::client::{ClientKind, Credentials};
use trent_bench::load::Op;
use trent_bench::report::Generator;
use trent_bench::{BenchConfig, ExternalTarget, LoadGenerator};

const ACCESS_KEY: &str = "AKIABENCHSMOKETEST01";
const SECRET: &str = "smoke-test-secret-access-key-000000000001";

async fn smoke(client: ClientKind) {
    smoke_with(client, LoadGenerator::Builtin).await;
}

async fn smoke_with(client: ClientKind, generator: LoadGenerator) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(trent_bench::baseline::serve(
        listener,
        ACCESS_KEY.to_owned(),
        SECRET.to_owned(),
    ));
    let config = BenchConfig {
        duration: Duration::from_millis(200),
        warmup: Duration::from_millis(50),
        repeats: 1,
        connections: vec![2],
        ops: vec![Op::Encrypt, Op::Decrypt],
        baseline: false,
        target: Some(ExternalTarget {
            url: format!("http://{addr}"),
            // In-process: this test's own CPU time stands in for the server's.
            pid: Some(std::process::id()),
            credentials: Credentials {
                access_key_id: ACCESS_KEY.to_owned(),
                secret_access_key: SECRET.to_owned().into(),
                region: "us-east-1".to_owned(),
            },
        }),
        client,
        load_generator: Some(generator),
        ..BenchConfig::default()
    };
    let report = tokio::time::timeout(Duration::from_secs(60), trent_bench::run(config))
        .await
        .expect("the run is bounded in time")
        .expect("the run succeeds");
    server.abort();
    let generators = match generator {
        LoadGenerator::Builtin => vec![Generator::Builtin],
        LoadGenerator::Wrk => vec![Generator::Wrk],
        LoadGenerator::Both => vec![Generator::Builtin, Generator::Wrk],
    };
    assert_eq!(report.settings.load_generators, generators);
    assert_eq!(report.cells.len(), 2 * generators.len());
    for cell in &report.cells {
        let m = &cell.trent.median;
        assert!(m.req_per_sec > 0.0, "{}: no throughput", cell.operation);
        assert_eq!(
            m.errors, 0,
            "{}: {:?}",
            cell.operation, cell.trent.error_samples
        );
        assert!(m.p50_ms > 0.0 && m.p50_ms <= m.p99_ms && m.p99_ms <= m.p999_ms);
        assert!(m.server_cpu_us_per_req.is_some());
    }
    assert_eq!(report.total_errors, 0);
    assert!(report.table().contains("Encrypt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_cell_with_raw_client() {
    smoke(ClientKind::Raw).await;
}

/// Both generators, each cell with the built-in one then with wrk (when
/// wrk is installed; else skipped, saying so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_cells_with_wrk() {
    if trent_bench::wrk::find().is_none() {
        eprintln!("skipped: wrk is not on PATH (Debian: apt-get install wrk)");
        return;
    }
    smoke_with(ClientKind::Raw, LoadGenerator::Both).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_cell_with_hyper_client() {
    smoke(ClientKind::Hyper).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(trent_bench::baseline::serve(
        listener,
        ACCESS_KEY.to_owned(),
        SECRET.to_owned(),
    ));
    let creds = std::sync::Arc::new(Credentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: "not-the-secret".to_owned().into(),
        region: "us-east-1".to_owned(),
    });
    let mut r = trent_bench::client::Requester::connect(addr, creds, ClientKind::Raw)
        .await
        .unwrap();
    let err = trent_bench::load::call_json(
        &mut r,
        "GenerateRandom",
        &serde_json::json!({"NumberOfBytes": 32}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("InvalidSignatureException"),
        "{err}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_unknown_operations() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(trent_bench::baseline::serve(
        listener,
        ACCESS_KEY.to_owned(),
        SECRET.to_owned(),
    ));
    assert!(trent_bench::client::health(addr).await);
    let (status, _) = trent_bench::client::get(addr, "/nowhere").await.unwrap();
    assert_eq!(status, 404);
    let creds = std::sync::Arc::new(Credentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: SECRET.to_owned().into(),
        region: "us-east-1".to_owned(),
    });
    let mut r = trent_bench::client::Requester::connect(addr, creds, ClientKind::Raw)
        .await
        .unwrap();
    let err = trent_bench::load::call_json(&mut r, "ListAliases", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("UnknownOperationException"),
        "{err}"
    );
    // The connection stays usable after an error answer.
    let key = trent_bench::load::call_json(&mut r, "CreateKey", &serde_json::json!({}))
        .await
        .unwrap();
    assert!(key.pointer("/KeyMetadata/Arn").is_some(), "{key}");
    server.abort();
}
