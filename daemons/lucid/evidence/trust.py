"""Trust roots: what a verifier trusts, and what a verified bundle's OK rests on.

A bundle that verifies (`lucid.evidence.verify`) is consistent with itself: someone
holding *some* Ed25519 key signed it, and *some* passkeys approved it. Whether that key
is the device's and those passkeys the approvers' is what the verifier brings:

* a **trust file** (``lucid.trust`` version 1, docs/evidence.md §16) exported from the
  device (``lucid trust export``, or the web page): the device's name, its key history
  (its first key is its identity; each later key carries a rotation statement signed by
  the key before it) and the approvers' accounts with their passkeys' public keys;
* **pins** given by hand: a device key (64 hex digits) or its fingerprint (the first 16
  bytes, ``ea4a:6c63:…``), and approver credentials (``ACCOUNT=<COSE key, b64u>``).

`assess` turns a `VerifyReport` and the `TrustRoots` into an `Assessment`: one status
per thing the OK rests on, and `Assessment.failure` when something is not rooted in
what the verifier pinned. `Assessment.lines` are the sentences ``lucid verify`` prints
and the web page shows, word for word.

This module does not verify a bundle (`verify`), does not ask a chain (`anchor`) and
does not fetch anything: trust files are read from disk by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lucid.evidence import _fields as f
from lucid.evidence._webauthn import b64u, from_b64u
from lucid.evidence.canonical import canonical_json, parse_json
from lucid.evidence.crypto import device_fingerprint
from lucid.evidence.ed25519 import Ed25519Rejected, check_public_key, verify_ed25519
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.timestamps import parse_timestamp

__all__ = [
    "MAX_TRUST_FILE",
    "ROTATION_DOMAIN",
    "TRUST_FORMAT",
    "ApproverSeen",
    "Assessment",
    "DeviceKey",
    "TrustFile",
    "TrustRoots",
    "assess",
    "device_fingerprint",
    "rotation_message",
]

TRUST_FORMAT = "lucid.trust"
ROTATION_DOMAIN = b"lucid.rotate.v1\x00"
MAX_TRUST_FILE = 4 * 1024 * 1024
"""A trust file larger than this is refused before parsing (4 MiB: thousands of keys)."""

_TOP_KEYS = frozenset({"format", "version", "device", "approvers", "exported_at"})
_DEVICE_KEYS = frozenset({"name", "fingerprint", "keys"})
_KEY_KEYS = frozenset({"ed25519", "x25519", "since", "rotation"})
_APPROVER_KEYS = frozenset({"account", "role", "passkeys"})
_PASSKEY_KEYS = frozenset({"credential_id", "public_key", "created_at"})
_MAX_TOKENS = 500_000
_FINGERPRINT = re.compile(r"^[0-9a-f]{4}(:[0-9a-f]{4}){7}$")


def rotation_message(previous: bytes, next_key: bytes, x25519: bytes, since: str) -> bytes:
    """What the previous key signs to hand the device's identity on to ``next_key``:
    ``"lucid.rotate.v1" 0x00 || JCS({"next": hex, "previous": hex, "since": ts,
    "x25519": hex})``."""
    body = {"previous": previous.hex(), "next": next_key.hex(), "x25519": x25519.hex()}
    return ROTATION_DOMAIN + canonical_json(body | {"since": since})


@dataclass(frozen=True)
class DeviceKey:
    """One key of the device's history; `rotation` is None exactly for the first."""

    ed25519: bytes
    x25519: bytes
    since: str
    rotation: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ed25519": self.ed25519.hex(),
            "x25519": self.x25519.hex(),
            "since": self.since,
            "rotation": None if self.rotation is None else self.rotation.hex(),
        }


@dataclass(frozen=True)
class Passkey:
    credential_id: str  # b64u
    public_key: bytes  # COSE_Key
    created_at: str


@dataclass(frozen=True)
class Approver:
    account: str
    role: str
    passkeys: tuple[Passkey, ...]


@dataclass(frozen=True)
class TrustFile:
    """A parsed ``lucid.trust`` document (docs/evidence.md §16). Build with `create`,
    read with `load` / `from_bytes`; `from_dict` checks the key history's signatures."""

    name: str
    keys: tuple[DeviceKey, ...]
    approvers: tuple[Approver, ...]
    exported_at: str

    @property
    def fingerprint(self) -> str:
        """The device identity: the fingerprint of its first key."""
        return device_fingerprint(self.keys[0].ed25519)

    @classmethod
    def from_device(
        cls,
        identity: Mapping[str, str],
        accounts: Iterable[Mapping[str, Any]],
        exported_at: str,
        approver_roles: frozenset[str] = frozenset({"owner", "admin"}),
    ) -> TrustFile:
        """What a device vouches for: walletd's ``GetIdentity`` (name, keys, created_at) and
        gatekeeper's ``ListAccounts`` (only accounts whose role may approve).

        Raises:
            FormatError: the device's data would not make a valid trust file.
        """
        first = {
            "ed25519": identity["ed25519"],
            "x25519": identity["x25519"],
            "since": identity.get("created_at") or exported_at,
            "rotation": None,
        }
        approvers = [
            {
                "account": a["account"],
                "role": a["role"],
                "passkeys": [
                    {
                        "credential_id": c["id"],
                        "public_key": c["public_key"],
                        "created_at": c["created_at"],
                    }
                    for c in a["credentials"]
                ],
            }
            for a in accounts
            if a["role"] in approver_roles
        ]
        ed25519 = bytes.fromhex(identity["ed25519"])
        return cls.from_dict(
            {
                "format": TRUST_FORMAT,
                "version": 1,
                "device": {
                    "name": identity.get("name") or device_fingerprint(ed25519),
                    "fingerprint": device_fingerprint(ed25519),
                    "keys": [first],
                },
                "approvers": approvers,
                "exported_at": exported_at,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TRUST_FORMAT,
            "version": 1,
            "device": {
                "name": self.name,
                "fingerprint": self.fingerprint,
                "keys": [k.to_dict() for k in self.keys],
            },
            "approvers": [
                {
                    "account": a.account,
                    "role": a.role,
                    "passkeys": [
                        {
                            "credential_id": p.credential_id,
                            "public_key": b64u(p.public_key),
                            "created_at": p.created_at,
                        }
                        for p in a.passkeys
                    ],
                }
                for a in self.approvers
            ],
            "exported_at": self.exported_at,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON (what ``lucid trust export`` writes)."""
        return canonical_json(self.to_dict())

    @classmethod
    def load(cls, path: Path) -> TrustFile:
        """Read and check a trust file.

        Raises:
            FormatError: unreadable, too large, not a ``lucid.trust`` file, or its key
                history does not verify (the message names the field).
        """
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_TRUST_FILE + 1)
        except OSError as err:
            raise FormatError(f"trust file {path}: cannot read ({err.strerror})") from None
        if len(data) > MAX_TRUST_FILE:
            raise FormatError(f"trust file {path}: larger than {MAX_TRUST_FILE} bytes")
        try:
            return cls.from_bytes(data)
        except FormatError as err:
            raise FormatError(f"trust file {path}: {err}") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustFile:
        """Parse JSON bytes (any JSON spelling; duplicates and NaN refused)."""
        return cls.from_dict(parse_json(data, "trust file", max_tokens=_MAX_TOKENS))

    @classmethod
    def from_dict(cls, value: Any) -> TrustFile:
        """Validate the schema and the key history (§16.2).

        Raises:
            FormatError: naming the field path.
        """
        if isinstance(value, dict) and value.get("format") != TRUST_FORMAT:
            raise FormatError(f"format: expected {TRUST_FORMAT!r}: not a trust file")
        d = f.get_obj(value, "trust", _TOP_KEYS)
        if f.get_int(d["version"], "version") != 1:
            raise FormatError(f"version: unsupported version {d['version']}")
        dev = f.get_obj(d["device"], "device", _DEVICE_KEYS)
        keys = _history(f.get_list(dev["keys"], "device.keys"))
        fingerprint = f.get_str(dev["fingerprint"], "device.fingerprint")
        if fingerprint != device_fingerprint(keys[0].ed25519):
            raise FormatError("device.fingerprint: is not the fingerprint of device.keys[0]")
        approvers = tuple(
            _approver(a, f"approvers[{i}]")
            for i, a in enumerate(f.get_list(d["approvers"], "approvers"))
        )
        if len({a.account for a in approvers}) != len(approvers):
            raise FormatError("approvers: an account is listed twice")
        return cls(
            name=f.get_str(dev["name"], "device.name"),
            keys=keys,
            approvers=approvers,
            exported_at=_time(d["exported_at"], "exported_at"),
        )


def _time(value: Any, path: str) -> str:
    parse_timestamp(value, path)
    return str(value)


def _history(entries: list[Any]) -> tuple[DeviceKey, ...]:
    """Parse the key history; every key after the first must be handed on by the one
    before it (a strict Ed25519 signature over `rotation_message`)."""
    if not entries:
        raise FormatError("device.keys: at least one key (the device identity)")
    keys: list[DeviceKey] = []
    for i, entry in enumerate(entries):
        path = f"device.keys[{i}]"
        d = f.get_obj(entry, path, _KEY_KEYS)
        key = DeviceKey(
            ed25519=f.get_hex(d["ed25519"], f"{path}.ed25519", 32),
            x25519=f.get_hex(d["x25519"], f"{path}.x25519", 32),
            since=_time(d["since"], f"{path}.since"),
            rotation=None if d["rotation"] is None else f.get_hex(d["rotation"], path, 64),
        )
        try:
            check_public_key(key.ed25519)
        except Ed25519Rejected as err:
            raise FormatError(f"{path}.ed25519: {err}") from None
        if i == 0:
            if key.rotation is not None:
                raise FormatError(f"{path}.rotation: the first key is the identity: null")
        else:
            prev = keys[-1]
            if key.rotation is None:
                raise FormatError(f"{path}.rotation: a later key needs a rotation statement")
            if parse_timestamp(key.since, "since") < parse_timestamp(prev.since, "since"):
                raise FormatError(f"{path}.since: earlier than the key it replaces")
            message = rotation_message(prev.ed25519, key.ed25519, key.x25519, key.since)
            try:
                verify_ed25519(prev.ed25519, message, key.rotation)
            except Ed25519Rejected as err:
                raise FormatError(
                    f"{path}.rotation: not signed by device.keys[{i - 1}] ({err})"
                ) from None
        if any(k.ed25519 == key.ed25519 for k in keys):
            raise FormatError(f"{path}.ed25519: listed twice")
        keys.append(key)
    return tuple(keys)


def _approver(value: Any, path: str) -> Approver:
    d = f.get_obj(value, path, _APPROVER_KEYS)
    passkeys = []
    for i, p in enumerate(f.get_list(d["passkeys"], f"{path}.passkeys")):
        where = f"{path}.passkeys[{i}]"
        pk = f.get_obj(p, where, _PASSKEY_KEYS)
        passkeys.append(
            Passkey(
                credential_id=f.get_str(pk["credential_id"], f"{where}.credential_id"),
                public_key=from_b64u(pk["public_key"], f"{where}.public_key"),
                created_at=_time(pk["created_at"], f"{where}.created_at"),
            )
        )
    return Approver(
        account=f.get_str(d["account"], f"{path}.account"),
        role=f.get_str(d["role"], f"{path}.role"),
        passkeys=tuple(passkeys),
    )


# --- what the verifier trusts -----------------------------------------------------------


def _parse_device_pin(text: str) -> bytes:
    """A device pin: 64 hex digits (the key) or its fingerprint (32 hex digits, colons
    optional). Returns the key or the 16-byte prefix.

    Raises:
        FormatError: neither.
    """
    clean = text.strip().lower()
    digits = clean.replace(":", "")
    if re.fullmatch(r"[0-9a-f]{64}", digits) and ":" not in clean:
        return bytes.fromhex(digits)
    if re.fullmatch(r"[0-9a-f]{32}", digits) and (":" not in clean or _FINGERPRINT.match(clean)):
        return bytes.fromhex(digits)
    raise FormatError(
        f"--device-key {text!r}: expected the device's Ed25519 key (64 hex digits) or its "
        "fingerprint (xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx)"
    )


def _parse_approver_pin(text: str) -> tuple[str, bytes]:
    """``ACCOUNT=<COSE public key, b64u>`` (as in a bundle's ``webauthn.public_key``).

    Raises:
        FormatError: not that shape.
    """
    account, sep, key = text.partition("=")
    if not sep or not account.strip():
        raise FormatError(f"--approver {text!r}: expected ACCOUNT=<COSE public key, base64url>")
    return account.strip(), from_b64u(key.strip(), f"--approver {account.strip()}")


@dataclass(frozen=True)
class TrustRoots:
    """Everything the verifier trusts. Empty: nothing pinned (the OK says so)."""

    device_keys: frozenset[bytes] = frozenset()  # full keys or 16-byte fingerprints
    device_name: str = ""
    passkeys: Mapping[bytes, str] = field(default_factory=dict)  # COSE key -> account
    accounts: frozenset[str] = frozenset()  # accounts whose password approvals count
    source: str = ""  # "your trust file" or "your pinned key"

    @property
    def pins_device(self) -> bool:
        return bool(self.device_keys)

    @property
    def pins_approvers(self) -> bool:
        return bool(self.passkeys) or bool(self.accounts)

    @classmethod
    def build(
        cls,
        trust: TrustFile | None = None,
        device_pins: Iterable[str] = (),
        approver_pins: Iterable[str] = (),
    ) -> TrustRoots:
        """From a trust file and/or pins given on the command line.

        Raises:
            FormatError: a pin is malformed.
        """
        keys: set[bytes] = set()
        passkeys: dict[bytes, str] = {}
        accounts: set[str] = set()
        name = ""
        if trust is not None:
            keys.update(k.ed25519 for k in trust.keys)
            name = trust.name
            for a in trust.approvers:
                accounts.add(a.account)
                passkeys.update((p.public_key, a.account) for p in a.passkeys)
        pins = [_parse_device_pin(p) for p in device_pins]
        keys.update(pins)
        for pin in approver_pins:
            account, key = _parse_approver_pin(pin)
            passkeys[key] = account
        source = "your trust file" if trust is not None else "your pinned key"
        return cls(frozenset(keys), name, passkeys, frozenset(accounts), source)

    def trusts_device(self, ed25519: bytes) -> bool:
        return ed25519 in self.device_keys or ed25519[:16] in self.device_keys


# --- what the OK rests on ----------------------------------------------------------------


@dataclass(frozen=True)
class ApproverSeen:
    """An approval record of a verified bundle: who, how, with which key."""

    account: str
    method: Literal["passkey", "password"]
    public_key: bytes | None  # COSE key; None for a password approval


DeviceStatus = Literal["trusted", "untrusted", "unpinned"]
ApprovalStatus = Literal["trusted", "unknown"]
AnchorStatus = Literal["checked", "unchecked", "absent"]


@dataclass(frozen=True)
class Assessment:
    """What a verification's OK rests on (`assess`)."""

    device: bytes
    device_status: DeviceStatus
    device_name: str
    source: str
    approvals: tuple[tuple[ApproverSeen, ApprovalStatus], ...]
    policy_present: bool
    anchor: tuple[int, int] | None  # (block, chain id)
    anchor_status: AnchorStatus
    confirmations: int | None = None
    failure: VerificationError | None = None

    @property
    def lines(self) -> list[str]:
        """The sentences ``lucid verify`` prints under its OK line (and the web page's
        "Verified" shows), one per thing the OK rests on."""
        fp = device_fingerprint(self.device)
        who = f"device {self.device_name} ({fp})" if self.device_name else f"device {fp}"
        out = [
            {
                "trusted": f"signed by {who} (trusted: in {self.source})",
                "untrusted": f"signed by {who} (NOT in {self.source})",
                "unpinned": f"signed by {who} (not pinned: pass --trust or --device-key)",
            }[self.device_status]
        ]
        if not self.policy_present:
            out.append("no approval record (recorded without gatekeeper)")
        for seen, status in self.approvals:
            what = "passkey" if seen.method == "passkey" else "password (the device's word)"
            out.append(f"approved by {seen.account}'s {what} ({status})")
        if self.anchor is None:
            out.append("not anchored: no anchor.json (anchor not checked)")
        else:
            block, chain = self.anchor
            state = (
                f"checked, {self.confirmations} confirmations"
                if self.anchor_status == "checked"
                else "not checked: no --rpc"
            )
            out.append(f"anchored in block {block} of chain {chain} ({state})")
        return out


def assess(
    device: bytes,
    approvers: Iterable[ApproverSeen],
    policy_present: bool,
    anchor: tuple[int, int] | None,
    roots: TrustRoots,
    *,
    confirmations: int | None = None,
) -> Assessment:
    """Judge a verified bundle against what the verifier trusts.

    With a device pinned, a bundle signed by any other key fails (item ``trust.device``);
    with approvers pinned (a trust file or ``--approver``), an approval whose passkey
    (or, for a password approval, whose account) is not among them fails (item
    ``trust.approvals[<i>]``). Without pins nothing fails here and the lines say what
    was not pinned.

    Args:
        device: The manifest's ``device.ed25519``.
        approvers: The verified approval records, in manifest order.
        policy_present: Whether the manifest has a session policy.
        anchor: (block number, chain id) of ``anchor.json``, if present.
        roots: What the verifier trusts.
        confirmations: Set when the anchor was checked against a chain.
    """
    if not roots.pins_device:
        device_status: DeviceStatus = "unpinned"
    elif roots.trusts_device(device):
        device_status = "trusted"
    else:
        device_status = "untrusted"
    judged: list[tuple[ApproverSeen, ApprovalStatus]] = []
    failure: VerificationError | None = None
    if device_status == "untrusted":
        failure = VerificationError(
            "trust.device",
            f"trust.device: signed by device {device_fingerprint(device)} "
            f"({device.hex()}), NOT in {roots.source}",
        )
    for i, seen in enumerate(approvers):
        if seen.method == "passkey":
            ok = seen.public_key is not None and roots.passkeys.get(seen.public_key) == seen.account
        else:
            ok = seen.account in roots.accounts and device_status == "trusted"
        status: ApprovalStatus = "trusted" if ok else "unknown"
        judged.append((seen, status))
        if not ok and roots.pins_approvers and failure is None:
            item = f"trust.approvals[{i}]"
            failure = VerificationError(
                item,
                f"{item}: approved by {seen.account}'s {seen.method}, which is NOT in "
                f"{roots.source}",
            )
    return Assessment(
        device=device,
        device_status=device_status,
        device_name=roots.device_name if device_status == "trusted" else "",
        source=roots.source or "your trust file",
        approvals=tuple(judged),
        policy_present=policy_present,
        anchor=anchor,
        anchor_status="absent"
        if anchor is None
        else ("checked" if confirmations is not None else "unchecked"),
        confirmations=confirmations,
        failure=failure,
    )
