#!/usr/bin/env python3
"""Throughput of `trent encrypt` / `trent decrypt` on one large file, against
`openssl enc -aes-256-ctr` (the floor: one cipher, no authentication, no
KMS) and `aws-encryption-cli` (the same message format in Python), in one
run on this machine.

    .venv/bin/python tools/envelope-bench.py [--size-mib 1024] [--rounds 3]

It starts `trent serve` (release build) on a free port with a fresh data
directory, creates a key, writes a file of --size-mib MiB into --dir (by
default /dev/shm, so that neither input nor output waits for a disk), reads
it once into the page cache, then runs every case --rounds times, the cases
taking turns within each round so that the machine's drift hits them alike.
aws-encryption-cli runs --esdk-rounds times (it is slow). Each run's wall
time, CPU time and peak RSS come from wait4(2); the table gives medians,
throughput, and ratios to openssl and to aws-encryption-cli. Every output is
compared with the input once.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ACCESS = "AKIATRENTBENCHENVLOP1"
SECRET = "trent/bench/envelope/secret/0123456789ab"
SIGNED = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
UNSIGNED = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"


def start_trent(trent: Path, work: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, TRENT_LOG="warn", TRENT_BOOTSTRAP_ACCESS_KEY_ID=ACCESS,
               TRENT_BOOTSTRAP_SECRET_ACCESS_KEY=SECRET)
    proc = subprocess.Popen([str(trent), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(work / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        sys.exit(f"trent serve did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def client_env(url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRENT_"))}
    env.update(AWS_ENDPOINT_URL=url, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(work / "none"), AWS_SHARED_CREDENTIALS_FILE=str(work / "none"))
    return env


def create_key(url: str) -> str:
    import boto3

    kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ACCESS,
                       aws_secret_access_key=SECRET)
    return kms.create_key(Description="envelope-bench")["KeyMetadata"]["Arn"]


def write_input(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for i in range(mib):
            f.write(block[i % 4096 :] + block[: i % 4096])


def peak_rss_mib(pid: int) -> float:
    """The process's peak RSS so far (VmHWM), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """One run: wall seconds, CPU seconds (user + system) from wait4, and
    peak RSS (MiB) from /proc/PID/status's VmHWM, read every 10 ms (wait4's
    ru_maxrss would count the forking Python's own memory)."""
    with tempfile.TemporaryFile() as stderr:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        rss = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = max(rss, peak_rss_mib(proc.pid))
            time.sleep(0.01)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            sys.exit(f"{' '.join(argv)} failed:\n{stderr.read().decode(errors='replace')}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trent", type=Path, default=REPO / "target" / "release" / "trent")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--esdk-rounds", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    args = parser.parse_args()
    esdk = shutil.which("aws-encryption-cli", path=str(Path(sys.executable).parent))
    work = Path(tempfile.mkdtemp(prefix="envelope-bench-", dir=args.dir))
    server, url = start_trent(args.trent, work)
    try:
        env = client_env(url, work)
        key = create_key(url)
        plain = work / "plain"
        write_input(plain, args.size_mib)
        with plain.open("rb") as f:
            while f.read(1 << 24):
                pass
        cipher_key, iv = secrets.token_hex(32), "00" * 16
        openssl = ["openssl", "enc", "-aes-256-ctr", "-K", cipher_key, "-iv", iv]
        trent = [str(args.trent)]
        cases = {
            ("encrypt", "openssl enc -aes-256-ctr"): lambda o: [*openssl, "-in", plain, "-out", o],
            ("encrypt", "trent, signed (default)"): lambda o: [*trent, "encrypt", "--quiet", "--key-id", key, plain, o],
            ("encrypt", "trent, unsigned"): lambda o: [*trent, "encrypt", "--quiet", "--key-id", key,
                                                       "--algorithm", UNSIGNED, plain, o],
        }
        decrypt_of = {
            "openssl enc -aes-256-ctr": lambda i, o: [*openssl, "-d", "-in", i, "-out", o],
            "trent, signed (default)": lambda i, o: [*trent, "decrypt", "--quiet", "--key-id", key, i, o],
            "trent, unsigned": lambda i, o: [*trent, "decrypt", "--quiet", "--key-id", key, i, o],
        }
        if esdk:
            esdk_cases = {
                "aws-encryption-cli, signed (default)": SIGNED,
                "aws-encryption-cli, unsigned": UNSIGNED,
            }
        else:
            esdk_cases = {}
            print("aws-encryption-cli not found beside this Python: its rows are skipped", file=sys.stderr)
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}

        def run(op: str, name: str, argv: list, compare: Path | None) -> None:
            result = measure([str(a) for a in argv], env)
            runs.setdefault((op, name), []).append(result)
            if compare is not None and len(runs[(op, name)]) == 1 and not filecmp.cmp(compare, plain, shallow=False):
                sys.exit(f"{name}: the decrypted file differs from the input")

        for round_ in range(max(args.rounds, args.esdk_rounds)):
            todo = list(cases.items()) if round_ < args.rounds else []
            if round_ < args.esdk_rounds:
                for name, suite in esdk_cases.items():
                    todo.append(((
                        "encrypt", name),
                        lambda o, s=suite: [esdk, "--encrypt", "-S", "--input", plain, "--output", o,
                                            "--wrapping-keys", f"key={key}", "--algorithm", s]))
            for (op, name), argv_of in todo:
                sealed = work / "sealed"
                run("encrypt", name, argv_of(sealed), None)
                opened = work / "opened"
                if name in decrypt_of:
                    run("decrypt", name, decrypt_of[name](sealed, opened), opened)
                else:
                    run("decrypt", name, [esdk, "--decrypt", "-S", "--input", sealed, "--output", opened,
                                          "--wrapping-keys", f"key={key}", "--buffer"], opened)
                sealed.unlink()
                opened.unlink(missing_ok=True)
        report(runs, args.size_mib)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def report(runs: dict[tuple[str, str], list[dict[str, float]]], mib: int) -> None:
    print(f"{mib} MiB file, page cache; medians of each case's runs (n)")
    print(f"{'op':8} {'case':38} {'n':>2} {'wall s':>7} {'MiB/s':>7} {'CPU s':>6} {'RSS MiB':>8} "
          f"{'x openssl':>9} {'x esdk':>7}")
    for op in ("encrypt", "decrypt"):
        med = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss")}
               for (o, name), rs in runs.items() if o == op}
        base = med.get("openssl enc -aes-256-ctr", {}).get("wall")
        esdk = med.get("aws-encryption-cli, signed (default)", {}).get("wall")
        for name, m in med.items():
            n = len(runs[(op, name)])
            suite = "unsigned" if "unsigned" in name else "signed"
            esdk_same = med.get(f"aws-encryption-cli, {suite}" + (" (default)" if suite == "signed" else ""),
                                {}).get("wall", esdk)
            ratio_openssl = f"{base / m['wall']:.2f}" if base else "-"
            ratio_esdk = f"{esdk_same / m['wall']:.1f}" if esdk_same and "openssl" not in name else "-"
            print(f"{op:8} {name:38} {n:>2} {m['wall']:7.2f} {mib / m['wall']:7.0f} {m['cpu']:6.2f} "
                  f"{m['rss']:8.1f} {ratio_openssl:>9} {ratio_esdk:>7}")
    print("x openssl: openssl's wall time / the case's (throughput ratio); "
          "x esdk: aws-encryption-cli's (same suite) / the case's")


if __name__ == "__main__":
    main()
