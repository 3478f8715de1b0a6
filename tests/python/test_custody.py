"""Issue 16, key custody: a root key derived from a passphrase
(`--root-key passphrase`), seen from boto3 through a restart."""

from __future__ import annotations

from pathlib import Path

import boto3

from conftest import TrentServer, refused_start, run_trent

PASSPHRASE = "a passphrase only the operator knows"
ROOT_KEY = ("--root-key", "passphrase")


def kms_client(server: TrentServer):
    return boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
    )


def files_holding(directory: Path, needle: bytes) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_passphrase_root_key_opens_after_a_restart_and_a_wrong_one_refuses(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {"TRENT_ROOT_PASSPHRASE": PASSPHRASE}
    with run_trent(extra_args=ROOT_KEY, env=env, data_dir=data_dir) as server:
        kms = kms_client(server)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept at rest")["CiphertextBlob"]

    assert not (data_dir / "root.key").exists()
    assert files_holding(data_dir, PASSPHRASE.encode()) == []

    code, stderr = refused_start(data_dir, extra_args=ROOT_KEY, env={"TRENT_ROOT_PASSPHRASE": "not it"})
    assert code != 0
    assert "the root key from passphrase does not open this store" in stderr, stderr
    assert "not it" not in stderr
    _, stderr = refused_start(data_dir, extra_args=ROOT_KEY)
    assert "no passphrase for the root key" in stderr, stderr

    with run_trent(extra_args=ROOT_KEY, env=env, data_dir=data_dir) as server:
        assert kms_client(server).decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept at rest"
