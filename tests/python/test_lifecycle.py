"""Key lifecycle through boto3 and the aws CLI: paging over many keys,
rotation on demand with every material version still decrypting, and
deletion at the deletion date with a moved clock (the server runs with
--unsafe-test-clock; nothing here sleeps)."""

import json
import urllib.request

import boto3
import pytest

from conftest import run_aws

KEYS = 2500


def client(server, service="kms"):
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
    )


def advance(server, seconds: int) -> dict:
    request = urllib.request.Request(f"{server.url}/_trent/clock/advance?seconds={seconds}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def many_keys(tmp_path_factory):
    """A server of its own with 2,500 keys (fresh, so counts are exact)."""
    from conftest import run_trent

    # Made as fast as the server takes them: CreateKey's request quota
    # (50 a second by default) is raised for this server.
    with run_trent(extra_args=("--request-quota", "CreateKey=100000")) as server:
        kms = client(server)
        ids = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(KEYS)}
        yield server, ids


def test_boto3_paginator_walks_every_key_once(many_keys):
    server, ids = many_keys
    kms = client(server)
    seen = []
    pages = 0
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1000}):
        pages += 1
        seen.extend(k["KeyId"] for k in page["Keys"])
    assert pages == 3
    assert len(seen) == KEYS and set(seen) == ids


def test_default_page_is_100_and_markers_resume(many_keys):
    server, _ = many_keys
    kms = client(server)
    first = kms.list_keys()
    assert len(first["Keys"]) == 100 and first["Truncated"] is True
    second = kms.list_keys(Marker=first["NextMarker"], Limit=1000)
    assert len(second["Keys"]) == 1000
    assert not {k["KeyId"] for k in first["Keys"]} & {k["KeyId"] for k in second["Keys"]}
    # One character changed in the middle: always other bytes (the last
    # ones may already read as the replacement, or carry only padding bits).
    marker = first["NextMarker"]
    middle = len(marker) // 2
    changed = marker[:middle] + ("B" if marker[middle] == "A" else "A") + marker[middle + 1 :]
    with pytest.raises(kms.exceptions.InvalidMarkerException):
        kms.list_keys(Marker=changed)


def test_aws_cli_lists_all_keys(many_keys):
    server, ids = many_keys
    env = server.client_env()
    out = json.loads(run_aws("kms", "list-keys", "--page-size", "700", env=env))
    listed = [k["KeyId"] for k in out["Keys"]]
    assert len(listed) == KEYS and set(listed) == ids


def test_rotation_and_deletion_with_a_moved_clock(start_trent):
    server = start_trent(extra_args=("--unsafe-test-clock",))
    kms = client(server)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blobs = [kms.encrypt(KeyId=key_id, Plaintext=b"v1")["CiphertextBlob"]]
    kms.rotate_key_on_demand(KeyId=key_id)
    blobs.append(kms.encrypt(KeyId=key_id, Plaintext=b"v2")["CiphertextBlob"])
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    assert advance(server, 91 * 86400)["processed"] == 1
    blobs.append(kms.encrypt(KeyId=key_id, Plaintext=b"v3")["CiphertextBlob"])
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND", "AUTOMATIC"]
    for blob, text in zip(blobs, [b"v1", b"v2", b"v3"]):
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == text

    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    advance(server, 8 * 86400)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=key_id)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.decrypt(CiphertextBlob=blobs[0])


def test_a_disabled_hmac_keys_rotation_is_disabled_exception(kms):
    """Issue 17: AWS's order, the key's state before its type."""
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(kms.exceptions.DisabledException):
        kms.rotate_key_on_demand(KeyId=key_id)


def test_key_material_ids_in_responses_as_aws_sends_them(kms):
    """Issue 17: symmetric Decrypt, GenerateDataKey(*), GenerateDataKeyPair(*)
    and ReEncrypt name the key material they used; keys without key material
    ids (HMAC, asymmetric) show no CurrentKeyMaterialId, and an RSA Decrypt
    names none."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    first = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    second = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert len({first, second}) == 2 and len(second) == 64
    assert kms.decrypt(CiphertextBlob=blob)["KeyMaterialId"] == first
    assert kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["KeyMaterialId"] == second
    assert kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")["KeyMaterialId"] == second
    pair = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    assert pair["KeyMaterialId"] == second
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id)
    assert (moved["SourceKeyMaterialId"], moved["DestinationKeyMaterialId"]) == (first, second)
    for spec, usage in (("HMAC_256", "GENERATE_VERIFY_MAC"), ("RSA_2048", "ENCRYPT_DECRYPT")):
        meta = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
        assert "CurrentKeyMaterialId" not in kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    rsa = meta["KeyId"]
    sealed = kms.encrypt(KeyId=rsa, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    opened = kms.decrypt(KeyId=rsa, CiphertextBlob=sealed, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert "KeyMaterialId" not in opened


def test_alias_moves_and_goes_rotation_stops_and_policy_names_with_boto3_and_the_cli(trent, kms):
    """UpdateAlias, DeleteAlias, DisableKeyRotation and ListKeyPolicies,
    with boto3 and the aws CLI."""
    import os
    import uuid

    env = {**os.environ, **trent.client_env()}
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = "alias/moving-" + uuid.uuid4().hex[:8]
    kms.create_alias(AliasName=alias, TargetKeyId=first)
    run_aws("kms", "update-alias", "--alias-name", alias, "--target-key-id", second, env=env)
    blob = kms.encrypt(KeyId=alias, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"].endswith(second)
    [listed] = kms.list_aliases(KeyId=second)["Aliases"]
    assert listed["AliasName"] == alias and listed["TargetKeyId"] == second
    assert kms.list_aliases(KeyId=first)["Aliases"] == []
    kms.delete_alias(AliasName=alias)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=alias)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.delete_alias(AliasName=alias)

    kms.enable_key_rotation(KeyId=second)
    assert kms.get_key_rotation_status(KeyId=second)["KeyRotationEnabled"] is True
    run_aws("kms", "disable-key-rotation", "--key-id", second, env=env)
    assert kms.get_key_rotation_status(KeyId=second)["KeyRotationEnabled"] is False

    policies = kms.list_key_policies(KeyId=second)
    assert policies["PolicyNames"] == ["default"] and policies["Truncated"] is False
    # (The aws CLI pages through the list itself and shows no Truncated.)
    listed = json.loads(run_aws("kms", "list-key-policies", "--key-id", second, env=env))
    assert listed["PolicyNames"] == ["default"]
