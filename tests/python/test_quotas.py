"""Request quotas (issue 14): per account and Region, AWS's quotas by
operation and, for the cryptographic operations, by key type; a throttled
call gets AWS's ThrottlingException (400), which boto3, the aws CLI and the
SDKs retry with backoff. Each test runs a server of its own with small
quotas, so that a burst of a few dozen calls crosses them."""

import concurrent.futures
import json
import subprocess
import time
import urllib.request

import boto3
import botocore.config

from conftest import run_aws, trent_binary

NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
THROTTLED = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."


def client(server, service="kms", config=NO_RETRIES, keys=None):
    access_key, secret = keys or (server.access_key_id, server.secret_access_key)
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=config,
    )


def burst(calls, n):
    """Makes `n` calls at once (from 32 threads: one client in sequence is
    slower than some quotas), cycling through `calls` (one callable or a
    list); returns their error codes (None for a success) and how long the
    burst took."""
    calls = calls if isinstance(calls, list) else [calls]

    def one(i):
        try:
            calls[i % len(calls)]()
            return None
        except client_error_types() as e:
            return e.response["Error"]["Code"]

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(one, range(n)))
    return codes, time.monotonic() - started


def within(codes, elapsed, rate, throttle="ThrottlingException"):
    """A burst at `rate` a second: at most a second's worth at once, then
    `rate` a second (a request or two of slack for the edges), and the rest
    throttled."""
    admitted = codes.count(None)
    assert admitted >= min(len(codes), rate), codes
    assert admitted <= rate + rate * elapsed + 2, (admitted, elapsed, codes)
    assert set(codes) <= {None, throttle}, codes
    if len(codes) > rate + rate * elapsed + 2:
        assert throttle in codes


def client_error_types():
    return (boto3.client("kms", region_name="us-east-1").exceptions.ClientError,)


def new_account(server, account_id):
    out = subprocess.run(
        [str(trent_binary()), "account", "create", "--account-id", account_id, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = dict(line.split(" = ") for line in out.splitlines() if " = " in line)
    return lines["aws_access_key_id"], lines["aws_secret_access_key"]


def test_an_operation_over_its_quota_is_throttled_as_aws_does(start_trent):
    server = start_trent(extra_args=("--request-quota", "CreateKey=5"))
    kms = client(server)
    codes, elapsed = burst(kms.create_key, 30)
    within(codes, elapsed, 5)
    # The wire form: HTTP 400, AWS's __type and message.
    throttled = codes.count("ThrottlingException")
    error = None
    for _ in range(50):
        try:
            kms.create_key()
        except client_error_types() as e:
            error = e.response
            throttled += 1
            break
    assert error is not None, "no call was throttled"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["Error"]["Message"] == THROTTLED
    # Another operation has its own quota.
    assert burst(kms.list_keys, 20)[0] == [None] * 20
    # /metrics counts the refusals by quota.
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    line = next(line for line in metrics.splitlines() if line.startswith('trent_throttled_requests_total{quota="CreateKey"}'))
    assert int(line.split()[-1]) == throttled
    assert 'trent_requests_total{operation="CreateKey",error_type="ThrottlingException"}' in metrics


def test_clients_back_off_and_succeed(start_trent, tmp_path):
    server = start_trent(extra_args=("--request-quota", "CreateKey=4"))
    # boto3's standard retry mode, and the aws CLI's default, retry
    # ThrottlingException with backoff: every call ends well.
    kms = client(server, config=botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"}))
    ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(12)]
    assert len(set(ids)) == 12
    env = dict(
        server.client_env(),
        PATH="/usr/bin:/bin",
        AWS_MAX_ATTEMPTS="10",
        AWS_RETRY_MODE="standard",
    )
    for _ in range(6):
        out = json.loads(run_aws("kms", "create-key", env=env))
        assert out["KeyMetadata"]["KeyState"] == "Enabled"


def test_cryptographic_operations_share_a_quota_by_key_type(start_trent):
    server = start_trent(extra_args=("--request-quota", "symmetric=20"))
    kms = client(server)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    calls = [
        lambda: kms.encrypt(KeyId=key, Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256"),
        lambda: kms.generate_random(NumberOfBytes=16),
    ]
    codes, elapsed = burst(calls, 80)
    within(codes, elapsed, 20)
    # An RSA key's quota is another: its calls still go through.
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    assert burst(lambda: kms.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"), 5)[0] == [None] * 5
    # So are management operations.
    assert burst(lambda: kms.describe_key(KeyId=key), 5)[0] == [None] * 5


def test_asymmetric_keys_and_data_key_pairs_count_against_their_own_quotas(start_trent):
    server = start_trent(
        extra_args=("--request-quota", "rsa=4", "--request-quota", "GenerateDataKeyPair:ECC_NIST_P256=3")
    )
    kms = client(server)
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    ecc = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    # Sign and Verify with an RSA key share the RSA quota...
    signature = kms.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    time.sleep(1)  # the quota's bucket full again
    calls = [
        lambda: kms.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"),
        lambda: kms.verify(KeyId=rsa, Message=b"m", Signature=signature, SigningAlgorithm="RSASSA_PSS_SHA_256"),
    ]
    codes, elapsed = burst(calls, 40)
    within(codes, elapsed, 4)
    # ...and an ECC key's calls are not in it.
    assert burst(lambda: kms.sign(KeyId=ecc, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"), 6)[0] == [None] * 6
    # GenerateDataKeyPair counts by the key-pair spec asked for, not the
    # symmetric quota of the key that wraps it.
    codes, elapsed = burst(lambda: kms.generate_data_key_pair_without_plaintext(KeyId=symmetric, KeyPairSpec="ECC_NIST_P256"), 30)
    within(codes, elapsed, 3)
    assert burst(lambda: kms.generate_data_key_pair_without_plaintext(KeyId=symmetric, KeyPairSpec="ECC_NIST_P384"), 5)[0] == [None] * 5


def test_quotas_are_per_account_and_cross_account_use_counts_for_the_caller(start_trent):
    server = start_trent(extra_args=("--request-quota", "symmetric=10", "--request-quota", "DescribeKey=10"))
    owner = client(server)
    key = owner.create_key()["KeyMetadata"]
    other = "444455556666"
    other_keys = new_account(server, other)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"}, "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"},
        ],
    }
    owner.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    guest = client(server, keys=other_keys)
    # The guest spends its own quota on the owner's key...
    codes, elapsed = burst(lambda: guest.encrypt(KeyId=key["Arn"], Plaintext=b"x"), 60)
    within(codes, elapsed, 10)
    codes, elapsed = burst(lambda: guest.describe_key(KeyId=key["Arn"]), 60)
    within(codes, elapsed, 10)
    # ...and the owner's is untouched.
    assert burst(lambda: owner.encrypt(KeyId=key["KeyId"], Plaintext=b"x"), 8)[0] == [None] * 8
    assert burst(lambda: owner.describe_key(KeyId=key["KeyId"]), 8)[0] == [None] * 8


def test_aws_profile_has_awss_numbers(start_trent):
    server = start_trent(extra_args=("--request-quotas", "aws"))
    kms = client(server)
    codes, elapsed = burst(kms.create_key, 30)
    within(codes, elapsed, 5)
    trail = client(server, "cloudtrail")
    codes, elapsed = burst(lambda: trail.lookup_events(MaxResults=1), 12)
    within(codes, elapsed, 2)


def test_iam_and_sts_throttle_in_the_query_protocols_words(start_trent):
    server = start_trent(extra_args=("--request-quota", "iam=3", "--request-quota", "sts=3"))
    iam = client(server, "iam")
    codes, elapsed = burst(iam.list_users, 20)
    within(codes, elapsed, 3, throttle="Throttling")
    sts = client(server, "sts")
    codes, elapsed = burst(sts.get_caller_identity, 20)
    within(codes, elapsed, 3, throttle="Throttling")


def test_throttled_calls_leave_a_bounded_trace(start_trent):
    server = start_trent(extra_args=("--request-quota", "CreateKey=1", "--request-quota", "ThrottledEvents=2"))
    kms = client(server)
    codes, elapsed = burst(kms.create_key, 40)
    within(codes, elapsed, 1)
    out = subprocess.run(
        [str(trent_binary()), "audit", "export", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    events = [json.loads(line) for line in out.splitlines()]
    throttled = [e for e in events if e.get("errorCode") == "ThrottlingException"]
    # About two a second are recorded; the rest only counted.
    assert 1 <= len(throttled) <= 2 + 2 * elapsed + 2, (len(throttled), elapsed)
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'trent_throttled_requests_total{quota="ThrottledEvents"}' in metrics


def test_an_unknown_quota_or_profile_is_refused_at_start(tmp_path):
    for args in (("--request-quota", "Frobnicate=5"), ("--request-quotas", "generous"), ("--request-quota", "CreateKey=-1")):
        result = subprocess.run(
            [str(trent_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert "request quota" in result.stderr or "number of requests" in result.stderr, result.stderr
