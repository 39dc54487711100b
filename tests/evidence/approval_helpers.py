"""Test helpers for approvals: requests, approval records signed by real soft passkeys, and
the manifest's session-policy member. Real crypto throughout; nothing is mocked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    Grant,
    Policy,
    Request,
    Scope,
    SessionPolicy,
    SoftPasskey,
    VerificationError,
    WebAuthnAssertion,
    approval_challenge,
    approval_document,
    utc_timestamp,
)
from lucid.evidence.approvals import b64u

ORIGIN = "http://localhost"
T0 = datetime(2026, 11, 22, 2, 15, 0, tzinfo=UTC)
SCOPE = Scope(ttl_s=3600, max_duration_s=3600, clipboard=True, file_transfer=False, drives=False)
BIG = Scope(ttl_s=7200, max_duration_s=7200, clipboard=True, file_transfer=True, drives=True)
SESSION = "s1"
DEVICE_SEED = bytes([7]) * 32
DEVICE = Ed25519PrivateKey.from_private_bytes(DEVICE_SEED).public_key().public_bytes_raw()
"""The device whose approvals these are (a real Ed25519 key; seed ``07`` x 32)."""


def fails(check: Callable[[], object], item: str) -> str:
    """Run ``check``; it must raise a VerificationError naming ``item`` in one line."""
    with pytest.raises(VerificationError) as err:
        check()
    assert err.value.item == item, str(err.value)
    message = str(err.value)
    assert message.startswith(item + ":") and "\n" not in message
    return message


def flip(data: bytes, where: int) -> bytes:
    """``data`` with the lowest bit of byte ``where`` flipped."""
    out = bytearray(data)
    out[where] ^= 0x01
    return bytes(out)


def at(seconds: float) -> str:
    """T0 + seconds as an RFC 3339 UTC timestamp."""
    return utc_timestamp(T0 + timedelta(seconds=seconds))


CONTEXT = (DEVICE, at(30), at(90))
"""``SessionPolicy.verify``'s manifest context: device key, started_at, ended_at (a minute
of recording half a minute after `make_grant`'s approval)."""


def make_request(session: str, user: str = "bob", target: str = "root") -> Request:
    return Request(
        id=session,
        user=user,
        source="192.0.2.10",
        target=target,
        requested_scope=SCOPE,
        requested_at=at(0),
    )


def passkey_record(
    key: SoftPasskey,
    request: Request,
    account: str,
    *,
    policy: Policy = DEFAULT_POLICY,
    scope: Scope = SCOPE,
    origin: str = ORIGIN,
    user_verified: bool = True,
    issued_at: str | None = None,
    nonce: bytes | None = None,
    device: bytes = DEVICE,
) -> ApprovalRecord:
    """An approval by `account`, signed by `key` through the browser-shaped JSON."""
    document = approval_document(
        request,
        "approve",
        scope,
        policy,
        account,
        "passkey",
        issued_at or at(20),
        nonce,
        device=device,
    )
    options = {"challenge": b64u(approval_challenge(document)), "rpId": policy.rp_id}
    credential = key.assert_(options, origin, user_verified=user_verified)
    assertion = WebAuthnAssertion.from_credential(
        credential, rp_id=policy.rp_id, public_key=key.cose_public_key()
    )
    return ApprovalRecord(document=document, webauthn=assertion, verified_at=at(21))


def password_record(
    request: Request, account: str, *, policy: Policy = DEFAULT_POLICY
) -> ApprovalRecord:
    document = approval_document(
        request, "approve", SCOPE, policy, account, "password", at(20), device=DEVICE
    )
    return ApprovalRecord(document=document, webauthn=None, verified_at=at(21))


def make_grant(scope: Scope = SCOPE, via_window: str | None = None) -> Grant:
    return Grant(
        scope=scope, approved_at=at(21), expires_at=at(21 + scope.ttl_s), via_window=via_window
    )


def session_policy(
    session: str,
    *,
    policy: Policy = DEFAULT_POLICY,
    approvers: Sequence[str] = ("alice",),
    alg: str = "ES256",
) -> SessionPolicy:
    """A valid session policy: each approver signs with a fresh soft passkey."""
    request = make_request(session)
    records = [
        passkey_record(
            SoftPasskey.generate("Ed25519" if alg == "Ed25519" else "ES256"),
            request,
            a,
            policy=policy,
        )
        for a in approvers
    ]
    return SessionPolicy.create(policy, request, make_grant(), records)
