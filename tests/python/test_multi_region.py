"""Multi-Region keys with boto3 clients of two Regions (us-east-1 and
eu-west-1) on one server: CreateKey MultiRegion, ReplicateKey, DescribeKey's
MultiRegionConfiguration in both Regions, a ciphertext of one Region opened
in the other, a primary's rotation reaching its replica, UpdatePrimaryRegion,
and the refusals (a replica's rotation, another account, a single-Region
key's ciphertext in another Region, an alias of one Region in the other);
imported material (Origin EXTERNAL) imported into each related key.
"""

from __future__ import annotations

import datetime
import json
import os

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import audit_export, exported_by_request_id
from test_import import import_material

WEST = "eu-west-1"


def client_in(trent, region: str, access_key: str | None = None, secret: str | None = None):
    return boto3.client(
        "kms",
        endpoint_url=trent.url,
        region_name=region,
        aws_access_key_id=access_key or trent.access_key_id,
        aws_secret_access_key=secret or trent.secret_access_key,
    )


def error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def test_replicate_describe_and_decrypt_across_regions(trent, kms):
    west = client_in(trent, WEST)
    primary = kms.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    key_id = primary["KeyId"]
    assert key_id.startswith("mrk-") and len(key_id) == 36
    assert primary["MultiRegion"] is True
    assert primary["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"

    replicated = kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST, Tags=[{"TagKey": "t", "TagValue": "v"}])
    replica = replicated["ReplicaKeyMetadata"]
    assert replica["KeyId"] == key_id
    assert replica["Arn"] == f"arn:aws:kms:{WEST}:{trent.account_id}:key/{key_id}"
    assert replicated["ReplicaTags"] == [{"TagKey": "t", "TagValue": "v"}]

    for client, kind in ((kms, "PRIMARY"), (west, "REPLICA")):
        config = client.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
        assert config["MultiRegionKeyType"] == kind
        assert config["PrimaryKey"]["Region"] == trent.region
        assert [r["Region"] for r in config["ReplicaKeys"]] == [WEST]

    blob = kms.encrypt(KeyId=key_id, Plaintext=b"across")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
    assert west.decrypt(CiphertextBlob=blob, KeyId=key_id)["Plaintext"] == b"across"
    data_key = west.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]

    assert error_code(kms.replicate_key, KeyId=key_id, ReplicaRegion=WEST) == "AlreadyExistsException"
    assert error_code(west.enable_key_rotation, KeyId=key_id) == "UnsupportedOperationException"


def test_rotation_and_primary_region_move(trent, kms):
    west = client_in(trent, WEST)
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    before = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    after = kms.encrypt(KeyId=key_id, Plaintext=b"new")
    opened = west.decrypt(CiphertextBlob=after["CiphertextBlob"])
    assert opened["Plaintext"] == b"new"
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert opened["KeyMaterialId"] == current
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == current
    assert west.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
    assert error_code(west.rotate_key_on_demand, KeyId=key_id) == "UnsupportedOperationException"

    kms.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    config = west.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "PRIMARY"
    assert [r["Region"] for r in config["ReplicaKeys"]] == [trent.region]
    west.rotate_key_on_demand(KeyId=key_id)
    blob = west.encrypt(KeyId=key_id, Plaintext=b"moved")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"moved"


def test_what_stays_in_its_region_and_account(trent, kms, trent_account):
    west = client_in(trent, WEST)
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    # Aliases are regional.
    alias = f"alias/mrk-{key_id[-8:]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    assert error_code(west.describe_key, KeyId=alias) == "NotFoundException"
    # A single-Region key's ciphertext does not open in another Region.
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=single, Plaintext=b"home")["CiphertextBlob"]
    assert error_code(west.decrypt, CiphertextBlob=blob) == "InvalidCiphertextException"
    # Another account cannot replicate or move the primary.
    access_key, secret = trent_account("777788889999")
    other = client_in(trent, trent.region, access_key, secret)
    arn = f"arn:aws:kms:{trent.region}:{trent.account_id}:key/{key_id}"
    assert error_code(other.replicate_key, KeyId=arn, ReplicaRegion="ap-south-1") == "AccessDeniedException"
    assert error_code(other.update_primary_region, KeyId=arn, PrimaryRegion=WEST) == "AccessDeniedException"


def test_the_trail_records_replicate_key_and_update_primary_region(trent, kms):
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    replicated = kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST, Description="not recorded in full")
    moved = kms.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    ids = {replicated["ResponseMetadata"]["RequestId"], moved["ResponseMetadata"]["RequestId"]}
    events = exported_by_request_id(trent.data_dir, ids)
    arn = f"arn:aws:kms:{trent.region}:{trent.account_id}:key/{key_id}"
    by_name = {e["eventName"]: e for e in events.values()}
    assert by_name["ReplicateKey"]["requestParameters"]["replicaRegion"] == WEST
    assert by_name["ReplicateKey"]["requestParameters"]["keyId"] == key_id
    assert by_name["UpdatePrimaryRegion"]["requestParameters"] == {"keyId": key_id, "primaryRegion": WEST}
    for event in events.values():
        assert [r["ARN"] for r in event["resources"]] == [arn]
    # ReplicateKey is also a CreateKey of the replica, in the replica's
    # Region.
    replica_arn = f"arn:aws:kms:{WEST}:{trent.account_id}:key/{key_id}"
    [created] = [
        e
        for e in audit_export(trent.data_dir)
        if e.get("requestID") == replicated["ResponseMetadata"]["RequestId"] and e["eventName"] == "CreateKey"
    ]
    assert created["awsRegion"] == WEST
    assert [r["ARN"] for r in created["resources"]] == [replica_arn]
    assert created["userIdentity"] == by_name["ReplicateKey"]["userIdentity"]


def test_imported_material_is_imported_into_each_related_key(trent, kms, trent_account):
    west = client_in(trent, WEST)
    key_id = kms.create_key(Origin="EXTERNAL", MultiRegion=True)["KeyMetadata"]["KeyId"]
    assert key_id.startswith("mrk-")
    material = os.urandom(32)
    import_material(kms, key_id, material)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported across")["CiphertextBlob"]

    replica = kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST)["ReplicaKeyMetadata"]
    assert (replica["KeyId"], replica["Origin"], replica["KeyState"]) == (key_id, "EXTERNAL", "PendingImport")
    assert error_code(west.decrypt, CiphertextBlob=blob) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as err:
        import_material(west, key_id, os.urandom(32))
    assert err.value.response["Error"]["Code"] == "IncorrectKeyMaterialException"

    # Its own expiry; the same KeyMaterialId as in the primary's Region.
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    import_material(west, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    opened = west.decrypt(CiphertextBlob=blob)
    assert opened["Plaintext"] == b"imported across"
    east_meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    west_meta = west.describe_key(KeyId=key_id)["KeyMetadata"]
    assert opened["KeyMaterialId"] == east_meta["CurrentKeyMaterialId"] == west_meta["CurrentKeyMaterialId"]
    assert (east_meta["ExpirationModel"], west_meta["ExpirationModel"]) == (
        "KEY_MATERIAL_DOES_NOT_EXPIRE",
        "KEY_MATERIAL_EXPIRES",
    )

    # Deleting the replica's material leaves the primary as it was.
    west.delete_imported_key_material(KeyId=key_id)
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported across"

    # Another account may not import into the replica.
    other = client_in(trent, WEST, *trent_account("555566667777"))
    params = west.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    arn = west_meta["Arn"]
    assert error_code(
        other.import_key_material,
        KeyId=arn,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=b"x" * 256,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    ) == "AccessDeniedException"


def material_states(client, key_id: str) -> list[tuple[str, str, str]]:
    listed = client.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    return [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed]


def test_related_keys_rotate_imported_material_together(trent, kms, aws):
    """AWS's steps for on-demand rotation of a multi-Region key with imported
    material: NEW_KEY_MATERIAL into the primary, the same material as
    EXISTING_KEY_MATERIAL (by its KeyMaterialId) into the replica, then
    RotateKeyOnDemand on the primary, which rotates both."""
    west = client_in(trent, WEST)
    key_id = kms.create_key(Origin="EXTERNAL", MultiRegion=True)["KeyMetadata"]["KeyId"]
    material_a, material_b = os.urandom(32), os.urandom(32)
    id_a = import_material(kms, key_id, material_a)["KeyMaterialId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    import_material(west, key_id, material_a)
    blob_a = kms.encrypt(KeyId=key_id, Plaintext=b"under A")["CiphertextBlob"]

    id_b = import_material(kms, key_id, material_b, ImportType="NEW_KEY_MATERIAL",
                           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")["KeyMaterialId"]
    waiting = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
    assert material_states(kms, key_id) == [(id_a, "CURRENT", "IMPORTED"), (id_b, waiting, "IMPORTED")]
    # The aws CLI in the replica's Region: B waits to be imported there.
    listed = json.loads(aws("kms", "list-key-rotations", "--key-id", key_id, "--region", WEST,
                            "--include-key-material", "ALL_KEY_MATERIAL"))["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (id_a, "CURRENT", "IMPORTED"),
        (id_b, waiting, "PENDING_IMPORT"),
    ]
    assert error_code(kms.rotate_key_on_demand, KeyId=key_id) == "KMSInvalidStateException"
    assert error_code(west.rotate_key_on_demand, KeyId=key_id) == "UnsupportedOperationException"

    import_material(west, key_id, material_b, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=id_b,
                    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert material_states(west, key_id)[1] == (id_b, "PENDING_ROTATION", "IMPORTED")
    kms.rotate_key_on_demand(KeyId=key_id)
    for client in (kms, west):
        assert material_states(client, key_id) == [(id_a, "NON_CURRENT", "IMPORTED"), (id_b, "CURRENT", "IMPORTED")]
        assert client.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == id_b
        assert client.decrypt(CiphertextBlob=blob_a)["KeyMaterialId"] == id_a
    blob_b = west.encrypt(KeyId=key_id, Plaintext=b"under B")["CiphertextBlob"]
    opened = kms.decrypt(CiphertextBlob=blob_b)
    assert (opened["Plaintext"], opened["KeyMaterialId"]) == (b"under B", id_b)


@pytest.mark.parametrize(("spec", "usage"), [("HMAC_256", "GENERATE_VERIFY_MAC"), ("ECC_NIST_P256", "SIGN_VERIFY")])
def test_hmac_and_asymmetric_multi_region_keys_take_imported_material(trent, kms, spec, usage):
    key = kms.create_key(Origin="EXTERNAL", MultiRegion=True, KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert key["KeyId"].startswith("mrk-")
    assert (key["Origin"], key["KeyState"], key["MultiRegion"]) == ("EXTERNAL", "PendingImport", True)
