"""Requests, the approval document an approver signs, and the record that keeps it.

`approval_document` builds the ``lucid.approval`` version 2 document naming the device
(its Ed25519 identity key), a `Request`, the decision, the granted `Scope` and the policy
hash; `approval_challenge` is the WebAuthn challenge
``SHA-256("lucid.approval.v2" 0x00 || JCS(document))`` (docs/approvals.md). Naming the
device is what keeps an approval from being moved into another device's bundle; naming the
request (whose ``id`` is the session) keeps it from being moved to another session. An `ApprovalRecord` is one signed document with its assertion.

This module builds and strictly parses documents and records (raising `FormatError`
that names the field path). It does not verify an assertion (`_webauthn`), does not
check a record against a policy or a session (`_session_policy`), and does not
store anything. Import these names from `lucid.evidence.approvals`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from lucid.evidence import _fields as f
from lucid.evidence._scope import Policy, Scope, policy_hash
from lucid.evidence._webauthn import WebAuthnAssertion
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError
from lucid.evidence.timestamps import parse_timestamp, utc_timestamp

__all__ = [
    "APPROVAL_FORMAT",
    "NONCE_SIZE",
    "ApprovalRecord",
    "Decision",
    "Method",
    "Request",
    "approval_challenge",
    "approval_document",
]

APPROVAL_FORMAT = "lucid.approval"
APPROVAL_VERSION = 2
"""Version 1 documents (no ``device``) are refused: they can be moved between devices."""
NONCE_SIZE = 16
"""Random bytes in an approval document's nonce (32 hex digits)."""

Decision = Literal["approve", "deny"]
Method = Literal["passkey", "password"]

_APPROVAL_DOMAIN = b"lucid.approval.v2\x00"
_DECISIONS = frozenset({"approve", "deny"})
_METHODS = frozenset({"passkey", "password"})
_REQUEST_KEYS = frozenset({"id", "user", "source", "target", "requested_scope", "requested_at"})
_DOCUMENT_KEYS = frozenset(
    {
        "format",
        "version",
        "device",
        "request",
        "decision",
        "scope",
        "policy",
        "approver",
        "issued_at",
        "nonce",
    }
)


def _get_text(value: Any, path: str) -> str:
    """A string that may be empty (``Request.source``)."""
    if not isinstance(value, str):
        raise FormatError(f"{path}: expected a string")
    return value


def _get_time(value: Any, path: str) -> str:
    """An RFC 3339 UTC timestamp, kept as written (`Grant` reads its times with it too)."""
    parse_timestamp(value, path)
    return cast(str, value)


def _time(value: str | datetime) -> str:
    return value if isinstance(value, str) else utc_timestamp(value)


@dataclass(frozen=True)
class Request:
    """A request for a session; `id` is the session name it will be recorded under."""

    id: str
    user: str
    source: str  # "" if unknown
    target: str  # target account
    requested_scope: Scope
    requested_at: str  # RFC 3339 UTC

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "user": self.user,
            "source": self.source,
            "target": self.target,
            "requested_scope": self.requested_scope.to_dict(),
            "requested_at": self.requested_at,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "request") -> Request:
        """Validate and convert the JSON form.

        Raises:
            FormatError: A field missing, unknown, of the wrong type or out of range.
        """
        d = f.get_obj(value, path, _REQUEST_KEYS)
        return cls(
            id=f.check_name(d["id"], f"{path}.id"),
            user=f.get_str(d["user"], f"{path}.user"),
            source=_get_text(d["source"], f"{path}.source"),
            target=f.get_str(d["target"], f"{path}.target"),
            requested_scope=Scope.from_dict(d["requested_scope"], f"{path}.requested_scope"),
            requested_at=_get_time(d["requested_at"], f"{path}.requested_at"),
        )


@dataclass(frozen=True)
class _Document:
    """The parsed view of an approval document (records keep the dict as signed)."""

    device: bytes
    request: Request
    decision: str
    scope: Scope
    policy_version: int
    policy_hash: bytes
    account: str
    method: str
    issued_at: str


def _parse_document(value: Any, path: str) -> _Document:
    d = f.get_obj(value, path, _DOCUMENT_KEYS)
    f.get_str(d["format"], f"{path}.format", choices=frozenset({APPROVAL_FORMAT}))
    if f.get_int(d["version"], f"{path}.version") != APPROVAL_VERSION:
        raise FormatError(
            f"{path}.version: unsupported version {d['version']} "
            f"(version {APPROVAL_VERSION} names the device; older approvals are not accepted)"
        )
    pol = f.get_obj(d["policy"], f"{path}.policy", frozenset({"version", "hash"}))
    who = f.get_obj(d["approver"], f"{path}.approver", frozenset({"account", "method"}))
    f.get_hex(d["nonce"], f"{path}.nonce", NONCE_SIZE)
    return _Document(
        device=f.get_hex(d["device"], f"{path}.device", 32),
        request=Request.from_dict(d["request"], f"{path}.request"),
        decision=f.get_str(d["decision"], f"{path}.decision", choices=_DECISIONS),
        scope=Scope.from_dict(d["scope"], f"{path}.scope"),
        policy_version=f.get_int(pol["version"], f"{path}.policy.version", minimum=1),
        policy_hash=f.get_hex(pol["hash"], f"{path}.policy.hash", 32),
        account=f.get_str(who["account"], f"{path}.approver.account"),
        method=f.get_str(who["method"], f"{path}.approver.method", choices=_METHODS),
        issued_at=_get_time(d["issued_at"], f"{path}.issued_at"),
    )


def approval_document(
    request: Request,
    decision: Decision,
    scope: Scope,
    policy: Policy,
    account: str,
    method: Method,
    issued_at: str | datetime,
    nonce: bytes | None = None,
    *,
    device: bytes,
) -> dict[str, Any]:
    """Build the approval document an approver signs (docs/approvals.md).

    Args:
        device: The device's Ed25519 identity key (32 bytes): the key its manifests are
            signed with (walletd ``GetIdentity``).
        request: The request decided on.
        decision: ``"approve"`` or ``"deny"``.
        scope: The granted scope (for a denial, the requested one).
        policy: The active policy; its version and `policy_hash` go in the document.
        account: The approver's account name.
        method: ``"passkey"`` or ``"password"``.
        issued_at: When the decision was made (aware datetime or RFC 3339 UTC string).
        nonce: 16 bytes; fresh random ones if None.

    Raises:
        ValueError: An argument would make an invalid document.

    Returns:
        The document as a JSON-shaped dict (pass it to `approval_challenge`).
    """
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    document = {
        "format": APPROVAL_FORMAT,
        "version": APPROVAL_VERSION,
        "device": device.hex(),
        "request": request.to_dict(),
        "decision": decision,
        "scope": scope.to_dict(),
        "policy": {"version": policy.version, "hash": policy_hash(policy).hex()},
        "approver": {"account": account, "method": method},
        "issued_at": _time(issued_at),
        "nonce": nonce.hex(),
    }
    try:
        _parse_document(document, "document")
    except FormatError as err:
        raise ValueError(f"invalid approval document: {err}") from None
    return document


def approval_challenge(document: Mapping[str, Any]) -> bytes:
    """``SHA-256("lucid.approval.v2" 0x00 || JCS(document))``: the 32-byte WebAuthn challenge.

    Raises:
        ValueError: `document` is not representable as canonical JSON.
    """
    return hashlib.sha256(_APPROVAL_DOMAIN + canonical_json(dict(document))).digest()


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval as gatekeeper stores it and the manifest carries it.

    `document` is kept as the JSON dict that was signed; `webauthn` is None exactly
    when the approver's method is ``"password"``.
    """

    document: dict[str, Any]
    webauthn: WebAuthnAssertion | None
    verified_at: str

    @property
    def account(self) -> str:
        """The approver's account (``document.approver.account``)."""
        return cast(str, self.document["approver"]["account"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "document": self.document,
            "webauthn": None if self.webauthn is None else self.webauthn.to_dict(),
            "verified_at": self.verified_at,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "record") -> ApprovalRecord:
        """Validate and convert the JSON form (the document is parsed strictly, then kept).

        Raises:
            FormatError: A field missing, unknown or malformed; `webauthn` null for a
                passkey approval or present for a password one.
        """
        d = f.get_obj(value, path, frozenset({"document", "webauthn", "verified_at"}))
        doc = _parse_document(d["document"], f"{path}.document")
        webauthn = None
        if doc.method == "passkey":
            if d["webauthn"] is None:
                raise FormatError(f"{path}.webauthn: required for a passkey approval")
            webauthn = WebAuthnAssertion.from_dict(d["webauthn"], f"{path}.webauthn")
        elif d["webauthn"] is not None:
            raise FormatError(f"{path}.webauthn: must be null for a password approval")
        return cls(
            document=d["document"],
            webauthn=webauthn,
            verified_at=_get_time(d["verified_at"], f"{path}.verified_at"),
        )
