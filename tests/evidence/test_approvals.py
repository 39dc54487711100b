"""lucid.evidence approvals: Scope, Policy and its hash, the strict approval-record and
session-policy models, b64u, and the approval document. Real soft passkeys sign."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    FormatError,
    Grant,
    Policy,
    Request,
    Scope,
    SessionPolicy,
    SoftPasskey,
    WebAuthnAssertion,
    approval_challenge,
    approval_document,
    canonical_json,
    default_policy,
    policy_hash,
)
from lucid.evidence.approvals import b64u, from_b64u
from tests.evidence.approval_helpers import (
    BIG,
    DEVICE,
    SCOPE,
    SESSION,
    at,
    make_grant,
    make_request,
    passkey_record,
    password_record,
    session_policy,
)
from tests.evidence.helpers import DELETE, mutate

# --- scope, policy, models ----------------------------------------------------------


def test_scope_within_and_clamp() -> None:
    assert SCOPE.within(BIG) and SCOPE.within(SCOPE) and not BIG.within(SCOPE)
    assert not replace(SCOPE, ttl_s=7201).within(BIG)
    assert not replace(SCOPE, max_duration_s=7201).within(BIG)
    assert not replace(SCOPE, drives=True).within(replace(BIG, drives=False))
    assert BIG.clamp(SCOPE) == SCOPE
    mixed = Scope(ttl_s=10, max_duration_s=9000, clipboard=False, file_transfer=True, drives=True)
    assert mixed.clamp(SCOPE) == Scope(10, 3600, False, False, False)
    assert mixed.clamp(SCOPE).within(SCOPE) and mixed.clamp(SCOPE).within(mixed)


def test_default_policy() -> None:
    p = DEFAULT_POLICY
    assert (p.version, p.approvers_required, p.allow_password_approval) == (1, 1, False)
    assert p.require_user_verification and p.request_timeout_s == 300
    assert p.approval_window_s == 0
    assert p.scope_ceiling == Scope(28800, 28800, True, True, True)
    assert (p.rp_id, p.origins) == ("localhost", ("http://localhost",))
    other = default_policy("lucid.example", ["https://lucid.example"])
    assert other.origins == ("https://lucid.example",) and other.rp_id == "lucid.example"


def test_policy_hash_is_blake3_of_jcs_with_domain() -> None:
    import blake3

    expected = blake3.blake3(b"lucid.policy.v1\x00" + canonical_json(DEFAULT_POLICY.to_dict()))
    assert policy_hash(DEFAULT_POLICY) == expected.digest()
    assert policy_hash(Policy.from_dict(DEFAULT_POLICY.to_dict())) == policy_hash(DEFAULT_POLICY)
    changes: list[dict[str, Any]] = [
        {"version": 2},
        {"approvers_required": 2},
        {"allow_password_approval": True},
        {"require_user_verification": False},
        {"request_timeout_s": 301},
        {"approval_window_s": 60},
        {"scope_ceiling": SCOPE},
        {"rp_id": "lucid.example"},
        {"origins": ("http://localhost", "https://lucid.example")},
    ]
    hashes = {policy_hash(replace(DEFAULT_POLICY, **c)) for c in changes}
    assert len(hashes) == len(changes) and policy_hash(DEFAULT_POLICY) not in hashes


def _records() -> tuple[ApprovalRecord, ApprovalRecord]:
    request = make_request(SESSION)
    return passkey_record(SoftPasskey.generate(), request, "alice"), password_record(
        request, "carol"
    )


def test_round_trips() -> None:
    passkey, password = _records()
    sp = session_policy(SESSION, approvers=("alice", "dave"))
    window = SessionPolicy.create(
        replace(DEFAULT_POLICY, approval_window_s=600),
        make_request(SESSION),
        make_grant(via_window="s0"),
        [],
    )
    assert passkey.webauthn is not None
    cases: list[tuple[Any, Any]] = [
        (Scope, SCOPE),
        (Policy, DEFAULT_POLICY),
        (Request, make_request(SESSION)),
        (Grant, make_grant()),
        (Grant, make_grant(via_window="s0")),
        (WebAuthnAssertion, passkey.webauthn),
        (ApprovalRecord, passkey),
        (ApprovalRecord, password),
        (SessionPolicy, sp),
        (SessionPolicy, window),
    ]
    for cls, value in cases:
        d = value.to_dict()
        assert cls.from_dict(json.loads(json.dumps(d))) == value, cls
        canonical_json(d)  # always representable
    assert "via_window" not in make_grant().to_dict()
    assert make_grant(via_window="s0").to_dict()["via_window"] == "s0"


_A0 = ("approvals", 0)


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("format",), "lucid.policy", "policy.format: expected 'lucid.session-policy'"),
        (("version",), 2, "policy.version: unsupported version 2"),
        (("extra",), 1, "policy.extra: unknown field"),
        (("grant",), DELETE, "policy.grant: missing"),
        (("policy_hash",), "AB" * 32, "policy.policy_hash: expected 64 lowercase hex"),
        (("policy", "approvers_required"), 0, "policy.policy.approvers_required: 0 is out of"),
        (("policy", "approval_window_s"), True, "policy.policy.approval_window_s: expected an int"),
        (("policy", "origins"), [], "policy.policy.origins: at least one origin"),
        (("policy", "origins"), ["a", "a"], "policy.policy.origins[1]: duplicate origin"),
        (("policy", "scope_ceiling", "ttl_s"), 0, "policy.policy.scope_ceiling.ttl_s: 0 is out"),
        (("policy", "scope_ceiling", "x"), 0, "policy.policy.scope_ceiling.x: unknown field"),
        (("request", "id"), "..", "policy.request.id: expected 1-64 characters"),
        (("request", "source"), None, "policy.request.source: expected a string"),
        (("request", "user"), "", "policy.request.user: expected a non-empty string"),
        (("request", "requested_at"), "yesterday", "policy.request.requested_at: expected an RFC"),
        (("grant", "via_window"), "", "policy.grant.via_window: expected 1-64 characters"),
        (("grant", "expires_at"), 0, "policy.grant.expires_at: expected an RFC 3339"),
        (("approvals",), {}, "policy.approvals: expected an array"),
        ((*_A0, "extra"), 1, "policy.approvals[0].extra: unknown field"),
        ((*_A0, "verified_at"), "2026-13-01T00:00:00Z", "verified_at: '2026-13-01T00:00:00Z' is"),
        ((*_A0, "webauthn"), None, "policy.approvals[0].webauthn: required for a passkey"),
        ((*_A0, "document", "nonce"), "00" * 8, "document.nonce: expected 32 lowercase hex"),
        ((*_A0, "document", "format"), "x", "policy.approvals[0].document.format: 'x' is not"),
        ((*_A0, "document", "version"), 1, "policy.approvals[0].document.version: unsupported"),
        ((*_A0, "document", "device"), "ab" * 31, "policy.approvals[0].document.device"),
        ((*_A0, "document", "decision"), "maybe", "document.decision: 'maybe' is not one of"),
        ((*_A0, "document", "approver", "method"), "sms", "approver.method: 'sms' is not one"),
        ((*_A0, "document", "policy", "hash"), "00", "document.policy.hash: expected 64"),
        ((*_A0, "document", "request", "x"), 1, "document.request.x: unknown field"),
        ((*_A0, "webauthn", "signature"), "AAAA=", "webauthn.signature: expected unpadded base64"),
        ((*_A0, "webauthn", "signature"), "a+b/", "webauthn.signature: expected unpadded base64"),
        ((*_A0, "webauthn", "signature"), "AB", "webauthn.signature: not the canonical"),
        ((*_A0, "webauthn", "public_key"), "", "webauthn.public_key: must not be empty"),
        ((*_A0, "webauthn", "user_verified"), 1, "webauthn.user_verified: expected true or"),
        ((*_A0, "webauthn", "rp_id"), DELETE, "policy.approvals[0].webauthn.rp_id: missing"),
    ],
)
def test_strict_parsing(path: tuple[str | int, ...], value: Any, fragment: str) -> None:
    d = mutate(session_policy(SESSION).to_dict(), path, value)
    with pytest.raises(FormatError) as err:
        SessionPolicy.from_dict(d)
    assert fragment in str(err.value), str(err.value)


def test_password_record_must_not_carry_webauthn() -> None:
    passkey, password = _records()
    d = password.to_dict()
    assert passkey.webauthn is not None
    d["webauthn"] = passkey.webauthn.to_dict()
    with pytest.raises(FormatError, match=r"record.webauthn: must be null for a password"):
        ApprovalRecord.from_dict(d)


def test_b64u() -> None:
    for data in (b"\x00", b"\xff\xfe", b"abc", bytes(range(40))):
        assert from_b64u(b64u(data), "x") == data
        assert "=" not in b64u(data)
    assert from_b64u("", "x", allow_empty=True) == b""
    for bad in ("A", "AB=", "A B", "AQ==", "AR", 7, None):
        with pytest.raises(FormatError):
            from_b64u(bad, "x")


# --- documents and challenges --------------------------------------------------------


def test_approval_document_and_challenge() -> None:
    request = make_request(SESSION)
    args = (request, "deny", SCOPE, DEFAULT_POLICY, "alice", "password", at(5))
    doc = approval_document(*args, device=DEVICE)
    assert doc["version"] == 2 and doc["device"] == DEVICE.hex()
    assert doc["policy"] == {"version": 1, "hash": policy_hash(DEFAULT_POLICY).hex()}
    assert doc["request"] == request.to_dict() and len(doc["nonce"]) == 32
    again = approval_document(*args, device=DEVICE)
    assert again["nonce"] != doc["nonce"]  # fresh nonce, so a fresh challenge
    expected = hashlib.sha256(b"lucid.approval.v2\x00" + canonical_json(doc)).digest()
    assert approval_challenge(doc) == expected and len(expected) == 32
    assert approval_challenge(again) != expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decision": "maybe"},
        {"method": "sms"},
        {"account": ""},
        {"nonce": b"\x00" * 8},
        {"issued_at": "now"},
        {"device": b"\x01" * 31},
    ],
)
def test_approval_document_misuse(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "request": make_request(SESSION),
        "decision": "approve",
        "scope": SCOPE,
        "policy": DEFAULT_POLICY,
        "account": "alice",
        "method": "passkey",
        "issued_at": at(1),
        "nonce": None,
        "device": DEVICE,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=r"invalid approval document"):
        approval_document(**args)
