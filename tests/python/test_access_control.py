"""Who may do what with a KMS key, end to end, as users drive it: IAM users,
groups and roles made with `aws iam`, keys and key policies made by the
account's root, and every KMS call checked with the aws CLI or boto3 under
the caller's own credentials.

Sections:
  1. the seeds' role separation (004, 001): a key manager and a key user
  2. IAM policies (user inline, group, explicit Deny)
  3. grants with encryption-context constraints; retire and revoke
  4. AssumeRole sessions
  5. cross-account use through the key policy (account 444455556666)
  6. conditions: aws:ResourceTag, kms:EncryptionContext:, kms:RequestAlias
  7. bad credentials and bad input

Every test makes its own uniquely named users and keys (section 1 uses the
seed's own names, once per session), so tests are independent of order.
Errors are asserted by their exact code: botocore's
`e.response["Error"]["Code"]`, and `(Code)` in the aws CLI's stderr.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, AwsCliError, TrentServer, run_aws, shell_env
from principals import (
    Keys,
    allow,
    client,
    default_root_statement,
    deny,
    error_code,
    expect_denied,
    expect_error,
    new_key,
    new_user,
    policy,
    root_keys,
    unique,
)

OTHER_ACCOUNT_ID = "444455556666"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"

# ============================================================================
# helpers
# ============================================================================


def env_for(keys: Keys) -> dict[str, str]:
    """The test environment (pointing at trent) with these credentials."""
    env = shell_env()
    env["AWS_ACCESS_KEY_ID"] = keys.access_key_id
    env["AWS_SECRET_ACCESS_KEY"] = keys.secret_access_key
    env.pop("AWS_SESSION_TOKEN", None)
    if keys.session_token is not None:
        env["AWS_SESSION_TOKEN"] = keys.session_token
    return env


def env_for_profile(credentials_file: Path, profile: str) -> dict[str, str]:
    """As after `aws configure --profile`: credentials come from a file."""
    env = shell_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials_file)
    env["AWS_PROFILE"] = profile
    return env


def cli(*args: str, env: dict[str, str] | None = None):
    """Runs `aws ...`; returns its JSON output parsed (None when empty)."""
    out = run_aws(*args, env=env)
    return json.loads(out) if out.strip() else None


def cli_error(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs `aws ...`, which must fail with `(code)` on stderr; returns the message."""
    with pytest.raises(AwsCliError) as e:
        run_aws(*args, env=env)
    message = str(e.value)
    assert f"({code})" in message, message
    return message


def cli_denied(*args: str, env: dict[str, str] | None = None) -> str:
    return cli_error("AccessDeniedException", *args, env=env)


def bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    """Runs a shell pipeline (seed style) with `set -euo pipefail`."""
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"script failed ({result.returncode}):\n{script}\nstderr:\n{result.stderr}"
    return result.stdout


def key_state(kms, key_id: str) -> dict:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]


# ============================================================================
# 1. role separation (seeds 004 and 001)
# ============================================================================

ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
USER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def console_key_policy(manager_arn: str, user_arn: str) -> dict:
    """What the AWS console writes for "Key administrators" and "Key users"."""
    return {
        "Id": "key-consolepolicy-3",
        "Version": "2012-10-17",
        "Statement": [
            default_root_statement(),
            {
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": manager_arn},
                "Action": ADMIN_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "Allow use of the key",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": USER_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "Allow attachment of persistent resources",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    }


@dataclass
class Separation:
    key_id: str
    key_arn: str
    alias: str
    key_policy: dict
    # CLI environments: profiles of one credentials file, as `aws configure` makes.
    manager: dict[str, str]
    user: dict[str, str]
    # boto3 clients with the same credentials.
    manager_kms: object
    user_kms: object
    root_kms: object
    workdir: Path


@pytest.fixture(scope="module")
def separation(trent: TrentServer, tmp_path_factory) -> Separation:
    """Seed 004's set-up: users MyKeyManager and MyKeyUser (made with the
    aws CLI) in myKMSGroup, whose policy lets members list keys and aliases
    (as the console needs), and the root's key with an alias, a tag and the
    console key policy naming the two users."""
    workdir = tmp_path_factory.mktemp("separation")
    root_iam, root_kms = client(trent, "iam", root_keys(trent)), client(trent, "kms", root_keys(trent))
    root_iam.create_group(GroupName="myKMSGroup")
    root_iam.put_group_policy(
        GroupName="myKMSGroup", PolicyName="kms-console", PolicyDocument=policy(allow(["kms:ListKeys", "kms:ListAliases"]))
    )
    sections, arns, keys = [], {}, {}
    for name in ("MyKeyManager", "MyKeyUser"):
        arns[name] = cli("iam", "create-user", "--user-name", name)["User"]["Arn"]
        created = cli("iam", "create-access-key", "--user-name", name)["AccessKey"]
        keys[name] = Keys(created["AccessKeyId"], created["SecretAccessKey"])
        root_iam.add_user_to_group(GroupName="myKMSGroup", UserName=name)
        sections.append(
            f"[{name}]\naws_access_key_id = {created['AccessKeyId']}\n"
            f"aws_secret_access_key = {created['SecretAccessKey']}\n"
        )
    credentials = workdir / "credentials"
    credentials.write_text("\n".join(sections))
    credentials.chmod(0o600)
    assert arns["MyKeyManager"] == f"arn:aws:iam::{ACCOUNT_ID}:user/MyKeyManager"

    key_policy = console_key_policy(arns["MyKeyManager"], arns["MyKeyUser"])
    meta = root_kms.create_key(
        Description="seed 004 role separation",
        Policy=json.dumps(key_policy),
        Tags=[{"TagKey": "UsedBy", "TagValue": "MyKeyUser"}],
    )["KeyMetadata"]
    alias = "alias/" + unique("role-separation")
    root_kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return Separation(
        key_id=meta["KeyId"],
        key_arn=meta["Arn"],
        alias=alias,
        key_policy=key_policy,
        manager=env_for_profile(credentials, "MyKeyManager"),
        user=env_for_profile(credentials, "MyKeyUser"),
        manager_kms=client(trent, "kms", keys["MyKeyManager"]),
        user_kms=client(trent, "kms", keys["MyKeyUser"]),
        root_kms=root_kms,
        workdir=workdir,
    )


def current_policy(kms, key_id: str) -> dict:
    return json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])


def test_separation_setup(trent: TrentServer, separation: Separation):
    s = separation
    group = client(trent, "iam", root_keys(trent)).get_group(GroupName="myKMSGroup")
    assert sorted(u["UserName"] for u in group["Users"]) == ["MyKeyManager", "MyKeyUser"]
    # The group policy: both list the aliases and see the key's.
    for env in (s.manager, s.user):
        aliases = cli("kms", "list-aliases", env=env)["Aliases"]
        assert [a["TargetKeyId"] for a in aliases if a["AliasName"] == s.alias] == [s.key_id]
    assert current_policy(s.root_kms, s.key_id) == s.key_policy
    assert s.user_kms.describe_key(KeyId=s.alias)["KeyMetadata"]["Arn"] == s.key_arn


def test_key_manager_administers_the_key(separation: Separation):
    s, env, kms = separation, separation.manager, separation.manager_kms
    key = ("--key-id", s.key_id)
    assert cli("kms", "describe-key", *key, env=env)["KeyMetadata"]["KeyState"] == "Enabled"
    assert current_policy(kms, s.key_id) == s.key_policy

    cli("kms", "disable-key", *key, env=env)
    assert key_state(kms, s.key_id)["KeyState"] == "Disabled"
    kms.enable_key(KeyId=s.key_id)

    scheduled = cli("kms", "schedule-key-deletion", *key, "--pending-window-in-days", "7", env=env)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    cancelled = cli("kms", "cancel-key-deletion", *key, env=env)
    assert cancelled["KeyId"] == s.key_arn
    # A cancelled deletion leaves the key disabled, as in AWS.
    meta = key_state(kms, s.key_id)
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    kms.enable_key(KeyId=s.key_id)

    kms.tag_resource(KeyId=s.key_id, Tags=[{"TagKey": "Owner", "TagValue": "security"}])
    tags = kms.list_resource_tags(KeyId=s.key_id)["Tags"]
    assert sorted((t["TagKey"], t["TagValue"]) for t in tags) == [("Owner", "security"), ("UsedBy", "MyKeyUser")]
    kms.untag_resource(KeyId=s.key_id, TagKeys=["Owner"])
    # Seed 004: "aws kms enable-key-rotation --key-id <your key name>".
    kms.enable_key_rotation(KeyId=s.key_id)
    assert kms.get_key_rotation_status(KeyId=s.key_id)["KeyRotationEnabled"] is True
    kms.update_key_description(KeyId=s.key_id, Description="seed 004 role separation")
    assert key_state(s.root_kms, s.key_id)["KeyState"] == "Enabled"


def test_key_manager_cannot_use_the_key(separation: Separation):
    s, env = separation, separation.manager
    (s.workdir / "manager.txt").write_text("Some text\n")
    message = cli_denied(
        "kms", "encrypt", "--key-id", s.alias, "--plaintext", f"fileb://{s.workdir / 'manager.txt'}", env=env
    )
    assert "kms:Encrypt" in message and "MyKeyManager" in message
    blob = s.user_kms.encrypt(KeyId=s.alias, Plaintext=b"Some text\n")["CiphertextBlob"]
    (s.workdir / "manager.enc").write_bytes(blob)
    cli_denied("kms", "decrypt", "--ciphertext-blob", f"fileb://{s.workdir / 'manager.enc'}", env=env)
    expect_denied(s.manager_kms.generate_data_key, KeyId=s.key_id, KeySpec="AES_256")
    expect_denied(s.manager_kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=s.key_id)


def test_key_user_uses_the_key_seed_001_pipeline(separation: Separation):
    s, kms = separation, separation.user_kms
    out = bash(
        f"""
        echo "super secret text" > MY_FILE.txt

        aws kms encrypt \\
            --key-id {s.alias} \\
            --plaintext fileb://MY_FILE.txt \\
            --output text \\
            --query CiphertextBlob \\
            | base64 --decode > MY_ENCRYPTED_FILE.enc

        aws kms decrypt \\
            --ciphertext-blob fileb://MY_ENCRYPTED_FILE.enc \\
            --output text \\
            --query Plaintext | base64 --decode > MY_DECRYPTED_FILE.txt

        aws kms re-encrypt \\
            --ciphertext-blob fileb://MY_ENCRYPTED_FILE.enc \\
            --destination-key-id {s.alias} \\
            --output text \\
            --query CiphertextBlob | base64 --decode > MY_REENCRYPTED_FILE.enc

        aws kms decrypt \\
            --ciphertext-blob fileb://MY_REENCRYPTED_FILE.enc \\
            --output text \\
            --query Plaintext | base64 --decode
        """,
        cwd=s.workdir,
        env=s.user,
    )
    assert out == "super secret text\n"
    assert (s.workdir / "MY_DECRYPTED_FILE.txt").read_text() == "super secret text\n"
    first, second = (s.workdir / "MY_ENCRYPTED_FILE.enc").read_bytes(), (s.workdir / "MY_REENCRYPTED_FILE.enc").read_bytes()
    assert first != second

    data_key = kms.generate_data_key(KeyId=s.alias, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32 and data_key["KeyId"] == s.key_arn
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    without = kms.generate_data_key_without_plaintext(KeyId=s.key_id, NumberOfBytes=16)
    assert "Plaintext" not in without and without["KeyId"] == s.key_arn
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 16


def test_key_user_cannot_administer_and_denials_change_nothing(separation: Separation):
    s, env, kms = separation, separation.user, separation.user_kms
    key = ("--key-id", s.key_id)
    before = key_state(kms, s.key_id)
    assert before["KeyState"] == "Enabled"

    message = cli_denied("kms", "disable-key", *key, env=env)
    assert "kms:DisableKey" in message
    cli_denied("kms", "schedule-key-deletion", *key, "--pending-window-in-days", "7", env=env)
    (s.workdir / "open-policy.json").write_text(policy(allow("kms:*", principal="*")))
    cli_denied(
        "kms", "put-key-policy", *key, "--policy-name", "default",
        "--policy", f"file://{s.workdir / 'open-policy.json'}", env=env,
    )  # fmt: skip
    expect_denied(kms.enable_key_rotation, KeyId=s.key_id)
    expect_denied(kms.tag_resource, KeyId=s.key_id, Tags=[{"TagKey": "UsedBy", "TagValue": "nobody"}])
    expect_denied(kms.update_key_description, KeyId=s.key_id, Description="hijacked")
    # The console's grant statement only lets AWS services create grants
    # (kms:GrantIsForAWSResource is true only for them), not the user itself.
    expect_denied(
        kms.create_grant, KeyId=s.key_id, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:user/MyKeyUser", Operations=["Decrypt"]
    )

    after = key_state(s.root_kms, s.key_id)
    assert after["KeyState"] == "Enabled" and after["Enabled"] is True and "DeletionDate" not in after
    assert after["Description"] == before["Description"]
    assert current_policy(s.root_kms, s.key_id) == s.key_policy
    tags = s.root_kms.list_resource_tags(KeyId=s.key_id)["Tags"]
    assert [(t["TagKey"], t["TagValue"]) for t in tags] == [("UsedBy", "MyKeyUser")]
    assert s.root_kms.list_grants(KeyId=s.key_id)["Grants"] == []


# ============================================================================
# 2. IAM policies
# ============================================================================


def test_user_policy_allows_exactly_what_it_names(trent: TrentServer, tmp_path):
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms)
    other_id, _ = new_key(kms)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"made by root")["CiphertextBlob"]
    name, _, keys = new_user(iam)
    as_user = env_for(keys)
    (tmp_path / "p.txt").write_bytes(b"hello")
    encrypt = ("kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'p.txt'}")

    # No policy at all: denied, though the default key policy delegates to IAM.
    message = cli_denied(*encrypt, env=as_user)
    assert "no identity-based policy allows the kms:Encrypt action" in message

    (tmp_path / "encrypt-only.json").write_text(policy(allow("kms:Encrypt", key_arn)))
    cli(
        "iam", "put-user-policy", "--user-name", name, "--policy-name", "encrypt-only",
        "--policy-document", f"file://{tmp_path / 'encrypt-only.json'}",
    )  # fmt: skip
    assert cli(*encrypt, env=as_user)["KeyId"] == key_arn
    user_kms = client(trent, "kms", keys)
    expect_denied(user_kms.decrypt, CiphertextBlob=blob)
    expect_denied(user_kms.encrypt, KeyId=other_id, Plaintext=b"x")  # another key
    expect_denied(user_kms.describe_key, KeyId=key_id)
    expect_denied(user_kms.generate_data_key, KeyId=key_id, KeySpec="AES_256")


def test_explicit_deny_in_group_policy_beats_user_allow(trent: TrentServer):
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms)
    name, _, keys = new_user(iam)
    iam.put_user_policy(UserName=name, PolicyName="use", PolicyDocument=policy(allow(["kms:Encrypt", "kms:Decrypt"], key_arn)))
    user_kms = client(trent, "kms", keys)
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"

    group = unique("no-decrypt")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="deny", PolicyDocument=policy(deny("kms:Decrypt")))
    iam.add_user_to_group(GroupName=group, UserName=name)
    error = expect_denied(user_kms.decrypt, CiphertextBlob=blob)
    assert user_kms.encrypt(KeyId=key_id, Plaintext=b"still fine")["KeyId"] == key_arn

    iam.remove_user_from_group(GroupName=group, UserName=name)
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    # AWS's wording for an explicit deny (IAM's "Troubleshoot access denied
    # error messages": "... with an explicit deny in an identity-based policy").
    assert "with an explicit deny in an identity-based policy" in error.response["Error"]["Message"]


def test_explicit_deny_in_key_policy_beats_iam_allow(trent: TrentServer):
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    name, user_arn, keys = new_user(iam)
    key_policy = policy(
        default_root_statement(),
        {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "kms:Decrypt", "Resource": "*"},
    )
    key_id, key_arn = new_key(kms, Policy=key_policy)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=policy(allow("kms:*", key_arn)))
    user_kms = client(trent, "kms", keys)
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    error = expect_denied(user_kms.decrypt, CiphertextBlob=blob)
    assert "with an explicit deny in a resource-based policy" in error.response["Error"]["Message"]


# ============================================================================
# 3. grants
# ============================================================================


@pytest.fixture
def grant_setup(trent: TrentServer):
    """The root's key and a user with no policy at all."""
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms)
    name, user_arn, keys = new_user(iam)
    return kms, iam, key_id, key_arn, name, user_arn, client(trent, "kms", keys)


def test_grant_with_context_subset_then_retired_by_its_retiring_principal(grant_setup):
    kms, iam, key_id, key_arn, name, user_arn, user_kms = grant_setup
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "test"})

    grant = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=user_arn,
        RetiringPrincipal=user_arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"purpose": "test"}},
    )
    [listed] = kms.list_grants(KeyId=key_id)["Grants"]
    assert listed["GrantId"] == grant["GrantId"] and listed["GranteePrincipal"] == user_arn
    assert listed["RetiringPrincipal"] == user_arn and listed["KeyId"] == key_arn
    assert sorted(listed["Operations"]) == ["Decrypt", "Encrypt"]
    assert listed["Constraints"] == {"EncryptionContextSubset": {"purpose": "test"}}

    # Matching context (a superset is fine for EncryptionContextSubset).
    context = {"purpose": "test"}
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"granted", EncryptionContext=context)["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"granted"
    user_kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "test", "extra": "1"})
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "other"})
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x")
    # Operations outside the grant stay denied.
    expect_denied(user_kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    expect_denied(user_kms.describe_key, KeyId=key_id)

    # ListRetirableGrants needs kms:ListRetirableGrants in an IAM policy.
    expect_denied(user_kms.list_retirable_grants, RetiringPrincipal=user_arn)
    iam.put_user_policy(UserName=name, PolicyName="retirable", PolicyDocument=policy(allow("kms:ListRetirableGrants")))
    [retirable] = user_kms.list_retirable_grants(RetiringPrincipal=user_arn)["Grants"]
    assert retirable["GrantId"] == grant["GrantId"] and retirable["KeyId"] == key_arn

    user_kms.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    assert user_kms.list_retirable_grants(RetiringPrincipal=user_arn)["Grants"] == []
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext=context)
    expect_denied(user_kms.decrypt, CiphertextBlob=blob, EncryptionContext=context)


def test_grant_revoked_by_root(grant_setup):
    kms, _, key_id, _, _, user_arn, user_kms = grant_setup
    grant_id = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Encrypt"])["GrantId"]
    user_kms.encrypt(KeyId=key_id, Plaintext=b"x")
    # The grantee may not revoke (no kms:RevokeGrant), nor retire: it is not
    # the retiring principal and the grant does not include RetireGrant.
    expect_denied(user_kms.revoke_grant, KeyId=key_id, GrantId=grant_id)
    expect_denied(user_kms.retire_grant, KeyId=key_id, GrantId=grant_id)
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [grant_id]

    kms.revoke_grant(KeyId=key_id, GrantId=grant_id)
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x")
    expect_error("NotFoundException", kms.revoke_grant, KeyId=key_id, GrantId=grant_id)


SERVICE = "backup.amazonaws.com"
SOURCE = f"arn:aws:backup:us-east-1:{ACCOUNT_ID}:backup-vault:vault"


def test_grant_for_a_service_principal_with_boto3_and_the_cli(grant_setup, trent: TrentServer):
    kms, _, key_id, key_arn, _, _, _ = grant_setup
    grant = kms.create_grant(
        KeyId=key_id,
        GranteeServicePrincipal=SERVICE,
        RetiringServicePrincipal=SERVICE,
        Operations=["Decrypt", "GenerateDataKey"],
        Constraints={"SourceArn": SOURCE},
    )
    [listed] = cli("kms", "list-grants", "--key-id", key_id, env=env_for(root_keys(trent)))["Grants"]
    assert listed["GrantId"] == grant["GrantId"] and listed["KeyId"] == key_arn
    assert listed["GranteeServicePrincipal"] == SERVICE and listed["RetiringServicePrincipal"] == SERVICE
    assert "GranteePrincipal" not in listed and "RetiringPrincipal" not in listed
    assert listed["Constraints"] == {"SourceArn": SOURCE}
    # The model's rules: a SourceArn and a retiring principal; one grantee.
    for bad in (
        {"GranteeServicePrincipal": SERVICE, "RetiringServicePrincipal": SERVICE},
        {"GranteeServicePrincipal": SERVICE, "Constraints": {"SourceArn": SOURCE}},
        {"GranteeServicePrincipal": SERVICE, "GranteePrincipal": f"arn:aws:iam::{ACCOUNT_ID}:root",
         "RetiringServicePrincipal": SERVICE, "Constraints": {"SourceArn": SOURCE}},
    ):
        expect_error("ValidationException", kms.create_grant, KeyId=key_id, Operations=["Decrypt"], **bad)
    # The service principal filters are only for callers in a service
    # principal.
    expect_denied(kms.list_grants, KeyId=key_id, GranteeServicePrincipal=SERVICE)
    expect_denied(kms.list_retirable_grants, RetiringServicePrincipal=SERVICE)
    kms.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


def test_source_arn_grant_gives_a_direct_caller_nothing(grant_setup):
    kms, _, key_id, _, _, user_arn, user_kms = grant_setup
    grant = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=user_arn,
        Operations=["Encrypt", "DescribeKey", "RetireGrant"],
        Constraints={"SourceArn": SOURCE},
    )
    [listed] = kms.list_grants(KeyId=key_id)["Grants"]
    assert listed["Constraints"] == {"SourceArn": SOURCE}
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", GrantTokens=[grant["GrantToken"]])
    expect_denied(user_kms.describe_key, KeyId=key_id, GrantTokens=[grant["GrantToken"]])
    # RetireGrant is not subject to the constraint.
    user_kms.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


# ============================================================================
# 4. AssumeRole
# ============================================================================


def test_assumed_role_session_has_the_roles_permissions(trent: TrentServer, tmp_path):
    root = root_keys(trent)
    iam, kms = client(trent, "iam", root), client(trent, "kms", root)
    key_id, key_arn = new_key(kms)
    _, user_arn, user_keys = new_user(iam)
    role = unique("encryptor")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"})
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="encrypt", PolicyDocument=policy(allow("kms:Encrypt", key_arn)))

    as_user = env_for(user_keys)
    (tmp_path / "p.txt").write_bytes(b"role data")
    encrypt = ("kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'p.txt'}")
    # The user itself has no KMS permission.
    expect_denied(client(trent, "kms", user_keys).encrypt, KeyId=key_id, Plaintext=b"x")
    creds = cli("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "batch-job", env=as_user)["Credentials"]
    session = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    as_role = env_for(session)

    me = cli("sts", "get-caller-identity", env=as_role)
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/batch-job"
    assert me["Account"] == ACCOUNT_ID
    blob = base64.b64decode(cli(*encrypt, env=as_role)["CiphertextBlob"])
    (tmp_path / "p.enc").write_bytes(blob)
    message = cli_denied("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'p.enc'}", env=as_role)
    assert f"assumed-role/{role}/batch-job" in message
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"role data"

    # A session token changed by one character is no token at all.
    token = session.session_token
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    bad = env_for(Keys(session.access_key_id, session.secret_access_key, tampered))
    cli_error("InvalidClientTokenId", "sts", "get-caller-identity", env=bad)
    cli_error("UnrecognizedClientException", *encrypt, env=bad)


# ============================================================================
# 5. cross-account
# ============================================================================


def test_cross_account_use_needs_key_policy_and_iam_policy(trent: TrentServer, trent_account, tmp_path):
    b_root = Keys(*trent_account(OTHER_ACCOUNT_ID))
    b_env = env_for(b_root)
    assert client(trent, "sts", b_root).get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT_ID}:root"

    kms = client(trent, "kms", root_keys(trent))
    shared_id, shared_arn = new_key(
        kms,
        Description="shared with 444455556666",
        Policy=policy(
            default_root_statement(),
            {
                "Sid": "Allow use of the key by account B",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT_ID}:root"},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
            },
        ),
    )
    private_id, private_arn = new_key(kms, Description="not shared")

    # Account B's root makes a user with the aws CLI.
    name = unique("b-user")
    user = cli("iam", "create-user", "--user-name", name, env=b_env)["User"]
    assert user["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT_ID}:user/{name}"
    key = cli("iam", "create-access-key", "--user-name", name, env=b_env)["AccessKey"]
    b_user = client(trent, "kms", Keys(key["AccessKeyId"], key["SecretAccessKey"]))

    expect_denied(b_user.encrypt, KeyId=shared_arn, Plaintext=b"x")  # no IAM policy in B

    client(trent, "iam", b_root).put_user_policy(
        UserName=name, PolicyName="use-shared-key", PolicyDocument=policy(allow("kms:Encrypt", [shared_arn, private_arn]))
    )
    blob = b_user.encrypt(KeyId=shared_arn, Plaintext=b"from account B")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from account B"
    # A bare key id names a key of the caller's own account.
    expect_error("NotFoundException", b_user.encrypt, KeyId=shared_id, Plaintext=b"x")
    # IAM allows only Encrypt; the key policy does not name account B here.
    expect_denied(b_user.decrypt, CiphertextBlob=blob)
    expect_denied(b_user.encrypt, KeyId=private_arn, Plaintext=b"x")
    # Nor do B's users see A's keys in listings.
    assert private_id not in {k["KeyId"] for k in client(trent, "kms", b_root).list_keys()["Keys"]}

    # B's root has every permission within B, so the key policy alone lets it in.
    b_root_kms = client(trent, "kms", b_root)
    assert b_root_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from account B"
    expect_denied(b_root_kms.encrypt, KeyId=private_arn, Plaintext=b"x")
    expect_denied(b_root_kms.describe_key, KeyId=shared_arn)  # not in the key policy's list


# ============================================================================
# 6. conditions
# ============================================================================


def user_with_policy(trent: TrentServer, document: str):
    """A new user whose only permission is `document`; its boto3 KMS client."""
    iam = client(trent, "iam", root_keys(trent))
    name, _, keys = new_user(iam)
    iam.put_user_policy(UserName=name, PolicyName="abac", PolicyDocument=document)
    return client(trent, "kms", keys)


def test_abac_resource_tag(trent: TrentServer):
    kms = client(trent, "kms", root_keys(trent))
    payments, _ = new_key(kms, Tags=[{"TagKey": "team", "TagValue": "payments"}])
    other, _ = new_key(kms, Tags=[{"TagKey": "team", "TagValue": "other"}])
    untagged, _ = new_key(kms)
    user_kms = user_with_policy(
        trent, policy(allow("kms:Encrypt", condition={"StringEquals": {"aws:ResourceTag/team": "payments"}}))
    )
    user_kms.encrypt(KeyId=payments, Plaintext=b"x")
    expect_denied(user_kms.encrypt, KeyId=other, Plaintext=b"x")
    expect_denied(user_kms.encrypt, KeyId=untagged, Plaintext=b"x")
    # The tag is read at request time: retagging moves the key in or out.
    kms.tag_resource(KeyId=other, Tags=[{"TagKey": "team", "TagValue": "payments"}])
    user_kms.encrypt(KeyId=other, Plaintext=b"x")
    kms.untag_resource(KeyId=payments, TagKeys=["team"])
    expect_denied(user_kms.encrypt, KeyId=payments, Plaintext=b"x")


def test_condition_on_encryption_context(trent: TrentServer):
    kms = client(trent, "kms", root_keys(trent))
    key_id, key_arn = new_key(kms)
    user_kms = user_with_policy(
        trent, policy(allow("kms:Encrypt", key_arn, condition={"StringEquals": {"kms:EncryptionContext:purpose": "test"}}))
    )
    user_kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "test"})
    user_kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "test", "other": "y"})
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "other"})
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"team": "test"})
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x")


def test_condition_on_request_alias(trent: TrentServer):
    kms = client(trent, "kms", root_keys(trent))
    key_id, key_arn = new_key(kms)
    alias, second_alias = "alias/" + unique("abac"), "alias/" + unique("abac-other")
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    kms.create_alias(AliasName=second_alias, TargetKeyId=key_id)
    user_kms = user_with_policy(
        trent, policy(allow("kms:Encrypt", condition={"StringEquals": {"kms:RequestAlias": alias}}))
    )
    assert user_kms.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == key_arn
    expect_denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x")
    expect_denied(user_kms.encrypt, KeyId=key_arn, Plaintext=b"x")
    expect_denied(user_kms.encrypt, KeyId=second_alias, Plaintext=b"x")  # same key, other alias


# ============================================================================
# 7. bad credentials and bad input
# ============================================================================


def test_inactive_and_deleted_access_keys_are_unrecognized(trent: TrentServer):
    iam = client(trent, "iam", root_keys(trent))
    name, _, keys = new_user(iam)
    user_kms = client(trent, "kms", keys)
    expect_denied(user_kms.list_keys)  # recognized, but without permission

    cli("iam", "update-access-key", "--user-name", name, "--access-key-id", keys.access_key_id, "--status", "Inactive")
    cli_error("UnrecognizedClientException", "kms", "list-keys", env=env_for(keys))
    expect_error("UnrecognizedClientException", user_kms.list_keys)
    iam.update_access_key(UserName=name, AccessKeyId=keys.access_key_id, Status="Active")
    expect_denied(user_kms.list_keys)

    iam.delete_access_key(UserName=name, AccessKeyId=keys.access_key_id)
    expect_error("UnrecognizedClientException", user_kms.list_keys)


def test_signature_with_another_secret(trent: TrentServer):
    iam = client(trent, "iam", root_keys(trent))
    _, _, keys = new_user(iam)
    _, _, other = new_user(iam)
    forged = client(trent, "kms", Keys(keys.access_key_id, other.secret_access_key))
    expect_error("InvalidSignatureException", forged.list_keys)
    root_forged = client(trent, "kms", Keys(trent.access_key_id, other.secret_access_key))
    expect_error("InvalidSignatureException", root_forged.create_key)


@pytest.mark.parametrize(
    "document",
    [
        # An element a policy does not have.
        {"Version": "2012-10-17", "Statement": [default_root_statement()], "Owner": "me"},
        # A misspelt statement element ("Actions").
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Actions": "kms:*", "Resource": "*"}],
        },
        # Principal of an unknown type.
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Robot": ROOT_ARN}, "Action": "kms:*", "Resource": "*"}],
        },
    ],
    ids=["unknown-policy-element", "unknown-statement-element", "unknown-principal-type"],
)
def test_put_key_policy_with_unknown_elements(trent: TrentServer, document: dict):
    kms = client(trent, "kms", root_keys(trent))
    key_id, _ = new_key(kms)
    before = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    expect_error(
        "MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy=json.dumps(document)
    )
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == before


def test_create_grant_for_a_principal_that_does_not_exist(trent: TrentServer):
    kms = client(trent, "kms", root_keys(trent))
    key_id, _ = new_key(kms)
    allowed = {
        shape.name
        for shape in botocore.session.get_session().get_service_model("kms").operation_model("CreateGrant").error_shapes
    } | {"ValidationException"}
    ghost = f"arn:aws:iam::{ACCOUNT_ID}:user/{unique('ghost')}"
    with pytest.raises(ClientError) as e:
        kms.create_grant(KeyId=key_id, GranteePrincipal=ghost, Operations=["Encrypt"])
    assert error_code(e) in allowed, e.value.response
    assert error_code(e) != "KMSInternalException"
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
