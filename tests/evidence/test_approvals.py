"""lucid.evidence.approvals: strict models, the assertion check, the session-policy check,
and its place in verify_bundle. Real soft passkeys sign everything."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import cbor2
import pytest

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    FormatError,
    Grant,
    Manifest,
    Policy,
    Request,
    Scope,
    SessionPolicy,
    SignedManifest,
    SoftPasskey,
    VerificationError,
    WebAuthnAssertion,
    approval_challenge,
    approval_document,
    canonical_json,
    default_policy,
    policy_hash,
    verify_assertion,
    verify_bundle,
)
from lucid.evidence.approvals import b64u, from_b64u
from tests.evidence.approval_helpers import (
    SCOPE,
    at,
    make_grant,
    make_request,
    passkey_record,
    password_record,
    session_policy,
)
from tests.evidence.helpers import Sample, read_members, write_members

SESSION = "s1"
BIG = Scope(ttl_s=7200, max_duration_s=7200, clipboard=True, file_transfer=True, drives=True)


def _fails(check: Callable[[], object], item: str) -> str:
    with pytest.raises(VerificationError) as err:
        check()
    assert err.value.item == item, str(err.value)
    message = str(err.value)
    assert message.startswith(item + ":") and "\n" not in message
    return message


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


def _mutate(d: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(d)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()
_A0 = ("approvals", 0)


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("format",), "lucid.policy", "policy.format: expected 'lucid.session-policy'"),
        (("version",), 2, "policy.version: unsupported version 2"),
        (("extra",), 1, "policy.extra: unknown field"),
        (("grant",), _DELETE, "policy.grant: missing"),
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
        ((*_A0, "document", "version"), 2, "policy.approvals[0].document.version: unsupported"),
        ((*_A0, "document", "decision"), "maybe", "document.decision: 'maybe' is not one of"),
        ((*_A0, "document", "approver", "method"), "sms", "approver.method: 'sms' is not one"),
        ((*_A0, "document", "policy", "hash"), "00", "document.policy.hash: expected 64"),
        ((*_A0, "document", "request", "x"), 1, "document.request.x: unknown field"),
        ((*_A0, "webauthn", "signature"), "AAAA=", "webauthn.signature: expected unpadded base64"),
        ((*_A0, "webauthn", "signature"), "a+b/", "webauthn.signature: expected unpadded base64"),
        ((*_A0, "webauthn", "signature"), "AB", "webauthn.signature: not the canonical"),
        ((*_A0, "webauthn", "public_key"), "", "webauthn.public_key: must not be empty"),
        ((*_A0, "webauthn", "user_verified"), 1, "webauthn.user_verified: expected true or"),
        ((*_A0, "webauthn", "rp_id"), _DELETE, "policy.approvals[0].webauthn.rp_id: missing"),
    ],
)
def test_strict_parsing(path: tuple[str | int, ...], value: Any, fragment: str) -> None:
    d = _mutate(session_policy(SESSION).to_dict(), path, value)
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
    doc = approval_document(request, "deny", SCOPE, DEFAULT_POLICY, "alice", "password", at(5))
    assert doc["policy"] == {"version": 1, "hash": policy_hash(DEFAULT_POLICY).hex()}
    assert doc["request"] == request.to_dict() and len(doc["nonce"]) == 32
    again = approval_document(request, "deny", SCOPE, DEFAULT_POLICY, "alice", "password", at(5))
    assert again["nonce"] != doc["nonce"]  # fresh nonce, so a fresh challenge
    expected = hashlib.sha256(b"lucid.approval.v1\x00" + canonical_json(doc)).digest()
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
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=r"invalid approval document"):
        approval_document(**args)


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


def _flip(data: bytes, where: int) -> bytes:
    out = bytearray(data)
    out[where] ^= 0x01
    return bytes(out)


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
            lambda a: replace(a, authenticator_data=_flip(a.authenticator_data, 0)),
            "authenticator_data.rp_id_hash",
        ),
        (lambda a: replace(a, rp_id="lucid.example"), "authenticator_data.rp_id_hash"),
        (lambda a: _flags(a, 0x01), "authenticator_data.flags.up"),
        (lambda a: _flags(a, 0x04), "authenticator_data.flags.uv"),
        (lambda a: replace(a, authenticator_data=a.authenticator_data[:36]), "authenticator_data"),
        (lambda a: replace(a, authenticator_data=_flip(a.authenticator_data, 36)), "signature"),
        (lambda a: replace(a, user_verified=False), "user_verified"),
        (lambda a: replace(a, signature=_flip(a.signature, len(a.signature) - 1)), "signature"),
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
    _fails(lambda: verify_assertion(tamper(assertion), challenge, True), item)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_tampered_document_changes_the_challenge(alg: str) -> None:
    record, assertion, _ = _signed(alg)
    for path, value in [
        (("scope", "drives"), True),
        (("request", "target"), "admin"),
        (("approver", "account"), "mallory"),
        (("nonce",), "00" * 16),
    ]:
        doc = _mutate(record.document, path, value)
        check = lambda doc=doc: verify_assertion(assertion, approval_challenge(doc), True)  # noqa: E731
        _fails(check, "client_data_json.challenge")


def test_user_verification_only_when_required() -> None:
    _, assertion, challenge = _signed(user_verified=False)
    assert assertion.user_verified is False
    verify_assertion(assertion, challenge, False)
    _fails(lambda: verify_assertion(assertion, challenge, True), "authenticator_data.flags.uv")
    _fails(
        lambda: verify_assertion(replace(assertion, user_verified=True), challenge, False),
        "user_verified",
    )


# --- SessionPolicy.verify -------------------------------------------------------------


def _sp(
    policy: Policy = DEFAULT_POLICY,
    records: list[ApprovalRecord] | None = None,
    grant: Grant | None = None,
    request: Request | None = None,
) -> SessionPolicy:
    request = request or make_request(SESSION)
    if records is None:
        records = [passkey_record(SoftPasskey.generate(), request, "alice", policy=policy)]
    return SessionPolicy.create(policy, request, grant or make_grant(), records)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_session_policy_verifies(alg: str) -> None:
    sp = session_policy(SESSION, alg=alg)
    sp.verify(SESSION)
    SessionPolicy.from_dict(json.loads(json.dumps(sp.to_dict()))).verify(SESSION)


def test_two_approvers_and_passwords() -> None:
    two = replace(DEFAULT_POLICY, approvers_required=2)
    session_policy(SESSION, policy=two, approvers=("alice", "dave")).verify(SESSION)
    request = make_request(SESSION)
    lenient = replace(two, allow_password_approval=True)
    records = [
        passkey_record(SoftPasskey.generate(), request, "alice", policy=lenient),
        password_record(request, "carol", policy=lenient),
    ]
    _sp(lenient, records).verify(SESSION)
    strict = _sp(two, [passkey_record(SoftPasskey.generate(), request, "alice", policy=two),
                      password_record(request, "carol", policy=two)])  # fmt: skip
    _fails(lambda: strict.verify(SESSION), "policy.approvals[1].document.approver.method")


def test_too_few_and_duplicate_approvers() -> None:
    two = replace(DEFAULT_POLICY, approvers_required=2)
    request = make_request(SESSION)
    one = _sp(two, [passkey_record(SoftPasskey.generate(), request, "alice", policy=two)])
    assert "1 approver(s), the policy requires 2" in _fails(
        lambda: one.verify(SESSION), "policy.approvals"
    )
    _fails(lambda: _sp(records=[]).verify(SESSION), "policy.approvals")
    twice = _sp(
        two,
        [
            passkey_record(SoftPasskey.generate(), request, "alice", policy=two),
            passkey_record(SoftPasskey.generate(), request, "alice", policy=two),
        ],
    )
    _fails(lambda: twice.verify(SESSION), "policy.approvals[1].document.approver.account")
    key = SoftPasskey.generate()
    same_key = _sp(
        two,
        [
            passkey_record(key, request, "alice", policy=two),
            passkey_record(key, request, "dave", policy=two),
        ],
    )
    _fails(lambda: same_key.verify(SESSION), "policy.approvals[1].public_key")


def test_wrong_session_request_and_policy() -> None:
    sp = _sp()
    _fails(lambda: sp.verify("s2"), "policy.request.id")
    _fails(lambda: replace(sp, policy_hash=b"\x00" * 32).verify(SESSION), "policy.policy_hash")
    other = make_request(SESSION, target="admin")
    foreign = _sp(records=[passkey_record(SoftPasskey.generate(), other, "alice")])
    _fails(lambda: foreign.verify(SESSION), "policy.approvals[0].document.request")
    # Policy changed after approval: the records name the old one.
    newer = replace(DEFAULT_POLICY, version=2)
    stale = SessionPolicy.create(newer, sp.request, sp.grant, sp.approvals)
    _fails(lambda: stale.verify(SESSION), "policy.approvals[0].document.policy.version")
    same_version = replace(DEFAULT_POLICY, approval_window_s=5)
    stale = SessionPolicy.create(same_version, sp.request, sp.grant, sp.approvals)
    _fails(lambda: stale.verify(SESSION), "policy.approvals[0].document.policy.hash")


def test_denial_is_not_an_approval() -> None:
    request = make_request(SESSION)
    document = approval_document(
        request, "deny", SCOPE, DEFAULT_POLICY, "alice", "password", at(20)
    )
    lenient = replace(DEFAULT_POLICY, allow_password_approval=True)
    document["policy"]["hash"] = policy_hash(lenient).hex()
    record = ApprovalRecord(document, None, at(21))
    _fails(lambda: _sp(lenient, [record]).verify(SESSION), "policy.approvals[0].document.decision")


def test_scope_and_expiry() -> None:
    small = replace(DEFAULT_POLICY, scope_ceiling=replace(SCOPE, file_transfer=False))
    request = make_request(SESSION)
    over_ceiling = _sp(
        small,
        [passkey_record(SoftPasskey.generate(), request, "alice", policy=small, scope=BIG)],
        grant=make_grant(BIG),
    )
    _fails(lambda: over_ceiling.verify(SESSION), "policy.grant.scope")
    over_approval = _sp(grant=make_grant(replace(SCOPE, drives=True)))
    assert "exceeds the scope approved in policy.approvals[0]" in _fails(
        lambda: over_approval.verify(SESSION), "policy.grant.scope"
    )
    clamped = _sp(
        records=[passkey_record(SoftPasskey.generate(), request, "alice", scope=BIG)],
        grant=make_grant(SCOPE),
    )
    clamped.verify(SESSION)
    late = replace(make_grant(), expires_at=at(21 + SCOPE.ttl_s + 1))
    _fails(lambda: _sp(grant=late).verify(SESSION), "policy.grant.expires_at")


def test_rp_id_origin_and_tampering_through_the_policy() -> None:
    sp = _sp()
    moved = replace(DEFAULT_POLICY, rp_id="lucid.example", origins=("https://lucid.example",))
    record = sp.approvals[0]
    assert record.webauthn is not None
    elsewhere = _sp(moved, [passkey_record(SoftPasskey.generate(), sp.request, "alice", policy=moved, origin="https://lucid.example")])  # fmt: skip
    elsewhere.verify(SESSION)
    wrong_rp = replace(record.webauthn, rp_id="lucid.example")
    _fails(
        lambda: replace(sp, approvals=(replace(record, webauthn=wrong_rp),)).verify(SESSION),
        "policy.approvals[0].rp_id",
    )
    odd = _sp(records=[passkey_record(SoftPasskey.generate(), sp.request, "alice", origin="http://localhost:8080")])  # fmt: skip
    _fails(lambda: odd.verify(SESSION), "policy.approvals[0].origin")
    bad_sig = replace(record.webauthn, signature=_flip(record.webauthn.signature, 10))
    _fails(
        lambda: replace(sp, approvals=(replace(record, webauthn=bad_sig),)).verify(SESSION),
        "policy.approvals[0].signature",
    )
    edited = _mutate(record.document, ("issued_at",), at(19))
    _fails(
        lambda: replace(sp, approvals=(replace(record, document=edited),)).verify(SESSION),
        "policy.approvals[0].client_data_json.challenge",
    )
    no_uv = _sp(records=[passkey_record(SoftPasskey.generate(), sp.request, "alice", user_verified=False)])  # fmt: skip
    _fails(lambda: no_uv.verify(SESSION), "policy.approvals[0].authenticator_data.flags.uv")
    relaxed = replace(DEFAULT_POLICY, require_user_verification=False)
    _sp(relaxed, [passkey_record(SoftPasskey.generate(), sp.request, "alice", policy=relaxed, user_verified=False)]).verify(SESSION)  # fmt: skip


def test_approval_window_reuse() -> None:
    window = replace(DEFAULT_POLICY, approval_window_s=600)
    earlier = make_request("s0")
    records = [passkey_record(SoftPasskey.generate(), earlier, "alice", policy=window)]
    later = replace(make_request(SESSION), requested_at=at(300))
    grant = Grant(SCOPE, at(301), at(301 + 3600), via_window="s0")
    _sp(window, records, grant, later).verify(SESSION)
    # Not marked as a re-use: the records are for another session.
    _fails(
        lambda: _sp(window, records, replace(grant, via_window=None), later).verify(SESSION),
        "policy.approvals[0].document.request",
    )
    _fails(
        lambda: _sp(window, records, replace(grant, via_window="s9"), later).verify(SESSION),
        "policy.approvals[0].document.request.id",
    )
    _fails(
        lambda: _sp(window, records, replace(grant, via_window=SESSION), later).verify(SESSION),
        "policy.grant.via_window",
    )
    other_user = replace(later, user="eve")
    _fails(
        lambda: _sp(window, records, grant, other_user).verify(SESSION),
        "policy.approvals[0].document.request.user",
    )
    other_target = replace(later, target="admin")
    _fails(
        lambda: _sp(window, records, grant, other_target).verify(SESSION),
        "policy.approvals[0].document.request.target",
    )
    too_late = Grant(SCOPE, at(20 + 601), at(20 + 601 + 3600), via_window="s0")
    _fails(
        lambda: _sp(window, records, too_late, later).verify(SESSION),
        "policy.approvals[0].document.issued_at",
    )
    off = [passkey_record(SoftPasskey.generate(), earlier, "alice")]
    _fails(
        lambda: _sp(DEFAULT_POLICY, off, grant, later).verify(SESSION), "policy.grant.via_window"
    )


# --- in the bundle --------------------------------------------------------------------


def _rebundle(sample: Sample, tmp_path: Path, policy: dict[str, Any] | None) -> Path:
    doc = sample.manifest.to_dict()
    doc["policy"] = policy
    manifest = Manifest.from_dict(doc)
    signed = SignedManifest.sign(manifest, lambda m: sample.device.sign(m).signature)
    members = [
        (n, signed.to_bytes() if n == "manifest.json" else d) for n, d in read_members(sample.path)
    ]
    out = tmp_path / "resigned.lucid"
    write_members(out, members)
    return out


def test_bundle_with_policy_verifies(sample: Sample, tmp_path: Path) -> None:
    report = verify_bundle(sample.path)
    assert report.approvals == 1
    two = replace(DEFAULT_POLICY, approvers_required=2)
    sp = session_policy(sample.manifest.session, policy=two, approvers=("alice", "dave"))
    assert verify_bundle(_rebundle(sample, tmp_path, sp.to_dict())).approvals == 2
    report = verify_bundle(_rebundle(sample, tmp_path, None))
    assert report.approvals == 0 and report.chunk_count == 7


def test_bundle_with_tampered_approval_fails(sample: Sample, tmp_path: Path) -> None:
    assert sample.manifest.policy is not None
    policy = copy.deepcopy(dict(sample.manifest.policy))
    webauthn = policy["approvals"][0]["webauthn"]
    signature = from_b64u(webauthn["signature"], "signature")
    webauthn["signature"] = b64u(_flip(signature, 8))
    bad = _rebundle(sample, tmp_path, policy)
    with pytest.raises(VerificationError) as err:
        verify_bundle(bad)
    assert err.value.item == "policy.approvals[0].signature"

    policy = copy.deepcopy(dict(sample.manifest.policy))
    policy["approvals"][0]["document"]["scope"]["drives"] = True
    with pytest.raises(VerificationError) as err:
        verify_bundle(_rebundle(sample, tmp_path, policy))
    assert err.value.item == "policy.approvals[0].client_data_json.challenge"

    # Approvals of another session cannot be carried over.
    other = session_policy("another-session").to_dict()
    with pytest.raises(VerificationError) as err:
        verify_bundle(_rebundle(sample, tmp_path, other))
    assert err.value.item == "policy.request.id"


def test_bundle_policy_is_checked_before_chunks(sample: Sample, tmp_path: Path) -> None:
    other = session_policy("another-session").to_dict()
    bad = _rebundle(sample, tmp_path, other)
    first = sample.manifest.chunks[0]
    members = [
        (n, b"\x00" * first.size if n == f"chunks/{first.hash_hex}" else d)
        for n, d in read_members(bad)
    ]
    write_members(bad, members)
    with pytest.raises(VerificationError) as err:
        verify_bundle(bad)
    assert err.value.item == "policy.request.id"


def test_bundle_with_free_form_policy_is_a_format_error(sample: Sample, tmp_path: Path) -> None:
    bad = _rebundle(sample, tmp_path, {"approved_by": ["alice"], "max_minutes": 60})
    with pytest.raises(
        FormatError,
        match=r"^manifest.json: manifest.policy.format: expected 'lucid.session-policy'",
    ):
        verify_bundle(bad)
