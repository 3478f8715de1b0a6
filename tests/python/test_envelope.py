"""`trent encrypt` and `trent decrypt` (envelope encryption in the AWS
Encryption SDK's message format) against the shared server, and
interoperability both ways with `aws-encryption-cli` from the venv: each
decrypts what the other wrote, for empty input, one byte, exactly one frame,
many frames and 256 MiB, with and without the signed suite, under one or
several wrapping keys, and the non-framed messages it writes for frame
length 0 (read, never written). Then every bad input: a changed, cut, wrong-context,
wrong-key, unknown-key or another account's message fails with a nonzero
exit and a clear message, and leaves no plaintext behind."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from conftest import ACCOUNT_ID, trent_binary, venv_executable

SIGNED = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
UNSIGNED = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
FRAME = 4096


def run(*args, env: dict | None = None, stdin=None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args],
        env=env or dict(os.environ),
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )


def trent_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return run(trent_binary(), *args, **kwargs)


def esdk(mode: str, source: Path, target: Path, *args, **kwargs) -> subprocess.CompletedProcess:
    return run(
        venv_executable("aws-encryption-cli"),
        mode,
        "--input",
        source,
        "--output",
        target,
        "-S",
        *args,
        **kwargs,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def refused(result: subprocess.CompletedProcess, *needles: str) -> str:
    stderr = result.stderr.decode(errors="replace")
    # A refusal: an exit code of the command's own (not a signal's), and
    # not clap's usage error.
    assert result.returncode > 0, f"expected a failure, got exit {result.returncode}: {stderr}"
    assert "Usage:" not in stderr, stderr
    for needle in needles:
        assert needle in stderr, stderr
    return stderr


@pytest.fixture(scope="module")
def keys(trent) -> list[str]:
    kms = boto3.client("kms")
    return [kms.create_key(Description=f"envelope {i}")["KeyMetadata"]["Arn"] for i in range(3)]


def pattern(size: int) -> bytes:
    return os.urandom(size)


@pytest.mark.parametrize("suite", [SIGNED, UNSIGNED])
@pytest.mark.parametrize("size", [0, 1, FRAME, 5 * FRAME + 17], ids=["empty", "one-byte", "one-frame", "many-frames"])
def test_each_decrypts_what_the_other_encrypted(keys, tmp_path, suite, size):
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(size))
    key = keys[0]
    # Trent writes, aws-encryption-cli reads.
    ok(trent_cli("encrypt", "--key-id", key, "--context", "purpose=interop", "--algorithm", suite, plain, tmp_path / "t.msg"))
    ok(esdk("--decrypt", tmp_path / "t.msg", tmp_path / "t.out", "--wrapping-keys", f"key={key}",
            "--encryption-context", "purpose=interop"))
    assert (tmp_path / "t.out").read_bytes() == plain.read_bytes()
    # aws-encryption-cli writes, Trent reads.
    ok(esdk("--encrypt", plain, tmp_path / "e.msg", "--wrapping-keys", f"key={key}",
            "--encryption-context", "purpose=interop", "--algorithm", suite, "--frame-length", str(FRAME)))
    ok(trent_cli("decrypt", "--key-id", key, "--context", "purpose=interop", tmp_path / "e.msg", tmp_path / "e.out"))
    assert (tmp_path / "e.out").read_bytes() == plain.read_bytes()


@pytest.mark.parametrize("suite", [SIGNED, UNSIGNED])
def test_non_framed_messages_from_aws_encryption_cli_decrypt(keys, tmp_path, suite):
    key = keys[0]
    for size in (0, 1, 5 * FRAME + 17):
        plain = tmp_path / f"plain{size}"
        plain.write_bytes(pattern(size))
        message = tmp_path / f"n{size}.msg"
        ok(esdk("--encrypt", plain, message, "--wrapping-keys", f"key={key}",
                "--encryption-context", "purpose=interop", "--algorithm", suite, "--frame-length", "0"))
        assert message.read_bytes()[0] == 2  # format version 2 (key-committing)
        ok(trent_cli("decrypt", "--key-id", key, "--context", "purpose=interop", message, tmp_path / f"n{size}.out"))
        assert (tmp_path / f"n{size}.out").read_bytes() == plain.read_bytes()
        # On standard output too: released only once the tag (and signature) verified.
        out = ok(trent_cli("decrypt", "--key-id", key, "-", "-", stdin=message.read_bytes())).stdout
        assert out == plain.read_bytes()
    # A changed byte of the body: refused, nothing written.
    tampered = bytearray(message.read_bytes())
    tampered[-200] ^= 1
    result, target = decrypt_to(tmp_path, bytes(tampered), "--key-id", key)
    refused(result, "verify")
    no_output_left(target)
    # Content beyond what Trent holds in memory (16 MiB): refused before it is read.
    big = tmp_path / "big"
    big.write_bytes(b"\0" * ((16 << 20) + 1))
    ok(esdk("--encrypt", big, tmp_path / "big.msg", "--wrapping-keys", f"key={key}", "--algorithm", suite,
            "--frame-length", "0"))
    result, target = decrypt_to(tmp_path, (tmp_path / "big.msg").read_bytes(), "--key-id", key)
    refused(result, "not framed", "16777217 bytes")
    no_output_left(target)


def test_grant_tokens_reach_every_kms_call(keys, sealed, tmp_path):
    """`--grant-token` is passed to GenerateDataKey and Decrypt: a token the
    server cannot read refuses both, a real one (CreateGrant's) is taken."""
    path, plain = sealed
    plaintext = tmp_path / "plain"
    plaintext.write_bytes(b"granted")
    bogus = ("--grant-token", "not-a-grant-token")
    refused(trent_cli("encrypt", "--key-id", keys[0], *bogus, plaintext, tmp_path / "m"),
            "GenerateDataKey", "InvalidGrantTokenException")
    assert not (tmp_path / "m").exists()
    result, target = decrypt_to(tmp_path, path.read_bytes(), "--key-id", keys[0], *bogus)
    refused(result, "Decrypt", "InvalidGrantTokenException")
    no_output_left(target)
    kms = boto3.client("kms")
    me = boto3.client("sts").get_caller_identity()["Arn"]
    token = kms.create_grant(KeyId=keys[0], GranteePrincipal=me, Operations=["Decrypt"])["GrantToken"]
    result, target = decrypt_to(tmp_path, path.read_bytes(), "--key-id", keys[0], "--grant-token", token)
    ok(result)
    assert target.read_bytes() == plain


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def test_256_mib_both_ways(keys, tmp_path):
    plain = tmp_path / "plain"
    with plain.open("wb") as f:
        block = os.urandom(1 << 20)
        for i in range(256):
            f.write(block[i:] + block[:i])
    key = keys[0]
    ok(trent_cli("encrypt", "--key-id", key, "--quiet", plain, tmp_path / "t.msg"))
    ok(esdk("--decrypt", tmp_path / "t.msg", tmp_path / "t.out", "--wrapping-keys", f"key={key}"))
    assert digest(tmp_path / "t.out") == digest(plain)
    (tmp_path / "t.out").unlink()
    ok(esdk("--encrypt", plain, tmp_path / "e.msg", "--wrapping-keys", f"key={key}"))
    ok(trent_cli("decrypt", "--key-id", key, "--quiet", tmp_path / "e.msg", tmp_path / "e.out"))
    assert digest(tmp_path / "e.out") == digest(plain)


def test_several_wrapping_keys_any_one_decrypts(keys, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(10_000))
    first, second, _ = keys
    ok(trent_cli("encrypt", "--key-id", first, "--key-id", second, plain, tmp_path / "t.msg"))
    for key in (first, second):
        out = tmp_path / f"t-{key[-4:]}.out"
        ok(trent_cli("decrypt", "--key-id", key, tmp_path / "t.msg", out))
        assert out.read_bytes() == plain.read_bytes()
        out.unlink()
        ok(esdk("--decrypt", tmp_path / "t.msg", out, "--wrapping-keys", f"key={key}"))
        assert out.read_bytes() == plain.read_bytes()
    ok(esdk("--encrypt", plain, tmp_path / "e.msg", "--wrapping-keys", f"key={first}", f"key={second}"))
    ok(trent_cli("decrypt", "--key-id", second, tmp_path / "e.msg", tmp_path / "e.out"))
    assert (tmp_path / "e.out").read_bytes() == plain.read_bytes()


def test_keys_in_two_regions_and_a_multi_region_replica(trent, tmp_path):
    east = boto3.client("kms", region_name="us-east-1")
    west = boto3.client("kms", region_name="us-west-2")
    east_key = east.create_key(Description="east")["KeyMetadata"]["Arn"]
    west_key = west.create_key(Description="west")["KeyMetadata"]["Arn"]
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(5000))
    ok(trent_cli("encrypt", "--key-id", east_key, "--key-id", west_key, plain, tmp_path / "t.msg"))
    ok(trent_cli("decrypt", "--key-id", west_key, tmp_path / "t.msg", tmp_path / "west.out"))
    assert (tmp_path / "west.out").read_bytes() == plain.read_bytes()
    # A multi-Region key: encrypted under the primary, decrypted with the
    # replica's ARN, asked in the replica's Region.
    primary = east.create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
    replica = east.replicate_key(KeyId=primary, ReplicaRegion="us-west-2")["ReplicaKeyMetadata"]["Arn"]
    ok(trent_cli("encrypt", "--key-id", primary, plain, tmp_path / "m.msg"))
    ok(trent_cli("decrypt", "--key-id", replica, tmp_path / "m.msg", tmp_path / "m.out"))
    assert (tmp_path / "m.out").read_bytes() == plain.read_bytes()
    # Discovery asks in the Region each ARN names.
    ok(trent_cli("decrypt", "--discovery", "--account", ACCOUNT_ID, tmp_path / "t.msg", tmp_path / "d.out"))
    assert (tmp_path / "d.out").read_bytes() == plain.read_bytes()


def test_standard_input_and_output(keys, tmp_path):
    plain = pattern(3 * FRAME + 5)
    sealed = ok(trent_cli("encrypt", "--key-id", keys[0], "--context", "a=b", "-", "-", stdin=plain)).stdout
    assert plain not in sealed
    opened = ok(trent_cli("decrypt", "--key-id", keys[0], "--context", "a=b", "-", "-", stdin=sealed)).stdout
    assert opened == plain


@pytest.fixture(scope="module")
def sealed(keys, tmp_path_factory) -> tuple[Path, bytes]:
    """A signed message under keys[0] with context purpose=bad-input."""
    work = tmp_path_factory.mktemp("bad")
    plain = pattern(3 * FRAME + 100)
    (work / "plain").write_bytes(plain)
    ok(trent_cli("encrypt", "--key-id", keys[0], "--context", "purpose=bad-input", work / "plain", work / "msg"))
    return work / "msg", plain


def decrypt_to(tmp_path: Path, message: bytes, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    source = tmp_path / "in.msg"
    source.write_bytes(message)
    target = tmp_path / "out"
    return trent_cli("decrypt", *args, source, target), target


def no_output_left(target: Path) -> None:
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".trent-partial-")]


@pytest.mark.parametrize("where", ["header", "data key", "first frame", "last frame", "signature"])
def test_a_changed_byte_is_refused_and_nothing_is_written(keys, sealed, tmp_path, where):
    path, _ = sealed
    message = bytearray(path.read_bytes())
    at = {
        "header": 40,
        "data key": 120,
        "first frame": len(message) - 4 * FRAME,
        "last frame": len(message) - 160,
        "signature": len(message) - 10,
    }[where]
    message[at] ^= 0x40
    result, target = decrypt_to(tmp_path, bytes(message), "--key-id", keys[0])
    refused(result)
    no_output_left(target)


def test_a_changed_message_on_standard_output_fails(keys, sealed):
    """To stdout, frames are released as they verify (so part of the
    plaintext may be out), but a changed last frame still fails the command."""
    path, plain = sealed
    message = bytearray(path.read_bytes())
    message[len(message) - 160] ^= 0x40
    result = trent_cli("decrypt", "--key-id", keys[0], "-", "-", stdin=bytes(message))
    refused(result, "does not verify")
    assert len(result.stdout) < len(plain)


def test_a_cut_message_is_refused_and_nothing_is_written(keys, sealed, tmp_path):
    path, _ = sealed
    message = path.read_bytes()
    for cut in (0, 10, 300, len(message) - FRAME, len(message) - 1):
        result, target = decrypt_to(tmp_path, message[:cut], "--key-id", keys[0])
        stderr = refused(result)
        assert "truncated" in stderr or "not a valid message" in stderr, stderr
        no_output_left(target)


def test_the_wrong_context_the_wrong_key_and_an_unknown_key_are_refused(keys, sealed, tmp_path):
    path, _ = sealed
    message = path.read_bytes()
    result, target = decrypt_to(tmp_path, message, "--key-id", keys[0], "--context", "purpose=other")
    refused(result, "purpose")
    no_output_left(target)
    result, target = decrypt_to(tmp_path, message, "--key-id", keys[1])
    refused(result, "not a key this decrypt may use")
    no_output_left(target)
    # A message naming a key this server does not have.
    missing = keys[0].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    ok(trent_cli("encrypt", "--key-id", keys[0], "--algorithm", UNSIGNED, path, tmp_path / "u.msg"))
    forged = (tmp_path / "u.msg").read_bytes().replace(keys[0].encode(), missing.encode())
    result, target = decrypt_to(tmp_path, forged, "--discovery")
    refused(result, "IncorrectKeyException")
    no_output_left(target)


def test_discovery_refuses_other_accounts_and_partitions(keys, sealed, tmp_path):
    path, _ = sealed
    message = path.read_bytes()
    for args in (("--account", "444455556666"), ("--partition", "aws-cn")):
        result, target = decrypt_to(tmp_path, message, "--discovery", *args)
        refused(result, "not a key this decrypt may use")
        no_output_left(target)


def test_another_account_cannot_decrypt(trent, trent_account, sealed, tmp_path, keys):
    path, _ = sealed
    access, secret = trent_account("444455556666")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret)
    target = tmp_path / "out"
    stderr = refused(trent_cli("decrypt", "--key-id", keys[0], path, target, env=env), "AccessDeniedException")
    assert "444455556666" in stderr
    no_output_left(target)
    # Nor encrypt under the victim's key.
    refused(trent_cli("encrypt", "--key-id", keys[0], path, tmp_path / "x.msg", env=env), "AccessDeniedException")
    assert not (tmp_path / "x.msg").exists()


def test_limits_on_encrypted_data_keys(keys, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    three = [arg for key in keys for arg in ("--key-id", key)]
    refused(trent_cli("encrypt", *three, "--max-encrypted-data-keys", "2", plain, tmp_path / "m"),
            "3 encrypted data keys")
    assert not (tmp_path / "m").exists()
    ok(trent_cli("encrypt", *three, plain, tmp_path / "m"))
    result, target = decrypt_to(tmp_path, (tmp_path / "m").read_bytes(), "--key-id", keys[0],
                                "--max-encrypted-data-keys", "2")
    refused(result, "3 encrypted data keys")
    no_output_left(target)


def test_what_is_not_a_trent_message_is_refused_clearly(keys, tmp_path):
    result, target = decrypt_to(tmp_path, b"hello, world\n" * 10, "--key-id", keys[0])
    refused(result, "not a valid message")
    no_output_left(target)
    # A version 1 (non-committing) message from aws-encryption-cli.
    plain = tmp_path / "plain"
    plain.write_bytes(b"legacy")
    ok(esdk("--encrypt", plain, tmp_path / "v1.msg", "--wrapping-keys", f"key={keys[0]}",
            "--commitment-policy", "forbid-encrypt-allow-decrypt"))
    result, target = decrypt_to(tmp_path, (tmp_path / "v1.msg").read_bytes(), "--key-id", keys[0])
    refused(result, "version 1", "commit")
    no_output_left(target)
    # Bad arguments: a decrypt key that is not an ARN, a reserved context key.
    refused(trent_cli("decrypt", "--key-id", "alias/x", tmp_path / "v1.msg", tmp_path / "o"), "key ARNs")
    refused(trent_cli("encrypt", "--key-id", keys[0], "--context", "aws-crypto-public-key=x", plain, tmp_path / "o"),
            "reserved")
    assert not (tmp_path / "o").exists()


# --- trent s3 cp, against moto_server as the seeds' tests use it ---------


@pytest.fixture(scope="module")
def bucket(s3_server) -> str:
    name = "trent-envelope"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize("size", [0, 5000, 20 * 1024 * 1024 + 3], ids=["empty", "small", "multipart"])
def test_s3_cp_round_trips_and_aws_encryption_cli_reads_the_object(keys, bucket, tmp_path, size):
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(size))
    url = f"s3://{bucket}/dir/object-{size}"
    ok(trent_cli("s3", "cp", "--key-id", keys[0], "--context", "team=blue", plain, url))
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=f"dir/object-{size}")["Body"].read()
    assert plain.read_bytes()[:64] not in stored or size == 0
    ok(trent_cli("s3", "cp", "--key-id", keys[0], "--context", "team=blue", url, tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == plain.read_bytes()
    # The object is an ordinary message: aws-encryption-cli decrypts it, and
    # its context names the object.
    (tmp_path / "object.msg").write_bytes(stored)
    ok(esdk("--decrypt", tmp_path / "object.msg", tmp_path / "esdk.out", "--wrapping-keys", f"key={keys[0]}",
            "--encryption-context", f"trent:s3-object={url}", "team=blue"))
    assert (tmp_path / "esdk.out").read_bytes() == plain.read_bytes()


def test_s3_cp_streams_standard_input_and_output(keys, bucket):
    plain = pattern(3 * FRAME + 1)
    url = f"s3://{bucket}/streamed"
    ok(trent_cli("s3", "cp", "--key-id", keys[0], "-", url, stdin=plain))
    assert ok(trent_cli("s3", "cp", "--discovery", url, "-")).stdout == plain


def test_s3_cp_refuses_an_object_moved_over_another(keys, bucket, tmp_path):
    s3 = boto3.client("s3")
    (tmp_path / "a").write_bytes(b"pay alice 10")
    (tmp_path / "b").write_bytes(b"pay mallory 1000000")
    ok(trent_cli("s3", "cp", "--key-id", keys[0], tmp_path / "a", f"s3://{bucket}/a"))
    ok(trent_cli("s3", "cp", "--key-id", keys[0], tmp_path / "b", f"s3://{bucket}/b"))
    # Whoever may write to the bucket copies b's message over a.
    s3.copy_object(Bucket=bucket, Key="a", CopySource={"Bucket": bucket, "Key": "b"})
    target = tmp_path / "out"
    refused(trent_cli("s3", "cp", "--key-id", keys[0], f"s3://{bucket}/a", target), "trent:s3-object")
    no_output_left(target)
    # Knowingly accepted, it is b's content.
    ok(trent_cli("s3", "cp", "--key-id", keys[0], "--any-location", f"s3://{bucket}/a", target))
    assert target.read_bytes() == b"pay mallory 1000000"


def test_s3_cp_failures_store_nothing_and_write_nothing(trent, trent_account, keys, bucket, tmp_path):
    s3 = boto3.client("s3")
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(9 * 1024 * 1024))
    # Another account may not use the key: nothing is uploaded.
    access, secret = trent_account("444455556666")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret)
    refused(trent_cli("s3", "cp", "--key-id", keys[0], plain, f"s3://{bucket}/denied", env=env),
            "AccessDeniedException")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="denied")
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    # A missing object, a missing bucket.
    target = tmp_path / "out"
    refused(trent_cli("s3", "cp", "--key-id", keys[0], f"s3://{bucket}/missing", target), "NoSuchKey")
    no_output_left(target)
    refused(trent_cli("s3", "cp", "--key-id", keys[0], plain, "s3://no-such-bucket/x"), "NoSuchBucket")
    # A changed object.
    ok(trent_cli("s3", "cp", "--key-id", keys[0], plain, f"s3://{bucket}/changed"))
    body = bytearray(s3.get_object(Bucket=bucket, Key="changed")["Body"].read())
    body[len(body) // 2] ^= 1
    s3.put_object(Bucket=bucket, Key="changed", Body=bytes(body))
    refused(trent_cli("s3", "cp", "--key-id", keys[0], "--any-location", f"s3://{bucket}/changed", target),
            "does not authenticate")
    no_output_left(target)
    # Downloading: another account reads the object but may not decrypt
    # it; a context pair the object lacks is refused. Nothing is written.
    ok(trent_cli("s3", "cp", "--key-id", keys[0], "--context", "team=blue", plain, f"s3://{bucket}/kept"))
    refused(trent_cli("s3", "cp", "--key-id", keys[0], f"s3://{bucket}/kept", target, env=env),
            "Decrypt", "AccessDeniedException")
    no_output_left(target)
    refused(trent_cli("s3", "cp", "--key-id", keys[0], "--context", "team=red", f"s3://{bucket}/kept", target),
            "team")
    no_output_left(target)
    ok(trent_cli("s3", "cp", "--key-id", keys[0], "--context", "team=blue", f"s3://{bucket}/kept", target))
    assert target.read_bytes() == plain.read_bytes()
    # Arguments: both sides local, or both in S3.
    refused(trent_cli("s3", "cp", "--key-id", keys[0], plain, tmp_path / "x"), "s3://BUCKET/KEY")
    refused(trent_cli("s3", "cp", "--key-id", keys[0], f"s3://{bucket}/a", f"s3://{bucket}/c"), "not supported")


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError("timed out")


def interrupted(proc: subprocess.Popen) -> None:
    """SIGTERM, then the command's exit: 130, "interrupted"."""
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode(errors="replace")
    assert b"interrupted" in stderr


def test_an_interrupted_decrypt_leaves_no_partial_plaintext(keys, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(8 * 1024 * 1024))
    ok(trent_cli("encrypt", "--key-id", keys[0], "--algorithm", UNSIGNED, plain,
                 tmp_path / "msg"))
    message = (tmp_path / "msg").read_bytes()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([str(trent_binary()), "decrypt", "--key-id", keys[0], "-", str(out_dir / "plain")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(message[: len(message) // 2])
    proc.stdin.flush()
    # Plaintext is being written to the temporary file...
    wait_for(lambda: [p for p in out_dir.iterdir() if p.stat().st_size > 0])
    interrupted(proc)
    # ...and is gone with it.
    assert list(out_dir.iterdir()) == []


def test_an_interrupted_upload_is_aborted(keys, bucket):
    s3 = boto3.client("s3")
    proc = subprocess.Popen([str(trent_binary()), "s3", "cp", "--key-id", keys[0], "-", f"s3://{bucket}/interrupted"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(pattern(17 * 1024 * 1024))
    proc.stdin.flush()
    wait_for(lambda: s3.list_multipart_uploads(Bucket=bucket).get("Uploads"))
    interrupted(proc)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="interrupted")


def first_wrapped_key(message: bytes) -> tuple[bytes, bytes]:
    """The message id and the first encrypted data key's ciphertext."""
    at = 3 + 32
    message_id = message[3:at]
    aad_len = int.from_bytes(message[at : at + 2], "big")
    at += 2 + aad_len + 2
    for _ in range(2):  # provider id, provider info
        at += 2 + int.from_bytes(message[at : at + 2], "big")
    length = int.from_bytes(message[at : at + 2], "big")
    return message_id, message[at + 2 : at + 2 + length]


def test_many_files_into_a_directory_with_and_without_a_data_key_cache(keys, tmp_path):
    sources = tmp_path / "src"
    sources.mkdir()
    files = []
    for i in range(12):
        path = sources / f"file-{i:02}.txt"
        path.write_bytes(pattern(100 + i))
        files.append(path)
    for cache, distinct in ((None, 12), ("max-age=60,max-messages=5", 3)):
        sealed = tmp_path / f"sealed-{distinct}"
        sealed.mkdir()
        ok(trent_cli("encrypt", "--key-id", keys[0], *(("--cache", cache) if cache else ()), *files, sealed))
        messages = [(sealed / f"{f.name}.encrypted").read_bytes() for f in files]
        ids, wrapped = zip(*map(first_wrapped_key, messages))
        assert len(set(ids)) == 12, "every message has its own id"
        assert len(set(wrapped)) == distinct, f"{len(set(wrapped))} data keys for 12 files with --cache {cache}"
        opened = tmp_path / f"opened-{distinct}"
        opened.mkdir()
        ok(trent_cli("decrypt", "--key-id", keys[0], *(("--cache", cache) if cache else ()),
                     *sorted(sealed.iterdir()), opened))
        for f in files:
            assert (opened / f.name).read_bytes() == f.read_bytes()
    # A message made with a cached data key is an ordinary message.
    ok(esdk("--decrypt", tmp_path / "sealed-3" / "file-07.txt.encrypted", tmp_path / "esdk.out",
            "--wrapping-keys", f"key={keys[0]}"))
    assert (tmp_path / "esdk.out").read_bytes() == files[7].read_bytes()
    # A byte limit: --cache max-bytes=250 lets two 100-odd-byte files share
    # a data key, not three. A message not named .encrypted decrypts to
    # NAME.decrypted, and one worker thread reads what several wrote.
    bytes_limited = tmp_path / "sealed-bytes"
    bytes_limited.mkdir()
    ok(trent_cli("encrypt", "--key-id", keys[0], "--cache", "max-age=60,max-bytes=250", *files[:6], bytes_limited))
    wrapped = {first_wrapped_key((bytes_limited / f"{f.name}.encrypted").read_bytes())[1] for f in files[:6]}
    assert len(wrapped) == 3, f"{len(wrapped)} data keys for 6 files within 250 bytes each"
    renamed = tmp_path / "renamed.msg"
    renamed.write_bytes((bytes_limited / "file-00.txt.encrypted").read_bytes())
    ok(trent_cli("decrypt", "--key-id", keys[0], "--threads", "1", renamed, tmp_path / "sealed-bytes"))
    assert (bytes_limited / "renamed.msg.decrypted").read_bytes() == files[0].read_bytes()
    # Several inputs need a directory; a bad --cache is refused.
    refused(trent_cli("encrypt", "--key-id", keys[0], *files[:2], tmp_path / "nowhere"), "directory")
    refused(trent_cli("encrypt", "--key-id", keys[0], "--cache", "max-messages=5", files[0], tmp_path / "x"),
            "max-age")


def test_keys_on_two_servers_each_decrypts(start_trent, tmp_path):
    """A message under a key of each of two servers (one per Region, the
    second named with --endpoint) decrypts through either server."""
    servers = {region: start_trent(extra_args=("--regions", region)) for region in ("us-east-1", "us-west-2")}
    arns = {}
    for region, server in servers.items():
        kms = boto3.client("kms", endpoint_url=server.url, region_name=region,
                           aws_access_key_id=server.access_key_id, aws_secret_access_key=server.secret_access_key)
        arns[region] = kms.create_key(Description=f"on the {region} server")["KeyMetadata"]["Arn"]
    east = servers["us-east-1"]
    env = dict(os.environ, AWS_ENDPOINT_URL=east.url, AWS_ENDPOINT_URL_KMS=east.url, AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID=east.access_key_id, AWS_SECRET_ACCESS_KEY=east.secret_access_key)
    west_endpoint = ("--endpoint", f"us-west-2={servers['us-west-2'].url}")
    plain = tmp_path / "plain"
    plain.write_bytes(pattern(7000))
    ok(trent_cli("encrypt", "--key-id", arns["us-east-1"], "--key-id", arns["us-west-2"], *west_endpoint,
                 plain, tmp_path / "msg", env=env))
    for region in servers:
        out = tmp_path / f"{region}.out"
        ok(trent_cli("decrypt", "--key-id", arns[region], *west_endpoint, tmp_path / "msg", out, env=env))
        assert out.read_bytes() == plain.read_bytes()
    # Without --endpoint the west key is asked of the east server, which
    # does not serve us-west-2.
    target = tmp_path / "refused.out"
    refused(trent_cli("decrypt", "--key-id", arns["us-west-2"], tmp_path / "msg", target, env=env))
    no_output_left(target)
    refused(trent_cli("encrypt", "--key-id", arns["us-east-1"], "--endpoint", "us-west-2", plain, target, env=env),
            "REGION=")


def test_credentials_region_and_endpoint_from_a_profile(trent, keys, tmp_path):
    """No AWS_* credentials, Region or endpoint in the environment: a named
    profile of the shared files gives them, by --profile or AWS_PROFILE."""
    (tmp_path / "credentials").write_text(
        f"[work]\naws_access_key_id = {trent.access_key_id}\naws_secret_access_key = {trent.secret_access_key}\n")
    (tmp_path / "config").write_text(f"[profile work]\nregion = us-east-1\nendpoint_url = {trent.url}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_EC2_METADATA_DISABLED="true")
    plain = tmp_path / "plain"
    plain.write_bytes(b"from a profile")
    ok(trent_cli("encrypt", "--profile", "work", "--key-id", keys[0], plain, tmp_path / "msg", env=env))
    ok(trent_cli("decrypt", "--key-id", keys[0], tmp_path / "msg", tmp_path / "out", env={**env, "AWS_PROFILE": "work"}))
    assert (tmp_path / "out").read_bytes() == b"from a profile"
    # Without the profile there are no credentials.
    refused(trent_cli("encrypt", "--key-id", keys[0], plain, tmp_path / "none", env=env))
    assert not (tmp_path / "none").exists()


def test_a_progress_bar_on_a_terminal_and_silence_otherwise(keys, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(bytes(64 * 1024 * 1024))
    master, terminal = os.openpty()
    try:
        proc = subprocess.Popen([str(trent_binary()), "encrypt", "--key-id", keys[0], str(plain), str(tmp_path / "a")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other side closed
                break
            if not chunk:
                break
            shown += chunk
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(master)
    assert "MiB" in shown.decode(errors="replace"), shown[-300:]
    # Piped, or --quiet on a terminal: nothing but errors.
    assert ok(trent_cli("encrypt", "--key-id", keys[0], plain, tmp_path / "b")).stderr == b""
