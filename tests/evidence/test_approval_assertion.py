"""lucid.evidence.verify_assertion: a WebAuthn assertion over an approval document verifies,
and every tampering is named. Real soft passkeys (ES256 and Ed25519) sign."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cbor2
import pytest

from lucid.evidence import (
    ApprovalRecord,
    SoftPasskey,
    WebAuthnAssertion,
    approval_challenge,
    verify_assertion,
)
from lucid.evidence.approvals import b64u
from tests.evidence.approval_helpers import (
    SESSION,
    fails,
    flip,
    make_request,
    passkey_record,
)
from tests.evidence.helpers import mutate

# --- verify_assertion -----------------------------------------------------------------


def _signed(alg: str = "ES256", **kw: Any) -> tuple[ApprovalRecord, WebAuthnAssertion, bytes]:
    key = SoftPasskey.generate("Ed25519" if alg == "Ed25519" else "ES256")
    record = passkey_record(key, make_request(SESSION), "alice", **kw)
    assert record.webauthn is not None
    return record, record.webauthn, approval_challenge(record.document)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_assertion_verifies(alg: str) -> None:
    _, assertion, challenge = _signed(alg)
    verify_assertion(assertion, challenge, True)
    key = cbor2.loads(assertion.public_key)
    assert key[3] == (-7 if alg == "ES256" else -8)
    if alg == "ES256":
        assert assertion.signature[0] == 0x30  # DER SEQUENCE


def _client(assertion: WebAuthnAssertion, **changes: Any) -> WebAuthnAssertion:
    client = json.loads(assertion.client_data_json)
    client.update(changes)
    return replace(assertion, client_data_json=json.dumps(client).encode())


def _flags(assertion: WebAuthnAssertion, clear: int) -> WebAuthnAssertion:
    data = bytearray(assertion.authenticator_data)
    data[32] &= ~clear & 0xFF
    return replace(assertion, authenticator_data=bytes(data))


def _cose(**changes: Any) -> bytes:
    key = cbor2.loads(SoftPasskey.generate().cose_public_key())
    key.update({int(k.replace("m", "-")): v for k, v in changes.items()})
    return bytes(cbor2.dumps(key))


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
@pytest.mark.parametrize(
    ("tamper", "item"),
    [
        (lambda a: _client(a, type="webauthn.create"), "client_data_json.type"),
        (lambda a: _client(a, challenge=b64u(b"\x00" * 32)), "client_data_json.challenge"),
        (lambda a: _client(a, origin="https://evil.example"), "client_data_json.origin"),
        (lambda a: replace(a, origin="https://evil.example"), "client_data_json.origin"),
        (lambda a: _client(a, crossOrigin=True), "signature"),
        (lambda a: replace(a, client_data_json=b"\xff"), "client_data_json"),
        (lambda a: replace(a, client_data_json=b"[1]"), "client_data_json"),
        (
            lambda a: replace(a, authenticator_data=flip(a.authenticator_data, 0)),
            "authenticator_data.rp_id_hash",
        ),
        (lambda a: replace(a, rp_id="lucid.example"), "authenticator_data.rp_id_hash"),
        (lambda a: _flags(a, 0x01), "authenticator_data.flags.up"),
        (lambda a: _flags(a, 0x04), "authenticator_data.flags.uv"),
        (lambda a: replace(a, authenticator_data=a.authenticator_data[:36]), "authenticator_data"),
        (lambda a: replace(a, authenticator_data=flip(a.authenticator_data, 36)), "signature"),
        (lambda a: replace(a, user_verified=False), "user_verified"),
        (lambda a: replace(a, signature=flip(a.signature, len(a.signature) - 1)), "signature"),
        (lambda a: replace(a, signature=a.signature[:-1]), "signature"),
        (lambda a: replace(a, signature=b"\x30\x00"), "signature"),
        (lambda a: replace(a, public_key=SoftPasskey.generate().cose_public_key()), "signature"),
        (
            lambda a: replace(a, public_key=SoftPasskey.generate("Ed25519").cose_public_key()),
            "signature",
        ),
        (lambda a: replace(a, public_key=b"\xff\xff"), "public_key"),
        (lambda a: replace(a, public_key=a.public_key + b"\x00"), "public_key"),
        (lambda a: replace(a, public_key=cbor2.dumps([1, 2])), "public_key"),
        (lambda a: replace(a, public_key=_cose(**{"3": -257})), "public_key"),
        (lambda a: replace(a, public_key=_cose(m2=b"\x00" * 32)), "public_key"),
        (lambda a: replace(a, public_key=_cose(m2=b"\x01" * 31)), "public_key"),
        (lambda a: replace(a, public_key=_cose(m1=True)), "public_key"),
    ],
)
def test_assertion_tampering(
    alg: str, tamper: Callable[[WebAuthnAssertion], WebAuthnAssertion], item: str
) -> None:
    _, assertion, challenge = _signed(alg)
    fails(lambda: verify_assertion(tamper(assertion), challenge, True), item)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_tampered_document_changes_the_challenge(alg: str) -> None:
    record, assertion, _ = _signed(alg)
    for path, value in [
        (("scope", "drives"), True),
        (("request", "target"), "admin"),
        (("approver", "account"), "mallory"),
        (("nonce",), "00" * 16),
    ]:
        doc = mutate(record.document, path, value)
        check = lambda doc=doc: verify_assertion(assertion, approval_challenge(doc), True)  # noqa: E731
        fails(check, "client_data_json.challenge")


def test_user_verification_only_when_required() -> None:
    _, assertion, challenge = _signed(user_verified=False)
    assert assertion.user_verified is False
    verify_assertion(assertion, challenge, False)
    fails(lambda: verify_assertion(assertion, challenge, True), "authenticator_data.flags.uv")
    fails(
        lambda: verify_assertion(replace(assertion, user_verified=True), challenge, False),
        "user_verified",
    )
