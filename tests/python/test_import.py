"""Imported key material (issue 17), with boto3 and material wrapped by the
`cryptography` package as AWS documents it (RSAES-OAEP; for RSA_AES_KEY_WRAP_*
an ephemeral AES-256 key under OAEP, then AES Key Wrap with Padding): what
Trent does with imported material is what the same material does locally.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

ALGORITHMS = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"]


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    public = serialization.load_der_public_key(public_der)
    digest = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    if algorithm.startswith("RSA_AES_KEY_WRAP"):
        aes = os.urandom(32)
        return public.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)
    return public.encrypt(material, oaep)


def external_key(kms, spec: str = "SYMMETRIC_DEFAULT", usage: str = "ENCRYPT_DECRYPT") -> str:
    return kms.create_key(Origin="EXTERNAL", KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]


def import_material(kms, key_id: str, material: bytes, algorithm: str = "RSA_AES_KEY_WRAP_SHA_256",
                    wrapping_spec: str = "RSA_3072", **expiry) -> dict:
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=wrapping_spec)
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        **(expiry or {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    )


def state(kms, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def pkcs8(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_symmetric_material_encrypts_after_import(kms, algorithm):
    key_id = external_key(kms)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["Origin"], metadata["KeyState"], metadata["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    assert error_code(kms.encrypt, KeyId=key_id, Plaintext=b"x") == "KMSInvalidStateException"
    material = os.urandom(32)
    out = import_material(kms, key_id, material, algorithm, "RSA_2048")
    assert out["KeyId"].endswith(key_id)
    assert state(kms, key_id) == "Enabled"
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    # Deleted, the ciphertext waits; the same material brings it back.
    kms.delete_imported_key_material(KeyId=key_id)
    assert state(kms, key_id) == "PendingImport"
    assert error_code(kms.decrypt, CiphertextBlob=blob) == "KMSInvalidStateException"
    assert error_code(import_material, kms, key_id, os.urandom(32)) == "IncorrectKeyMaterialException"
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    import_material(kms, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs(metadata["ValidTo"].timestamp() - valid_to.timestamp()) < 1
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


def test_wrapping_parameters_follow_aws_rules(kms):
    key_id = external_key(kms)
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_4096"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 4096
    valid_for = params["ParametersValidTo"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=23, minutes=59) < valid_for <= datetime.timedelta(hours=24, minutes=1)
    assert len(params["ImportToken"]) <= 6144
    refused = {
        ("RSAES_PKCS1_V1_5", "RSA_2048"): "UnsupportedOperationException",
        ("SM2PKE", "RSA_2048"): "ValidationException",
        ("RSAES_OAEP_SHA_1", "SM2"): "ValidationException",
    }
    for (algorithm, spec), code in refused.items():
        assert (
            error_code(kms.get_parameters_for_import, KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
            == code
        ), (algorithm, spec)
    generated = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=generated, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert e.value.response["Error"]["Message"].endswith("origin is AWS_KMS which is not valid for this operation.")


@pytest.mark.parametrize(
    "spec, digest, lengths",
    [
        ("HMAC_224", hashlib.sha224, (28, 64)),
        ("HMAC_256", hashlib.sha256, (32, 64)),
        ("HMAC_384", hashlib.sha384, (48, 128)),
        ("HMAC_512", hashlib.sha512, (64, 128)),
    ],
)
def test_hmac_material_macs_as_it_does_locally(kms, spec, digest, lengths):
    shortest, longest = lengths
    for length in (shortest, longest):
        key_id = external_key(kms, spec, "GENERATE_VERIFY_MAC")
        assert (
            error_code(kms.generate_mac, KeyId=key_id, Message=b"m", MacAlgorithm=f"HMAC_SHA_{spec[5:]}")
            == "KMSInvalidStateException"
        )
        material = os.urandom(length)
        import_material(kms, key_id, material, "RSAES_OAEP_SHA_256", "RSA_4096")
        mac = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm=f"HMAC_SHA_{spec[5:]}")["Mac"]
        assert mac == hmac.new(material, b"message", digest).digest()
    key_id = external_key(kms, spec, "GENERATE_VERIFY_MAC")
    for length in (shortest - 1, longest + 1):
        code = error_code(import_material, kms, key_id, os.urandom(length), "RSA_AES_KEY_WRAP_SHA_256")
        assert code == "IncorrectKeyMaterialException", length
    assert state(kms, key_id) == "PendingImport"


@pytest.mark.parametrize(
    "spec, private, algorithm",
    [
        ("RSA_2048", lambda: rsa.generate_private_key(65537, 2048), "RSASSA_PSS_SHA_256"),
        ("RSA_3072", lambda: rsa.generate_private_key(65537, 3072), "RSASSA_PKCS1_V1_5_SHA_384"),
        ("RSA_4096", lambda: rsa.generate_private_key(65537, 4096), "RSASSA_PSS_SHA_512"),
        ("ECC_NIST_P256", lambda: ec.generate_private_key(ec.SECP256R1()), "ECDSA_SHA_256"),
        ("ECC_NIST_P384", lambda: ec.generate_private_key(ec.SECP384R1()), "ECDSA_SHA_384"),
        ("ECC_NIST_P521", lambda: ec.generate_private_key(ec.SECP521R1()), "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", lambda: ec.generate_private_key(ec.SECP256K1()), "ECDSA_SHA_256"),
    ],
)
def test_imported_pair_signs_for_its_public_key(kms, spec, private, algorithm):
    key = private()
    key_id = external_key(kms, spec, "SIGN_VERIFY")
    # RSA private keys are too long for RSAES-OAEP: RSA_AES_KEY_WRAP only.
    wrapping = "RSA_AES_KEY_WRAP_SHA_256" if spec.startswith("RSA") or spec.endswith("P521") else "RSAES_OAEP_SHA_256"
    import_material(kms, key_id, pkcs8(key), wrapping, "RSA_2048")
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(key.public_key())
    signature = kms.sign(KeyId=key_id, Message=b"signed by Trent", SigningAlgorithm=algorithm)["Signature"]
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[algorithm[-3:]]
    if spec.startswith("RSA"):
        if "PSS" in algorithm:
            pad = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        else:
            pad = padding.PKCS1v15()
        key.public_key().verify(signature, b"signed by Trent", pad, digest)
    else:
        key.public_key().verify(signature, b"signed by Trent", ec.ECDSA(digest))


def test_pair_material_must_fit_the_key_spec(kms):
    rsa_key = external_key(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    wrong_size = rsa.generate_private_key(65537, 3072)
    code = error_code(import_material, kms, rsa_key, pkcs8(wrong_size))
    assert code == "IncorrectKeyMaterialException"
    ec_key = external_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    code = error_code(import_material, kms, ec_key, pkcs8(ec.generate_private_key(ec.SECP384R1())))
    assert code == "IncorrectKeyMaterialException"
    assert error_code(import_material, kms, ec_key, b"not a key") == "IncorrectKeyMaterialException"
    # The right one: a ciphertext made locally decrypts in Trent.
    right = rsa.generate_private_key(65537, 2048)
    import_material(kms, rsa_key, pkcs8(right))
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ciphertext = right.public_key().encrypt(b"for Trent", oaep)
    out = kms.decrypt(KeyId=rsa_key, CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"for Trent"
    # Asymmetric material is deleted and comes back the same way.
    kms.delete_imported_key_material(KeyId=rsa_key)
    assert error_code(kms.get_public_key, KeyId=rsa_key) == "KMSInvalidStateException"
    assert error_code(import_material, kms, rsa_key, pkcs8(rsa.generate_private_key(65537, 2048))) == (
        "IncorrectKeyMaterialException"
    )
    import_material(kms, rsa_key, pkcs8(right))
    assert kms.decrypt(KeyId=rsa_key, CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
        "Plaintext"
    ] == b"for Trent"


def test_key_material_id_description_and_listing(kms):
    key_id = external_key(kms)
    material = os.urandom(32)
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048"
    )
    out = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_1", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        ImportType="NEW_KEY_MATERIAL",
        KeyMaterialDescription="made offline",
    )
    material_id = out["KeyMaterialId"]
    assert len(material_id) == 64
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == material_id
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    [listed] = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert listed["KeyMaterialId"] == material_id
    assert listed["ImportState"] == "IMPORTED"
    assert listed["KeyMaterialState"] == "CURRENT"
    assert listed["KeyMaterialDescription"] == "made offline"
    # Re-imported by its id; another id is refused.
    again = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_1", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        ImportType="EXISTING_KEY_MATERIAL",
        KeyMaterialId=material_id,
    )
    assert again["KeyMaterialId"] == material_id
    code = error_code(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_1", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        KeyMaterialId="0" * 64,
    )
    assert code == "IncorrectKeyMaterialException"
    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=material_id)
    assert deleted["KeyMaterialId"] == material_id
    [listed] = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert listed["ImportState"] == "PENDING_IMPORT"


def test_imported_material_rotates_on_demand(kms, aws):
    """Several materials on one symmetric key: B staged pending rotation while
    A encrypts, rotated to, A still decrypting; A deleted by its id (the key
    waits for it, as AWS does for any material it holds for good), other
    bytes under its id refused, A imported again by its id."""
    key_id = external_key(kms)
    material_a, material_b = os.urandom(32), os.urandom(32)
    id_a = import_material(kms, key_id, material_a)["KeyMaterialId"]
    assert error_code(kms.rotate_key_on_demand, KeyId=key_id) == "KMSInvalidStateException"
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")

    def send(material: bytes, **extra):
        return kms.import_key_material(
            KeyId=key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", material),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            **extra,
        )

    id_b = send(material_b, ImportType="NEW_KEY_MATERIAL", KeyMaterialDescription="next")["KeyMaterialId"]
    assert id_b != id_a
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == id_a
    blob_a = kms.encrypt(KeyId=key_id, Plaintext=b"under A")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob_a)["KeyMaterialId"] == id_a

    kms.rotate_key_on_demand(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == id_b
    blob_b = kms.encrypt(KeyId=key_id, Plaintext=b"under B")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob_b)["KeyMaterialId"] == id_b
    opened = kms.decrypt(CiphertextBlob=blob_a)
    assert (opened["Plaintext"], opened["KeyMaterialId"]) == (b"under A", id_a)
    assert kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["KeyMaterialId"] == id_b

    # The aws CLI lists both materials with their states.
    listed = json.loads(
        aws("kms", "list-key-rotations", "--key-id", key_id, "--include-key-material", "ALL_KEY_MATERIAL")
    )["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (id_a, "NON_CURRENT", "IMPORTED"),
        (id_b, "CURRENT", "IMPORTED"),
    ]
    assert "RotationDate" not in listed[0]
    assert listed[1]["RotationType"] == "ON_DEMAND"
    assert listed[1]["KeyMaterialDescription"] == "next"
    [rotation] = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["KeyMaterialId"] == id_b

    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=id_a)
    assert deleted["KeyMaterialId"] == id_a
    assert state(kms, key_id) == "PendingImport"
    for blob in (blob_a, blob_b):
        assert error_code(kms.decrypt, CiphertextBlob=blob) == "KMSInvalidStateException"
    assert error_code(send, material_b, KeyMaterialId=id_a) == "IncorrectKeyMaterialException"
    assert send(material_a, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=id_a)["KeyMaterialId"] == id_a
    assert state(kms, key_id) == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob_a)["Plaintext"] == b"under A"
    assert kms.decrypt(CiphertextBlob=blob_b)["Plaintext"] == b"under B"
