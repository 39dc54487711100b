"""lucid.evidence.SessionPolicy.verify: approvers, sessions, scope and expiry, rp_id and
origins, approval windows. Real soft passkeys sign everything."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from lucid.evidence import (
    DEFAULT_POLICY,
    ApprovalRecord,
    Grant,
    Policy,
    Request,
    SessionPolicy,
    SoftPasskey,
    approval_document,
    policy_hash,
    utc_timestamp,
)
from lucid.evidence.timestamps import parse_timestamp
from tests.evidence.approval_helpers import (
    BIG,
    CONTEXT,
    DEVICE,
    SCOPE,
    SESSION,
    at,
    fails,
    flip,
    make_grant,
    make_request,
    passkey_record,
    password_record,
    session_policy,
)
from tests.evidence.helpers import mutate


def _after(grant: Grant) -> tuple[bytes, str, str]:
    """The manifest context of a minute of recording starting 9 s after ``grant``."""
    start = parse_timestamp(grant.approved_at, "approved_at")
    return (
        DEVICE,
        utc_timestamp(start + timedelta(seconds=9)),
        utc_timestamp(start + timedelta(seconds=69)),
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
    sp.verify(SESSION, *CONTEXT)
    SessionPolicy.from_dict(json.loads(json.dumps(sp.to_dict()))).verify(SESSION, *CONTEXT)


def test_two_approvers_and_passwords() -> None:
    two = replace(DEFAULT_POLICY, approvers_required=2)
    session_policy(SESSION, policy=two, approvers=("alice", "dave")).verify(SESSION, *CONTEXT)
    request = make_request(SESSION)
    lenient = replace(two, allow_password_approval=True)
    records = [
        passkey_record(SoftPasskey.generate(), request, "alice", policy=lenient),
        password_record(request, "carol", policy=lenient),
    ]
    _sp(lenient, records).verify(SESSION, *CONTEXT)
    strict = _sp(two, [passkey_record(SoftPasskey.generate(), request, "alice", policy=two),
                      password_record(request, "carol", policy=two)])  # fmt: skip
    fails(lambda: strict.verify(SESSION, *CONTEXT), "policy.approvals[1].document.approver.method")


def test_too_few_and_duplicate_approvers() -> None:
    two = replace(DEFAULT_POLICY, approvers_required=2)
    request = make_request(SESSION)
    one = _sp(two, [passkey_record(SoftPasskey.generate(), request, "alice", policy=two)])
    assert "1 approver(s), the policy requires 2" in fails(
        lambda: one.verify(SESSION, *CONTEXT), "policy.approvals"
    )
    fails(lambda: _sp(records=[]).verify(SESSION, *CONTEXT), "policy.approvals")
    twice = _sp(
        two,
        [
            passkey_record(SoftPasskey.generate(), request, "alice", policy=two),
            passkey_record(SoftPasskey.generate(), request, "alice", policy=two),
        ],
    )
    fails(lambda: twice.verify(SESSION, *CONTEXT), "policy.approvals[1].document.approver.account")
    key = SoftPasskey.generate()
    same_key = _sp(
        two,
        [
            passkey_record(key, request, "alice", policy=two),
            passkey_record(key, request, "dave", policy=two),
        ],
    )
    fails(lambda: same_key.verify(SESSION, *CONTEXT), "policy.approvals[1].public_key")


def test_wrong_session_request_and_policy() -> None:
    sp = _sp()
    fails(lambda: sp.verify("s2", *CONTEXT), "policy.request.id")
    fails(
        lambda: replace(sp, policy_hash=b"\x00" * 32).verify(SESSION, *CONTEXT),
        "policy.policy_hash",
    )
    other = make_request(SESSION, target="admin")
    foreign = _sp(records=[passkey_record(SoftPasskey.generate(), other, "alice")])
    fails(lambda: foreign.verify(SESSION, *CONTEXT), "policy.approvals[0].document.request")
    # Policy changed after approval: the records name the old one.
    newer = replace(DEFAULT_POLICY, version=2)
    stale = SessionPolicy.create(newer, sp.request, sp.grant, sp.approvals)
    fails(lambda: stale.verify(SESSION, *CONTEXT), "policy.approvals[0].document.policy.version")
    same_version = replace(DEFAULT_POLICY, approval_window_s=5)
    stale = SessionPolicy.create(same_version, sp.request, sp.grant, sp.approvals)
    fails(lambda: stale.verify(SESSION, *CONTEXT), "policy.approvals[0].document.policy.hash")


def test_denial_is_not_an_approval() -> None:
    request = make_request(SESSION)
    document = approval_document(
        request, "deny", SCOPE, DEFAULT_POLICY, "alice", "password", at(20), device=DEVICE
    )
    lenient = replace(DEFAULT_POLICY, allow_password_approval=True)
    document["policy"]["hash"] = policy_hash(lenient).hex()
    record = ApprovalRecord(document, None, at(21))
    fails(
        lambda: _sp(lenient, [record]).verify(SESSION, *CONTEXT),
        "policy.approvals[0].document.decision",
    )


def test_scope_and_expiry() -> None:
    small = replace(DEFAULT_POLICY, scope_ceiling=replace(SCOPE, file_transfer=False))
    request = make_request(SESSION)
    over_ceiling = _sp(
        small,
        [passkey_record(SoftPasskey.generate(), request, "alice", policy=small, scope=BIG)],
        grant=make_grant(BIG),
    )
    fails(lambda: over_ceiling.verify(SESSION, *CONTEXT), "policy.grant.scope")
    over_approval = _sp(grant=make_grant(replace(SCOPE, drives=True)))
    assert "exceeds the scope approved in policy.approvals[0]" in fails(
        lambda: over_approval.verify(SESSION, *CONTEXT), "policy.grant.scope"
    )
    clamped = _sp(
        records=[passkey_record(SoftPasskey.generate(), request, "alice", scope=BIG)],
        grant=make_grant(SCOPE),
    )
    clamped.verify(SESSION, *CONTEXT)
    late = replace(make_grant(), expires_at=at(21 + SCOPE.ttl_s + 1))
    fails(lambda: _sp(grant=late).verify(SESSION, *CONTEXT), "policy.grant.expires_at")


def test_rp_id_origin_and_tampering_through_the_policy() -> None:
    sp = _sp()
    moved = replace(DEFAULT_POLICY, rp_id="lucid.example", origins=("https://lucid.example",))
    record = sp.approvals[0]
    assert record.webauthn is not None
    elsewhere = _sp(moved, [passkey_record(SoftPasskey.generate(), sp.request, "alice", policy=moved, origin="https://lucid.example")])  # fmt: skip
    elsewhere.verify(SESSION, *CONTEXT)
    wrong_rp = replace(record.webauthn, rp_id="lucid.example")
    fails(
        lambda: replace(sp, approvals=(replace(record, webauthn=wrong_rp),)).verify(
            SESSION, *CONTEXT
        ),
        "policy.approvals[0].rp_id",
    )
    odd = _sp(records=[passkey_record(SoftPasskey.generate(), sp.request, "alice", origin="http://localhost:8080")])  # fmt: skip
    fails(lambda: odd.verify(SESSION, *CONTEXT), "policy.approvals[0].origin")
    bad_sig = replace(record.webauthn, signature=flip(record.webauthn.signature, 10))
    fails(
        lambda: replace(sp, approvals=(replace(record, webauthn=bad_sig),)).verify(
            SESSION, *CONTEXT
        ),
        "policy.approvals[0].signature",
    )
    edited = mutate(record.document, ("issued_at",), at(19))
    fails(
        lambda: replace(sp, approvals=(replace(record, document=edited),)).verify(
            SESSION, *CONTEXT
        ),
        "policy.approvals[0].client_data_json.challenge",
    )
    no_uv = _sp(records=[passkey_record(SoftPasskey.generate(), sp.request, "alice", user_verified=False)])  # fmt: skip
    fails(
        lambda: no_uv.verify(SESSION, *CONTEXT), "policy.approvals[0].authenticator_data.flags.uv"
    )
    relaxed = replace(DEFAULT_POLICY, require_user_verification=False)
    _sp(relaxed, [passkey_record(SoftPasskey.generate(), sp.request, "alice", policy=relaxed, user_verified=False)]).verify(SESSION, *CONTEXT)  # fmt: skip


def test_approval_window_reuse() -> None:
    window = replace(DEFAULT_POLICY, approval_window_s=600)
    earlier = make_request("s0")
    records = [passkey_record(SoftPasskey.generate(), earlier, "alice", policy=window)]
    later = replace(make_request(SESSION), requested_at=at(300))
    grant = Grant(SCOPE, at(301), at(301 + 3600), via_window="s0")
    _sp(window, records, grant, later).verify(SESSION, *_after(grant))
    # Not marked as a re-use: the records are for another session.
    fails(
        lambda: _sp(window, records, replace(grant, via_window=None), later).verify(
            SESSION, *_after(grant)
        ),
        "policy.approvals[0].document.request",
    )
    fails(
        lambda: _sp(window, records, replace(grant, via_window="s9"), later).verify(
            SESSION, *_after(grant)
        ),
        "policy.approvals[0].document.request.id",
    )
    fails(
        lambda: _sp(window, records, replace(grant, via_window=SESSION), later).verify(
            SESSION, *_after(grant)
        ),
        "policy.grant.via_window",
    )
    other_user = replace(later, user="eve")
    fails(
        lambda: _sp(window, records, grant, other_user).verify(SESSION, *_after(grant)),
        "policy.approvals[0].document.request.user",
    )
    other_target = replace(later, target="admin")
    fails(
        lambda: _sp(window, records, grant, other_target).verify(SESSION, *_after(grant)),
        "policy.approvals[0].document.request.target",
    )
    too_late = Grant(SCOPE, at(20 + 601), at(20 + 601 + 3600), via_window="s0")
    fails(
        lambda: _sp(window, records, too_late, later).verify(SESSION, *_after(too_late)),
        "policy.approvals[0].document.issued_at",
    )
    off = [passkey_record(SoftPasskey.generate(), earlier, "alice")]
    fails(
        lambda: _sp(DEFAULT_POLICY, off, grant, later).verify(SESSION, *_after(grant)),
        "policy.grant.via_window",
    )
