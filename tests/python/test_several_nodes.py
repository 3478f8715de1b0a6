"""Several Trent nodes on one PostgreSQL database, driven by boto3 and the
aws CLI: IAM changes made on one node are in force on another within a
second, and CloudTrail's LookupEvents on any node sees every node's
events. Skipped, saying so, without TRENT_TEST_POSTGRES_URL (each test
makes a schema of its own in that database and drops it)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, run_aws, run_trent

POSTGRES_URL = os.environ.get("TRENT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL tests skipped: TRENT_TEST_POSTGRES_URL is not set"
)


@pytest.fixture
def database_url():
    """A fresh schema in the test database, as `--database-url`."""
    import psycopg

    schema = f"trent_test_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options[search_path]={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def two_nodes(tmp_path: Path, database_url: str):
    """Two nodes on one database; the second gets the first's root key."""
    first, second = tmp_path / "node1", tmp_path / "node2"
    for d in (first, second):
        d.mkdir(mode=0o700)
    args = ("--database-url", database_url)
    with run_trent(data_dir=first, extra_args=args) as one:
        shutil.copy(first / "root.key", second / "root.key")
        os.chmod(second / "root.key", 0o600)
        with run_trent(data_dir=second, extra_args=args) as two:
            yield one, two


def client(server, service, keys=None):
    access_key, secret = keys or (server.access_key_id, server.secret_access_key)
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
    )


def within_a_second(what, check):
    """Polls `check` until true; returns how long it took (fails past 3 s)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < 3, f"{what}: not in force after 3 s"
        time.sleep(0.01)
    took = time.monotonic() - started
    assert took < 1, f"{what} took {took:.3f} s"
    return took


def code_of(call):
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


def test_iam_changes_on_one_node_are_in_force_on_another_within_a_second(tmp_path, database_url):
    with two_nodes(tmp_path, database_url) as (one, two):
        iam = client(one, "iam")
        key = client(one, "kms").create_key()["KeyMetadata"]["KeyId"]
        iam.create_user(UserName="mallory")
        created = iam.create_access_key(UserName="mallory")["AccessKey"]
        keys = (created["AccessKeyId"], created["SecretAccessKey"])
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}],
        }
        user_on_two = client(two, "kms", keys)
        encrypt = lambda: user_on_two.encrypt(KeyId=key, Plaintext=b"x")  # noqa: E731
        # A new user's key works on the other node at once; no policy yet.
        assert code_of(encrypt) == "AccessDeniedException"
        lags = {}
        iam.put_user_policy(UserName="mallory", PolicyName="use", PolicyDocument=json.dumps(policy))
        lags["PutUserPolicy"] = within_a_second("PutUserPolicy", lambda: code_of(encrypt) == "ok")
        iam.update_access_key(UserName="mallory", AccessKeyId=keys[0], Status="Inactive")
        lags["UpdateAccessKey Inactive"] = within_a_second(
            "UpdateAccessKey Inactive", lambda: code_of(encrypt) == "UnrecognizedClientException"
        )
        iam.update_access_key(UserName="mallory", AccessKeyId=keys[0], Status="Active")
        lags["UpdateAccessKey Active"] = within_a_second("UpdateAccessKey Active", lambda: code_of(encrypt) == "ok")
        iam.delete_user_policy(UserName="mallory", PolicyName="use")
        lags["DeleteUserPolicy"] = within_a_second(
            "DeleteUserPolicy", lambda: code_of(encrypt) == "AccessDeniedException"
        )
        iam.delete_access_key(UserName="mallory", AccessKeyId=keys[0])
        lags["DeleteAccessKey"] = within_a_second(
            "DeleteAccessKey", lambda: code_of(encrypt) == "UnrecognizedClientException"
        )
        print("IAM change on node 1 to in force on node 2:", {k: f"{v * 1000:.0f} ms" for k, v in lags.items()})


def test_lookup_events_on_any_node_sees_every_nodes_events(tmp_path, database_url):
    with two_nodes(tmp_path, database_url) as (one, two):
        made = client(one, "kms").create_key(Description="on node one")["KeyMetadata"]["Arn"]
        env = dict(os.environ, **two.client_env())
        out = json.loads(
            run_aws(
                "cloudtrail",
                "lookup-events",
                "--lookup-attributes",
                f"AttributeKey=ResourceName,AttributeValue={made}",
                env=env,
            )
        )
        names = [e["EventName"] for e in out["Events"]]
        assert "CreateKey" in names, names
        # And the other way round, with boto3.
        client(two, "kms").describe_key(KeyId=made)
        trail = client(one, "cloudtrail")
        deadline = time.monotonic() + 10
        while True:
            events = trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}]
            )["Events"]
            if any(r.get("ResourceName") == made for e in events for r in e.get("Resources", [])):
                break
            assert time.monotonic() < deadline, events
            time.sleep(0.2)


def test_group_membership_and_key_tags_on_one_node_are_in_force_on_another_within_a_second(tmp_path, database_url):
    """Changes that decide access indirectly: a user's group (and the
    group's policy), and a key's tags that a policy's aws:ResourceTag
    condition reads (ABAC)."""
    with two_nodes(tmp_path, database_url) as (one, two):
        iam = client(one, "iam")
        owner = client(one, "kms")
        iam.create_user(UserName="grace")
        created = iam.create_access_key(UserName="grace")["AccessKey"]
        keys = (created["AccessKeyId"], created["SecretAccessKey"])
        iam.create_group(GroupName="encrypters")
        iam.put_group_policy(
            GroupName="encrypters",
            PolicyName="tagged",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "kms:Encrypt",
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
                        }
                    ],
                }
            ),
        )
        key = owner.create_key(Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]["KeyId"]
        user_on_two = client(two, "kms", keys)
        encrypt = lambda: user_on_two.encrypt(KeyId=key, Plaintext=b"x")  # noqa: E731
        assert code_of(encrypt) == "AccessDeniedException"
        lags = {}
        iam.add_user_to_group(GroupName="encrypters", UserName="grace")
        lags["AddUserToGroup"] = within_a_second("AddUserToGroup", lambda: code_of(encrypt) == "ok")
        owner.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "red"}])
        lags["TagResource"] = within_a_second("TagResource", lambda: code_of(encrypt) == "AccessDeniedException")
        owner.untag_resource(KeyId=key, TagKeys=["team"])
        owner.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "blue"}])
        lags["TagResource back"] = within_a_second("TagResource back", lambda: code_of(encrypt) == "ok")
        iam.remove_user_from_group(GroupName="encrypters", UserName="grace")
        lags["RemoveUserFromGroup"] = within_a_second(
            "RemoveUserFromGroup", lambda: code_of(encrypt) == "AccessDeniedException"
        )
        print("change on node 1 to in force on node 2:", {k: f"{v * 1000:.0f} ms" for k, v in lags.items()})
