"""Trust roots (lucid.evidence.trust, `lucid verify --trust/--device-key/--approver`): what an
OK rests on, and the forgeries that an OK used to hide: re-signed bundles, approvals moved
from another device, approvers and devices the verifier never trusted, forged key
histories. Real crypto and the real CLI throughout."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from lucid.evidence import (
    SignedManifest,
    build_manifest,
    build_proofs,
    canonical_json,
    utc_timestamp,
    write_bundle,
)
from lucid.evidence.approvals import b64u
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.trust import (
    DeviceKey,
    TrustFile,
    TrustRoots,
    device_fingerprint,
    rotation_message,
)
from lucid.evidence.verify import verify_bundle
from tests.evidence.approval_helpers import DEVICE, DEVICE_SEED, T0
from tests.evidence.helpers import Sample, make_sample

LUCID = [sys.executable, "-m", "lucid.cli"]
KEEP: Any = object()


def lucid(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LUCID, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def approver_key(sample: Sample) -> str:
    """The COSE public key (b64u) of the sample's one passkey approval."""
    policy = sample.manifest.policy
    assert policy is not None
    return str(policy["approvals"][0]["webauthn"]["public_key"])


def identity(seed: bytes = DEVICE_SEED) -> dict[str, str]:
    key = nacl.signing.SigningKey(seed)
    return {
        "ed25519": bytes(key.verify_key).hex(),
        "x25519": "09" * 32,
        "created_at": utc_timestamp(T0),
        "name": "pi-lab",
    }


def accounts(sample: Sample, account: str = "alice", role: str = "owner") -> list[dict[str, Any]]:
    cred = {"id": "AQID", "public_key": approver_key(sample), "created_at": utc_timestamp(T0)}
    return [{"account": account, "role": role, "credentials": [cred]}]


def trust_file(tmp_path: Path, trust: TrustFile, name: str = "trust.json") -> Path:
    path = tmp_path / name
    path.write_bytes(trust.to_bytes())
    return path


def resign(
    sample: Sample,
    key: nacl.signing.SigningKey,
    out: Path,
    *,
    policy: Any = KEEP,
    drop: str | None = None,
) -> Path:
    """The sample re-sealed by someone holding ``key``: a stream dropped, the policy kept
    (the genuine approval) or replaced."""
    m = sample.manifest
    chunks = [c for c in m.chunks if c.stream != drop]
    manifest = build_manifest(
        session=m.session,
        device=replace(m.device, ed25519=bytes(key.verify_key)),
        started_at=m.started_at,
        ended_at=m.ended_at,
        encoder=m.encoder,
        streams=[s for s in m.streams if s.name != drop],
        chunks=chunks,
        recipients=m.recipients,
        policy=m.policy if policy is KEEP else policy,
        complete=m.complete,
    )
    signed = SignedManifest.sign(manifest, lambda msg: key.sign(msg).signature)
    write_bundle(out, signed, build_proofs(manifest), sample.store.__getitem__, lambda _: None)
    return out


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return make_sample(tmp_path)


# --- the user's path -----------------------------------------------------------------


def test_genuine_bundle_names_what_it_rests_on(sample: Sample, tmp_path: Path) -> None:
    bare = lucid("verify", "-q", sample.path)
    assert bare.returncode == 0, bare.stderr
    fp = device_fingerprint(DEVICE)
    assert bare.stdout.splitlines()[1:] == [
        f"  signed by device {fp} (not pinned: pass --trust or --device-key)",
        "  approved by alice's passkey (unknown)",
        "  not anchored: no anchor.json (anchor not checked)",
    ]
    trust = trust_file(
        tmp_path, TrustFile.from_device(identity(), accounts(sample), "2026-12-01T00:00:00.000Z")
    )
    ok = lucid("verify", "-q", sample.path, "--trust", trust)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1:3] == [
        f"  signed by device pi-lab ({fp}) (trusted: in your trust file)",
        "  approved by alice's passkey (trusted)",
    ]
    for pin in (DEVICE.hex(), fp, fp.replace(":", "").upper()):
        pinned = lucid("verify", "-q", sample.path, "--device-key", pin)
        assert pinned.returncode == 0 and "(trusted: in your pinned key)" in pinned.stdout
    by_key = lucid("verify", "-q", sample.path, "--approver", f"alice={approver_key(sample)}")
    assert by_key.returncode == 0 and "approved by alice's passkey (trusted)" in by_key.stdout


def test_trust_file_round_trips_and_lists_only_approvers(sample: Sample) -> None:
    accts = accounts(sample) + accounts(sample, "audrey", "auditor")
    trust = TrustFile.from_device(identity(), accts, "2026-12-01T00:00:00.000Z")
    again = TrustFile.from_bytes(trust.to_bytes())
    assert again == trust and [a.account for a in trust.approvers] == ["alice"]
    assert trust.fingerprint == device_fingerprint(DEVICE) and trust.name == "pi-lab"
    assert json.loads(trust.to_bytes())["format"] == "lucid.trust"


# --- the attacker's path ---------------------------------------------------------------


def test_resigned_bundle_with_the_genuine_approval_fails(sample: Sample, tmp_path: Path) -> None:
    forger = nacl.signing.SigningKey.generate()
    forged = resign(sample, forger, tmp_path / "forged.lucid", drop="audit")
    proc = lucid("verify", "-q", forged)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"FAILED {forged}: policy.approvals[0].document.device: ")


def test_resigned_bundle_without_policy_is_not_trusted(sample: Sample, tmp_path: Path) -> None:
    forger = nacl.signing.SigningKey.generate()
    forged = resign(sample, forger, tmp_path / "forged.lucid", policy=None, drop="audit")
    bare = lucid("verify", "-q", forged)  # consistent with itself: the OK names the stranger
    fp = device_fingerprint(bytes(forger.verify_key))
    assert bare.returncode == 0
    assert f"signed by device {fp} (not pinned" in bare.stdout
    assert "no approval record (recorded without gatekeeper)" in bare.stdout
    trust = trust_file(
        tmp_path, TrustFile.from_device(identity(), accounts(sample), "2026-12-01T00:00:00.000Z")
    )
    for args in (("--trust", trust), ("--device-key", device_fingerprint(DEVICE))):
        proc = lucid("verify", "-q", forged, *args)
        assert proc.returncode == 1 and proc.stdout == ""
        assert (
            f"trust.device: signed by device {fp}" in proc.stderr and "NOT in your" in proc.stderr
        )


def test_approval_from_another_device_fails(tmp_path: Path) -> None:
    # Device B records a session of the same name and carries device A's genuine approval.
    genuine = make_sample(tmp_path)
    other = resign(genuine, nacl.signing.SigningKey(b"\x08" * 32), tmp_path / "b.lucid")
    with pytest.raises(VerificationError) as err:
        verify_bundle(other)
    assert err.value.item == "policy.approvals[0].document.device"


def test_unknown_approver_fails_with_a_trust_file(sample: Sample, tmp_path: Path) -> None:
    stranger = dict(accounts(sample)[0], credentials=[])  # alice, but not this passkey
    trust = trust_file(
        tmp_path, TrustFile.from_device(identity(), [stranger], "2026-12-01T00:00:00.000Z")
    )
    proc = lucid("verify", "-q", sample.path, "--trust", trust)
    assert proc.returncode == 1
    assert (
        "trust.approvals[0]: approved by alice's passkey, which is NOT in your trust file"
        in proc.stderr
    )
    renamed = lucid("verify", "-q", sample.path, "--approver", f"mallory={approver_key(sample)}")
    assert renamed.returncode == 1 and "trust.approvals[0]" in renamed.stderr


def test_other_device_in_trust_file_fails(sample: Sample, tmp_path: Path) -> None:
    trust = trust_file(
        tmp_path,
        TrustFile.from_device(identity(b"\x08" * 32), accounts(sample), "2026-12-01T00:00:00.000Z"),
    )
    proc = lucid("verify", "-q", sample.path, "--trust", trust)
    assert proc.returncode == 1 and "trust.device" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--device-key", "abcd"),
        ("--device-key", "zz" * 32),
        ("--approver", "no-equals-sign"),
        ("--approver", "alice=not base64!"),
        ("--trust", "/nonexistent/trust.json"),
    ],
)
def test_bad_pins_are_usage_errors(sample: Sample, args: tuple[str, str]) -> None:
    proc = lucid("verify", "-q", sample.path, *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _history(*seeds: bytes) -> list[dict[str, Any]]:
    keys = [nacl.signing.SigningKey(s) for s in seeds]
    out: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        pub = bytes(key.verify_key)
        since = utc_timestamp(T0.replace(day=T0.day + i))
        rotation = None
        if i:
            prev = keys[i - 1]
            prev_pub = bytes(prev.verify_key)
            sig = prev.sign(rotation_message(prev_pub, pub, b"\x09" * 32, since)).signature
            rotation = sig.hex()
        out.append(DeviceKey(pub, b"\x09" * 32, since, None).to_dict() | {"rotation": rotation})
    return out


def _trust_doc(keys: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "lucid.trust",
        "version": 1,
        "device": {
            "name": "pi",
            "fingerprint": device_fingerprint(bytes.fromhex(keys[0]["ed25519"])),
            "keys": keys,
        },
        "approvers": [],
        "exported_at": "2026-12-01T00:00:00.000Z",
    }


def test_rotated_key_is_trusted_through_its_statement(sample: Sample, tmp_path: Path) -> None:
    keys = _history(b"\x01" * 32, DEVICE_SEED)  # the old key handed over to the sample's
    trust = TrustFile.from_dict(_trust_doc(keys))
    assert TrustRoots.build(trust).trusts_device(DEVICE)
    path = tmp_path / "rotated.json"
    path.write_bytes(canonical_json(_trust_doc(keys)))
    proc = lucid("verify", "-q", sample.path, "--trust", path)
    assert proc.returncode == 0 and "(trusted: in your trust file)" in proc.stdout


def test_forged_key_history_is_refused(tmp_path: Path) -> None:
    forged = _history(b"\x01" * 32, b"\x02" * 32, DEVICE_SEED)  # valid, then forged below
    assert TrustFile.from_dict(_trust_doc(forged)).keys[2].ed25519 == DEVICE
    stranger = nacl.signing.SigningKey(b"\x0a" * 32)  # hands the identity on to itself
    message = rotation_message(
        bytes.fromhex(forged[1]["ed25519"]), DEVICE, b"\x09" * 32, forged[2]["since"]
    )
    forged[2]["rotation"] = stranger.sign(message).signature.hex()
    with pytest.raises(FormatError, match=r"device.keys\[2\].rotation: not signed by"):
        TrustFile.from_dict(_trust_doc(forged))
    unsigned = _history(b"\x01" * 32, DEVICE_SEED)
    unsigned[1]["rotation"] = None
    with pytest.raises(FormatError, match="needs a rotation statement"):
        TrustFile.from_dict(_trust_doc(unsigned))
    small_order = _history(b"\x01" * 32)
    small_order[0]["ed25519"] = "01" + "00" * 31  # the identity point
    doc = _trust_doc(small_order)
    with pytest.raises(FormatError, match="ed25519"):
        TrustFile.from_dict(doc)
    path = tmp_path / "forged.json"
    path.write_bytes(canonical_json(_trust_doc(forged)))
    sample = make_sample(tmp_path)
    proc = lucid("verify", "-q", sample.path, "--trust", path)
    assert (
        proc.returncode == 2 and "not signed by" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_password_approval_rests_on_the_device(tmp_path: Path) -> None:
    from lucid.evidence.trust import ApproverSeen, assess

    seen = [ApproverSeen("carol", "password", None)]
    trust = TrustFile.from_device(
        identity(),
        [{"account": "carol", "role": "admin", "credentials": []}],
        "2026-12-01T00:00:00.000Z",
    )
    good = assess(DEVICE, seen, True, None, TrustRoots.build(trust))
    assert good.failure is None
    assert "approved by carol's password (the device's word) (trusted)" in good.lines
    other = TrustFile.from_device(
        identity(b"\x08" * 32),
        [{"account": "carol", "role": "admin", "credentials": []}],
        "2026-12-01T00:00:00.000Z",
    )
    bad = assess(DEVICE, seen, True, None, TrustRoots.build(other))
    assert bad.failure is not None and bad.failure.item == "trust.device"
    b64u(b"")  # b64u is the spelling used in trust files
