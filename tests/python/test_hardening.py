"""Regression tests for the security review's findings, each written from
the attacker's side against the real `trent` binary: boto3 and the aws CLI
where a client can send the request, raw (signed or unsigned) HTTP where it
cannot, and servers started on a data directory of the test's making where
the finding is about start-up.

Sections (the review's finding numbers):
   1. a grant's CreateGrant hands on no more than the grant gives
   2. another account may not manage a key, whatever its key policy says
   3. ListRetirableGrants only for principals of the caller's account
   4. unauthenticated requests: bounded events, filed into no account
      (and the same for unsigned IAM/STS Query requests)
   5. an explicit Deny on sts:AssumeRole wins over a trust policy naming the caller
   6. a deactivated access key is refused at once, even under load
   7. TRENT_BOOTSTRAP_* and generated root credentials: a deleted root key stays deleted
  10. a cross-account call is in the trails of both accounts
  11. a role deleted and made again does not revive its namesake's sessions
  13. CreateGrant does not tell an unauthorized caller whether a principal exists
  14. root-credentials and the audit stream: never written through a symlink, 0600
  15. a store whose root key is missing or another one is not opened

Finding 12 (a revoked grant kept in the key cache when the re-read after
RevokeGrant failed) needs a store failure at that exact point, which cannot
be caused from outside the process; it has no test here.

Every test makes its own users, keys and accounts' resources on the shared
server, or starts its own server, so tests are independent of order.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import stat
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import botocore.config
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT_ID,
    BOOTSTRAP_ACCESS_KEY_ID,
    BOOTSTRAP_SECRET_ACCESS_KEY,
    REGION,
    TrentServer,
    audit_export,
    exported_by_request_id,
    read_shared_credentials,
    refused_start,
    run_trent,
    trent_binary,
)

import principals
from principals import (
    Keys,
    allow,
    default_root_statement,
    expect_denied,
    expect_error,
    new_key,
    new_user,
    policy,
    root_keys,
    unique,
)

OTHER_ACCOUNT_ID = "777788889999"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"

# ============================================================================
# helpers
# ============================================================================


NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})


def client(server: TrentServer, service: str, keys: Keys):
    """A boto3 client on `server` with exactly these credentials (no retries)."""
    return principals.client(server, service, keys, config=NO_RETRIES)


def error_code_of(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def signed(url: str, service: str, keys: Keys, headers: dict[str, str], body: bytes | str) -> AWSRequest:
    """A request signed with SigV4 for `service` (it may be sent again as it is:
    SigV4 has no nonce, only the ±15 minutes of its date)."""
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token), service, REGION).add_auth(
        request
    )
    return request


def kms_headers(operation: str) -> dict[str, str]:
    return {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{operation}"}


@dataclass
class Raw:
    status: int
    request_id: str
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


def post(url: str, headers: dict[str, str], body: bytes | str, session: requests.Session | None = None) -> Raw:
    response = (session or requests).post(url + "/", data=body, headers=headers, timeout=60)
    return Raw(response.status_code, response.headers.get("x-amzn-RequestId", ""), response.text)


def post_signed(request: AWSRequest, session: requests.Session | None = None) -> Raw:
    prepared = request.prepare()
    return post(prepared.url.rstrip("/"), dict(prepared.headers), prepared.body, session)


def lookup(trail, **attribute) -> list[dict]:
    """Every event of a LookupEvents query with one attribute (all pages).
    LookupEvents has a quota of its own (CloudTrail's: 2 a second per
    account): a throttled page is asked for again after a pause."""
    [(key, value)] = attribute.items()
    query = {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}], "MaxResults": 50}
    events, token, deadline = [], None, time.monotonic() + 30
    while True:
        try:
            page = trail.lookup_events(**query, **({"NextToken": token} if token else {}))
        except ClientError as e:
            if error_code_of(e) != "ThrottlingException" or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
            continue
        events.extend(page["Events"])
        token = page.get("NextToken")
        if not token:
            return events


def by_request_id(events: list[dict]) -> dict[str, dict]:
    records = (json.loads(e["CloudTrailEvent"]) for e in events)
    return {r["requestID"]: r for r in records if "requestID" in r}


def wait_for_event(trail, request_id: str, timeout: float = 5.0, **attribute) -> dict:
    """The record of `request_id` in a LookupEvents query, polled for: events
    are committed a few milliseconds after the answer."""
    deadline = time.monotonic() + timeout
    while True:
        found = by_request_id(lookup(trail, **attribute)).get(request_id)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"event of request {request_id} not found by LookupEvents {attribute} within {timeout} s")
        time.sleep(0.5)


# ----- servers on a data directory of the test's making ------------------------


def private_data_dir(parent: Path) -> Path:
    data = parent / "data"
    data.mkdir(mode=0o700)
    return data


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# ============================================================================
# 1. a grant's CreateGrant hands on no more than the grant gives
# ============================================================================


def test_grant_holder_cannot_create_grants_for_operations_outside_its_grant(trent: TrentServer):
    """alice holds a grant for [Encrypt, CreateGrant] and nothing else: she
    cannot give herself (or anyone) Decrypt with it."""
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms, Description="grant escalation")
    _, alice_arn, alice_keys = new_user(iam)
    _, bob_arn, _ = new_user(iam)
    kms.create_grant(KeyId=key_id, GranteePrincipal=alice_arn, Operations=["Encrypt", "CreateGrant"])
    alice = client(trent, "kms", alice_keys)
    blob = alice.encrypt(KeyId=key_arn, Plaintext=b"secret")["CiphertextBlob"]
    expect_denied(alice.decrypt, CiphertextBlob=blob)

    for grantee in (alice_arn, bob_arn):
        for operations in (["Decrypt"], ["Encrypt", "Decrypt"], ["Encrypt", "CreateGrant", "ReEncryptFrom"]):
            error = expect_denied(alice.create_grant, KeyId=key_arn, GranteePrincipal=grantee, Operations=operations)
            assert "kms:CreateGrant" in error.response["Error"]["Message"]
    # Nothing she tried left a grant behind, and she still cannot decrypt.
    grants = kms.list_grants(KeyId=key_id)["Grants"]
    assert [sorted(g["Operations"]) for g in grants] == [["CreateGrant", "Encrypt"]]
    expect_denied(alice.decrypt, CiphertextBlob=blob)
    expect_denied(alice.re_encrypt, CiphertextBlob=blob, DestinationKeyId=key_arn)

    # Some or all of her own operations she may hand on.
    alice.create_grant(KeyId=key_arn, GranteePrincipal=bob_arn, Operations=["Encrypt"])
    alice.create_grant(KeyId=key_arn, GranteePrincipal=bob_arn, Operations=["Encrypt", "CreateGrant"])

    # A principal allowed CreateGrant by IAM (the default key policy
    # delegates to it) is not bound by any grant.
    carol_name, _, carol_keys = new_user(iam)
    iam.put_user_policy(UserName=carol_name, PolicyName="grants", PolicyDocument=policy(allow("kms:CreateGrant", key_arn)))
    client(trent, "kms", carol_keys).create_grant(
        KeyId=key_arn, GranteePrincipal=bob_arn, Operations=["Decrypt", "GenerateDataKey"]
    )


def test_grant_with_subset_constraint_creates_only_grants_at_least_as_strict(trent: TrentServer):
    """A grant constrained by EncryptionContextSubset {"purpose": "x"} with
    CreateGrant: the grants it makes must keep that pair (more pairs, or an
    equals constraint with it, are stricter). The old server refused every
    CreateGrant under a constrained grant (CreateGrant carries no context)."""
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms, Description="constrained grant escalation")
    _, alice_arn, alice_keys = new_user(iam)
    _, bob_arn, _ = new_user(iam)
    kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=alice_arn,
        Operations=["Encrypt", "Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"purpose": "x"}},
    )
    alice = client(trent, "kms", alice_keys)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"other purpose", EncryptionContext={"purpose": "y"})["CiphertextBlob"]

    def create(grantee: str, constraints: dict | None):
        kwargs = {"Constraints": constraints} if constraints is not None else {}
        return alice.create_grant(KeyId=key_arn, GranteePrincipal=grantee, Operations=["Decrypt"], **kwargs)

    for grantee in (alice_arn, bob_arn):
        for looser in (
            None,
            {"EncryptionContextSubset": {"more": "y"}},
            {"EncryptionContextSubset": {"purpose": "y"}},
            {"EncryptionContextEquals": {"more": "y"}},
            {"EncryptionContextEquals": {"purpose": "y"}},
        ):
            expect_denied(create, grantee, looser)
    # The way around the constraint stays closed.
    expect_denied(alice.decrypt, CiphertextBlob=blob, EncryptionContext={"purpose": "y"})

    create(bob_arn, {"EncryptionContextSubset": {"purpose": "x", "more": "y"}})
    create(bob_arn, {"EncryptionContextSubset": {"purpose": "x"}})
    create(bob_arn, {"EncryptionContextEquals": {"purpose": "x"}})
    create(bob_arn, {"EncryptionContextEquals": {"purpose": "x", "more": "y"}})


def test_grant_with_equals_constraint_creates_only_grants_with_the_same(trent: TrentServer):
    """Under EncryptionContextEquals {"purpose": "x"}, only grants with the
    same equals constraint."""
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms, Description="equals-constrained grant escalation")
    _, alice_arn, alice_keys = new_user(iam)
    _, bob_arn, _ = new_user(iam)
    kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=alice_arn,
        Operations=["Encrypt", "CreateGrant"],
        Constraints={"EncryptionContextEquals": {"purpose": "x"}},
    )
    alice = client(trent, "kms", alice_keys)

    def create(constraints: dict | None):
        kwargs = {"Constraints": constraints} if constraints is not None else {}
        return alice.create_grant(KeyId=key_arn, GranteePrincipal=bob_arn, Operations=["Encrypt"], **kwargs)

    for other in (
        None,
        {"EncryptionContextSubset": {"purpose": "x"}},
        {"EncryptionContextSubset": {"purpose": "x", "more": "y"}},
        {"EncryptionContextEquals": {"purpose": "x", "more": "y"}},
        {"EncryptionContextEquals": {"purpose": "y"}},
    ):
        expect_denied(create, other)
    create({"EncryptionContextEquals": {"purpose": "x"}})


# ============================================================================
# 2. cross-account: no management of another account's key
# ============================================================================


def test_other_account_cannot_manage_a_key_whose_policy_allows_it_everything(trent: TrentServer, trent_account):
    b_root = Keys(*trent_account(OTHER_ACCOUNT_ID))
    b_root_arn = f"arn:aws:iam::{OTHER_ACCOUNT_ID}:root"
    a_kms = client(trent, "kms", root_keys(trent))
    key_policy = policy(default_root_statement(), allow("kms:*", principal=b_root_arn))
    key_id, key_arn = new_key(a_kms, Description="A's key", Policy=key_policy)
    before = a_kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]

    b = client(trent, "kms", b_root)
    takeover = policy(allow("kms:*", principal=b_root_arn))
    attempts = {
        "DisableKey": lambda: b.disable_key(KeyId=key_arn),
        "PutKeyPolicy": lambda: b.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=takeover),
        "ScheduleKeyDeletion": lambda: b.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7),
        "TagResource": lambda: b.tag_resource(KeyId=key_arn, Tags=[{"TagKey": "owner", "TagValue": "B"}]),
        "EnableKeyRotation": lambda: b.enable_key_rotation(KeyId=key_arn),
        "GetKeyPolicy": lambda: b.get_key_policy(KeyId=key_arn, PolicyName="default"),
        "UpdateKeyDescription": lambda: b.update_key_description(KeyId=key_arn, Description="B's now"),
    }
    answers = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            answers[name] = "allowed"
        except ClientError as e:
            answers[name] = error_code_of(e)
    assert answers == {name: "AccessDeniedException" for name in attempts}, answers

    meta = a_kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True and "DeletionDate" not in meta
    assert meta["Description"] == "A's key"
    assert a_kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == before
    assert a_kms.list_resource_tags(KeyId=key_id)["Tags"] == []
    assert a_kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False

    # What the key policy may give another account still works.
    blob = b.encrypt(KeyId=key_arn, Plaintext=b"from B")["CiphertextBlob"]
    assert b.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from B"
    data_key = b.generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    assert b.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    assert b.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
    grant_id = b.create_grant(KeyId=key_arn, GranteePrincipal=b_root_arn, Operations=["Encrypt"])["GrantId"]
    assert grant_id in {g["GrantId"] for g in b.list_grants(KeyId=key_arn)["Grants"]}
    assert b.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is False


def test_other_account_cannot_alias_a_key_whose_policy_allows_it_everything(trent: TrentServer, trent_account):
    """CreateAlias in B naming A's key by ARN: AccessDeniedException (the
    review's expectation), and no alias in B."""
    b_root = Keys(*trent_account(OTHER_ACCOUNT_ID))
    b_root_arn = f"arn:aws:iam::{OTHER_ACCOUNT_ID}:root"
    a_kms = client(trent, "kms", root_keys(trent))
    _, key_arn = new_key(a_kms, Policy=policy(default_root_statement(), allow("kms:*", principal=b_root_arn)))
    b = client(trent, "kms", b_root)
    alias = "alias/" + unique("takeover")
    try:
        expect_denied(b.create_alias, AliasName=alias, TargetKeyId=key_arn)
    finally:
        assert alias not in {a["AliasName"] for a in b.list_aliases()["Aliases"]}


# ============================================================================
# 3. ListRetirableGrants of another account's principal
# ============================================================================


def test_other_account_cannot_list_retirable_grants_of_this_account(trent: TrentServer, trent_account):
    b_root = Keys(*trent_account(OTHER_ACCOUNT_ID))
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, _ = new_key(kms)
    _, alice_arn, _ = new_user(iam)
    a_root_arn = f"arn:aws:iam::{ACCOUNT_ID}:root"
    context = {"project": unique("classified")}
    for retiring in (alice_arn, a_root_arn):
        kms.create_grant(
            KeyId=key_id,
            GranteePrincipal=alice_arn,
            RetiringPrincipal=retiring,
            Operations=["Decrypt"],
            Constraints={"EncryptionContextSubset": context},
        )
    assert kms.list_retirable_grants(RetiringPrincipal=alice_arn)["Grants"]  # they exist

    b = client(trent, "kms", b_root)
    for retiring in (alice_arn, a_root_arn):
        error = expect_denied(b.list_retirable_grants, RetiringPrincipal=retiring)
        assert context["project"] not in json.dumps(error.response, default=str)

    # A principal of B's own account: B's grants are listed.
    b_iam = client(trent, "iam", b_root)
    _, b_user_arn, _ = new_user(b_iam, OTHER_ACCOUNT_ID)
    b_key_id, b_key_arn = new_key(b)
    grant_id = b.create_grant(
        KeyId=b_key_id, GranteePrincipal=b_user_arn, RetiringPrincipal=b_user_arn, Operations=["Encrypt"]
    )["GrantId"]
    listed = b.list_retirable_grants(RetiringPrincipal=b_user_arn)["Grants"]
    assert [(g["GrantId"], g["KeyId"]) for g in listed] == [(grant_id, b_key_arn)]


# ============================================================================
# 4. unauthenticated requests
# ============================================================================

UNAUTHENTICATED_CREATE_KEYS = 40
DESCRIPTION_BYTES = 900_000


def store_bytes(data_dir: Path) -> int:
    return sum((data_dir / name).stat().st_size for name in ("trent.db", "trent.db-wal") if (data_dir / name).exists())


def test_unauthenticated_requests_cannot_fill_the_audit_trail(start_trent):
    server = start_trent()
    fake_key_id = "AKIA" + uuid.uuid4().hex[:16].upper()
    marker = unique("HARDENING-DESCRIPTION")
    agent = unique("attacker-agent")
    headers = {**kms_headers("CreateKey"), "User-Agent": agent}
    body = json.dumps({"Description": marker + "x" * DESCRIPTION_BYTES, "Tags": [{"TagKey": marker, "TagValue": "v"}]})
    assert len(body) < 1024 * 1024

    client(server, "kms", root_keys(server)).list_keys()
    exported_before = len(audit_export(server.data_dir))
    before = store_bytes(server.data_dir)
    unsigned, garbage = set(), set()
    with requests.Session() as http:
        for i in range(UNAUTHENTICATED_CREATE_KEYS):
            if i % 2 == 0:
                raw = post(server.url, headers, body, http)
                assert raw.status == 400 and raw.json()["__type"] == "MissingAuthenticationTokenException", raw.text
                unsigned.add(raw.request_id)
            else:
                request = signed(server.url, "kms", Keys(fake_key_id, "x" * 40), dict(headers), body)
                raw = post_signed(request, http)
                assert raw.status == 400 and raw.json()["__type"] == "UnrecognizedClientException", raw.text
                garbage.add(raw.request_id)
    events = exported_by_request_id(server.data_dir, unsigned | garbage)
    growth = store_bytes(server.data_dir) - before
    print(f"store growth for {UNAUTHENTICATED_CREATE_KEYS} unauthenticated CreateKey requests: {growth} bytes")
    assert growth < 1_000_000, f"the store grew by {growth} bytes for {UNAUTHENTICATED_CREATE_KEYS} refused requests"
    assert len(audit_export(server.data_dir)) - exported_before >= UNAUTHENTICATED_CREATE_KEYS

    for request_id, event in events.items():
        text = json.dumps(event)
        assert event["eventName"] == "CreateKey", event
        assert event.get("requestParameters") is None, text[:500]
        assert event.get("userAgent") is None, event
        assert marker not in text and agent not in text, text[:500]
        assert event.get("recipientAccountId") is None, event
        claimed = event.get("userIdentity", {}).get("accessKeyId")
        if request_id in garbage:
            assert event["errorCode"] == "UnrecognizedClientException", event
            assert claimed == fake_key_id, event
        else:
            assert event["errorCode"] == "MissingAuthenticationTokenException", event
            assert claimed is None, event
    # Nothing was created either.
    assert client(server, "kms", root_keys(server)).list_keys()["Keys"] == []


def test_unauthenticated_request_naming_a_key_is_not_in_the_key_owners_trail(trent: TrentServer):
    root = root_keys(trent)
    kms, trail = client(trent, "kms", root), client(trent, "cloudtrail", root)
    _, key_arn = new_key(kms, Description="named by strangers")
    body = json.dumps({"KeyId": key_arn, "Plaintext": base64.b64encode(b"forged").decode()})
    made_up = Keys("AKIA" + uuid.uuid4().hex[:16].upper(), "y" * 40)
    strangers = {
        post(trent.url, kms_headers("Encrypt"), body).request_id,
        post_signed(signed(trent.url, "kms", made_up, kms_headers("Encrypt"), body)).request_id,
    }
    # The key owner's own call after them: once it is in the trail, so
    # would theirs be.
    own = kms.encrypt(KeyId=key_arn, Plaintext=b"mine")["ResponseMetadata"]["RequestId"]
    wait_for_event(trail, own, ResourceName=key_arn)
    seen = by_request_id(lookup(trail, ResourceName=key_arn)) | by_request_id(lookup(trail, EventName="Encrypt"))
    assert strangers.isdisjoint(seen), [seen[r] for r in strangers & seen.keys()]
    # They are recorded, in no account's trail.
    for event in exported_by_request_id(trent.data_dir, strangers).values():
        assert event.get("recipientAccountId") is None, event
        assert event.get("requestParameters") is None and event.get("resources") is None, event


def test_an_authenticated_callers_huge_parameters_are_omitted_from_its_event(trent: TrentServer):
    """A signed request is recorded with its parameters, but not beyond
    CloudTrail's field size (100 KB): a 900 KB Description leaves
    `{"omitted": true}`, not 900 KB a call."""
    kms = client(trent, "kms", root_keys(trent))
    e = expect_error("ValidationException", kms.create_key, Description="d" * DESCRIPTION_BYTES)
    request_id = e.response["ResponseMetadata"]["RequestId"]
    event = exported_by_request_id(trent.data_dir, {request_id})[request_id]
    assert event["errorCode"] == "ValidationException"
    assert event["requestParameters"] == {"omitted": True}


def test_unsigned_iam_request_is_refused_and_recorded_without_its_parameters(trent: TrentServer):
    name = unique("unsigned-user")
    raw = post(
        trent.url,
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        urllib.parse.urlencode({"Action": "CreateUser", "UserName": name, "Version": "2010-05-08"}),
    )
    assert raw.status == 403, raw.text
    root = ET.fromstring(raw.text)
    assert root.tag == f"{{{IAM_NS}}}ErrorResponse", raw.text
    assert root.findtext(f"{{{IAM_NS}}}Error/{{{IAM_NS}}}Code") == "MissingAuthenticationToken", raw.text
    assert root.findtext(f"{{{IAM_NS}}}RequestId") == raw.request_id

    expect_error("NoSuchEntity", client(trent, "iam", root_keys(trent)).get_user, UserName=name)
    event = exported_by_request_id(trent.data_dir, {raw.request_id})[raw.request_id]
    assert event["eventName"] == "CreateUser" and event["eventSource"] == "iam.amazonaws.com", event
    assert event["errorCode"] == "MissingAuthenticationToken", event
    assert event.get("requestParameters") is None, event
    assert name not in json.dumps(event), event


# ============================================================================
# 5. AssumeRole: an explicit Deny wins over a trust policy naming the caller
# ============================================================================


def test_explicit_deny_on_assume_role_wins_over_a_trust_policy_naming_the_caller(trent: TrentServer):
    iam = client(trent, "iam", root_keys(trent))
    alice, alice_arn, alice_keys = new_user(iam)
    role = unique("trusting")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "sts:AssumeRole"})
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_user_policy(
        UserName=alice,
        PolicyName="no-roles",
        PolicyDocument=policy({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    sts = client(trent, "sts", alice_keys)
    error = expect_error("AccessDenied", sts.assume_role, RoleArn=role_arn, RoleSessionName="denied")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    iam.delete_user_policy(UserName=alice, PolicyName="no-roles")
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="allowed")["Credentials"]
    session = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert client(trent, "sts", session).get_caller_identity()["Arn"].endswith(f"assumed-role/{role}/allowed")


# ============================================================================
# 6. a deactivated access key is refused at once, even under load
# ============================================================================

RACE_ROUNDS = 30
HAMMER_THREADS = 6
GROUPS = 10


class Hammer:
    """Threads that send one pre-signed KMS ListKeys request again and again
    on keep-alive connections, recording (start, end, outcome) of each."""

    def __init__(self, url: str, request: AWSRequest, threads: int):
        prepared = request.prepare()
        self.host = urllib.parse.urlsplit(url).netloc
        self.headers = dict(prepared.headers)
        self.body = prepared.body if isinstance(prepared.body, bytes) else prepared.body.encode()
        self.records: list[tuple[float, float, str]] = []
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, timeout=30)
        mine = []
        try:
            while self.running:
                started = time.monotonic()
                connection.request("POST", "/", body=self.body, headers=self.headers)
                response = connection.getresponse()
                payload = response.read()
                ended = time.monotonic()
                outcome = "ok" if response.status == 200 else json.loads(payload).get("__type", str(response.status))
                mine.append((started, ended, outcome))
        finally:
            connection.close()
            with self.lock:
                self.records.extend(mine)

    def __enter__(self) -> "Hammer":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(timeout=30)


class RawConnection:
    """Sends one pre-signed request again and again on a keep-alive connection."""

    def __init__(self, url: str, request: AWSRequest):
        prepared = request.prepare()
        self.headers = dict(prepared.headers)
        self.body = prepared.body if isinstance(prepared.body, bytes) else prepared.body.encode()
        self.connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=30)

    def send(self) -> None:
        self.connection.request("POST", "/", body=self.body, headers=self.headers)
        response = self.connection.getresponse()
        payload = response.read()
        assert response.status == 200, payload


def test_deactivated_access_key_is_refused_at_once_while_in_use(start_trent):
    """UpdateAccessKey Inactive while threads hammer the key: every call made
    after UpdateAccessKey answered must be refused. (The old server could
    cache the identity read by a lookup that began before the change and
    finished after it, and then accept the key until the next IAM change.)"""
    server = start_trent()
    root = root_keys(server)
    iam = client(server, "iam", root)
    name, _, keys = new_user(iam)
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=policy(allow("kms:ListKeys")))
    # Policies in groups make the identity's load (one store read per group)
    # longer: the window the race needs.
    for i in range(GROUPS):
        group = unique(f"race-{i}")
        iam.create_group(GroupName=group)
        iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument=policy(allow("kms:ListKeys")))
        iam.add_user_to_group(GroupName=group, UserName=name)

    def status(value: str) -> RawConnection:
        params = {
            "Action": "UpdateAccessKey",
            "UserName": name,
            "AccessKeyId": keys.access_key_id,
            "Status": value,
            "Version": "2010-05-08",
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return RawConnection(server.url, signed(server.url, "iam", root, headers, urllib.parse.urlencode(params)))

    activate, deactivate = status("Active"), status("Inactive")
    list_keys = signed(server.url, "kms", keys, kms_headers("ListKeys"), "{}")
    windows: list[tuple[float, float]] = []  # (deactivation answered, next activation sent)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        with Hammer(server.url, list_keys, HAMMER_THREADS) as hammer:
            for _ in range(RACE_ROUNDS):
                # Reactivated, then deactivated at once: the threads' lookups
                # of the reactivated key are in flight when it is deactivated.
                activate.send()
                deactivate.send()
                answered = time.monotonic()
                time.sleep(0.04)
                windows.append((answered, time.monotonic()))
    finally:
        sys.setswitchinterval(previous_interval)

    # Anything but UnrecognizedClientException (a success, or a refusal
    # such as ThrottlingException that comes after authentication) means
    # the key was accepted.
    records = hammer.records
    assert any(outcome == "ok" for _, _, outcome in records), "the key never worked: the race was not run"
    judged = [
        (start, outcome)
        for deactivated, reactivated in windows
        for start, end, outcome in records
        if deactivated < start and end < reactivated
    ]
    accepted = [outcome for _, outcome in judged if outcome != "UnrecognizedClientException"]
    stale_rounds = sum(
        1
        for deactivated, reactivated in windows
        if any(
            deactivated < start and end < reactivated and outcome != "UnrecognizedClientException"
            for start, end, outcome in records
        )
    )
    oks = sum(1 for _, _, outcome in records if outcome == "ok")
    print(f"{len(records)} calls, {oks} accepted in all; {len(judged)} made while the key was inactive")
    assert len(judged) >= RACE_ROUNDS, f"only {len(judged)} calls were made while the key was inactive"
    assert not accepted, (
        f"{len(accepted)} of {len(judged)} calls made after UpdateAccessKey Inactive answered were accepted "
        f"({sorted(set(accepted))}), in {stale_rounds} of {RACE_ROUNDS} rounds"
    )


# ============================================================================
# 7. a deleted root key stays deleted across restarts
# ============================================================================


def test_deleted_bootstrap_key_is_not_recreated_by_a_restart(tmp_path):
    data = private_data_dir(tmp_path)
    bootstrap = Keys(BOOTSTRAP_ACCESS_KEY_ID, BOOTSTRAP_SECRET_ACCESS_KEY)
    with run_trent(data_dir=data, bootstrap=True) as server:
        created = client(server, "iam", bootstrap).create_access_key()["AccessKey"]
        second = Keys(created["AccessKeyId"], created["SecretAccessKey"])
        client(server, "iam", second).delete_access_key(AccessKeyId=BOOTSTRAP_ACCESS_KEY_ID)
        expect_error("UnrecognizedClientException", client(server, "kms", bootstrap).list_keys)

    # Restarted with the same TRENT_BOOTSTRAP_* environment.
    with run_trent(data_dir=data, bootstrap=True) as server:
        expect_error("UnrecognizedClientException", client(server, "kms", bootstrap).list_keys)
        expect_error("InvalidClientTokenId", client(server, "sts", bootstrap).get_caller_identity)
        assert client(server, "kms", second).list_keys()["Keys"] == []
        keys = client(server, "iam", second).list_access_keys()["AccessKeyMetadata"]
        assert [k["AccessKeyId"] for k in keys] == [second.access_key_id]


def test_deleted_generated_root_key_is_not_regenerated_by_a_restart(tmp_path):
    data = private_data_dir(tmp_path)
    credentials = data / "root-credentials"
    with run_trent(data_dir=data, bootstrap=False) as server:
        root = Keys(*read_shared_credentials(credentials))
        client(server, "iam", root).delete_access_key(AccessKeyId=root.access_key_id)
        expect_error("UnrecognizedClientException", client(server, "kms", root).list_keys)
    written = credentials.read_bytes()

    with run_trent(data_dir=data, bootstrap=False) as server:
        expect_error("UnrecognizedClientException", client(server, "kms", root).list_keys)
        assert credentials.read_bytes() == written, "a new root key was generated"
        now = Keys(*read_shared_credentials(credentials))
        expect_error("UnrecognizedClientException", client(server, "kms", now).list_keys)
        assert "generated root credentials" not in server.logs()


# ============================================================================
# 10. a cross-account call is in both accounts' trails
# ============================================================================


def test_cross_account_use_is_recorded_in_both_accounts(trent: TrentServer, trent_account):
    b_root = Keys(*trent_account(OTHER_ACCOUNT_ID))
    b_root_arn = f"arn:aws:iam::{OTHER_ACCOUNT_ID}:root"
    a_root = root_keys(trent)
    a_kms, a_trail = client(trent, "kms", a_root), client(trent, "cloudtrail", a_root)
    _, key_arn = new_key(a_kms, Policy=policy(default_root_statement(), allow("kms:Encrypt", principal=b_root_arn)))
    b_kms, b_trail = client(trent, "kms", b_root), client(trent, "cloudtrail", b_root)

    encrypted = b_kms.encrypt(KeyId=key_arn, Plaintext=b"cross-account")
    request_id = encrypted["ResponseMetadata"]["RequestId"]
    owners = wait_for_event(a_trail, request_id, ResourceName=key_arn)
    assert owners["recipientAccountId"] == ACCOUNT_ID, owners
    assert owners["userIdentity"]["accountId"] == OTHER_ACCOUNT_ID, owners
    assert owners["userIdentity"]["arn"] == b_root_arn, owners
    assert owners["eventName"] == "Encrypt", owners
    assert request_id in by_request_id(lookup(a_trail, EventName="Encrypt"))
    callers = wait_for_event(b_trail, request_id, EventName="Encrypt")
    assert callers["recipientAccountId"] == OTHER_ACCOUNT_ID, callers
    assert callers["userIdentity"]["accountId"] == OTHER_ACCOUNT_ID, callers

    # A denied call is the caller's event only.
    denied = expect_denied(b_kms.decrypt, CiphertextBlob=encrypted["CiphertextBlob"])
    denied_id = denied.response["ResponseMetadata"]["RequestId"]
    wait_for_event(b_trail, denied_id, EventName="Decrypt")
    assert denied_id not in by_request_id(lookup(a_trail, ResourceName=key_arn))
    assert denied_id not in by_request_id(lookup(a_trail, EventName="Decrypt"))


# ============================================================================
# 11. a role made again under the same name does not revive old sessions
# ============================================================================


def test_recreated_role_does_not_revive_the_sessions_of_its_namesake(trent: TrentServer):
    iam = client(trent, "iam", root_keys(trent))
    _, alice_arn, alice_keys = new_user(iam)
    role = unique("phoenix")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "sts:AssumeRole"})
    permissions = policy(allow("kms:ListKeys"))
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=permissions)
    sts = client(trent, "sts", alice_keys)
    arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="before")["Credentials"]
    old = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    client(trent, "kms", old).list_keys()

    iam.delete_role_policy(RoleName=role, PolicyName="list")
    iam.delete_role(RoleName=role)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=permissions)

    expect_error("ExpiredTokenException", client(trent, "kms", old).list_keys)
    expect_error("ExpiredToken", client(trent, "sts", old).get_caller_identity)
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="after")["Credentials"]
    new = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    client(trent, "kms", new).list_keys()
    expect_error("ExpiredTokenException", client(trent, "kms", old).list_keys)


# ============================================================================
# 13. CreateGrant is no oracle for the existence of principals
# ============================================================================


def test_create_grant_by_an_unauthorized_caller_does_not_reveal_whether_a_principal_exists(
    trent: TrentServer, trent_account
):
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    _, key_arn = new_key(kms)  # the default policy: nothing for eve, nothing for B
    _, existing_arn, _ = new_user(iam)
    ghost_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{unique('does-not-exist')}"
    _, _, eve_keys = new_user(iam)
    callers = {"eve": client(trent, "kms", eve_keys), "B": client(trent, "kms", Keys(*trent_account(OTHER_ACCOUNT_ID)))}
    for who, caller in callers.items():
        answers = []
        for grantee in (ghost_arn, existing_arn):
            with pytest.raises(ClientError) as e:
                caller.create_grant(KeyId=key_arn, GranteePrincipal=grantee, Operations=["Decrypt"])
            answers.append((e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]))
        assert answers[0] == answers[1], (who, answers)
        assert answers[0][0] == "AccessDeniedException", (who, answers)
        assert "does-not-exist" not in answers[0][1]


# ============================================================================
# 14. files: never written through a symlink, 0600
# ============================================================================


def test_root_credentials_symlink_is_replaced_not_followed(tmp_path):
    data = private_data_dir(tmp_path)
    target = tmp_path / "somefile"
    target.write_text("precious, not credentials\n")
    target.chmod(0o644)
    (data / "root-credentials").symlink_to(target)

    with run_trent(data_dir=data, bootstrap=False) as server:
        assert target.read_text() == "precious, not credentials\n"
        assert mode_of(target) == 0o644
        credentials = data / "root-credentials"
        assert not credentials.is_symlink() and credentials.is_file()
        assert mode_of(credentials) == 0o600
        keys = Keys(*read_shared_credentials(credentials))
        assert client(server, "kms", keys).list_keys()["Keys"] == []


def test_audit_stream_symlink_is_refused(tmp_path):
    data = private_data_dir(tmp_path)
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a trail\n")
    link = tmp_path / "trail.jsonl"
    link.symlink_to(target)
    _, stderr = refused_start(data, bootstrap=True, extra_args=("--audit-stream", str(link)))
    assert str(link) in stderr and "symbolic link" in stderr, stderr[-2000:]
    assert target.read_text() == "not a trail\n"


def test_existing_audit_stream_file_is_made_private(tmp_path):
    data = private_data_dir(tmp_path)
    trail = tmp_path / "trail.jsonl"
    trail.write_text("")
    trail.chmod(0o644)
    with run_trent(data_dir=data, bootstrap=True, extra_args=("--audit-stream", str(trail))) as server:
        request_id = client(server, "kms", root_keys(server)).create_key()["ResponseMetadata"]["RequestId"]
        deadline = time.monotonic() + 5
        while request_id not in trail.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert request_id in trail.read_text()
        assert mode_of(trail) == 0o600, oct(mode_of(trail))


# ============================================================================
# 15. the root key: never replaced, never a stranger
# ============================================================================


def test_missing_root_key_is_not_replaced(tmp_path):
    data = private_data_dir(tmp_path)
    with run_trent(data_dir=data, bootstrap=True) as server:
        client(server, "kms", root_keys(server)).create_key(Description="sealed under the first root key")
    (data / "root.key").unlink()

    _, stderr = refused_start(data, bootstrap=True)
    assert not (data / "root.key").exists(), "a new root key was made beside the existing store"
    assert "root key" in stderr and "missing" in stderr, stderr[-2000:]


def test_another_root_key_is_refused(tmp_path):
    data = private_data_dir(tmp_path)
    with run_trent(data_dir=data, bootstrap=True) as server:
        client(server, "kms", root_keys(server)).create_key(Description="sealed under the first root key")
    root_key = data / "root.key"
    root_key.write_bytes(os.urandom(32))
    root_key.chmod(0o600)

    _, stderr = refused_start(data, bootstrap=True)
    assert "does not open this store" in stderr, stderr[-2000:]
