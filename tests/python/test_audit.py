"""Issue #7, the audit trail as clients see it: `aws cloudtrail lookup-events`
and boto3's CloudTrail client against Trent, GetKeyLastUsage, GET /metrics,
and the JSON-lines stream (including a stream that fails)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.exceptions
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ACCOUNT_ID, REGION, TrentServer, run_aws


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(server: TrentServer, service: str, key_id: str | None = None, secret: str | None = None, **config):
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=key_id or server.access_key_id,
        aws_secret_access_key=secret or server.secret_access_key,
        config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def new_user(iam, policy: dict | None = None) -> tuple[str, str, str]:
    """A user with an access key and, optionally, one inline policy."""
    name = unique("audit-user")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


def allow(*actions: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def lookup_all(server: TrentServer, **params) -> list[dict]:
    """Every event of a lookup, walking NextToken by hand."""
    trail = client(server, "cloudtrail")
    events, token = [], None
    while True:
        page = trail.lookup_events(**params, **({"NextToken": token} if token else {}))
        events.extend(page["Events"])
        token = page.get("NextToken")
        if not token:
            return events


def wait_for(predicate, what: str, timeout: float = 10.0):
    """Crypto and read-only events are committed asynchronously (a few ms)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def metrics(server: TrentServer) -> dict[str, list]:
    """GET /metrics, parsed by prometheus_client: family name -> samples."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def sample(families: dict, family: str, name: str | None = None, **labels) -> float:
    """The value of one sample (0 if absent)."""
    for s in families.get(family, []):
        if (name is None or s.name == name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


# ============================================================================
# cloudtrail lookup-events
# ============================================================================


def test_lookup_events_finds_boto3_cli_and_denied_calls(trent: TrentServer, aws):
    kms = client(trent, "kms")
    boto_key = kms.create_key(Description=unique("boto3"))["KeyMetadata"]["Arn"]
    cli_key = json.loads(aws("kms", "create-key", "--description", unique("cli")))["KeyMetadata"]["Arn"]
    name, key_id, secret = new_user(client(trent, "iam"))
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        client(trent, "kms", key_id, secret).create_key()
    assert error_code(denied) == "AccessDeniedException"

    out = aws("cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateKey")
    events = json.loads(out)["Events"]
    assert events and all(e["EventName"] == "CreateKey" for e in events)
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True), "newest first"

    def by_resource(arn: str) -> dict:
        [event] = [e for e in events if any(r["ResourceName"] == arn for r in e["Resources"])]
        return event

    boto_event, cli_event = by_resource(boto_key), by_resource(cli_key)
    for event, agent in ((boto_event, "Boto3"), (cli_event, "aws-cli")):
        record = json.loads(event["CloudTrailEvent"])
        assert agent in record["userAgent"]
        assert record["eventID"] == event["EventId"]
        assert event["Username"] == "root"
        assert event["AccessKeyId"] == trent.access_key_id
        assert event["ReadOnly"] == "false"
        assert event["EventSource"] == "kms.amazonaws.com"
        assert event["Resources"][0]["ResourceType"] == "AWS::KMS::Key"
    [denied_event] = [e for e in events if e.get("Username") == name]
    record = json.loads(denied_event["CloudTrailEvent"])
    assert record["errorCode"] == "AccessDeniedException"
    assert denied_event["AccessKeyId"] == key_id

    # The other attributes select the same events.
    for key, value in (
        ("EventId", boto_event["EventId"]),
        ("ResourceName", boto_key),
        ("Username", name),
        ("AccessKeyId", key_id),
    ):
        found = lookup_all(trent, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
        assert found, key
        assert all(
            (key != "EventId" or e["EventId"] == value)
            and (key != "Username" or e["Username"] == value)
            and (key != "AccessKeyId" or e.get("AccessKeyId") == value)
            and (key != "ResourceName" or any(r["ResourceName"] == value for r in e["Resources"]))
            for e in found
        ), key
    read_only = lookup_all(trent, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])
    assert {e["ReadOnly"] for e in read_only} == {"false"}
    assert boto_event["EventId"] in {e["EventId"] for e in read_only}
    sources = lookup_all(trent, LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}])
    assert sources and {e["EventSource"] for e in sources} == {"iam.amazonaws.com"}
    assert "CreateUser" in {e["EventName"] for e in sources}


def test_lookup_events_paging_walks_all(start_trent):
    server = start_trent()
    kms = client(server, "kms")
    created = {kms.create_key()["KeyMetadata"]["Arn"] for _ in range(7)}
    trail = client(server, "cloudtrail")
    query = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}], "MaxResults": 3}
    pages, token = [], None
    while True:
        page = trail.lookup_events(**query, **({"NextToken": token} if token else {}))
        pages.append(page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    events = [e for p in pages for e in p]
    assert len({e["EventId"] for e in events}) == 7
    assert {e["Resources"][0]["ResourceName"] for e in events} == created
    # boto3's paginator and the CLI (which pages by itself) walk the same.
    paginated = [e for p in trail.get_paginator("lookup_events").paginate(**query) for e in p["Events"]]
    assert [e["EventId"] for e in paginated] == [e["EventId"] for e in events]
    env = {**os.environ, **server.client_env()}
    out = run_aws("cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateKey", "--page-size", "2", env=env)
    assert [e["EventId"] for e in json.loads(out)["Events"]] == [e["EventId"] for e in events]

    # A token is bound to its query.
    first = trail.lookup_events(**query)
    other = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ListKeys"}], "MaxResults": 3}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        trail.lookup_events(**other, NextToken=first["NextToken"])
    assert error_code(e) == "InvalidNextTokenException"
    # Time range: nothing in the future, everything since a minute ago.
    now = time.time()
    assert trail.lookup_events(StartTime=now + 3600, EndTime=now + 7200)["Events"] == []
    recent = lookup_all(server, StartTime=now - 60, EndTime=now + 60, LookupAttributes=query["LookupAttributes"])
    assert len(recent) == 7


def test_lookup_events_needs_permission_and_sees_one_account(trent: TrentServer, trent_account):
    iam = client(trent, "iam")
    _, key_id, secret = new_user(iam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(trent, "cloudtrail", key_id, secret).lookup_events(MaxResults=1)
    assert error_code(e) == "AccessDeniedException"
    assert "cloudtrail:LookupEvents" in e.value.response["Error"]["Message"]
    _, key_id, secret = new_user(iam, allow("cloudtrail:LookupEvents"))
    events = client(trent, "cloudtrail", key_id, secret).lookup_events(MaxResults=5)["Events"]
    assert events
    # The denied lookup itself is in the trail, as CloudTrail records it.
    denied = lookup_all(trent, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "LookupEvents"}])
    assert any(json.loads(d["CloudTrailEvent"]).get("errorCode") == "AccessDeniedException" for d in denied)

    # Another account sees its own events only.
    other_id, other_secret = trent_account("444455556666")
    other_kms = client(trent, "kms", other_id, other_secret)
    other_key = other_kms.create_key()["KeyMetadata"]["Arn"]
    theirs = lookup_all(trent, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": other_key}])
    assert theirs == []
    other_trail = client(trent, "cloudtrail", other_id, other_secret)
    mine = other_trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": other_key}])
    assert [e["EventName"] for e in mine["Events"]] == ["CreateKey"]
    everything = [e for p in other_trail.get_paginator("lookup_events").paginate() for e in p["Events"]]
    assert all(json.loads(e["CloudTrailEvent"])["recipientAccountId"] == "444455556666" for e in everything)


@pytest.mark.parametrize(
    "params, code",
    [
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"StartTime": 2_000_000_000, "EndTime": 1_000_000_000}, "InvalidTimeRangeException"),
        ({"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "x"}]}, "InvalidLookupAttributesException"),
        ({"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]}, "InvalidLookupAttributesException"),
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "CreateKey"},
                    {"AttributeKey": "Username", "AttributeValue": "root"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        ({"NextToken": "bm90LWEtdG9rZW4"}, "InvalidNextTokenException"),
        ({"EventCategory": "data"}, "InvalidEventCategoryException"),
    ],
)
def test_lookup_events_bad_input_gets_cloudtrail_errors(trent: TrentServer, params, code):
    trail = client(trent, "cloudtrail", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        trail.lookup_events(**params)
    assert error_code(e) == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_lookup_events_bad_json_is_a_serialization_error(trent: TrentServer):
    trail = client(trent, "cloudtrail")
    # Raw body through botocore's signer: not JSON at all.
    request = botocore.awsrequest.AWSRequest(
        method="POST",
        url=trent.url + "/",
        data=b"{not json",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
        },
    )
    credentials = trail._request_signer._credentials
    botocore.auth.SigV4Auth(credentials, "cloudtrail", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert json.loads(e.value.read())["__type"] == "SerializationException"


# ============================================================================
# GetKeyLastUsage
# ============================================================================


def test_get_key_last_usage_after_encrypt_names_a_lookup_event(trent: TrentServer, trent_account):
    kms = client(trent, "kms")
    key = kms.create_key()["KeyMetadata"]
    before = kms.get_key_last_usage(KeyId=key["Arn"])
    assert "KeyLastUsage" not in before
    assert before["KeyCreationDate"] == key["CreationDate"]
    assert before["TrackingStartDate"] >= before["KeyCreationDate"]

    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"last usage")
    request_id = encrypted["ResponseMetadata"]["RequestId"]
    usage = wait_for(
        lambda: kms.get_key_last_usage(KeyId=key["KeyId"]).get("KeyLastUsage"),
        "GetKeyLastUsage to show the Encrypt",
    )
    assert usage["Operation"] == "Encrypt"
    assert usage["KmsRequestId"] == request_id
    [event] = lookup_all(trent, LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": usage["CloudTrailEventId"]}])
    assert event["EventName"] == "Encrypt"
    assert event["Resources"][0]["ResourceName"] == key["Arn"]
    assert json.loads(event["CloudTrailEvent"])["requestID"] == request_id
    assert abs(event["EventTime"].timestamp() - usage["Timestamp"].timestamp()) < 1

    # Needs kms:GetKeyLastUsage: a user with only kms:Encrypt is refused.
    _, key_id, secret = new_user(client(trent, "iam"), allow("kms:Encrypt"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(trent, "kms", key_id, secret).get_key_last_usage(KeyId=key["KeyId"])
    assert error_code(e) == "AccessDeniedException"

    # Not cross-account, even when the key policy would allow it.
    other_id, other_secret = trent_account("444455556666")
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": ["kms:GetKeyLastUsage", "kms:DescribeKey"], "Resource": "*"},
                ],
            }
        ),
    )
    other = client(trent, "kms", other_id, other_secret)
    assert other.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.get_key_last_usage(KeyId=key["Arn"])
    assert error_code(e) == "NotFoundException"
    # Alias names are not accepted.
    kms.create_alias(AliasName="alias/" + unique("last-usage"), TargetKeyId=key["KeyId"])
    alias = [a for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]][0]["AliasName"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.get_key_last_usage(KeyId=alias)
    assert error_code(e) == "NotFoundException"


# ============================================================================
# GET /metrics
# ============================================================================


def test_metrics_parse_and_count_requests(start_trent):
    server = start_trent()
    kms = client(server, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.encrypt(KeyId=key, Plaintext=b"m")
    with pytest.raises(botocore.exceptions.ClientError):
        kms.describe_key(KeyId="00000000-0000-4000-8000-000000000000")
    client(server, "cloudtrail").lookup_events(MaxResults=1)
    client(server, "iam").list_users()

    families = wait_for(
        lambda: (f := metrics(server)) and sample(f, "trent_audit_events_written") >= 7 and f,
        "the audit writer to commit the calls",
    )
    assert sample(families, "trent_requests", operation="Encrypt", error_type="None") == 3
    assert sample(families, "trent_requests", operation="CreateKey", error_type="None") == 1
    assert sample(families, "trent_requests", operation="DescribeKey", error_type="NotFoundException") == 1
    assert sample(families, "trent_requests", operation="CloudTrail.LookupEvents", error_type="None") == 1
    assert sample(families, "trent_requests", operation="IAM/STS", error_type="None") == 1
    latency = families["trent_request_duration_seconds"]
    assert sample(families, "trent_request_duration_seconds", "trent_request_duration_seconds_count", operation="Encrypt") == 3
    inf = [s for s in latency if s.name.endswith("_bucket") and s.labels == {"operation": "Encrypt", "le": "+Inf"}]
    assert [s.value for s in inf] == [3]
    assert sample(families, "trent_key_cache_hits") >= 3
    assert "trent_key_cache_misses" in families
    # Warmed at startup (nothing to load on a new store), then filled on use.
    assert sample(families, "trent_key_cache_warm") == 1
    assert sample(families, "trent_key_cache_keys") >= 1
    assert sample(families, "trent_audit_queue_depth") >= 0 and "trent_audit_queue_depth" in families
    assert sample(families, "trent_audit_write_duration_seconds", "trent_audit_write_duration_seconds_count") >= 1
    # The store's latency by method: the CreateKey's insert, the audit's batches.
    store = "trent_store_duration_seconds"
    assert sample(families, store, store + "_count", method="insert_key") == 1
    assert sample(families, store, store + "_count", method="append_audit") >= 1
    assert sample(families, store, store + "_count", method="delete_key") == 0
    assert sample(families, "trent_audit_write_failures", sink="store") == 0
    assert sample(families, "trent_audit_write_failures", sink="stream") == 0
    assert sample(families, "trent_audit_failing", sink="store") == 0
    # Unauthenticated, like /health; other methods are not served.
    request = urllib.request.Request(server.url + "/metrics", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 405


# ============================================================================
# the JSON-lines stream
# ============================================================================


def stream_lines(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_audit_stream_writes_each_committed_event_as_a_line(start_trent, tmp_path):
    path = tmp_path / "audit.jsonl"
    server = start_trent(extra_args=("--audit-stream", str(path)))
    kms = client(server, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.encrypt(KeyId=key, Plaintext=b"streamed")
    assert os.stat(path).st_mode & 0o777 == 0o600

    def names() -> list[str]:
        return [e["eventName"] for e in stream_lines(path)]

    wait_for(lambda: names() == ["CreateKey", "Encrypt"], "both events in the stream")
    streamed = stream_lines(path)
    assert streamed[0]["resources"][0]["ARN"] == key
    stored = lookup_all(server, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key}])
    assert {e["EventId"] for e in stored} == {e["eventID"] for e in streamed}
    assert "streamed" not in path.read_text()

    # A removed file is created anew for the next events.
    path.unlink()
    kms.describe_key(KeyId=key)
    wait_for(lambda: path.exists() and "DescribeKey" in names(), "the stream file to be recreated")
    # The new file starts after the removal (the LookupEvents call above
    # may be committed just after it too).
    assert set(names()) <= {"LookupEvents", "DescribeKey"}, names()


def test_audit_stream_to_stdout_follows_the_ready_line(start_trent):
    server = start_trent(extra_args=("--audit-stream", "-"))
    key = client(server, "kms").create_key()["KeyMetadata"]["Arn"]

    def events() -> list[dict]:
        lines = (server.log_dir / "stdout.log").read_text().splitlines()
        assert lines[0].startswith("listening on ")
        return [json.loads(line) for line in lines[1:]]

    [event] = wait_for(events, "the CreateKey line on stdout")
    assert event["eventName"] == "CreateKey"
    assert event["resources"][0]["ARN"] == key


def test_failing_audit_stream_refuses_mutations_until_it_recovers(start_trent, tmp_path):
    """Issue #7: a sink that fails must not make Trent answer calls it cannot
    record. The stream is a FIFO whose reader goes away (EPIPE): real write
    failures, and a real recovery when a reader comes back."""
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    server = start_trent(extra_args=("--audit-stream", str(fifo)))
    kms = client(server, "kms")
    received = bytearray()

    def drain(fd) -> bytes:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return bytes(received)
            if not chunk:
                return bytes(received)
            received.extend(chunk)

    first = kms.create_key()["KeyMetadata"]["KeyId"]
    wait_for(lambda: first.encode() in drain(reader), "the first CreateKey on the stream")
    os.close(reader)

    # A read-only call is served; writing its event to the stream fails.
    kms.list_keys()
    failing = wait_for(
        lambda: (f := metrics(server)) and sample(f, "trent_audit_failing", sink="stream") == 1 and f,
        "the stream failure to show in /metrics",
    )
    assert sample(failing, "trent_audit_write_failures", sink="stream") >= 1
    assert sample(failing, "trent_audit_write_failures", sink="store") == 0

    # A mutation is refused with a retryable AWS error, before it happens.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(Description="must not exist")
    assert error_code(e) == "DependencyTimeoutException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    keys = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert keys == [first], "the refused CreateKey created nothing"
    refused = metrics(server)
    assert sample(refused, "trent_requests", operation="CreateKey", error_type="DependencyTimeoutException") == 1
    assert "audit stream write failed" in server.logs()

    # A reader comes back: the backlog is delivered, mutations work again.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        received.clear()
        kms.list_keys()
        wait_for(
            lambda: sample(metrics(server), "trent_audit_failing", sink="stream") == 0,
            "the stream to recover",
        )
        second = kms.create_key()["KeyMetadata"]["KeyId"]
        wait_for(lambda: second.encode() in drain(reader), "the second CreateKey on the stream")
        lines = [json.loads(line) for line in bytes(received).decode().splitlines()]
        names = [(e["eventName"], e.get("errorCode")) for e in lines]
        assert ("ListKeys", None) in names
        assert ("CreateKey", "DependencyTimeoutException") in names
        assert names[-1] == ("CreateKey", None)
        # Nothing twice, and the store has every streamed event.
        ids = [e["eventID"] for e in lines]
        assert len(ids) == len(set(ids))
        for event_id in ids:
            assert lookup_all(server, LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": event_id}])
    finally:
        os.close(reader)


def test_json_logs_carry_the_request_id_of_the_response_and_the_event(start_trent):
    server = start_trent(env={"TRENT_LOG_FORMAT": "json", "TRENT_LOG": "info,trent_server=debug"})
    kms = client(server, "kms")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        kms.describe_key(KeyId="alias/no-such-key")
    assert error_code(excinfo) == "NotFoundException"
    request_id = excinfo.value.response["ResponseMetadata"]["RequestId"]
    assert request_id

    def logged() -> list[dict]:
        lines = (server.log_dir / "stderr.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def mine() -> list[dict]:
        return [entry for entry in logged() if entry.get("fields", {}).get("request_id") == request_id]

    entry = wait_for(lambda: mine(), "a log line for the request")[0]
    assert entry["fields"]["operation"] == "DescribeKey"
    assert entry["fields"]["error"] == "NotFoundException"
    assert entry["level"] == "DEBUG"
    events = wait_for(
        lambda: lookup_all(server, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}]),
        "the DescribeKey event",
    )
    assert json.loads(events[0]["CloudTrailEvent"])["requestID"] == request_id
    # Every line is JSON (startup lines included).
    assert any("trent is serving" in entry.get("fields", {}).get("message", "") for entry in logged())
