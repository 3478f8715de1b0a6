"""Asymmetric and HMAC keys (issue #6), checked for interoperability with the
`cryptography` package and the `openssl` CLI: what Trent signs verifies
locally with the key GetPublicKey returns, what is encrypted or agreed
locally with it works in Trent, and data key pairs load and match.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils

MESSAGE = b"Trent signs this for Alice and Bob"

HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}


def create_key(kms, spec: str, usage: str) -> str:
    return kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]


def public_key(kms, key_id: str):
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    return serialization.load_der_public_key(der)


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return e.value.response["Error"]["Code"]


def local_verify(key, algorithm: str, signature: bytes, message: bytes, prehashed: bool) -> None:
    """Verifies a KMS signature with `cryptography`; raises InvalidSignature."""
    if algorithm.startswith("ED25519"):
        key.verify(signature, message)
        return
    hash_cls = HASHES[algorithm[-7:]]
    chosen = utils.Prehashed(hash_cls()) if prehashed else hash_cls()
    if algorithm.startswith("RSASSA_PKCS1_V1_5"):
        key.verify(signature, message, padding.PKCS1v15(), chosen)
    elif algorithm.startswith("RSASSA_PSS"):
        # KMS uses a salt as long as the digest.
        pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size)
        key.verify(signature, message, pss, chosen)
    else:
        key.verify(signature, message, ec.ECDSA(chosen))


SIGNING_CASES = [
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("RSA_3072", "RSASSA_PSS_SHA_256"),
    ("RSA_3072", "RSASSA_PSS_SHA_384"),
    ("RSA_4096", "RSASSA_PSS_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
]


@pytest.mark.parametrize(("spec", "algorithm"), SIGNING_CASES)
def test_signatures_verify_locally_with_the_public_key(kms, spec, algorithm):
    key_id = create_key(kms, spec, "SIGN_VERIFY")
    key = public_key(kms, key_id)
    signature = kms.sign(KeyId=key_id, Message=MESSAGE, MessageType="RAW", SigningAlgorithm=algorithm)[
        "Signature"
    ]
    local_verify(key, algorithm, signature, MESSAGE, prehashed=False)
    with pytest.raises(InvalidSignature):
        local_verify(key, algorithm, signature, MESSAGE + b"!", prehashed=False)
    assert kms.verify(
        KeyId=key_id, Message=MESSAGE, MessageType="RAW", Signature=signature, SigningAlgorithm=algorithm
    )["SignatureValid"]
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert (
        error_code(
            kms.verify,
            KeyId=key_id,
            Message=MESSAGE,
            MessageType="RAW",
            Signature=tampered,
            SigningAlgorithm=algorithm,
        )
        == "KMSInvalidSignatureException"
    )

    if algorithm.startswith("ED25519"):
        return
    # DIGEST: the digest is signed as given, and verifies as a prehashed
    # signature and as a signature of the original message.
    digest = hashlib.new(HASHES[algorithm[-7:]].name, MESSAGE).digest()
    signature = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)[
        "Signature"
    ]
    local_verify(key, algorithm, signature, digest, prehashed=True)
    local_verify(key, algorithm, signature, MESSAGE, prehashed=False)


@pytest.mark.parametrize("spec", ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"])
def test_ml_dsa_signatures_raw_and_external_mu_verify_locally(kms, spec):
    key_id = create_key(kms, spec, "SIGN_VERIFY")
    key = public_key(kms, key_id)
    sign = dict(KeyId=key_id, SigningAlgorithm="ML_DSA_SHAKE_256")
    signature = kms.sign(Message=MESSAGE, MessageType="RAW", **sign)["Signature"]
    key.verify(signature, MESSAGE)
    # EXTERNAL_MU: mu computed locally (FIPS 204, empty context) is signed
    # as given; the signature is one of the message.
    hasher = mldsa.MLDSAMuHasher(key)
    hasher.update(MESSAGE)
    mu = hasher.finalize()
    signature = kms.sign(Message=mu, MessageType="EXTERNAL_MU", **sign)["Signature"]
    key.verify(signature, MESSAGE)
    key.verify_mu(signature, mu)
    with pytest.raises(InvalidSignature):
        key.verify(signature, MESSAGE + b"!")
    assert kms.verify(Message=mu, MessageType="EXTERNAL_MU", Signature=signature, **sign)["SignatureValid"]
    assert error_code(kms.sign, Message=mu, MessageType="DIGEST", **sign) == "ValidationException"


def test_another_keys_signature_and_bad_input_are_errors(kms):
    """A signature of another key is KMSInvalidSignatureException (Verify
    never answers SignatureValid=false); wrong algorithm and digest length
    are refused as AWS refuses them."""
    signer = create_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    other = create_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    signature = kms.sign(KeyId=other, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    code = error_code(
        kms.verify, KeyId=signer, Message=MESSAGE, Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
    )
    assert code == "KMSInvalidSignatureException"
    assert (
        error_code(kms.sign, KeyId=signer, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")
        == "InvalidKeyUsageException"
    )
    assert (
        error_code(
            kms.sign, KeyId=signer, Message=b"\0" * 31, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
        )
        == "ValidationException"
    )


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize(
    ("algorithm", "hash_cls"), [("RSAES_OAEP_SHA_1", hashes.SHA1), ("RSAES_OAEP_SHA_256", hashes.SHA256)]
)
def test_ciphertexts_made_locally_decrypt_in_trent(kms, spec, algorithm, hash_cls):
    key_id = create_key(kms, spec, "ENCRYPT_DECRYPT")
    key = public_key(kms, key_id)
    assert isinstance(key, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_cls()), algorithm=hash_cls(), label=None)
    ciphertext = key.encrypt(b"made with cryptography", oaep)
    out = kms.decrypt(KeyId=key_id, CiphertextBlob=ciphertext, EncryptionAlgorithm=algorithm)
    assert out["Plaintext"] == b"made with cryptography"
    assert out["EncryptionAlgorithm"] == algorithm
    # And Trent's own ciphertexts are OAEP blocks of the modulus' size.
    made = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm=algorithm)["CiphertextBlob"]
    assert len(made) == key.key_size // 8


@pytest.mark.parametrize(
    ("spec", "curve"),
    [("ECC_NIST_P256", ec.SECP256R1), ("ECC_NIST_P384", ec.SECP384R1), ("ECC_NIST_P521", ec.SECP521R1)],
)
def test_ecdh_secret_equals_the_locally_computed_one(kms, spec, curve):
    key_id = create_key(kms, spec, "KEY_AGREEMENT")
    trent_public = public_key(kms, key_id)
    peer = ec.generate_private_key(curve())
    peer_spki = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_spki)
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), trent_public)
    raw_point = peer.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert (
        error_code(kms.derive_shared_secret, KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=raw_point)
        == "ValidationException"
    )


DATA_KEY_PAIR_SPECS = [
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
]


@pytest.mark.parametrize("spec", DATA_KEY_PAIR_SPECS)
def test_data_key_pairs_load_and_match_locally(kms, spec):
    wrapping = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"purpose": "interop"}
    out = kms.generate_data_key_pair(KeyId=wrapping, KeyPairSpec=spec, EncryptionContext=context)
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki == out["PublicKey"]
    opened = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == out["PrivateKeyPlaintext"]

    # The pair works: sign locally, verify with the returned public key.
    public = serialization.load_der_public_key(out["PublicKey"])
    if isinstance(private, rsa.RSAPrivateKey):
        signature = private.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
        public.verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
        public.verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        public.verify(private.sign(MESSAGE), MESSAGE)

    without = kms.generate_data_key_pair_without_plaintext(KeyId=wrapping, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in without
    pkcs8 = kms.decrypt(CiphertextBlob=without["PrivateKeyCiphertextBlob"])["Plaintext"]
    private = serialization.load_der_private_key(pkcs8, password=None)
    assert (
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == without["PublicKey"]
    )


def test_hmac_keys_through_boto3(kms):
    key_id = create_key(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["MacAlgorithms"] == ["HMAC_SHA_256"]
    mac = kms.generate_mac(KeyId=key_id, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    assert kms.verify_mac(KeyId=key_id, Message=MESSAGE, Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    code = error_code(kms.verify_mac, KeyId=key_id, Message=MESSAGE + b"!", Mac=mac, MacAlgorithm="HMAC_SHA_256")
    assert code == "KMSInvalidMacException"
    code = error_code(kms.generate_mac, KeyId=key_id, Message=MESSAGE, MacAlgorithm="HMAC_SHA_512")
    assert code == "InvalidKeyUsageException"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
@pytest.mark.parametrize(
    ("spec", "algorithm", "digest"),
    [("ECC_NIST_P256", "ECDSA_SHA_256", "-sha256"), ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384", "-sha384")],
)
def test_openssl_verifies_a_signature_made_with_the_aws_cli(aws, tmp_path, spec, algorithm, digest):
    key_id = aws(
        "kms", "create-key", "--key-spec", spec, "--key-usage", "SIGN_VERIFY",
        "--query", "KeyMetadata.KeyId", "--output", "text",
    ).strip()  # fmt: skip
    message = tmp_path / "message.txt"
    message.write_bytes(MESSAGE)
    signature_b64 = aws(
        "kms", "sign", "--key-id", key_id, "--message", f"fileb://{message}", "--message-type", "RAW",
        "--signing-algorithm", algorithm, "--query", "Signature", "--output", "text",
    ).strip()  # fmt: skip
    (tmp_path / "signature.bin").write_bytes(base64.b64decode(signature_b64))
    public_b64 = aws("kms", "get-public-key", "--key-id", key_id, "--query", "PublicKey", "--output", "text").strip()
    (tmp_path / "public.der").write_bytes(base64.b64decode(public_b64))
    result = subprocess.run(
        ["openssl", "dgst", digest, "-verify", "public.der", "-keyform", "DER", "-signature", "signature.bin",
         "message.txt"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stdout + result.stderr
    message.write_bytes(MESSAGE + b"!")
    result = subprocess.run(
        ["openssl", "dgst", digest, "-verify", "public.der", "-keyform", "DER", "-signature", "signature.bin",
         "message.txt"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0


# Ed25519ph (RFC 8032 §5.1): neither `cryptography` nor OpenSSL 3.0 verify
# it, so this is RFC 8032's own verification written out (§5.1.7 with the
# dom2 prefix for phflag 1), checked first against the RFC's test vector.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    A = (y1 - x1) * (y2 - x2) % _P
    B = (y1 + x1) * (y2 + x2) % _P
    C = t1 * 2 * _D * t2 % _P
    D = z1 * 2 * z2 % _P
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F % _P, G * H % _P, F * G % _P, E * H % _P)


def _mul(s, point):
    result = (0, 1, 1, 0)
    while s:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _decompress(data: bytes):
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


_BASE = _decompress((4 * pow(5, _P - 2, _P) % _P).to_bytes(32, "little"))


def ed25519ph_verify(public: bytes, digest: bytes, signature: bytes) -> bool:
    A, R = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if A is None or R is None or s >= _L:
        return False
    dom2 = b"SigEd25519 no Ed25519 collisions" + bytes([1, 0])
    k = int.from_bytes(hashlib.sha512(dom2 + signature[:32] + public + digest).digest(), "little") % _L
    return _equal(_mul(s, _BASE), _add(R, _mul(k, A)))


def test_ed25519ph_digest_signatures_verify_with_rfc_8032s_algorithm(kms):
    # The verifier itself, on RFC 8032 §7.3's test vector.
    rfc_public = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
    rfc_signature = bytes.fromhex(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
        "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
    )
    assert ed25519ph_verify(rfc_public, hashlib.sha512(b"abc").digest(), rfc_signature)
    assert not ed25519ph_verify(rfc_public, hashlib.sha512(b"abd").digest(), rfc_signature)

    key_id = create_key(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    raw_public = public_key(kms, key_id).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha512(MESSAGE).digest()
    sign = dict(KeyId=key_id, SigningAlgorithm="ED25519_PH_SHA_512")
    signature = kms.sign(Message=digest, MessageType="DIGEST", **sign)["Signature"]
    assert ed25519ph_verify(raw_public, digest, signature)
    assert not ed25519ph_verify(raw_public, hashlib.sha512(MESSAGE + b"!").digest(), signature)
    assert kms.verify(Message=digest, MessageType="DIGEST", Signature=signature, **sign)["SignatureValid"]
    assert error_code(kms.sign, Message=MESSAGE, MessageType="RAW", **sign) == "ValidationException"


def test_refusals_in_aws_words(kms):
    """Issue 17: AWS's own words, through boto3."""
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(kms.exceptions.InvalidKeyUsageException) as e:
        kms.encrypt(KeyId=signing["KeyId"], Plaintext=b"x")
    assert e.value.response["Error"]["Message"] == (
        f"{signing['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt."
    )
    with pytest.raises(kms.exceptions.ClientError) as e:
        kms.sign(
            KeyId=signing["KeyId"], Message=bytes(31), MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
        )
    assert e.value.response["Error"]["Message"] == "Digest is invalid length for algorithm ECDSA_SHA_256."
