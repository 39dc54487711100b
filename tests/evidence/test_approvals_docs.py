"""docs/evidence.md §13.7 (approvals worked example) is what the code computes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    Grant,
    Request,
    Scope,
    SessionPolicy,
    SoftPasskey,
    VerificationError,
    WebAuthnAssertion,
    approval_challenge,
    approval_document,
    canonical_json,
    policy_hash,
)
from lucid.evidence.approvals import b64u
from tests.evidence.approval_helpers import DEVICE

CONTEXT = (DEVICE, "2026-11-22T02:15:30.000Z", "2026-11-22T02:45:00.000Z")
"""The example session: device key (seed ``07`` x 32) and half an hour of recording."""

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _block() -> dict[str, object]:
    text = _text()
    block = text.split("<!-- example: session-policy")[1].split("```json\n")[1].split("```")[0]
    value = json.loads(block)
    assert isinstance(value, dict)
    return value


def _example() -> tuple[SessionPolicy, SoftPasskey, bytes]:
    scope = Scope(
        ttl_s=3600, max_duration_s=3600, clipboard=True, file_transfer=False, drives=False
    )
    request = Request("s1", "bob", "192.0.2.10", "root", scope, "2026-11-22T02:15:00.000Z")
    document = approval_document(
        request,
        "approve",
        scope,
        DEFAULT_POLICY,
        "alice",
        "passkey",
        "2026-11-22T02:15:20.000Z",
        b"\x04" * 16,
        device=DEVICE,
    )
    challenge = approval_challenge(document)
    key = SoftPasskey("Ed25519", b"\x03" * 32, b"\x05" * 16)
    credential = key.assert_(
        {"challenge": b64u(challenge), "rpId": "localhost"}, "http://localhost"
    )
    assertion = WebAuthnAssertion.from_credential(
        credential, rp_id="localhost", public_key=key.cose_public_key()
    )
    record = ApprovalRecord(document, assertion, "2026-11-22T02:15:21.000Z")
    grant = Grant(scope, "2026-11-22T02:15:21.000Z", "2026-11-22T03:15:21.000Z")
    return SessionPolicy.create(DEFAULT_POLICY, request, grant, [record]), key, challenge


def test_example_verifies_for_its_session_only() -> None:
    parsed = SessionPolicy.from_dict(_block())
    parsed.verify("s1", *CONTEXT)
    with pytest.raises(VerificationError) as err:
        parsed.verify("s2", *CONTEXT)
    assert err.value.item == "policy.request.id"


def test_example_is_what_the_code_computes() -> None:
    built, key, challenge = _example()
    assert built.to_dict() == _block()
    text = _text()
    assertion = built.approvals[0].webauthn
    assert assertion is not None
    assert f"JCS(policy) = {canonical_json(DEFAULT_POLICY.to_dict()).decode()}\n" in text
    for value in (
        policy_hash(DEFAULT_POLICY).hex(),
        challenge.hex(),
        b64u(challenge),
        key.cose_public_key().hex(),
        assertion.authenticator_data.hex(),
        assertion.client_data_json.decode(),
        hashlib.sha256(assertion.client_data_json).hexdigest(),
        assertion.signature.hex(),
    ):
        assert value in text, value
    assert assertion.authenticator_data[:32] == hashlib.sha256(b"localhost").digest()


def test_default_policy_hash_is_pinned() -> None:
    # Changing DEFAULT_POLICY (or the hash) changes every manifest: update the docs with it.
    assert (
        policy_hash(DEFAULT_POLICY).hex()
        == "324453113453142b9128ba451f5d4caad1345c8ca05f8ff596f0c2b4fa54fc8e"
    )
