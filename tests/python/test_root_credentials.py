"""A server started without TRENT_BOOTSTRAP_* writes its root credentials to
DATA_DIR/root-credentials; boto3 and the aws CLI use that file as it is,
through AWS_SHARED_CREDENTIALS_FILE."""

import json
import os
import stat

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import (
    BOOTSTRAP_ACCESS_KEY_ID,
    BOOTSTRAP_SECRET_ACCESS_KEY,
    read_shared_credentials,
    refused_start,
    run_aws,
    run_trent,
)


@pytest.fixture
def generated(start_trent, trent):
    # `trent` is requested only so the process environment is the sanitised one.
    server = start_trent(bootstrap=False)
    creds_file = server.data_dir / "root-credentials"
    assert creds_file.is_file(), f"{creds_file} was not written\n{server.logs()}"
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env.update(server.client_env())
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(creds_file)
    return server, creds_file, env


def test_root_credentials_file_is_private_and_well_formed(generated):
    server, creds_file, _ = generated
    mode = stat.S_IMODE(creds_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    access_key_id, secret = read_shared_credentials(creds_file)
    assert access_key_id and secret
    assert access_key_id != BOOTSTRAP_ACCESS_KEY_ID


def test_boto3_with_generated_root_credentials(generated, monkeypatch):
    server, creds_file, env = generated
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    session = boto3.session.Session()
    assert session.get_credentials().method == "shared-credentials-file"
    kms = session.client("kms")
    key_id = kms.create_key(Description="made with root-credentials")["KeyMetadata"]["KeyId"]
    assert key_id in [k["KeyId"] for k in kms.list_keys()["Keys"]]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"root")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"root"


def test_aws_cli_with_generated_root_credentials(generated):
    server, creds_file, env = generated
    out = json.loads(run_aws("kms", "create-key", "--description", "cli root", env=env))
    key_id = out["KeyMetadata"]["KeyId"]
    listed = json.loads(run_aws("kms", "list-keys", env=env))
    assert key_id in [k["KeyId"] for k in listed["Keys"]]


def test_bootstrap_credentials_are_not_valid_on_a_server_without_them(generated):
    server, _, _ = generated
    kms = boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=BOOTSTRAP_ACCESS_KEY_ID,
        aws_secret_access_key=BOOTSTRAP_SECRET_ACCESS_KEY,
    )
    with pytest.raises(ClientError) as err:
        kms.list_keys()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_credentials_file_that_cannot_be_written_stores_no_key(trent, tmp_path):
    """The file is written before the key is stored: if it cannot be, the
    server does not start and nothing is stored, so the next start (with the
    file writable) generates credentials that work."""
    import subprocess

    from conftest import trent_binary

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "root-credentials").mkdir()  # opening it for writing fails
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENT_BOOTSTRAP_")}
    command = [str(trent_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data)]
    failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0
    assert "root-credentials" in failed.stderr, failed.stderr
    (data / "root-credentials").rmdir()

    # The same data directory, started normally.
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().split()[-1]
        key_id, secret = read_shared_credentials(data / "root-credentials")
        kms = boto3.client(
            "kms",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        assert kms.list_keys()["Keys"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bootstrap_credentials_another_account_holds_refuse_the_start(tmp_path):
    """TRENT_BOOTSTRAP_ACCESS_KEY_ID naming another account's access key: the
    new account is not made, and the server says why instead of starting
    with a root that has no working key."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with run_trent(data_dir=data):
        pass  # ACCOUNT_ID made, its root holding the bootstrap key
    code, stderr = refused_start(data, account_id="444455556666")
    assert code != 0
    assert f"The access key id {BOOTSTRAP_ACCESS_KEY_ID} is already in use by another account" in stderr, stderr
    assert BOOTSTRAP_SECRET_ACCESS_KEY not in stderr
