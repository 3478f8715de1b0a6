"""ML-KEM keys (issue 17) with boto3 and the aws CLI, checked against the
`cryptography` package: its ML-KEM-768/1024 public keys load Trent's
GetPublicKey answer, what they encapsulate Trent decapsulates, and the
audit trail records the calls without their secrets.
"""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from conftest import exported_by_request_id

CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}


def create_kem_key(kms, spec: str) -> str:
    return kms.create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]


def decapsulate(kms, key_id: str, blob: bytes) -> bytes:
    return kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM")[
        "SharedSecret"
    ]


@pytest.mark.parametrize(
    "spec,public_type",
    [("ML_KEM_768", mlkem.MLKEM768PublicKey), ("ML_KEM_1024", mlkem.MLKEM1024PublicKey)],
)
def test_a_local_peer_encapsulates_to_trents_public_key(kms, spec, public_type):
    key_id = create_kem_key(kms, spec)
    answer = kms.get_public_key(KeyId=key_id)
    assert answer["KeySpec"] == spec
    assert answer["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    assert answer["EncapsulationAlgorithms"] == ["ML_KEM"]
    public = serialization.load_der_public_key(answer["PublicKey"])
    assert isinstance(public, public_type)
    # The SPKI is the standard one: re-encoding the loaded key gives it back.
    assert (
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == answer["PublicKey"]
    )
    secret, blob = public.encapsulate()
    assert decapsulate(kms, key_id, blob) == secret


@pytest.mark.parametrize("spec", ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"])
def test_encapsulate_and_decapsulate_agree_and_reject_implicitly(kms, spec):
    key_id = create_kem_key(kms, spec)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert "CurrentKeyMaterialId" not in meta
    assert "EncryptionAlgorithms" not in meta
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert out["EncapsulationAlgorithm"] == "ML_KEM"
    assert out["KeyId"].endswith(key_id)
    assert len(out["SharedSecret"]) == 32
    blob = out["SharedSecretCiphertextBlob"]
    assert len(blob) == CIPHERTEXT_BYTES[spec]
    assert decapsulate(kms, key_id, blob) == out["SharedSecret"]
    # Two encapsulations never share a secret.
    again = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert again["SharedSecret"] != out["SharedSecret"]
    # Another key of the same spec decapsulates an unrelated secret, no error.
    other = create_kem_key(kms, spec)
    unrelated = decapsulate(kms, other, blob)
    assert len(unrelated) == 32 and unrelated != out["SharedSecret"]
    # A wrong length is InvalidCiphertextException, without a message.
    with pytest.raises(ClientError) as e:
        decapsulate(kms, key_id, blob[:-1])
    error = e.value.response["Error"]
    assert error["Code"] == "InvalidCiphertextException"
    assert error.get("Message", "") == ""


def test_another_account_needs_the_key_policy_or_a_grant(kms, trent, trent_account):
    access_key, secret_key = trent_account("444455556666")
    other = boto3.client(
        "kms",
        endpoint_url=trent.url,
        region_name=trent.region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    arn = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["Arn"]
    blob = kms.encapsulate(KeyId=arn, EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    for call in (
        lambda: other.encapsulate(KeyId=arn, EncapsulationAlgorithm="ML_KEM"),
        lambda: decapsulate(other, arn, blob),
        lambda: other.get_public_key(KeyId=arn),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    grant = kms.create_grant(
        KeyId=arn, GranteePrincipal="arn:aws:iam::444455556666:root", Operations=["Encapsulate"]
    )
    other.encapsulate(KeyId=arn, EncapsulationAlgorithm="ML_KEM")
    with pytest.raises(ClientError) as e:
        decapsulate(other, arn, blob)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    kms.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])
    with pytest.raises(ClientError) as e:
        other.encapsulate(KeyId=arn, EncapsulationAlgorithm="ML_KEM")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_audit_trail_records_neither_secret_nor_ciphertext(kms, trent):
    key_id = create_kem_key(kms, "ML_KEM_512")
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    back = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=out["SharedSecretCiphertextBlob"], EncapsulationAlgorithm="ML_KEM"
    )
    ids = {out["ResponseMetadata"]["RequestId"], back["ResponseMetadata"]["RequestId"]}
    events = exported_by_request_id(trent.data_dir, ids)
    secrets = [base64.b64encode(v).decode() for v in (out["SharedSecret"], out["SharedSecretCiphertextBlob"])]
    for event in events.values():
        assert event["eventName"] in ("Encapsulate", "Decapsulate")
        assert event["requestParameters"] == {"keyId": key_id, "encapsulationAlgorithm": "ML_KEM"}
        assert event["responseElements"] is None
        assert event["readOnly"] is True
        text = json.dumps(event)
        assert not any(s[:40] in text for s in secrets)


def test_the_aws_cli_makes_and_describes_ml_kem_keys(aws):
    # awscli 1.46's model predates ML-KEM's operations and members (no
    # encapsulate command, EncapsulationAlgorithms dropped); the rest works.
    key_id = json.loads(
        aws("kms", "create-key", "--key-spec", "ML_KEM_1024", "--key-usage", "ENCAPSULATE_DECAPSULATE")
    )["KeyMetadata"]["KeyId"]
    meta = json.loads(aws("kms", "describe-key", "--key-id", key_id))["KeyMetadata"]
    assert meta["KeySpec"] == "ML_KEM_1024"
    assert meta["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    der = base64.b64decode(
        aws("kms", "get-public-key", "--key-id", key_id, "--query", "PublicKey", "--output", "text").strip()
    )
    assert isinstance(serialization.load_der_public_key(der), mlkem.MLKEM1024PublicKey)
