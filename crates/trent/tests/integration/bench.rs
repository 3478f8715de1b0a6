//! `trent bench` end to end, briefly: the servers it starts (Trent, the
//! baseline, a Trent without auditing), symmetric and signing cells, the
//! report. Not a measurement: cells of 0.2 s prove the path works.

use crate::common::{ACCESS_KEY, SECRET_KEY, Server, new_key};
use std::process::Command;

#[test]
fn bench_runs_every_kind_of_cell_against_the_servers_it_starts() {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args([
            "bench",
            "--quiet",
            "--audit-off",
            "--ops",
            "encrypt,sign-p256,verify-p256",
            "--connections",
            "2",
            "--duration",
            "0.2",
            "--warmup",
            "0.05",
            "--repeats",
            "1",
            "--load-generator",
            "builtin",
            "--json",
            "-",
        ])
        .output()
        .expect("run trent bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("auditing cost"), "{stdout}");
    let json = &stdout[stdout.find("\n{").expect("the JSON report") + 1..];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(report["total_errors"], 0);
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    for cell in cells {
        let name = cell["operation"].as_str().unwrap();
        assert!(cell["trent"]["median"]["req_per_sec"].as_f64().unwrap() > 0.0);
        assert!(
            cell["unaudited"]["median"]["req_per_sec"].as_f64().unwrap() > 0.0,
            "{name}"
        );
        // The baseline serves symmetric operations only.
        assert_eq!(cell["baseline"].is_null(), name != "Encrypt", "{name}");
    }
}

/// One Encrypt cell with each load generator, wrk's on both servers
/// (skipped, saying why, where wrk is not installed).
#[test]
fn bench_runs_a_wrk_cell_next_to_the_builtin_one() {
    let wrk_installed = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("wrk").is_file()));
    if !wrk_installed {
        eprintln!("skipped: wrk is not on PATH (Debian: apt-get install wrk)");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["bench", "--quiet", "--ops", "encrypt", "--connections", "2"])
        .args(["--duration", "0.3", "--warmup", "0.1", "--repeats", "1"])
        .args(["--load-generator", "both", "--json", "-"])
        .output()
        .expect("run trent bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("With wrk (wrk "), "{stdout}");
    let json = &stdout[stdout.find("\n{").expect("the JSON report") + 1..];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(report["total_errors"], 0);
    let cells = report["cells"].as_array().unwrap();
    let generators: Vec<_> = cells.iter().map(|c| c["generator"].clone()).collect();
    assert_eq!(generators, ["builtin", "wrk"], "{json}");
    for cell in cells {
        for side in ["trent", "baseline"] {
            let m = &cell[side]["median"];
            assert!(m["req_per_sec"].as_f64().unwrap() > 0.0, "{side}: {cell}");
            assert!(
                m["server_cpu_us_per_req"].as_f64().unwrap() > 0.0,
                "{side}: {cell}"
            );
        }
        assert!(cell["cpu_per_req_ratio"].as_f64().is_some(), "{cell}");
    }
}

/// wrk asked for where it is not installed: a note, the built-in
/// generator's cells, success.
#[test]
fn bench_without_wrk_says_so_and_runs_the_builtin_generator() {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["bench", "--quiet", "--ops", "encrypt", "--connections", "2"])
        .args(["--duration", "0.2", "--warmup", "0.05", "--repeats", "1"])
        .args(["--no-baseline", "--load-generator", "wrk", "--json", "-"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("run trent bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("note: wrk is not on PATH"), "{stdout}");
    let json = &stdout[stdout.find("\n{").expect("the JSON report") + 1..];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0]["generator"], "builtin");
    assert!(cells[0]["trent"]["median"]["req_per_sec"].as_f64().unwrap() > 0.0);
}

/// `trent bench` against a running server (`--target`), measuring a key
/// population it already has (`--existing-keys`: listed, not created), and
/// refusing a population larger than the server's.
#[tokio::test]
async fn bench_measures_the_keys_a_target_already_has() {
    let server = Server::start();
    let kms = server.client();
    for _ in 0..3 {
        new_key(&kms).await;
    }
    let bench = |keys: &str| {
        Command::new(env!("CARGO_BIN_EXE_trent"))
            .args(["bench", "--quiet", "--target", &server.url, "--pid"])
            .arg(server.pid().to_string())
            .args(["--keys", keys, "--existing-keys", "--no-baseline"])
            .args([
                "--ops",
                "encrypt",
                "--connections",
                "2",
                "--duration",
                "0.2",
            ])
            .args(["--warmup", "0.05", "--repeats", "1", "--json", "-"])
            .args(["--load-generator", "builtin"])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .output()
            .expect("run trent bench")
    };
    let out = bench("3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("listed (--existing-keys)"), "{stdout}");
    let json = &stdout[stdout.find("\n{").expect("the JSON report") + 1..];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    let population = &report["population"];
    assert_eq!(population["keys"], 3);
    assert!(population["create_seconds"].is_null(), "{population}");
    let random = &population["cells"][0]["random"]["median"]["req_per_sec"];
    assert!(random.as_f64().unwrap() > 0.0, "{population}");

    // The server holds 3 keys and whatever the run above created: not 500.
    let out = bench("500");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keys, not 500"), "{stderr}");
}
