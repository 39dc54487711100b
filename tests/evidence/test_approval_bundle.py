"""The session policy's place in verify_bundle: checked, checked before the chunks, and a
free-form policy refused."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lucid.evidence import (
    DEFAULT_POLICY,
    FormatError,
    Manifest,
    SignedManifest,
    VerificationError,
    verify_bundle,
)
from lucid.evidence.approvals import b64u, from_b64u
from tests.evidence.approval_helpers import (
    flip,
    session_policy,
)
from tests.evidence.helpers import Sample, read_members, write_members

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
    webauthn["signature"] = b64u(flip(signature, 8))
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
