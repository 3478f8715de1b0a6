"""Bad requests over raw HTTP (requests + botocore's SigV4Auth for signing),
each answered the way AWS KMS answers: a JSON body whose `__type` names the
error, with AWS's HTTP status.

Statuses: KMS speaks AWS JSON 1.1, where every client error -- protocol,
authentication and service errors alike -- is an HTTP 400 (as DynamoDB, the
other JSON 1.1 service on the same front end, answers
MissingAuthenticationTokenException and UnrecognizedClientException with 400).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import uuid
from unittest import mock

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCOUNT_ID, TrentServer, run_aws

JSON_11 = "application/x-amz-json-1.1"


def send(
    server: TrentServer,
    *,
    target: str | None = "TrentService.ListKeys",
    body: bytes = b"{}",
    method: str = "POST",
    content_type: str | None = JSON_11,
    sign: bool = True,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    signed_at: datetime.datetime | None = None,
    send_body: bytes | None = None,
) -> requests.Response:
    """One HTTP request to the server, signed (unless sign=False) exactly as
    an SDK signs it. `send_body` replaces the body after signing."""
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method=method, url=server.url + "/", data=body, headers=headers)
    if sign:
        credentials = Credentials(
            access_key_id or server.access_key_id,
            secret_access_key or server.secret_access_key,
        )
        signer = SigV4Auth(credentials, "kms", server.region)
        if signed_at is None:
            signer.add_auth(request)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
                signer.add_auth(request)
    prepared = request.prepare()
    return requests.request(
        method,
        prepared.url,
        headers=dict(prepared.headers),
        data=body if send_body is None else send_body,
        timeout=60,
    )


def call(server: TrentServer, operation: str, params: dict) -> requests.Response:
    return send(server, target=f"TrentService.{operation}", body=json.dumps(params).encode())


def aws_error(response: requests.Response) -> tuple[str, str | None]:
    """(`__type`, message) of an AWS JSON error response; fails unless the
    response is one."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    content_type = response.headers.get("Content-Type", "")
    assert "json" in content_type, (content_type, response.text[:500])
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"error body is not JSON: {response.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("__type"), str), body
    message = body.get("message", body.get("Message"))
    return body["__type"], message


def assert_error(response: requests.Response, error_type: str, status: int = 400) -> str | None:
    got_type, message = aws_error(response)
    assert (got_type, response.status_code) == (error_type, status), (got_type, response.status_code, message)
    return message


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture
def key_id(kms) -> str:
    return kms.create_key(Description="bad input")["KeyMetadata"]["KeyId"]


# ---------------------------------------------------------------- protocol


def test_signed_request_baseline_succeeds(trent):
    # The harness itself: a well-formed signed request works.
    response = send(trent)
    assert response.status_code == 200, response.text
    assert "Keys" in response.json()


def test_malformed_json_body(trent):
    assert_error(send(trent, body=b'{"KeyId": '), "SerializationException")


def test_unknown_target(trent):
    assert_error(send(trent, target="TrentService.Frobnicate"), "UnknownOperationException")


def test_target_of_another_service(trent):
    assert_error(send(trent, target="DynamoDB_20120810.ListTables"), "UnknownOperationException")


def test_missing_target(trent):
    assert_error(send(trent, target=None), "UnknownOperationException")


def test_wrong_content_type(trent):
    aws_error(send(trent, content_type="text/plain"))


def test_body_over_one_mib(trent, key_id):
    big = json.dumps({"KeyId": key_id, "Plaintext": b64(b"\0" * (800 * 1024))}).encode()
    assert len(big) > 1024 * 1024
    aws_error(send(trent, target="TrentService.Encrypt", body=big))


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_other_methods_on_root(trent, method):
    aws_error(send(trent, method=method, body=b""))


# ---------------------------------------------------------- authentication


def test_no_authorization(trent):
    assert_error(send(trent, sign=False), "MissingAuthenticationTokenException")


def test_authorization_without_signature(trent):
    request = AWSRequest(
        method="POST",
        url=trent.url + "/",
        data=b"{}",
        headers={"Content-Type": JSON_11, "X-Amz-Target": "TrentService.ListKeys"},
    )
    SigV4Auth(Credentials(trent.access_key_id, trent.secret_access_key), "kms", trent.region).add_auth(request)
    prepared = request.prepare()
    headers = dict(prepared.headers)
    headers["Authorization"] = headers["Authorization"].split(", Signature=")[0]
    assert "Signature=" not in headers["Authorization"]
    response = requests.post(prepared.url, headers=headers, data=b"{}", timeout=60)
    assert_error(response, "IncompleteSignatureException")


def test_wrong_secret(trent):
    response = send(trent, secret_access_key="not-the-secret-" + "x" * 25)
    assert_error(response, "InvalidSignatureException")


def test_body_changed_after_signing(trent, key_id):
    # The payload hash is part of the signature.
    body = json.dumps({"KeyId": key_id}).encode()
    response = send(trent, target="TrentService.DescribeKey", body=body, send_body=body.replace(b"}", b" }"))
    assert_error(response, "InvalidSignatureException")


def test_unknown_access_key(trent):
    response = send(trent, access_key_id="AKIANOSUCHKEY0000000", secret_access_key="whatever")
    assert_error(response, "UnrecognizedClientException")


def test_signature_expired(trent):
    twenty_minutes_ago = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(
        minutes=20
    )
    message = assert_error(send(trent, signed_at=twenty_minutes_ago), "InvalidSignatureException")
    assert message and "Signature expired" in message, message


# -------------------------------------------------------------- validation


def test_encrypt_plaintext_over_4096_bytes(trent, key_id):
    response = call(trent, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"a" * 4097)})
    message = assert_error(response, "ValidationException")
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_encrypt_plaintext_of_exactly_4096_bytes_is_fine(trent, key_id):
    response = call(trent, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"a" * 4096)})
    assert response.status_code == 200, response.text


def test_generate_random_over_1024_bytes(trent):
    message = assert_error(call(trent, "GenerateRandom", {"NumberOfBytes": 2000}), "ValidationException")
    assert message == (
        "1 validation error detected: Value '2000' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024"
    )


def test_generate_random_of_1024_bytes_is_fine(trent):
    response = call(trent, "GenerateRandom", {"NumberOfBytes": 1024})
    assert response.status_code == 200, response.text
    assert len(base64.b64decode(response.json()["Plaintext"])) == 1024


def _encrypt(trent, key_id, plaintext=b"tamper me", context=None) -> bytes:
    params = {"KeyId": key_id, "Plaintext": b64(plaintext)}
    if context is not None:
        params["EncryptionContext"] = context
    response = call(trent, "Encrypt", params)
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["CiphertextBlob"])


def _flip(blob: bytes, index: int) -> bytes:
    index %= len(blob)
    return blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: _flip(b, 0), id="flip-first-byte"),
        pytest.param(lambda b: _flip(b, len(b) // 2), id="flip-middle-byte"),
        pytest.param(lambda b: _flip(b, -1), id="flip-last-byte"),
        pytest.param(lambda b: b[:-1], id="truncated-by-one"),
        pytest.param(lambda b: b[: len(b) // 2], id="truncated-to-half"),
        pytest.param(lambda b: b[:1], id="truncated-to-one-byte"),
    ],
)
def test_decrypt_of_tampered_blob(trent, key_id, tamper):
    blob = tamper(_encrypt(trent, key_id))
    assert_error(call(trent, "Decrypt", {"CiphertextBlob": b64(blob)}), "InvalidCiphertextException")


def test_decrypt_with_wrong_encryption_context(trent, key_id):
    blob = _encrypt(trent, key_id, context={"purpose": "test"})
    for context in ({"purpose": "other"}, {}, {"purpose": "test", "extra": "x"}):
        params = {"CiphertextBlob": b64(blob)}
        if context:
            params["EncryptionContext"] = context
        assert_error(call(trent, "Decrypt", params), "InvalidCiphertextException")
    ok = call(trent, "Decrypt", {"CiphertextBlob": b64(blob), "EncryptionContext": {"purpose": "test"}})
    assert ok.status_code == 200, ok.text


def test_decrypt_naming_another_key(trent, kms, key_id):
    other = kms.create_key(Description="another")["KeyMetadata"]["KeyId"]
    blob = _encrypt(trent, key_id)
    response = call(trent, "Decrypt", {"CiphertextBlob": b64(blob), "KeyId": other})
    assert_error(response, "IncorrectKeyException")


def test_encrypt_with_disabled_key(trent, kms, key_id):
    kms.disable_key(KeyId=key_id)
    response = call(trent, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"x")})
    assert_error(response, "DisabledException")


def test_encrypt_with_key_pending_deletion(trent, kms, key_id):
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    response = call(trent, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"x")})
    assert_error(response, "KMSInvalidStateException")


@pytest.mark.parametrize("days", [6, 31])
def test_schedule_key_deletion_window_out_of_range(trent, key_id, days):
    response = call(trent, "ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": days})
    assert_error(response, "ValidationException")


def test_describe_unknown_key(trent):
    response = call(trent, "DescribeKey", {"KeyId": str(uuid.uuid4())})
    assert_error(response, "NotFoundException")


def test_create_alias_without_alias_prefix(trent, key_id):
    # AWS answers ValidationException, not InvalidAliasNameException, for a
    # missing prefix: 'ValidationException: Alias must start with the prefix
    # "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html
    # status code: 400' (real KMS, quoted in aws-controllers-k8s/community#1878).
    response = call(trent, "CreateAlias", {"AliasName": "no-prefix", "TargetKeyId": key_id})
    assert_error(response, "ValidationException")


def test_create_alias_with_reserved_aws_prefix(trent, kms, key_id):
    # alias/aws/ is reserved for AWS managed keys. Which error AWS gives is
    # not in its model: NotAuthorizedException is not even an error shape of
    # the KMS model, yet moto and local-kms (both modelled on AWS) answer it.
    # So accept it, ValidationException, or an error of CreateAlias's list in
    # the model -- and check that no alias was made.
    allowed = {"NotAuthorizedException", "ValidationException"} | {
        shape.name for shape in kms.meta.service_model.operation_model("CreateAlias").error_shapes
    }
    response = call(trent, "CreateAlias", {"AliasName": "alias/aws/foo", "TargetKeyId": key_id})
    error_type, message = aws_error(response)
    assert error_type in allowed, (error_type, message)
    assert response.status_code == 400, (response.status_code, error_type, message)
    aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert "alias/aws/foo" not in [a["AliasName"] for a in aliases]


def test_a_key_arn_naming_another_account_is_not_the_callers_key(trent, kms):
    """Issue 17: the account part of a key ARN is never ignored; boto3 and
    the aws CLI are told the key is not found there."""
    own = kms.create_key()["KeyMetadata"]
    elsewhere = own["Arn"].replace(f":{own['AWSAccountId']}:", ":999988887777:")
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.describe_key(KeyId=elsewhere)
    assert e.value.response["Error"]["Message"] == f"Key '{elsewhere}' does not exist"
    blob = kms.encrypt(KeyId=own["Arn"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(KeyId=elsewhere, CiphertextBlob=blob)
    env = {**os.environ, **trent.client_env()}
    with pytest.raises(AssertionError, match="NotFoundException"):
        run_aws("kms", "describe-key", "--key-id", elsewhere, env=env)


def test_a_missing_alias_is_reported_in_aws_words(trent, kms):
    """Issue 17: AWS's words, the alias ARN unquoted."""
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.describe_key(KeyId="alias/nowhere")
    arn = f"arn:aws:kms:{trent.region}:{trent.account_id}:alias/nowhere"
    assert e.value.response["Error"]["Message"] == f"Alias {arn} is not found."


def test_an_alias_name_with_a_colon_is_refused_in_aws_words(kms):
    """Issue 17: AWS's answer, as terraform-provider-aws#12891 recorded it."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(kms.exceptions.ClientError) as e:
        kms.create_alias(AliasName="alias/Service:Test", TargetKeyId=key_id)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "alias/Service:Test contains invalid characters for an alias"


def test_invalid_ciphertext_carries_no_message_member(trent, kms):
    """Issue 17: AWS sends InvalidCiphertextException from Decrypt without a
    message; Trent sends no `"message": ""` either."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = bytearray(kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"])
    blob[-1] ^= 1
    response = call(trent, "Decrypt", {"CiphertextBlob": b64(bytes(blob))})
    assert response.status_code == 400
    assert response.json() == {"__type": "InvalidCiphertextException"}


def test_invalid_signatures_macs_and_peer_keys_carry_no_message_member(trent, kms):
    """Issue 17: nor do KMSInvalidSignatureException from Verify,
    KMSInvalidMacException, a DeriveSharedSecret public key that is not one,
    and Decapsulate's InvalidCiphertextException."""
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    agreement = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    kem = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    cases = [
        (
            "Verify",
            {"KeyId": signing, "Message": b64(b"other"), "Signature": b64(signature), "SigningAlgorithm": "ECDSA_SHA_256"},
            "KMSInvalidSignatureException",
        ),
        (
            "VerifyMac",
            {"KeyId": mac_key, "Message": b64(b"m"), "Mac": b64(bytes(32)), "MacAlgorithm": "HMAC_SHA_256"},
            "KMSInvalidMacException",
        ),
        (
            "DeriveSharedSecret",
            {"KeyId": agreement, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(b"\x30\x00")},
            "ValidationException",
        ),
        (
            "Decapsulate",
            {"KeyId": kem, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(bytes(1087))},
            "InvalidCiphertextException",
        ),
    ]
    for operation, params, error_type in cases:
        response = call(trent, operation, params)
        assert response.status_code == 400, operation
        assert response.json() == {"__type": error_type}, operation


def test_decrypt_dry_run_ignoring_the_ciphertext(trent, kms):
    """Issue 17: DryRunModifiers IGNORE_CIPHERTEXT, from boto3 and the aws
    CLI: a permissions check with no ciphertext."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(kms.exceptions.DryRunOperationException):
        kms.decrypt(KeyId=key_id, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    env = {**os.environ, **trent.client_env()}
    with pytest.raises(AssertionError, match="DryRunOperationException"):
        run_aws(
            "kms", "decrypt", "--key-id", key_id, "--dry-run", "--dry-run-modifiers", "IGNORE_CIPHERTEXT", env=env
        )


def test_tag_refusals_as_aws_answers_them(kms):
    """Issue 17: the reserved prefix in any case, and a key twice in one
    request, are TagException."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for tags, message in [
        ([{"TagKey": "Aws:x", "TagValue": "v"}], "Tags beginning with aws: are reserved"),
        ([{"TagKey": "k", "TagValue": "a"}, {"TagKey": "k", "TagValue": "b"}], "Duplicate tag keys"),
    ]:
        with pytest.raises(kms.exceptions.TagException) as e:
            kms.tag_resource(KeyId=key_id, Tags=tags)
        assert e.value.response["Error"]["Message"] == message
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


def test_list_aliases_includes_the_predefined_aws_aliases(trent, kms):
    """Issue 17: ListAliases shows AWS's predefined aliases (`alias/aws/…`)
    without TargetKeyId, to boto3's paginator and the aws CLI alike; they
    cannot be created, and a list filtered by key leaves them out."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/listed-" + uuid.uuid4().hex[:8], TargetKeyId=key_id)
    listed = [a for page in kms.get_paginator("list_aliases").paginate(Limit=5) for a in page["Aliases"]]
    predefined = [a for a in listed if a["AliasName"].startswith("alias/aws/")]
    assert "alias/aws/dynamodb" in {a["AliasName"] for a in predefined}
    assert all("TargetKeyId" not in a and "CreationDate" not in a for a in predefined)
    assert all(a["AliasArn"].endswith(":" + a["AliasName"]) for a in predefined)
    assert [a["AliasName"] for a in listed] == sorted(a["AliasName"] for a in listed)
    env = {**os.environ, **trent.client_env()}
    from_cli = json.loads(run_aws("kms", "list-aliases", env=env))["Aliases"]
    assert {a["AliasName"] for a in from_cli} == {a["AliasName"] for a in listed}
    assert all(a["AliasName"].startswith("alias/listed-") for a in kms.list_aliases(KeyId=key_id)["Aliases"])
    with pytest.raises(kms.exceptions.ClientError):
        kms.create_alias(AliasName="alias/aws/dynamodb", TargetKeyId=key_id)


def test_an_empty_required_list_is_present_not_missing(trent, kms):
    """Issue 17: `"Tags": []` and `"TagKeys": []` are empty lists (the model
    sets no minimum), so TagResource and UntagResource change nothing and
    succeed; an absent or null list is still a validation error."""
    key_id = kms.create_key(Tags=[{"TagKey": "kept", "TagValue": "v"}])["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[])
    kms.untag_resource(KeyId=key_id, TagKeys=[])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "kept", "TagValue": "v"}]
    for body in ({"KeyId": key_id}, {"KeyId": key_id, "Tags": None}):
        message = assert_error(call(trent, "TagResource", body), "ValidationException")
        assert message == "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null"
    grant = {"KeyId": key_id, "GranteePrincipal": f"arn:aws:iam::{ACCOUNT_ID}:root", "Operations": []}
    assert_error(call(trent, "CreateGrant", grant), "ValidationException")
