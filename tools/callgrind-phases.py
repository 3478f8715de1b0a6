#!/usr/bin/env python3
"""Instructions per request, by phase, for Trent or the bench baseline.

Runs a server (`trent serve` or `trent bench-baseline`) under valgrind's
callgrind with instrumentation off, warms it up, switches instrumentation
on for exactly N sequential keep-alive requests of one operation (each
signed with SigV4 beforehand, so the client's work is not the server's),
dumps, and reads the inclusive instruction counts of the functions that
make up each phase (`callgrind_annotate --inclusive=yes`). Instruction
counts do not drift with a noisy neighbour, so two runs compare exactly.

    tools/callgrind-phases.py --trent target/release/trent --op encrypt
    tools/callgrind-phases.py --trent target/release/trent --op encrypt --baseline

Needs valgrind (callgrind_control, callgrind_annotate) and botocore (the
test venv has it: `.venv/bin/python tools/callgrind-phases.py ...`).
A phase's count is inclusive (what its functions call is in it), and the
phases overlap where one calls another (the KMS call includes key lookup,
authorization and crypto); the table says which are parts of which.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIACALLGRINDPHASES0"
SECRET_KEY = "callgrind-phases-secret-key-not-for-production"
REGION = "us-east-1"

# (phase, part of, patterns on the demangled function name). A function
# counts for the first phase whose pattern it matches; each phase sums the
# inclusive counts of its outermost matching functions (see `phase_costs`).
PHASES: list[tuple[str, str, list[str]]] = [
    # Everything the request workers do (all but the audit writer's and
    # the store's threads): the figure that compares builds, as it does not
    # vary with how events fall into the writer's batches.
    ("request workers (tokio's Context::run)", "", [r"^tokio::runtime::scheduler::multi_thread::worker::Context::run$"]),
    ("HTTP: parse head", "", [r"^<hyper::proto::h1::role::Server as .*>::parse", r"^httparse::"]),
    ("HTTP: write response", "", [r"^<hyper::proto::h1::role::Server as .*>::encode"]),
    ("request id", "", [r"^trent_server::RequestIds::next"]),
    ("SigV4 (authenticate)", "", [r"^trent_server::auth::Authenticator::authenticate", r"^trent_bench::baseline::Baseline::verify"]),
    ("  signature (canonical request, HMAC)", "SigV4", [r"^trent_sigv4::verify"]),
    ("  Authorization header parse", "SigV4", [r"^trent_sigv4::authz::parse_request_authorization"]),
    ("KMS operation (dispatch)", "", [r"^trent_server::api::dispatch"]),
    ("  JSON parse (request)", "dispatch", [r"^trent_server::api::parse", r"^trent_wire::request::parse_request", r"^trent_bench::baseline::parse"]),
    ("  key lookup", "dispatch", [r"Kms>?::(target|resolve|key_for)"]),
    ("  authorization", "dispatch", [r"Kms>?::authorize"]),
    ("  crypto (AES-GCM blob)", "dispatch", [r"^trent_crypto::blob::(seal|open)"]),
    ("  JSON serialize (response)", "dispatch", [r"^trent_server::api::respond", r"^trent_bench::baseline::to_json"]),
    ("audit capture", "", [r"^trent_server::pipeline::event", r"^trent_server::audit::"]),
    ("audit writer (its thread)", "", [r"^trent_core::audit::Writer::write"]),
    ("metrics", "", [r"^trent_core::stats::", r"^trent_server::metrics::"]),
    ("logging (tracing)", "", [r"^tracing::", r"^tracing_core::", r"^tracing_subscriber::"]),
    ("quotas", "", [r"^trent_core::quotas::"]),
]


def signed(url: str, operation: str, body: dict) -> tuple[str, bytes, dict[str, str]]:
    data = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=data,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{operation}"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", REGION).add_auth(request)
    return operation, data, dict(request.headers.items())


def call(conn: http.client.HTTPConnection, req: tuple[str, bytes, dict[str, str]]) -> dict:
    _, data, headers = req
    conn.request("POST", "/", body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise SystemExit(f"{req[0]} answered {response.status}: {payload[:300]!r}")
    return json.loads(payload)


def start(args: argparse.Namespace, work: Path, out: Path) -> tuple[subprocess.Popen, str]:
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENT_")}
    env["RUST_LOG"] = "warn"
    if args.baseline:
        command = [args.trent, "bench-baseline", "--listen", "127.0.0.1:0"]
        env["TRENT_BASELINE_ACCESS_KEY_ID"] = ACCESS_KEY
        env["TRENT_BASELINE_SECRET_ACCESS_KEY"] = SECRET_KEY
    else:
        data = work / "data"
        data.mkdir()
        command = [args.trent, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), "--region", REGION]
        env["TRENT_BOOTSTRAP_ACCESS_KEY_ID"] = ACCESS_KEY
        env["TRENT_BOOTSTRAP_SECRET_ACCESS_KEY"] = SECRET_KEY
    proc = subprocess.Popen(valgrind + command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)", line or "")
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the server did not print its address")


def callgrind_control(proc: subprocess.Popen, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(proc.pid)], check=True, capture_output=True)


def inclusive_costs(out: Path) -> tuple[int, list[tuple[int, str]]]:
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = 0
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if not m:
            continue
        count = int(m.group(1).replace(",", ""))
        name = m.group(2).strip()
        if "PROGRAM TOTALS" in name:
            total = count
            continue
        # "file:function [object]": keep the function.
        name = re.sub(r"\s+\[[^\]]*\]$", "", name)
        name = name.split(":", 1)[1] if re.match(r"^[^:]*\.(rs|c|h|S|s)\b.*:", name) or name.startswith("???:") else name
        rows.append((count, name))
    return total, rows


def phase_costs(rows: list[tuple[int, str]]) -> dict[str, int]:
    """Per phase, the largest inclusive count among its functions: the
    outermost one (callers include callees; summing would count twice)."""
    costs: dict[str, int] = {}
    for phase, _, patterns in PHASES:
        compiled = [re.compile(p) for p in patterns]
        best = 0
        for count, name in rows:
            if any(p.search(name) for p in compiled):
                best = max(best, count)
        costs[phase] = best
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trent", default="target/release/trent", help="the trent binary (a release build)")
    parser.add_argument("--op", choices=["encrypt", "decrypt", "generate-data-key"], default="encrypt")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests (sequential, keep-alive)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--baseline", action="store_true", help="measure `trent bench-baseline` instead of Trent")
    parser.add_argument("--top", type=int, default=0, help="also print the N costliest functions per request")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--keep", type=Path, help="copy the measured window's callgrind dump here (for callgrind_annotate)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")

    work = Path(tempfile.mkdtemp(prefix="trent-callgrind-"))
    out = work / "callgrind.out"
    proc, url = start(args, work, out)
    try:
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=600)
        key_id = call(conn, signed(url, "CreateKey", {}))["KeyMetadata"]["KeyId"]
        plaintext = base64.b64encode(b"x" * 32).decode()
        if args.op == "encrypt":
            req = signed(url, "Encrypt", {"KeyId": key_id, "Plaintext": plaintext})
        elif args.op == "decrypt":
            blob = call(conn, signed(url, "Encrypt", {"KeyId": key_id, "Plaintext": plaintext}))["CiphertextBlob"]
            req = signed(url, "Decrypt", {"CiphertextBlob": blob})
        else:
            req = signed(url, "GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"})
        for _ in range(args.warmup):
            call(conn, req)
        callgrind_control(proc, "--zero")
        callgrind_control(proc, "--instr=on")
        for _ in range(args.requests):
            call(conn, req)
        # Let the audit writer catch up inside the window.
        time.sleep(2)
        callgrind_control(proc, "--instr=off")
        callgrind_control(proc, "--dump")
        conn.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    # The dump asked for is OUT.1 (the window); OUT is the one at exit.
    measured = work / "callgrind.out.1"
    if not measured.exists():
        raise SystemExit(f"no dump of the measured window in {work}: {sorted(p.name for p in work.iterdir())}")
    if args.keep:
        shutil.copyfile(measured, args.keep)
    total, rows = inclusive_costs(measured)
    costs = phase_costs(rows)
    n = args.requests
    who = "baseline" if args.baseline else "trent"
    if args.json:
        print(json.dumps({"server": who, "op": args.op, "requests": n, "total": total / n,
                          "phases": {k.strip(): v / n for k, v in costs.items()}}))
    else:
        print(f"{who} {args.op}: {n} requests, {total / n:,.0f} instructions per request in all")
        for phase, part_of, _ in PHASES:
            note = f"  (part of {part_of})" if part_of else ""
            print(f"  {phase:<42} {costs[phase] / n:>10,.0f}{note}")
        if args.top:
            print(f"  top {args.top} functions (inclusive, per request):")
            for count, name in sorted(rows, reverse=True)[: args.top]:
                print(f"    {count / n:>10,.0f}  {name[:110]}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
