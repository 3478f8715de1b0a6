"""Request quotas (issue 14): per account and Region, AWS's quotas by
operation and, for the cryptographic operations, by key type; a throttled
call gets AWS's ThrottlingException (400), which boto3, the aws CLI and the
SDKs retry with backoff. Each test runs a server of its own with small
quotas, so that a burst of a few dozen calls crosses them."""

import concurrent.futures
import json
import time
import urllib.request

import boto3
import botocore.config
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import audit_export, burst, create_account, exported_by_request_id, refused_start, run_aws

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
        except ClientError as e:
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
    other_keys = create_account(server, other)
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
    throttled = [e for e in committed_events(server) if e.get("errorCode") == "ThrottlingException"]
    # About two a second are recorded; the rest only counted.
    assert 1 <= len(throttled) <= 2 + 2 * elapsed + 2, (len(throttled), elapsed)
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'trent_throttled_requests_total{quota="ThrottledEvents"}' in metrics


def test_an_unknown_quota_or_profile_is_refused_at_start(tmp_path):
    for args in (("--request-quota", "Frobnicate=5"), ("--request-quotas", "generous"), ("--request-quota", "CreateKey=-1")):
        _, stderr = refused_start(tmp_path / "d", extra_args=args)
        assert "request quota" in stderr or "number of requests" in stderr, (args, stderr)


def raw_kms_post(server, target, signed):
    """A KMS request for `target` (any name), SigV4-signed with the
    server's root keys or unsigned; returns its request id."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{target}"}
    request = AWSRequest(method="POST", url=server.url + "/", data=b"{}", headers=headers)
    if signed:
        credentials = Credentials(server.access_key_id, server.secret_access_key)
        SigV4Auth(credentials, "kms", server.region).add_auth(request)
    prepared = request.prepare()
    response = requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=60)
    assert response.status_code == 400, response.text
    return response.headers["x-amzn-RequestId"]


def committed_events(server):
    """Every event of the server's trail, once all queued so far are
    committed. A refused call's event is queued, not waited for; a durable
    call (STS's are) waits for a commit, which includes everything queued
    before it: once its event is exported, all earlier ones are."""
    durable = client(server, "sts").get_caller_identity()["ResponseMetadata"]["RequestId"]
    exported_by_request_id(server.data_dir, {durable})
    return audit_export(server.data_dir)


def recorded_of(server, request_ids):
    """How many of these requests' events the trail holds."""
    return sum(1 for e in committed_events(server) if e.get("requestID") in request_ids)


def throttled_count(server, quota):
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    line = next(l for l in metrics.splitlines() if l.startswith(f'trent_throttled_requests_total{{quota="{quota}"}}'))
    return int(line.split()[-1])


def test_unauthenticated_requests_leave_a_bounded_trace(start_trent):
    # An attacker with no credentials sends as fast as it can: each answer
    # is an error, and the trail keeps about two of them a second, from
    # all such callers together; the rest are only counted.
    server = start_trent(extra_args=("--request-quota", "UnauthenticatedEvents=2"))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        ids = set(pool.map(lambda _: raw_kms_post(server, "ListKeys", signed=False), range(60)))
    elapsed = time.monotonic() - started
    assert len(ids) == 60
    recorded = recorded_of(server, ids)
    assert 1 <= recorded <= 2 + 2 * elapsed + 2, (recorded, elapsed)
    assert throttled_count(server, "UnauthenticatedEvents") >= 60 - recorded


def test_calls_of_operations_that_do_not_exist_leave_a_bounded_trace(start_trent):
    # Signed calls of made-up operations have no quota of their own to
    # refuse them; their events are bounded as throttled calls' are.
    server = start_trent(extra_args=("--request-quota", "ThrottledEvents=2"))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        ids = set(pool.map(lambda i: raw_kms_post(server, f"Frobnicate{i}", signed=True), range(60)))
    elapsed = time.monotonic() - started
    recorded = recorded_of(server, ids)
    assert 1 <= recorded <= 2 + 2 * elapsed + 2, (recorded, elapsed)
    assert throttled_count(server, "ThrottledEvents") >= 60 - recorded


def test_requests_naming_keys_that_do_not_exist_are_within_the_quota(start_trent):
    # Each request for a key the cache does not hold is a store read (on a
    # database several nodes share): an attacker naming random key ids, or
    # forging ciphertexts that name them, is held to the symmetric quota
    # like any caller.
    import uuid

    server = start_trent(extra_args=("--request-quota", "symmetric=5"))
    kms = client(server)
    codes, elapsed = burst(lambda: kms.encrypt(KeyId=str(uuid.uuid4()), Plaintext=b"x"), 40)
    within([None if c == "NotFoundException" else c for c in codes], elapsed, 5)
    # A forged ciphertext: Trent's blob header naming a key id no key has.
    def forged():
        blob = sealed[:1] + uuid.uuid4().bytes + sealed[17:]
        kms.decrypt(CiphertextBlob=blob)

    time.sleep(1.5)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sealed = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    time.sleep(1.5)
    codes, elapsed = burst(forged, 40)
    assert "ThrottlingException" in codes, codes
    assert codes.count("InvalidCiphertextException") <= 5 + 5 * elapsed + 2, (codes, elapsed)
