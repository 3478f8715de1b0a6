"""Helpers the access-control tests share: callers with their own
credentials, policies, and the errors a denied call gets."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, REGION, TrentServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def root_keys(trent: TrentServer) -> Keys:
    return Keys(trent.access_key_id, trent.secret_access_key)


def client(trent: TrentServer, service: str, keys: Keys, config=None):
    """A boto3 client on trent with exactly these credentials."""
    session = boto3.Session(
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=trent.url, config=config)


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def expect_error(code: str, call, *args, **kwargs) -> ClientError:
    """Runs a boto3 call that must fail with `code`; returns the error."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert error_code(e) == code, e.value.response
    return e.value


def expect_denied(call, *args, **kwargs) -> ClientError:
    return expect_error("AccessDeniedException", call, *args, **kwargs)


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*", condition: dict | None = None, principal: str | list | None = None) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if principal is not None:
        statement["Principal"] = {"AWS": principal}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def deny(actions, resource="*") -> dict:
    return {"Effect": "Deny", "Action": actions, "Resource": resource}


def default_root_statement(account: str = ACCOUNT_ID) -> dict:
    """The statement of the default key policy (and of the console's)."""
    return {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def new_user(iam, account: str = ACCOUNT_ID) -> tuple[str, str, Keys]:
    """A user with one access key and no policy: (name, arn, keys)."""
    name = unique("user")
    iam.create_user(UserName=name)
    created = iam.create_access_key(UserName=name)["AccessKey"]
    return name, f"arn:aws:iam::{account}:user/{name}", Keys(created["AccessKeyId"], created["SecretAccessKey"])


def new_key(kms, **kwargs) -> tuple[str, str]:
    """(key id, key ARN) of a new key made by `kms`'s caller."""
    meta = kms.create_key(**kwargs)["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]
