"""Measures what a crash loses of the audit trail's crypto-operation events.

Starts `trent serve` ($TRENT_BIN), drives Encrypt from 8 boto3 threads,
kills the server with SIGKILL after N acknowledged calls, and counts the
acknowledged calls whose event (matched by request id) is not in the
store. Not a test: a measurement, quoted in ARCHITECTURE.md.

    TRENT_BIN=target/release/trent .venv/bin/python tests/tools/audit_crash_loss.py [N]
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import boto3

TRENT = os.environ.get("TRENT_BIN", "target/release/trent")
ACCESS_KEY, SECRET = "AKIACRASHLOSS00001", "crash-loss-measurement-secret-0001"


def main(calls: int) -> None:
    data = tempfile.mkdtemp(prefix="trent-crash-")
    env = dict(
        os.environ,
        TRENT_BOOTSTRAP_ACCESS_KEY_ID=ACCESS_KEY,
        TRENT_BOOTSTRAP_SECRET_ACCESS_KEY=SECRET,
        TRENT_LOG="warn",
    )
    server = subprocess.Popen(
        [TRENT, "serve", "--listen", "127.0.0.1:0", "--data-dir", data],
        stdout=subprocess.PIPE,
        env=env,
    )
    url = server.stdout.readline().decode().split()[-1]

    def client():
        return boto3.client(
            "kms",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
        )

    key = client().create_key()["KeyMetadata"]["KeyId"]
    acked = []  # (time acknowledged, request id)
    lock = threading.Lock()

    def work():
        kms = client()
        try:
            while True:
                r = kms.encrypt(KeyId=key, Plaintext=b"x" * 32)
                with lock:
                    acked.append((time.time(), r["ResponseMetadata"]["RequestId"]))
        except Exception:
            return  # the server is gone

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    while len(acked) < calls:
        time.sleep(0.0005)
    killed_at = time.time()
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    for t in threads:
        t.join()
    export = subprocess.run(
        [TRENT, "audit", "export", "--data-dir", data], capture_output=True, text=True, check=True
    ).stdout
    stored = {json.loads(line).get("requestID") for line in export.splitlines() if line}
    lost = [t for t, request_id in acked if request_id not in stored]
    print(f"acknowledged Encrypts: {len(acked)}; events lost: {len(lost)}", end="")
    if lost:
        print(
            f"; acknowledged {1e3 * (killed_at - min(lost)):.1f} ms before the kill at the "
            f"earliest (client clock; later ones were in flight when it came)"
        )
    else:
        print()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1500)
