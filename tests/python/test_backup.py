"""Issue 16, backup and restore: a backup of a serving installation,
checked, restored into a new data directory, and read there with boto3 and
the aws CLI."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3

from conftest import TrentServer, run_aws, run_trent, trent_binary


def trent(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENT_")}
    return subprocess.run(
        [str(trent_binary()), *args], env=env, capture_output=True, text=True, timeout=120
    )


def kms_client(server: TrentServer):
    return boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
    )


def test_a_backup_of_a_serving_installation_restores_and_decrypts(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    backup = tmp_path / "trent.backup"
    with run_trent(data_dir=data_dir) as server:
        kms = kms_client(server)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/backed-up", TargetKeyId=key_id)
        blob = kms.encrypt(KeyId="alias/backed-up", Plaintext=b"kept in the backup")["CiphertextBlob"]
        made = trent("backup", "--data-dir", str(data_dir), "--out", str(backup))
        assert made.returncode == 0, made.stderr
        # Made after the backup began: not in it.
        later = kms.create_key()["KeyMetadata"]["KeyId"]

    assert backup.stat().st_mode & 0o777 == 0o600
    # Only sealed material: the root key is not in the file.
    assert (data_dir / "root.key").read_bytes() not in backup.read_bytes()
    checked = trent("backup", "verify", str(backup))
    assert checked.returncode == 0 and checked.stdout.startswith("OK: "), checked.stderr

    restored = tmp_path / "restored"
    refused = trent("restore", str(backup), "--data-dir", str(restored))
    assert refused.returncode != 0 and "root key" in refused.stderr, refused.stderr
    assert not (restored / "trent.db").exists()
    restored.mkdir(exist_ok=True, mode=0o700)
    shutil.copy(data_dir / "root.key", restored / "root.key")
    (restored / "root.key").chmod(0o600)
    done = trent("restore", str(backup), "--data-dir", str(restored))
    assert done.returncode == 0, done.stderr

    with run_trent(data_dir=restored) as server:
        assert kms_client(server).decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept in the backup"
        env = {**os.environ, **server.client_env()}
        (tmp_path / "blob").write_bytes(blob)
        out = run_aws(
            "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}", "--output", "json", env=env
        )
        assert base64.b64decode(json.loads(out)["Plaintext"]) == b"kept in the backup"
        keys = {k["KeyId"] for k in kms_client(server).list_keys()["Keys"]}
        assert key_id in keys and later not in keys
