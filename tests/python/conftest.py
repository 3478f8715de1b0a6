"""Fixtures that run the real `trent` binary (and moto as a local S3) for the
Python tests.

* `trent` (session): one server on 127.0.0.1:0 with a temporary data dir and
  fixed bootstrap credentials. While it runs, the process environment points
  every AWS client at it (AWS_ENDPOINT_URL, credentials, region), so code from
  the seeds runs unchanged: `boto3.client('kms')`, `aws kms ...`.
* `kms`: a boto3 KMS client for that server.
* `aws`: runs the aws CLI from the virtualenv with that environment and
  returns its stdout (raises with its stderr on failure).
* `s3_server` (session): moto_server on 127.0.0.1, set as the S3 endpoint only
  (AWS_ENDPOINT_URL_S3); KMS keeps going to trent (AWS_ENDPOINT_URL_KMS).
* `start_trent`: starts further servers (e.g. one without bootstrap
  credentials) that are stopped at the end of the test.

Plain helpers the test modules share: `create_account` (another account in
a server's data dir), `audit_export` and `exported_by_request_id` (a
server's committed audit events), `burst` (many calls at once).
"""

from __future__ import annotations

import concurrent.futures
import configparser
import contextlib
import json
import os
import queue
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
BOOTSTRAP_ACCESS_KEY_ID = "AKIATRENTTESTROOT001"
BOOTSTRAP_SECRET_ACCESS_KEY = "trent/test/bootstrap/secret/key/0123456789"
STARTUP_TIMEOUT_S = 60

# Variables that could make a client talk to something other than the server
# under test, or with other credentials.
_AWS_VARS_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CA_BUNDLE",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


def trent_binary() -> Path:
    explicit = os.environ.get("TRENT_BIN")
    if explicit:
        path = Path(explicit)
        return path if path.is_absolute() else REPO_ROOT / path
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    if not target_dir.is_absolute():
        target_dir = REPO_ROOT / target_dir
    return target_dir / "debug" / "trent"


def venv_executable(name: str) -> str:
    """A console script installed next to the running interpreter (the venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


class _LineReader:
    """Drains one pipe of a child process in a thread, so the child never
    blocks on a full pipe, and hands its lines to whoever waits for them."""

    def __init__(self, stream, sink: Path):
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._sink = sink
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:
        with open(self._sink, "a", encoding="utf-8", errors="replace") as log:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                log.write(line)
                log.flush()
                self._lines.put(line.rstrip("\r\n"))
        self._lines.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first line matching `pattern`, or None if the stream closed or
        the timeout passed first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:
                return None
            match = pattern.search(line)
            if match:
                return match


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class TrentServer:
    url: str
    data_dir: Path
    log_dir: Path
    access_key_id: str | None
    secret_access_key: str | None
    proc: subprocess.Popen = field(repr=False)
    region: str = REGION
    account_id: str = ACCOUNT_ID
    # The CA that signed the server's certificate, when it serves TLS.
    ca_bundle: Path | None = None

    def client_env(self) -> dict[str, str]:
        """Environment variables that point AWS clients at this server."""
        env = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ENDPOINT_URL_KMS": self.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # Never read the machine's own ~/.aws files.
            "AWS_CONFIG_FILE": str(self.log_dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.log_dir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
        if self.ca_bundle is not None:
            env["AWS_CA_BUNDLE"] = str(self.ca_bundle)
        if self.access_key_id is not None:
            env["AWS_ACCESS_KEY_ID"] = self.access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key or ""
        return env

    def logs(self) -> str:
        parts = []
        for name in ("stdout.log", "stderr.log"):
            path = self.log_dir / name
            if path.exists():
                parts.append(f"--- trent {name} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def trent_command(data_dir: Path, extra_args: tuple[str, ...] = (), account_id: str = ACCOUNT_ID) -> list[str]:
    """`trent serve` on an ephemeral port of 127.0.0.1 over `data_dir`."""
    return [
        str(trent_binary()),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data_dir),
        "--region",
        REGION,
        "--account-id",
        account_id,
        # The suite polls CloudTrail's LookupEvents for events it just
        # caused, where AWS allows 2 a second, and makes RSA_4096 data key
        # pairs twice in a row, where AWS allows 1 a second: a client's
        # retries do not always wait out that second. (test_quotas.py
        # tests the quotas, on servers given a profile.)
        *(
            ()
            if "--request-quotas" in extra_args
            else ("--request-quota", "LookupEvents=200", "--request-quota", "GenerateDataKeyPair:RSA_4096=20")
        ),
        *extra_args,
    ]


def server_environ() -> dict[str, str]:
    """The test process's environment without its TRENT_* variables: every
    option of `trent serve` is one (TRENT_CONFIG, TRENT_TLS,
    TRENT_UNSAFE_NO_AUDIT, ...), and a server under test takes its options
    from the test alone. TRENT_LOG, which only filters the server's log, is
    kept. (The harness's own TRENT_BIN is read by this process, in
    `trent_binary`, never by a server.)"""
    return {k: v for k, v in os.environ.items() if not k.startswith("TRENT_") or k == "TRENT_LOG"}


def trent_env(bootstrap: bool, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server: the test's without its TRENT_*
    variables (`server_environ`), with the bootstrap credentials set (or
    not), and `env` on top."""
    out = server_environ()
    out.update(env or {})
    out.setdefault("RUST_LOG", "info")
    out["RUST_BACKTRACE"] = "1"
    if bootstrap:
        out["TRENT_BOOTSTRAP_ACCESS_KEY_ID"] = BOOTSTRAP_ACCESS_KEY_ID
        out["TRENT_BOOTSTRAP_SECRET_ACCESS_KEY"] = BOOTSTRAP_SECRET_ACCESS_KEY
    return out


def refused_start(
    data_dir: Path,
    *,
    bootstrap: bool = True,
    extra_args: tuple[str, ...] = (),
    account_id: str = ACCOUNT_ID,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Runs a `trent serve` that must refuse to start: returns its exit code
    and stderr; fails the test if it serves instead. `env`: variables set
    for it."""
    try:
        result = subprocess.run(
            trent_command(data_dir, extra_args, account_id),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(trent_env(bootstrap, env), RUST_BACKTRACE="0"),
            timeout=STARTUP_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"trent serve on {data_dir} started instead of refusing: {e.stdout!r}")
    assert result.returncode != 0, f"trent serve exited 0: {result.stdout}\n{result.stderr}"
    return result.returncode, result.stderr


@contextlib.contextmanager
def run_trent(
    *,
    bootstrap: bool = True,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
) -> Iterator[TrentServer]:
    """Starts `trent serve` on an ephemeral port, waits for its
    `listening on http(s)://...` line and one 200 from GET /health, and stops
    it on exit (also when the body or the start-up raises). With
    `--tls self-signed` among `extra_args`, /health is checked against the
    CA it made, and `ca_bundle` names it. `data_dir`: the caller's (kept);
    by default a fresh one (removed)."""
    binary = trent_binary()
    if not binary.exists():
        pytest.fail(f"trent binary not found at {binary}: run `cargo build -p trent` (or set TRENT_BIN)")

    work = Path(tempfile.mkdtemp(prefix="trent-pytest-"))
    if data_dir is None:
        data_dir = work / "data"
        data_dir.mkdir()
    env = trent_env(bootstrap, env)
    cmd = trent_command(data_dir, extra_args)
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=work,
    )
    try:
        stdout = _LineReader(proc.stdout, work / "stdout.log")
        _LineReader(proc.stderr, work / "stderr.log")
        server = TrentServer(
            url="",
            data_dir=data_dir,
            log_dir=work,
            access_key_id=BOOTSTRAP_ACCESS_KEY_ID if bootstrap else None,
            secret_access_key=BOOTSTRAP_SECRET_ACCESS_KEY if bootstrap else None,
            proc=proc,
        )
        # The first stdout line names the port; no polling.
        first = stdout.wait_for(re.compile(r".*"), STARTUP_TIMEOUT_S)
        listening = re.fullmatch(r"listening on (https?://127\.0\.0\.1:\d+)/?", first.group(0).strip()) if first else None
        if listening is None:
            _stop(proc)
            pytest.fail(
                f"trent did not print 'listening on http(s)://127.0.0.1:PORT' as its first line "
                f"(got {first.group(0) if first else None!r}, exit code {proc.poll()})\n{server.logs()}"
            )
        server.url = listening.group(1)
        context = None
        if server.url.startswith("https://"):
            server.ca_bundle = data_dir / "tls" / "ca.pem"
            context = ssl.create_default_context(cafile=str(server.ca_bundle))
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=10, context=context) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        except OSError as err:
            pytest.fail(f"GET /health failed: {err}\n{server.logs()}")
        if status != 200:
            pytest.fail(f"GET /health answered {status}\n{server.logs()}")
        yield server
    finally:
        _stop(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def trent() -> Iterator[TrentServer]:
    """The shared server; the process environment points AWS clients at it."""
    with run_trent() as server, pytest.MonkeyPatch.context() as mp:
        for name in _AWS_VARS_TO_CLEAR:
            mp.delenv(name, raising=False)
        for name, value in server.client_env().items():
            mp.setenv(name, value)
        yield server


@pytest.fixture
def start_trent() -> Iterator[Callable[..., TrentServer]]:
    """Starts extra servers for one test; all are stopped when it ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(run_trent(**kwargs))


@pytest.fixture
def kms(trent: TrentServer):
    return boto3.client(
        "kms",
        endpoint_url=trent.url,
        region_name=trent.region,
        aws_access_key_id=trent.access_key_id,
        aws_secret_access_key=trent.secret_access_key,
    )


class AwsCliError(AssertionError):
    pass


def run_aws(*args: str, env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None) -> str:
    """Runs the virtualenv's aws CLI; returns stdout, raises with stderr."""
    result = subprocess.run(
        [venv_executable("aws"), *args],
        env=dict(os.environ if env is None else env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AwsCliError(f"aws {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


@pytest.fixture
def aws(trent: TrentServer) -> Callable[..., str]:
    """`aws("kms", "list-keys")` against the shared server."""
    return run_aws


def shell_env() -> dict[str, str]:
    """The current environment with the venv's bin first on PATH, so `aws`
    in a shell pipeline is the venv's."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(venv_executable("aws")).parent), env.get("PATH", "")])
    return env


@dataclass
class MotoS3:
    url: str


@pytest.fixture(scope="session")
def s3_server(trent: TrentServer) -> Iterator[MotoS3]:
    """moto_server as the local S3. Only S3 goes there: AWS_ENDPOINT_URL_S3
    overrides the global AWS_ENDPOINT_URL, which stays on trent."""
    work = Path(tempfile.mkdtemp(prefix="moto-pytest-"))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [venv_executable("moto_server"), "-H", "127.0.0.1", "-p", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=work,
    )
    try:
        _LineReader(proc.stdout, work / "stdout.log")
        stderr = _LineReader(proc.stderr, work / "stderr.log")
        # werkzeug announces the bound port on stderr.
        match = stderr.wait_for(re.compile(r"Running on (http://127\.0\.0\.1:\d+)"), STARTUP_TIMEOUT_S)
        if match is None:
            log = (work / "stderr.log").read_text(errors="replace") if (work / "stderr.log").exists() else ""
            pytest.fail(f"moto_server did not start (exit code {proc.poll()}):\n{log[-4000:]}")
        url = match.group(1)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ENDPOINT_URL_S3", url)
            mp.setenv("AWS_ENDPOINT_URL_KMS", trent.url)
            # The seeds' plain `boto3.client(...)` calls must land where meant.
            assert boto3.client("s3").meta.endpoint_url == url
            assert boto3.client("kms").meta.endpoint_url == trent.url
            yield MotoS3(url=url)
    finally:
        _stop(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
        shutil.rmtree(work, ignore_errors=True)


def read_shared_credentials(path: Path) -> tuple[str, str]:
    """The [default] access key pair of an AWS shared-credentials file."""
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def create_account(server: TrentServer, account_id: str) -> tuple[str, str]:
    """Creates the account `account_id` in `server`'s data dir with `trent
    account create` (the server running) and returns its root access key
    pair, parsed from the printed credentials."""
    result = subprocess.run(
        [str(trent_binary()), "account", "create", "--account-id", account_id, "--data-dir", str(server.data_dir)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=server_environ(),
        timeout=60,
    )
    assert result.returncode == 0, f"trent account create failed: {result.stderr}"
    parser = configparser.ConfigParser()
    parser.read_string(result.stdout)
    section = parser["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


@pytest.fixture(scope="session")
def trent_account(trent: TrentServer) -> Callable[[str], tuple[str, str]]:
    """`trent_account("444455556666")` creates that account on the shared
    server (`create_account`, once per session) and returns its root access
    key pair."""
    created: dict[str, tuple[str, str]] = {}

    def create(account_id: str) -> tuple[str, str]:
        if account_id not in created:
            created[account_id] = create_account(trent, account_id)
        return created[account_id]

    return create


def audit_export(data_dir: Path, since: float | None = None) -> list[dict]:
    """`trent audit export` on a (running) server's data directory: the
    events since `since` (Unix time), or all."""
    window = []
    if since is not None:
        window = ["--since", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))]
    result = subprocess.run(
        [str(trent_binary()), "audit", "export", "--data-dir", str(data_dir), *window],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=server_environ(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def exported_by_request_id(data_dir: Path, request_ids: set[str], timeout: float = 10.0) -> dict[str, dict]:
    """The exported events of these requests, once all of them are committed."""
    deadline, since = time.monotonic() + timeout, time.time() - 120
    while True:
        found = {e["requestID"]: e for e in audit_export(data_dir, since) if e.get("requestID") in request_ids}
        if len(found) == len(request_ids):
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"events of {sorted(request_ids - found.keys())} were not exported within {timeout} s")
        time.sleep(0.1)


def burst(calls, n: int) -> tuple[list[str | None], float]:
    """Makes `n` calls at once (from 32 threads: one client in sequence is
    slower than some quotas, and than a busy machine's durable commits),
    cycling through `calls` (one callable or a list); returns their error
    codes (None for a success) and how long the burst took."""
    calls = calls if isinstance(calls, list) else [calls]

    def one(i: int) -> str | None:
        try:
            calls[i % len(calls)]()
            return None
        except ClientError as e:
            return e.response["Error"]["Code"]

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(one, range(n)))
    return codes, time.monotonic() - started
