"""gatekeeper as a WebAuthn relying party, on py_webauthn.

Builds ``PublicKeyCredentialCreationOptions`` / ``RequestOptions`` (JSON, as browsers take
them) and verifies what an authenticator sends back. Every failure of untrusted input is
an ``InvalidArgumentError`` with one line saying what was wrong. Only ES256 (P-256) and
EdDSA (Ed25519) credentials are accepted: those are what approval records can carry and
``lucid verify`` can check offline. This module keeps no state.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import decode_credential_public_key
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.decode_credential_public_key import DecodedOKPPublicKey
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from lucid.evidence.approvals import Policy, b64u, from_b64u
from lucid.evidence.ed25519 import Ed25519Rejected, check_public_key
from lucid.evidence.errors import FormatError
from lucid.runtime.errors import InvalidArgumentError

ALGORITHMS = {-7: "ES256", -8: "Ed25519"}
_SUPPORTED = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA]
TIMEOUT_MS = 300_000  # what the browser is told; documents expire on gatekeeper's own clock


@dataclass(frozen=True)
class NewCredential:
    """A verified registration."""

    id: bytes
    public_key: bytes  # COSE_Key
    alg: int
    sign_count: int


def parse_credential(text: str) -> dict[str, Any]:
    """A ``PublicKeyCredential`` JSON object, with its id, client data and challenge checked
    for shape (not for truth).

    Raises:
        InvalidArgumentError: not a JSON object, or the fields a credential must have are
            missing or not base64url.
    """
    try:
        data: Any = json.loads(text)
    except ValueError as err:
        raise InvalidArgumentError(f"credential is not JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
        raise InvalidArgumentError("credential must be a PublicKeyCredential JSON object")
    try:
        from_b64u(data.get("rawId"), "credential.rawId")
        client_data = from_b64u(data["response"].get("clientDataJSON"), "clientDataJSON")
    except FormatError as err:
        raise InvalidArgumentError(f"credential: {err}") from None
    if data.get("id") != data.get("rawId"):
        raise InvalidArgumentError("credential: id and rawId differ")
    try:
        client = json.loads(client_data)
        challenge = from_b64u(client["challenge"], "clientDataJSON.challenge")
    except (ValueError, KeyError, TypeError, FormatError):
        raise InvalidArgumentError("credential: clientDataJSON has no challenge") from None
    data["_challenge"] = challenge
    return data


def challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge the client data of a `parse_credential` result claims."""
    return bytes(credential["_challenge"])


def _clean(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "_challenge"}


def _uv(policy: Policy) -> UserVerificationRequirement:
    return (
        UserVerificationRequirement.REQUIRED
        if policy.require_user_verification
        else UserVerificationRequirement.PREFERRED
    )


def registration_options(
    policy: Policy,
    rp_name: str,
    account: str,
    user_handle: bytes,
    challenge: bytes,
    existing: Sequence[bytes],
) -> str:
    """``PublicKeyCredentialCreationOptions`` JSON for ``account``."""
    options = generate_registration_options(
        rp_id=policy.rp_id,
        rp_name=rp_name,
        user_name=account,
        user_id=user_handle,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=_uv(policy)
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
        supported_pub_key_algs=_SUPPORTED,
    )
    return options_to_json(options)


def verify_registration(
    policy: Policy, credential: dict[str, Any], challenge: bytes
) -> NewCredential:
    """Check an attestation (``"none"`` or any py_webauthn knows) against the policy.

    Raises:
        InvalidArgumentError: it does not verify, uses another algorithm, or carries an
            Ed25519 key the strict rule refuses (`lucid.evidence.ed25519.check_public_key`).
    """
    try:
        verified = verify_registration_response(
            credential=_clean(credential),
            expected_challenge=challenge,
            expected_rp_id=policy.rp_id,
            expected_origin=list(policy.origins),
            require_user_verification=policy.require_user_verification,
            supported_pub_key_algs=_SUPPORTED,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as err:
        raise InvalidArgumentError(f"passkey registration refused: {err}") from None
    decoded = decode_credential_public_key(verified.credential_public_key)
    alg = int(decoded.alg)
    if alg not in ALGORITHMS:
        raise InvalidArgumentError(f"passkey registration refused: algorithm {alg} unsupported")
    if isinstance(decoded, DecodedOKPPublicKey):
        # py_webauthn (OpenSSL) accepts small-order Ed25519 keys, under which a forged
        # signature verifies for any message; approval records are checked under the
        # strict rule, so such a key must never be registered.
        try:
            check_public_key(decoded.x)
        except Ed25519Rejected as err:
            raise InvalidArgumentError(f"passkey registration refused: {err}") from None
    return NewCredential(
        verified.credential_id, verified.credential_public_key, alg, verified.sign_count
    )


def authentication_options(policy: Policy, challenge: bytes, allowed: Sequence[bytes]) -> str:
    """``PublicKeyCredentialRequestOptions`` JSON whose challenge is ``challenge`` as is."""
    options = generate_authentication_options(
        rp_id=policy.rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allowed],
        user_verification=_uv(policy),
    )
    return options_to_json(options)


def verify_assertion(
    policy: Policy,
    credential: dict[str, Any],
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
) -> int:
    """Check an assertion over ``challenge`` by the credential with ``public_key``.

    Returns:
        The authenticator's new signature counter.
    Raises:
        InvalidArgumentError: the assertion does not verify (the message says which check).
    """
    try:
        verified = verify_authentication_response(
            credential=_clean(credential),
            expected_challenge=challenge,
            expected_rp_id=policy.rp_id,
            expected_origin=list(policy.origins),
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=policy.require_user_verification,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as err:
        raise InvalidArgumentError(f"passkey assertion refused: {err}") from None
    return int(verified.new_sign_count)


def credential_id(credential: dict[str, Any]) -> str:
    """The credential id (base64url) of a `parse_credential` result."""
    return b64u(from_b64u(credential["rawId"], "rawId"))
