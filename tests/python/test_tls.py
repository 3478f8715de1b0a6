"""Trent over verified TLS (issue 14) with the clients people point at it:
boto3, the aws CLI, sops and the AWS Encryption SDK's CLI, each trusting
the CA that `trent serve --tls self-signed` made (AWS_CA_BUNDLE, as the
README shows) and none of them told to skip verification. A client that
does not trust that CA is refused the connection."""

import base64
import json
import os
import ssl
import subprocess
import urllib.request

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import run_aws, run_trent, trent_binary, venv_executable


@pytest.fixture(scope="module")
def tls_trent():
    with run_trent(extra_args=("--tls", "self-signed")) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_bundle.exists()
        yield server


def env_of(server, **extra):
    """The environment a client run needs: Trent's endpoint, credentials,
    region, and its CA as the AWS_CA_BUNDLE; nothing of the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(server.client_env())
    env.update(extra)
    return env


def kms_client(server, **kwargs):
    return boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
        **kwargs,
    )


def test_boto3_verifies_trents_certificate(tls_trent):
    kms = kms_client(tls_trent, verify=str(tls_trent.ca_bundle))
    key = kms.create_key(Description="over TLS")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret over TLS")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret over TLS"
    # Verification is on by default: without the CA the handshake fails.
    with pytest.raises(botocore.exceptions.SSLError):
        kms_client(tls_trent).list_keys()


def test_the_aws_cli_verifies_trents_certificate(tls_trent, tmp_path):
    env = env_of(tls_trent)
    key = json.loads(run_aws("kms", "create-key", env=env))["KeyMetadata"]["KeyId"]
    (tmp_path / "plain.txt").write_bytes(b"hello from the aws CLI")
    blob = run_aws(
        "kms",
        "encrypt",
        "--key-id",
        key,
        "--plaintext",
        f"fileb://{tmp_path / 'plain.txt'}",
        "--output",
        "text",
        "--query",
        "CiphertextBlob",
        env=env,
    ).strip()
    (tmp_path / "blob").write_bytes(base64.b64decode(blob))
    plain = run_aws(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        f"fileb://{tmp_path / 'blob'}",
        "--output",
        "text",
        "--query",
        "Plaintext",
        env=env,
    ).strip()
    assert base64.b64decode(plain) == b"hello from the aws CLI"
    # Without the CA bundle the CLI refuses the server's certificate.
    result = run(venv_executable("aws"), "kms", "list-keys", env=untrusting(env))
    assert result.returncode != 0
    assert "SSL" in result.stderr or "certificate" in result.stderr, result.stderr


def run(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*args], env=env, capture_output=True, text=True, timeout=120)


def untrusting(env: dict) -> dict:
    """The same environment without Trent's CA."""
    return {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}


def test_sops_encrypts_and_decrypts_with_a_trent_key_over_tls(tls_trent, tmp_path):
    kms = kms_client(tls_trent, verify=str(tls_trent.ca_bundle))
    arn = kms.create_key(Description="sops")["KeyMetadata"]["Arn"]
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"database": {"password": "hunter2", "port": 5432}}))
    env = env_of(tls_trent, SOPS_KMS_ARN=arn)
    sops = (venv_executable("sops"), "--disable-version-check")
    encrypted = run(*sops, "--encrypt", str(secrets), env=env)
    assert encrypted.returncode == 0, encrypted.stderr
    document = json.loads(encrypted.stdout)
    assert "hunter2" not in encrypted.stdout
    assert document["sops"]["kms"][0]["arn"] == arn
    sealed = tmp_path / "secrets.enc.json"
    sealed.write_text(encrypted.stdout)
    decrypted = run(*sops, "--decrypt", str(sealed), env=env)
    assert decrypted.returncode == 0, decrypted.stderr
    assert json.loads(decrypted.stdout) == {"database": {"password": "hunter2", "port": 5432}}
    # sops without the CA cannot reach the key.
    refused = run(*sops, "--decrypt", str(sealed), env=untrusting(env))
    assert refused.returncode != 0
    assert "certificate" in refused.stderr, refused.stderr


def test_the_encryption_sdk_cli_round_trips_with_a_trent_key_over_tls(tls_trent, tmp_path):
    kms = kms_client(tls_trent, verify=str(tls_trent.ca_bundle))
    arn = kms.create_key(Description="aws-encryption-cli")["KeyMetadata"]["Arn"]
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(100_000))
    env = env_of(tls_trent)

    def cli(mode: str, source, target, env):
        return run(
            venv_executable("aws-encryption-cli"),
            mode,
            "--input",
            str(source),
            "--output",
            str(target),
            "--wrapping-keys",
            f"key={arn}",
            "--encryption-context",
            "purpose=test",
            "--metadata-output",
            str(tmp_path / "metadata.json"),
            "--commitment-policy",
            "require-encrypt-require-decrypt",
            env=env,
        )

    encrypt = cli("--encrypt", plain, tmp_path / "cipher.bin", env)
    assert encrypt.returncode == 0, encrypt.stderr
    assert (tmp_path / "cipher.bin").read_bytes() != plain.read_bytes()
    decrypt = cli("--decrypt", tmp_path / "cipher.bin", tmp_path / "round.bin", env)
    assert decrypt.returncode == 0, decrypt.stderr
    assert (tmp_path / "round.bin").read_bytes() == plain.read_bytes()
    # Without the CA the CLI cannot reach the key, and writes nothing.
    refused = cli("--decrypt", tmp_path / "cipher.bin", tmp_path / "refused.bin", untrusting(env))
    assert refused.returncode != 0
    assert "SSL" in refused.stderr or "certificate" in refused.stderr, refused.stderr
    assert not (tmp_path / "refused.bin").exists()


def test_the_health_check_and_a_raw_client_see_the_ca_signed_certificate(tls_trent):
    context = ssl.create_default_context(cafile=str(tls_trent.ca_bundle))
    with urllib.request.urlopen(tls_trent.url + "/health", context=context, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(tls_trent.url + "/health", context=ssl.create_default_context(), timeout=10)


def test_aws_secure_transport_is_true_over_tls(tls_trent):
    """A key policy that refuses anything but TLS lets TLS callers in."""
    kms = kms_client(tls_trent, verify=str(tls_trent.ca_bundle))
    account = tls_trent.account_id
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    assert kms.encrypt(KeyId=key, Plaintext=b"x")["KeyId"].endswith(key)


def test_trent_encrypt_and_decrypt_trust_aws_ca_bundle_and_only_it(tls_trent, tmp_path):
    """The envelope commands read AWS_CA_BUNDLE as the AWS CLI does (the
    Rust SDK does not by itself): with it they reach Trent over verified
    TLS, without it the handshake fails and nothing is written."""
    kms = kms_client(tls_trent, verify=str(tls_trent.ca_bundle))
    arn = kms.create_key(Description="trent encrypt over TLS")["KeyMetadata"]["Arn"]
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(50_000))
    env = env_of(tls_trent)
    trent = str(trent_binary())
    encrypted = run(trent, "encrypt", "--key-id", arn, str(plain), str(tmp_path / "msg"), env=env)
    assert encrypted.returncode == 0, encrypted.stderr
    decrypted = run(trent, "decrypt", "--key-id", arn, str(tmp_path / "msg"), str(tmp_path / "out"), env=env)
    assert decrypted.returncode == 0, decrypted.stderr
    assert (tmp_path / "out").read_bytes() == plain.read_bytes()
    refused = run(trent, "decrypt", "--key-id", arn, str(tmp_path / "msg"), str(tmp_path / "no"), env=untrusting(env))
    assert refused.returncode != 0
    assert "certificate" in refused.stderr.lower() or "tls" in refused.stderr.lower(), refused.stderr
    assert not (tmp_path / "no").exists()
    missing = run(trent, "encrypt", "--key-id", arn, str(plain), str(tmp_path / "no"),
                  env={**env, "AWS_CA_BUNDLE": str(tmp_path / "absent.pem")})
    assert missing.returncode != 0 and "AWS_CA_BUNDLE" in missing.stderr, missing.stderr
