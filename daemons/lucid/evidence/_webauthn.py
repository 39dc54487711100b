"""WebAuthn ``get`` assertions as approval records keep them, and their offline check.

`WebAuthnAssertion` is the stored form of an assertion; `verify_assertion` re-checks
one over a given challenge with nothing but the record: client data, authenticator
data flags and the signature under the COSE public key (ES256 on P-256 or EdDSA on
Ed25519). `b64u` / `from_b64u` are the strict unpadded base64url the records use.

This module does not talk to a browser or an authenticator, does not register
credentials or check attestation (the gatekeeper does, with py_webauthn), does not
know which rp_id or origins a policy allows, and ignores the signature counter.
Import these names from `lucid.evidence.approvals`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from lucid.evidence import _fields as f
from lucid.evidence.ed25519 import Ed25519Rejected, verify_ed25519
from lucid.evidence.errors import FormatError, VerificationError

__all__ = ["WebAuthnAssertion", "b64u", "from_b64u", "verify_assertion"]

_B64U = re.compile(r"[A-Za-z0-9_-]*")

# WebAuthn authenticator data: rpIdHash(32) | flags(1) | signCount(4) | ...
_AUTH_DATA_MIN = 37
_FLAG_UP = 0x01
_FLAG_UV = 0x04
# COSE (RFC 9053) labels and values this verifier knows.
_COSE_KTY, _COSE_ALG, _COSE_CRV, _COSE_X, _COSE_Y = 1, 3, -1, -2, -3
_KTY_OKP, _KTY_EC2 = 1, 2
_ALG_ES256, _ALG_EDDSA = -7, -8
_CRV_P256, _CRV_ED25519 = 1, 6

_WEBAUTHN_KEYS = frozenset(
    {
        "rp_id",
        "origin",
        "credential_id",
        "public_key",
        "authenticator_data",
        "client_data_json",
        "signature",
        "user_verified",
    }
)


def b64u(data: bytes) -> str:
    """Base64url without padding (RFC 4648 §5), as WebAuthn and the records write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64u(value: Any, path: str, *, allow_empty: bool = False) -> bytes:
    """Decode unpadded base64url strictly: only its alphabet, no padding, one spelling per value.

    Raises:
        FormatError: Not a str, padded, foreign characters, impossible length, non-zero
            trailing bits, or empty (unless `allow_empty`).
    """
    if not isinstance(value, str) or not _B64U.fullmatch(value) or len(value) % 4 == 1:
        raise FormatError(f"{path}: expected unpadded base64url")
    data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if b64u(data) != value:
        raise FormatError(f"{path}: not the canonical base64url spelling")
    if not data and not allow_empty:
        raise FormatError(f"{path}: must not be empty")
    return data


@dataclass(frozen=True)
class WebAuthnAssertion:
    """A WebAuthn ``get`` assertion as an approval record keeps it (bytes are b64url in JSON).

    `public_key` is the COSE_Key the credential was registered with.
    """

    rp_id: str
    origin: str
    credential_id: bytes
    public_key: bytes
    authenticator_data: bytes
    client_data_json: bytes
    signature: bytes
    user_verified: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "rp_id": self.rp_id,
            "origin": self.origin,
            "credential_id": b64u(self.credential_id),
            "public_key": b64u(self.public_key),
            "authenticator_data": b64u(self.authenticator_data),
            "client_data_json": b64u(self.client_data_json),
            "signature": b64u(self.signature),
            "user_verified": self.user_verified,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "webauthn") -> WebAuthnAssertion:
        """Validate and convert the JSON form.

        Raises:
            FormatError: A field missing, unknown, of the wrong type or not base64url.
        """
        d = f.get_obj(value, path, _WEBAUTHN_KEYS)
        return cls(
            rp_id=f.get_str(d["rp_id"], f"{path}.rp_id"),
            origin=f.get_str(d["origin"], f"{path}.origin"),
            credential_id=from_b64u(d["credential_id"], f"{path}.credential_id"),
            public_key=from_b64u(d["public_key"], f"{path}.public_key"),
            authenticator_data=from_b64u(d["authenticator_data"], f"{path}.authenticator_data"),
            client_data_json=from_b64u(d["client_data_json"], f"{path}.client_data_json"),
            signature=from_b64u(d["signature"], f"{path}.signature"),
            user_verified=f.get_bool(d["user_verified"], f"{path}.user_verified"),
        )

    @classmethod
    def from_credential(
        cls, credential: Mapping[str, Any], *, rp_id: str, public_key: bytes
    ) -> WebAuthnAssertion:
        """Keep a browser's ``PublicKeyCredential`` JSON (from ``navigator.credentials.get``).

        Call it after the assertion was verified (gatekeeper does so with py_webauthn):
        this only copies fields. The origin is taken from the client data and
        `user_verified` from the UV flag.

        Args:
            credential: The credential JSON (``id``, ``rawId``, ``response`` ...).
            rp_id: The relying party id the assertion was made for.
            public_key: The COSE_Key the credential was registered with.

        Raises:
            FormatError: The credential JSON lacks a field or does not decode.
        """
        response = credential.get("response")
        if not isinstance(response, Mapping):
            raise FormatError("credential.response: expected an object")
        client_data = from_b64u(response.get("clientDataJSON"), "credential.clientDataJSON")
        auth_data = from_b64u(response.get("authenticatorData"), "credential.authenticatorData")
        try:
            origin = json.loads(client_data)["origin"]
        except (ValueError, KeyError, TypeError):
            raise FormatError("credential.clientDataJSON: no origin") from None
        if len(auth_data) < _AUTH_DATA_MIN:
            raise FormatError("credential.authenticatorData: too short")
        return cls(
            rp_id=rp_id,
            origin=f.get_str(origin, "credential.clientDataJSON.origin"),
            credential_id=from_b64u(credential.get("rawId"), "credential.rawId"),
            public_key=public_key,
            authenticator_data=auth_data,
            client_data_json=client_data,
            signature=from_b64u(response.get("signature"), "credential.signature"),
            user_verified=bool(auth_data[32] & _FLAG_UV),
        )


def _fail(item: str, message: str) -> VerificationError:
    return VerificationError(item, f"{item}: {message}")


def _decode_cose(data: bytes) -> dict[int, Any]:
    fp = io.BytesIO(data)
    try:
        # read_size=1 so that fp.tell() is where the item ended (trailing bytes are an error).
        decoder = cbor2.CBORDecoder(
            fp, read_size=1, allow_indefinite=False, allow_duplicate_keys=False, max_depth=4
        )
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as err:
        raise _fail("public_key", f"not CBOR ({err})") from None
    if fp.tell() != len(data):
        raise _fail("public_key", "trailing bytes after the COSE key")
    if not isinstance(value, dict) or not all(type(k) is int for k in value):
        raise _fail("public_key", "not a COSE key (expected a map with integer labels)")
    return value


def _cose_param(key: dict[int, Any], label: int, kind: type, name: str) -> Any:
    value = key.get(label)
    if type(value) is not kind:
        raise _fail("public_key", f"COSE {name} ({label}) missing or not a {kind.__name__}")
    return value


def _check_signature(public_key: bytes, signature: bytes, signed: bytes) -> None:
    """Step 3 of the check: parse the COSE key and verify `signature` over `signed`."""
    key = _decode_cose(public_key)
    kty = _cose_param(key, _COSE_KTY, int, "kty")
    alg = _cose_param(key, _COSE_ALG, int, "alg")
    crv = _cose_param(key, _COSE_CRV, int, "crv")
    x = _cose_param(key, _COSE_X, bytes, "x")
    try:
        if (kty, alg, crv) == (_KTY_EC2, _ALG_ES256, _CRV_P256):
            y = _cose_param(key, _COSE_Y, bytes, "y")
            if len(x) != 32 or len(y) != 32:
                raise _fail("public_key", "P-256 coordinates must be 32 bytes each")
            try:
                ec_key = ec.EllipticCurvePublicKey.from_encoded_point(
                    ec.SECP256R1(), b"\x04" + x + y
                )
            except ValueError:
                raise _fail("public_key", "not a point on P-256") from None
            ec_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        elif (kty, alg, crv) == (_KTY_OKP, _ALG_EDDSA, _CRV_ED25519):
            try:
                verify_ed25519(x, signed, signature)
            except Ed25519Rejected as err:
                raise _fail(err.part, err.reason) from None
        else:
            raise _fail(
                "public_key",
                f"unsupported key (kty {kty}, alg {alg}, crv {crv}); "
                "only ES256 on P-256 and EdDSA on Ed25519",
            )
    except (InvalidSignature, ValueError):
        # cryptography raises InvalidSignature for a bad signature and for malformed DER.
        raise _fail("signature", "does not verify under the public key") from None


def verify_assertion(assertion: WebAuthnAssertion, challenge: bytes, require_uv: bool) -> None:
    """Check a WebAuthn ``get`` assertion over `challenge`, offline (docs/approvals.md 1-3).

    1. ``client_data_json`` is a JSON object with ``type == "webauthn.get"``,
       ``challenge == b64u(challenge)`` and ``origin == assertion.origin``;
    2. ``authenticator_data`` starts with SHA-256(``rp_id``), has the UP flag, the UV
       flag if `require_uv`, and ``user_verified`` equals the UV flag;
    3. the COSE key (ES256 / P-256 or EdDSA / Ed25519) verifies ``signature`` over
       ``authenticator_data || SHA-256(client_data_json)``.

    It does not check that `rp_id` and `origin` are the ones a policy allows (see
    `SessionPolicy.verify`) and ignores the signature counter.

    Raises:
        VerificationError: ``item`` is one of ``client_data_json``,
            ``client_data_json.type``, ``client_data_json.challenge``,
            ``client_data_json.origin``, ``authenticator_data``,
            ``authenticator_data.rp_id_hash``, ``authenticator_data.flags.up``,
            ``authenticator_data.flags.uv``, ``user_verified``, ``public_key``,
            ``signature``.
    """
    try:
        client = json.loads(assertion.client_data_json.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail("client_data_json", "not UTF-8 JSON") from None
    if not isinstance(client, dict):
        raise _fail("client_data_json", "not a JSON object")
    if client.get("type") != "webauthn.get":
        raise _fail("client_data_json.type", f"{client.get('type')!r} is not 'webauthn.get'")
    if client.get("challenge") != b64u(challenge):
        raise _fail(
            "client_data_json.challenge",
            "is not the approval document's challenge (document or client data altered)",
        )
    if client.get("origin") != assertion.origin:
        raise _fail(
            "client_data_json.origin",
            f"{client.get('origin')!r} is not the recorded origin {assertion.origin!r}",
        )
    auth = assertion.authenticator_data
    if len(auth) < _AUTH_DATA_MIN:
        raise _fail("authenticator_data", f"{len(auth)} bytes is too short")
    if auth[:32] != hashlib.sha256(assertion.rp_id.encode("utf-8")).digest():
        raise _fail("authenticator_data.rp_id_hash", f"is not SHA-256 of rp_id {assertion.rp_id!r}")
    flags = auth[32]
    if not flags & _FLAG_UP:
        raise _fail("authenticator_data.flags.up", "user presence (UP) flag not set")
    if require_uv and not flags & _FLAG_UV:
        raise _fail(
            "authenticator_data.flags.uv", "user verification (UV) required but flag not set"
        )
    if assertion.user_verified != bool(flags & _FLAG_UV):
        raise _fail("user_verified", "disagrees with the UV flag of the authenticator data")
    signed = auth + hashlib.sha256(assertion.client_data_json).digest()
    _check_signature(assertion.public_key, assertion.signature, signed)
