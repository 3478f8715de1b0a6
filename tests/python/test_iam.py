"""IAM and STS (AWS Query protocol) on Trent's endpoint, as users drive them:
boto3 `iam`/`sts` clients, the aws CLI, and raw signed requests for the wire
format (XML shape, error documents, status codes).

Every test makes its own uniquely named users, roles and groups on the
shared server, so the tests are independent of each other and of order.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, AwsCliError, TrentServer, run_aws

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

KMS_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def client(trent: TrentServer, service: str, keys: Keys | None = None):
    """A boto3 client for `service` on trent, as root unless `keys` are given."""
    if keys is None:
        keys = Keys(trent.access_key_id, trent.secret_access_key)
    return boto3.client(
        service,
        endpoint_url=trent.url,
        region_name=trent.region,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
    )


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@dataclass
class Raw:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    text: str

    @property
    def xml(self) -> ET.Element:
        return ET.fromstring(self.text)


def query(
    trent: TrentServer,
    service: str,
    params: dict[str, str],
    keys: Keys | None = None,
    sign: bool = True,
) -> Raw:
    """POSTs a form-encoded Query request, signed with SigV4 for `service`."""
    if keys is None:
        keys = Keys(trent.access_key_id, trent.secret_access_key)
    request = AWSRequest(
        method="POST",
        url=trent.url + "/",
        data=urllib.parse.urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    if sign:
        credentials = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
        SigV4Auth(credentials, service, trent.region).add_auth(request)
    prepared = request.prepare()
    response = requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=30)
    return Raw(response.status_code, response.headers, response.text)


def assert_query_error(raw: Raw, ns: str, code: str, status: int) -> ET.Element:
    assert raw.status == status, raw.text
    assert raw.headers["Content-Type"].startswith("text/xml")
    root = raw.xml
    assert root.tag == f"{{{ns}}}ErrorResponse", raw.text
    error = root.find(f"{{{ns}}}Error")
    assert error is not None, raw.text
    assert error.findtext(f"{{{ns}}}Type") == ("Receiver" if status >= 500 else "Sender")
    assert error.findtext(f"{{{ns}}}Code") == code, raw.text
    assert error.findtext(f"{{{ns}}}Message")
    assert root.findtext(f"{{{ns}}}RequestId") == raw.headers["x-amzn-RequestId"]
    return error


def new_user_with_key(iam, name: str | None = None) -> tuple[str, Keys]:
    name = name or unique("user")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, Keys(key["AccessKeyId"], key["SecretAccessKey"])


# ----- users ------------------------------------------------------------------


def test_user_lifecycle(trent: TrentServer):
    iam = client(trent, "iam")
    name = unique("alice")
    user = iam.create_user(UserName=name, Path="/engineering/")["User"]
    assert user["UserName"] == name
    assert user["Path"] == "/engineering/"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/engineering/{name}"
    assert user["UserId"].startswith("AIDA")
    assert user["CreateDate"].year >= 2024

    assert iam.get_user(UserName=name)["User"] == user
    listed = iam.list_users()
    assert listed["IsTruncated"] is False
    assert user in listed["Users"]
    by_prefix = iam.list_users(PathPrefix="/engineering/")["Users"]
    assert [u["UserName"] for u in by_prefix if u["UserName"] == name] == [name]
    assert all(u["Path"].startswith("/engineering/") for u in by_prefix)

    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=name)
    assert error_of(e) == ("EntityAlreadyExists", 409)

    iam.delete_user(UserName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as e:
        iam.get_user(UserName=name)
    assert error_of(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert error_of(e) == ("NoSuchEntity", 404)


def test_list_users_pages(trent: TrentServer):
    iam = client(trent, "iam")
    prefix = f"/{unique('pages')}/"
    names = sorted(unique("paged") for _ in range(3))
    for name in names:
        iam.create_user(UserName=name, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2
    second = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert second["IsTruncated"] is False and "Marker" not in second
    seen = [u["UserName"] for u in first["Users"] + second["Users"]]
    assert sorted(seen) == names
    paginated = [
        u["UserName"]
        for page in iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 1})
        for u in page["Users"]
    ]
    assert sorted(paginated) == names
    for name in names:
        iam.delete_user(UserName=name)


def test_get_user_and_caller_identity_of_root(trent: TrentServer):
    identity = client(trent, "sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert identity["UserId"] == ACCOUNT_ID
    me = client(trent, "iam").get_user()["User"]
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"


# ----- access keys and KMS authorization ---------------------------------------


def test_access_key_grants_kms_only_through_policy(trent: TrentServer):
    iam = client(trent, "iam")
    name = unique("bob")
    iam.create_user(UserName=name)
    created = iam.create_access_key(UserName=name)["AccessKey"]
    assert created["UserName"] == name
    assert created["Status"] == "Active"
    assert created["AccessKeyId"].startswith("AKIA")
    assert len(created["SecretAccessKey"]) == 40
    keys = Keys(created["AccessKeyId"], created["SecretAccessKey"])

    # The secret is shown once: listings carry only metadata.
    listed = iam.list_access_keys(UserName=name)
    assert listed["IsTruncated"] is False
    [meta] = listed["AccessKeyMetadata"]
    assert meta["AccessKeyId"] == keys.access_key_id and meta["Status"] == "Active"
    assert "SecretAccessKey" not in meta

    # The user exists and is who it says...
    identity = client(trent, "sts", keys).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
    assert identity["UserId"] == iam.get_user(UserName=name)["User"]["UserId"]
    # ...but may do nothing in KMS without a policy.
    kms = client(trent, "kms", keys)
    with pytest.raises(ClientError) as e:
        kms.create_key()
    assert error_of(e)[0] == "AccessDeniedException"

    iam.put_user_policy(UserName=name, PolicyName="kms-all", PolicyDocument=json.dumps(KMS_ALL))
    key_id = kms.create_key(Description="made by an IAM user")["KeyMetadata"]["KeyId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id

    # An inactive key is an unrecognized client to KMS, until reactivated.
    iam.update_access_key(UserName=name, AccessKeyId=keys.access_key_id, Status="Inactive")
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=key_id)
    assert error_of(e)[0] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        client(trent, "sts", keys).get_caller_identity()
    assert error_of(e) == ("InvalidClientTokenId", 403)
    iam.update_access_key(UserName=name, AccessKeyId=keys.access_key_id, Status="Active")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id

    with pytest.raises(ClientError) as e:
        iam.update_access_key(UserName=name, AccessKeyId=keys.access_key_id, Status="Sleeping")
    assert error_of(e) == ("ValidationError", 400)

    # Deleting the key ends it; the user can then be deleted once its policy is gone.
    iam.delete_access_key(UserName=name, AccessKeyId=keys.access_key_id)
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=key_id)
    assert error_of(e)[0] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        iam.delete_access_key(UserName=name, AccessKeyId=keys.access_key_id)
    assert error_of(e) == ("NoSuchEntity", 404)
    iam.delete_user_policy(UserName=name, PolicyName="kms-all")
    iam.delete_user(UserName=name)


def test_access_key_limit_and_own_keys(trent: TrentServer):
    iam = client(trent, "iam")
    name, keys = new_user_with_key(iam)
    iam.create_access_key(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=name)
    assert error_of(e) == ("LimitExceeded", 409)

    # A user may manage its own keys when its policy says so; with no
    # UserName the call is about the caller itself.
    iam.put_user_policy(
        UserName=name,
        PolicyName="own-keys",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["iam:ListAccessKeys", "iam:GetUser"],
                        "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/{name}",
                    }
                ],
            }
        ),
    )
    own = client(trent, "iam", keys)
    assert own.get_user()["User"]["UserName"] == name
    mine = own.list_access_keys()["AccessKeyMetadata"]
    assert {k["UserName"] for k in mine} == {name} and len(mine) == 2
    # Nothing else is allowed.
    with pytest.raises(ClientError) as e:
        own.create_user(UserName=unique("nope"))
    assert error_of(e) == ("AccessDenied", 403)
    assert "iam:CreateUser" in e.value.response["Error"]["Message"]


# ----- inline policies ------------------------------------------------------------


def test_user_policy_round_trip(trent: TrentServer):
    iam = client(trent, "iam")
    name = unique("carol")
    iam.create_user(UserName=name)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Encrypt only",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:team": "a+b/c & <d>"}},
            }
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="enc", PolicyDocument=json.dumps(document))
    got = iam.get_user_policy(UserName=name, PolicyName="enc")
    assert got["UserName"] == name and got["PolicyName"] == "enc"
    assert got["PolicyDocument"] == document  # botocore URL-decodes and parses it

    # On the wire the document is URL-encoded JSON, as AWS sends it.
    raw = query(trent, "iam", {"Action": "GetUserPolicy", "Version": "2010-05-08", "UserName": name, "PolicyName": "enc"})
    assert raw.status == 200, raw.text
    result = raw.xml.find(f"{{{IAM_NS}}}GetUserPolicyResult")
    encoded = result.findtext(f"{{{IAM_NS}}}PolicyDocument")
    assert encoded.startswith("%7B") and "+" not in encoded
    assert json.loads(urllib.parse.unquote(encoded)) == document

    iam.put_user_policy(UserName=name, PolicyName="second", PolicyDocument=json.dumps(KMS_ALL))
    listed = iam.list_user_policies(UserName=name)
    assert sorted(listed["PolicyNames"]) == ["enc", "second"] and listed["IsTruncated"] is False
    # Put replaces a policy of the same name.
    iam.put_user_policy(UserName=name, PolicyName="enc", PolicyDocument=json.dumps(KMS_ALL))
    assert iam.get_user_policy(UserName=name, PolicyName="enc")["PolicyDocument"] == KMS_ALL

    iam.delete_user_policy(UserName=name, PolicyName="enc")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["second"]
    with pytest.raises(ClientError) as e:
        iam.get_user_policy(UserName=name, PolicyName="enc")
    assert error_of(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_user_policy(UserName=name, PolicyName="enc")
    assert error_of(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=unique("ghost"), PolicyName="p", PolicyDocument=json.dumps(KMS_ALL))
    assert error_of(e) == ("NoSuchEntity", 404)
    iam.delete_user_policy(UserName=name, PolicyName="second")
    iam.delete_user(UserName=name)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "kms:*", "Resource": "*"}]}),
    ],
)
def test_malformed_policy_document(trent: TrentServer, document: str):
    iam = client(trent, "iam")
    name = unique("dave")
    iam.create_user(UserName=name)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as e:
        iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument=document)
    assert error_of(e) == ("MalformedPolicyDocument", 400)
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []
    iam.delete_user(UserName=name)


def test_delete_user_conflicts(trent: TrentServer):
    iam = client(trent, "iam")
    name, keys = new_user_with_key(iam)
    with pytest.raises(iam.exceptions.DeleteConflictException) as e:
        iam.delete_user(UserName=name)
    assert error_of(e) == ("DeleteConflict", 409)
    iam.delete_access_key(UserName=name, AccessKeyId=keys.access_key_id)

    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(KMS_ALL))
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert error_of(e) == ("DeleteConflict", 409)
    iam.delete_user_policy(UserName=name, PolicyName="p")

    group = unique("grp")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert error_of(e) == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=group, UserName=name)
    iam.delete_group(GroupName=group)

    iam.delete_user(UserName=name)


# ----- roles and STS ----------------------------------------------------------------


def trust_for(principal_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}],
    }


def test_role_assume_and_use(trent: TrentServer):
    iam = client(trent, "iam")
    user, user_keys = new_user_with_key(iam)
    user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    role_name = unique("deployer")
    trust = trust_for(user_arn)
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(trust),
        Description="deploys things",
        MaxSessionDuration=7200,
    )["Role"]
    assert role["RoleName"] == role_name and role["Path"] == "/"
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == trust
    assert role["Description"] == "deploys things" and role["MaxSessionDuration"] == 7200
    got = iam.get_role(RoleName=role_name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust and got["RoleId"] == role["RoleId"]

    iam.put_role_policy(RoleName=role_name, PolicyName="kms", PolicyDocument=json.dumps(KMS_ALL))
    assert iam.get_role_policy(RoleName=role_name, PolicyName="kms")["PolicyDocument"] == KMS_ALL
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["kms"]

    # The user (named by the trust policy) assumes the role.
    assumed = client(trent, "sts", user_keys).assume_role(
        RoleArn=role["Arn"], RoleSessionName="ci-run-1", DurationSeconds=900
    )
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SessionToken"] and creds["SecretAccessKey"]
    assumed_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/ci-run-1"
    assert assumed["AssumedRoleUser"] == {"AssumedRoleId": f"{role['RoleId']}:ci-run-1", "Arn": assumed_arn}
    delta = (creds["Expiration"] - got["CreateDate"]).total_seconds()
    assert 800 < delta < 1000

    session = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    identity = client(trent, "sts", session).get_caller_identity()
    assert identity["Arn"] == assumed_arn
    assert identity["UserId"] == f"{role['RoleId']}:ci-run-1"
    assert identity["Account"] == ACCOUNT_ID
    # The session has the role's permissions (the user itself has none).
    client(trent, "kms", session).create_key(Description="made by a role session")
    with pytest.raises(ClientError) as e:
        client(trent, "kms", user_keys).create_key()
    assert error_of(e)[0] == "AccessDeniedException"
    # Without its session token the temporary key is not accepted.
    with pytest.raises(ClientError) as e:
        client(trent, "sts", Keys(session.access_key_id, session.secret_access_key)).get_caller_identity()
    assert error_of(e) == ("InvalidClientTokenId", 403)

    # Outside the trust policy: denied.
    other, other_keys = new_user_with_key(iam)
    with pytest.raises(ClientError) as e:
        client(trent, "sts", other_keys).assume_role(RoleArn=role["Arn"], RoleSessionName="sneaky")
    assert error_of(e) == ("AccessDenied", 403)
    # Longer than the role allows: refused.
    with pytest.raises(ClientError) as e:
        client(trent, "sts", user_keys).assume_role(RoleArn=role["Arn"], RoleSessionName="long", DurationSeconds=7201)
    assert error_of(e) == ("ValidationError", 400)
    # Session policies are not supported: refused, not ignored.
    with pytest.raises(ClientError) as e:
        client(trent, "sts", user_keys).assume_role(
            RoleArn=role["Arn"], RoleSessionName="scoped", Policy=json.dumps(KMS_ALL)
        )
    assert error_of(e) == ("ValidationError", 400)

    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role_name)
    assert error_of(e) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=role_name, PolicyName="kms")
    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=role_name)
    assert error_of(e) == ("NoSuchEntity", 404)


def test_role_errors(trent: TrentServer):
    iam = client(trent, "iam")
    name = unique("role")
    trust = json.dumps(trust_for(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    assert error_of(e) == ("EntityAlreadyExists", 409)
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument="{nope")
    assert error_of(e) == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName=name, PolicyName="bad", PolicyDocument="[]")
    assert error_of(e) == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName=name, PolicyName="absent")
    assert error_of(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=unique("ghost"))
    assert error_of(e) == ("NoSuchEntity", 404)
    iam.delete_role(RoleName=name)


def test_list_groups_for_user(trent: TrentServer):
    iam = client(trent, "iam")
    user, keys = new_user_with_key(iam)
    groups = sorted(unique("member-of") for _ in range(2))
    for name in groups:
        iam.create_group(GroupName=name)
        iam.add_user_to_group(GroupName=name, UserName=user)
    iam.create_group(GroupName=(other := unique("not-member")))
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == groups
    first = iam.list_groups_for_user(UserName=user, MaxItems=1)
    assert first["IsTruncated"] is True and len(first["Groups"]) == 1
    with pytest.raises(ClientError) as e:
        iam.list_groups_for_user(UserName=unique("ghost"))
    assert error_of(e) == ("NoSuchEntity", 404)
    # The user itself, without iam:ListGroupsForUser, may not list them.
    with pytest.raises(ClientError) as e:
        client(trent, "iam", keys).list_groups_for_user(UserName=user)
    assert error_of(e) == ("AccessDenied", 403)
    for name in groups:
        iam.remove_user_from_group(GroupName=name, UserName=user)
        iam.delete_group(GroupName=name)
    iam.delete_group(GroupName=other)


def test_list_roles_and_groups_page_by_path_and_need_their_permission(trent: TrentServer):
    iam = client(trent, "iam")
    prefix = f"/{unique('listed')}/"
    trust = json.dumps(trust_for(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    roles = sorted(unique("role") for _ in range(3))
    groups = sorted(unique("group") for _ in range(3))
    for name in roles:
        iam.create_role(RoleName=name, Path=prefix, AssumeRolePolicyDocument=trust)
    for name in groups:
        iam.create_group(GroupName=name, Path=prefix)
    outside = unique("role")
    iam.create_role(RoleName=outside, AssumeRolePolicyDocument=trust)
    listed = iam.list_roles(PathPrefix=prefix)
    assert [r["RoleName"] for r in listed["Roles"]] == roles and listed["IsTruncated"] is False
    assert listed["Roles"][0]["AssumeRolePolicyDocument"] == json.loads(trust)
    assert outside in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    first = iam.list_groups(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Groups"]) == 2
    second = iam.list_groups(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert [g["GroupName"] for g in first["Groups"] + second["Groups"]] == groups
    assert all(g["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group{prefix}{g['GroupName']}" for g in second["Groups"])
    paged = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate(
        PathPrefix=prefix, PaginationConfig={"PageSize": 1}) for r in page["Roles"]]
    assert paged == roles
    # A user without iam:ListRoles / iam:ListGroups sees neither.
    _, keys = new_user_with_key(iam)
    stranger = client(trent, "iam", keys)
    for call in (stranger.list_roles, stranger.list_groups):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("AccessDenied", 403)
    for name in [*roles, outside]:
        iam.delete_role(RoleName=name)
    for name in groups:
        iam.delete_group(GroupName=name)


# ----- groups ----------------------------------------------------------------------


def test_group_policy_grants_members(trent: TrentServer):
    iam = client(trent, "iam")
    group = unique("crypto")
    created = iam.create_group(GroupName=group)["Group"]
    assert created["GroupName"] == group and created["GroupId"].startswith("AGPA")
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/{group}"
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName=group)
    assert error_of(e) == ("EntityAlreadyExists", 409)

    user, keys = new_user_with_key(iam)
    kms = client(trent, "kms", keys)
    with pytest.raises(ClientError) as e:
        kms.create_key()
    assert error_of(e)[0] == "AccessDeniedException"

    iam.put_group_policy(GroupName=group, PolicyName="kms", PolicyDocument=json.dumps(KMS_ALL))
    assert iam.get_group_policy(GroupName=group, PolicyName="kms")["PolicyDocument"] == KMS_ALL
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["kms"]
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert got["Group"] == created
    assert [u["UserName"] for u in got["Users"]] == [user] and got["IsTruncated"] is False

    # Membership brings the group's policy.
    kms.create_key(Description="made by a group member")

    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=group)
    assert error_of(e) == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    assert iam.get_group(GroupName=group)["Users"] == []
    with pytest.raises(ClientError) as e:
        kms.create_key()
    assert error_of(e)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName=group, UserName=unique("ghost"))
    assert error_of(e) == ("NoSuchEntity", 404)

    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=group)
    assert error_of(e) == ("DeleteConflict", 409)  # its policy is still there
    iam.delete_group_policy(GroupName=group, PolicyName="kms")
    iam.delete_group(GroupName=group)
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName=group)
    assert error_of(e) == ("NoSuchEntity", 404)


# ----- the aws CLI -------------------------------------------------------------------


def test_cli_user_key_policy_and_assume_role(trent: TrentServer, aws, tmp_path):
    name = unique("cli")
    user = json.loads(aws("iam", "create-user", "--user-name", name))["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
    key = json.loads(aws("iam", "create-access-key", "--user-name", name))["AccessKey"]
    assert key["UserName"] == name
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(KMS_ALL))
    aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "kms", "--policy-document", f"file://{policy_file}")
    got = json.loads(aws("iam", "get-user-policy", "--user-name", name, "--policy-name", "kms"))
    assert got["PolicyDocument"] == KMS_ALL
    assert json.loads(aws("iam", "list-user-policies", "--user-name", name))["PolicyNames"] == ["kms"]
    listed = json.loads(aws("iam", "list-access-keys", "--user-name", name))["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]

    as_user = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=key["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
    )
    me = json.loads(run_aws("sts", "get-caller-identity", env=as_user))
    assert me["Arn"] == user["Arn"] and me["Account"] == ACCOUNT_ID
    key_id = json.loads(run_aws("kms", "create-key", env=as_user))["KeyMetadata"]["KeyId"]
    assert key_id

    role = unique("cli-role")
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(trust_for(user["Arn"])))
    role_arn = json.loads(
        aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", f"file://{trust_file}")
    )["Role"]["Arn"]
    assumed = json.loads(
        run_aws("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "cli-session", env=as_user)
    )
    creds = assumed["Credentials"]
    as_role = dict(
        as_user,
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
    )
    me = json.loads(run_aws("sts", "get-caller-identity", env=as_role))
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/cli-session"

    with pytest.raises(AwsCliError, match=r"\(NoSuchEntity\)"):
        aws("iam", "get-user", "--user-name", unique("nobody"))
    with pytest.raises(AwsCliError, match=r"\(DeleteConflict\)"):
        aws("iam", "delete-user", "--user-name", name)

    aws("iam", "delete-role", "--role-name", role)
    aws("iam", "delete-user-policy", "--user-name", name, "--policy-name", "kms")
    aws("iam", "delete-access-key", "--user-name", name, "--access-key-id", key["AccessKeyId"])
    aws("iam", "delete-user", "--user-name", name)
    with pytest.raises(AwsCliError, match=r"\(InvalidClientTokenId\)"):
        run_aws("sts", "get-caller-identity", env=as_user)


def test_cli_groups(trent: TrentServer, aws):
    group, user = unique("cli-grp"), unique("cli-member")
    aws("iam", "create-group", "--group-name", group)
    aws("iam", "create-user", "--user-name", user)
    aws("iam", "add-user-to-group", "--group-name", group, "--user-name", user)
    aws("iam", "put-group-policy", "--group-name", group, "--policy-name", "kms", "--policy-document", json.dumps(KMS_ALL))
    got = json.loads(aws("iam", "get-group", "--group-name", group))
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert json.loads(aws("iam", "get-group-policy", "--group-name", group, "--policy-name", "kms"))["PolicyDocument"] == KMS_ALL
    aws("iam", "remove-user-from-group", "--group-name", group, "--user-name", user)
    aws("iam", "delete-group-policy", "--group-name", group, "--policy-name", "kms")
    aws("iam", "delete-group", "--group-name", group)
    aws("iam", "delete-user", "--user-name", user)


# ----- the wire: XML shapes and Query-protocol errors -----------------------------------


def test_wire_create_user_response(trent: TrentServer):
    name = unique("wire")
    raw = query(trent, "iam", {"Action": "CreateUser", "Version": "2010-05-08", "UserName": name})
    assert raw.status == 200, raw.text
    assert raw.headers["Content-Type"].startswith("text/xml")
    root = raw.xml
    ns = f"{{{IAM_NS}}}"
    assert root.tag == f"{ns}CreateUserResponse"
    assert [child.tag for child in root] == [f"{ns}CreateUserResult", f"{ns}ResponseMetadata"]
    user = root.find(f"{ns}CreateUserResult/{ns}User")
    assert [child.tag for child in user] == [f"{ns}{t}" for t in ("Path", "UserName", "UserId", "Arn", "CreateDate")]
    assert user.findtext(f"{ns}UserName") == name
    created = user.findtext(f"{ns}CreateDate")
    assert len(created) == 20 and created[10] == "T" and created.endswith("Z")
    assert root.findtext(f"{ns}ResponseMetadata/{ns}RequestId") == raw.headers["x-amzn-RequestId"]

    # Actions without output answer with metadata only.
    raw = query(trent, "iam", {"Action": "DeleteUser", "Version": "2010-05-08", "UserName": name})
    assert raw.status == 200, raw.text
    assert [child.tag for child in raw.xml] == [f"{ns}ResponseMetadata"]
    assert raw.xml.tag == f"{ns}DeleteUserResponse"


def test_wire_sts_response(trent: TrentServer):
    raw = query(trent, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert raw.status == 200, raw.text
    ns = f"{{{STS_NS}}}"
    assert raw.xml.tag == f"{ns}GetCallerIdentityResponse"
    assert raw.xml.findtext(f"{ns}GetCallerIdentityResult/{ns}Account") == ACCOUNT_ID


def test_wire_errors(trent: TrentServer):
    v = "2010-05-08"
    error = assert_query_error(
        query(trent, "iam", {"Action": "Frobnicate", "Version": v}), IAM_NS, "InvalidAction", 400
    )
    assert "Frobnicate" in error.findtext(f"{{{IAM_NS}}}Message")
    # An STS action is not an IAM action, and the other way round.
    assert_query_error(query(trent, "iam", {"Action": "GetCallerIdentity", "Version": v}), IAM_NS, "InvalidAction", 400)
    assert_query_error(
        query(trent, "sts", {"Action": "ListUsers", "Version": "2011-06-15"}), STS_NS, "InvalidAction", 400
    )
    assert_query_error(query(trent, "iam", {"Version": v}), IAM_NS, "MissingAction", 400)
    error = assert_query_error(
        query(trent, "iam", {"Action": "CreateUser", "Version": v}), IAM_NS, "ValidationError", 400
    )
    assert "userName" in error.findtext(f"{{{IAM_NS}}}Message")
    assert_query_error(
        query(trent, "iam", {"Action": "GetUser", "Version": v, "UserName": unique("ghost")}),
        IAM_NS,
        "NoSuchEntity",
        404,
    )
    # Unsupported parameters are refused rather than ignored.
    error = assert_query_error(
        query(
            trent,
            "iam",
            {"Action": "CreateUser", "Version": v, "UserName": unique("t"), "PermissionsBoundary": "arn:aws:iam::aws:policy/X"},
        ),
        IAM_NS,
        "ValidationError",
        400,
    )
    assert "PermissionsBoundary" in error.findtext(f"{{{IAM_NS}}}Message")


def test_wire_authentication_errors(trent: TrentServer):
    params = {"Action": "ListUsers", "Version": "2010-05-08"}
    assert_query_error(query(trent, "iam", params, sign=False), IAM_NS, "MissingAuthenticationToken", 403)
    assert_query_error(
        query(trent, "iam", params, keys=Keys("AKIAUNKNOWNUNKNOWN00", "x" * 40)), IAM_NS, "InvalidClientTokenId", 403
    )
    assert_query_error(
        query(trent, "iam", params, keys=Keys(trent.access_key_id, "wrong-secret")), IAM_NS, "SignatureDoesNotMatch", 403
    )
    assert_query_error(
        query(trent, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, keys=Keys(trent.access_key_id, "bad")),
        STS_NS,
        "SignatureDoesNotMatch",
        403,
    )
    # Signed for KMS but sent as a Query request: the scope names the wrong service.
    assert_query_error(query(trent, "kms", params), IAM_NS, "SignatureDoesNotMatch", 403)
    # boto3 sees the Query codes.
    bad = client(trent, "iam", Keys("AKIAUNKNOWNUNKNOWN00", "x" * 40))
    with pytest.raises(ClientError) as e:
        bad.list_users()
    assert error_of(e) == ("InvalidClientTokenId", 403)


def test_kms_json_protocol_unaffected(trent: TrentServer, kms):
    # The KMS JSON protocol on the same endpoint still answers in JSON.
    assert "Keys" in kms.list_keys()
