"""WebAuthn ceremonies admin-ui runs: pending flows, registration and login checks.

A *flow* is one ceremony in progress: begun by one request (which returns its id with the
options for ``navigator.credentials.create``/``get``), finished by another whose body is
exactly the browser's ``PublicKeyCredential`` JSON. Flows live in memory for
``FLOW_TTL_S``, are single use, and can be bound to the login that began them.

Registration options come from gatekeeper (it keeps the passkeys approvals are checked
against); admin-ui verifies the same registration itself only to keep the public key for
*login*. Login options are made here (py_webauthn). Approval assertions are never checked
here: gatekeeper does that and records them.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import webauthn
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.structs import UserVerificationRequirement

FLOW_TTL_S = 300.0
MAX_FLOWS = 1000


class PasskeyError(Exception):
    """The credential does not verify, or the options are unusable (message is safe)."""


@dataclass
class Flow:
    kind: str
    challenge: bytes
    owner: str  # digest of the login token that began it; "" for anonymous flows
    data: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)


class Flows:
    """In-memory single-use ceremonies (bounded; the oldest are dropped first)."""

    def __init__(self) -> None:
        self._flows: OrderedDict[str, Flow] = OrderedDict()

    def put(self, flow: Flow) -> str:
        now = time.monotonic()
        while self._flows and (
            len(self._flows) >= MAX_FLOWS
            or next(iter(self._flows.values())).created < now - FLOW_TTL_S
        ):
            self._flows.popitem(last=False)
        flow_id = secrets.token_urlsafe(18)
        self._flows[flow_id] = flow
        return flow_id

    def take(self, flow_id: str, kind: str, owner: str = "") -> Flow | None:
        """Remove and return the flow if it exists, is of ``kind``, ``owner``'s and fresh."""
        flow = self._flows.get(flow_id)
        if flow is None or flow.kind != kind or flow.owner != owner:
            return None
        del self._flows[flow_id]
        if flow.created < time.monotonic() - FLOW_TTL_S:
            return None
        return flow


def public_key_options(options_json: str) -> dict[str, Any]:
    """The options object from gatekeeper's JSON (bare or wrapped in ``publicKey``)."""
    try:
        opts = json.loads(options_json)
    except ValueError as err:
        raise PasskeyError("gatekeeper sent unusable WebAuthn options") from err
    if isinstance(opts, dict) and isinstance(opts.get("publicKey"), dict):
        opts = opts["publicKey"]
    if not isinstance(opts, dict) or not isinstance(opts.get("challenge"), str):
        raise PasskeyError("gatekeeper sent WebAuthn options without a challenge")
    return opts


def challenge_of(options: dict[str, Any]) -> bytes:
    return base64url_to_bytes(str(options["challenge"]))


@dataclass(frozen=True)
class NewPasskey:
    id: str  # unpadded base64url
    public_key: bytes  # COSE_Key
    sign_count: int


def verify_registration(
    credential: dict[str, Any], challenge: bytes, rp_id: str, origin: str
) -> NewPasskey:
    """Check a ``create()`` result against the challenge, rp id and origin.

    Raises:
        PasskeyError: anything wrong with it (the untrusted JSON included).
    """
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except Exception as err:  # py_webauthn raises many types on hostile input
        raise PasskeyError(f"passkey registration refused: {err}") from err
    return NewPasskey(
        bytes_to_base64url(verified.credential_id),
        verified.credential_public_key,
        verified.sign_count,
    )


def login_options(rp_id: str) -> tuple[bytes, dict[str, Any]]:
    """Options for a discoverable-credential login (no user name asked first)."""
    opts = webauthn.generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.PREFERRED
    )
    return opts.challenge, json.loads(webauthn.options_to_json(opts))


def credential_id(credential: dict[str, Any]) -> str:
    raw = credential.get("rawId", credential.get("id"))
    if not isinstance(raw, str) or not 0 < len(raw) <= 1400:
        raise PasskeyError("credential: rawId missing")
    return raw


def verify_login(
    credential: dict[str, Any],
    challenge: bytes,
    rp_id: str,
    origin: str,
    public_key: bytes,
    sign_count: int,
) -> int:
    """Check a ``get()`` result for login; return the new signature counter.

    Raises:
        PasskeyError: it does not verify.
    """
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
        )
    except Exception as err:  # py_webauthn raises many types on hostile input
        raise PasskeyError(f"passkey login refused: {err}") from err
    return int(verified.new_sign_count)
