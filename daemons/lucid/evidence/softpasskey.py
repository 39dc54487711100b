"""A software WebAuthn authenticator: one passkey in a file, for demos, the CLI and tests.

`SoftPasskey` plays browser and authenticator at once: `register` answers the JSON
options of ``navigator.credentials.create`` and `assert_` those of
``navigator.credentials.get`` with the ``PublicKeyCredential`` JSON a browser would
send back (the shapes py_webauthn's ``verify_registration_response`` and
``verify_authentication_response`` take as ``credential=``). Keys are ES256 (P-256,
DER signatures) or Ed25519.

Key file (JSON, mode 0600; holds the private key)::

    {"format": "lucid.soft-passkey", "version": 1, "alg": "ES256" | "Ed25519",
     "private_key": "<64 hex>", "credential_id": "<b64url>",
     "rp_id": str | null, "user_handle": "<b64url>" | null}

The signature counter is always 0, as for many synced passkeys: a relying party
that sees 0 must not expect it to grow (py_webauthn accepts 0 while the stored count
is 0). This is a *software* key: anyone who can read the file can approve as its
owner. It does not check the browser's origin / rp_id relation (so tests can make
validly signed assertions for a wrong origin), does not do attestation other than
``"none"``, and keeps exactly one credential. The key file itself is written and read
by `lucid.evidence._softpasskey_file`; import everything from this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lucid.evidence import _softpasskey_file as _file
from lucid.evidence._softpasskey_file import SOFT_PASSKEY_FORMAT, SoftPasskeyAlg
from lucid.evidence.approvals import b64u, from_b64u
from lucid.evidence.errors import FormatError, KeyFileError

__all__ = ["SOFT_PASSKEY_FORMAT", "SoftPasskey", "SoftPasskeyAlg"]

_COSE_ALG = {"ES256": -7, "Ed25519": -8}
_FLAG_UP, _FLAG_UV, _FLAG_AT = 0x01, 0x04, 0x40
_AAGUID = bytes(16)  # "none" attestation: no authenticator model to claim
_CREDENTIAL_ID_SIZE = 32


def _options(options: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """Accept the options JSON as text or parsed, bare or wrapped in ``{"publicKey": ...}``."""
    if isinstance(options, str):
        options = cast(Mapping[str, Any], json.loads(options))
    if not isinstance(options, Mapping):
        raise ValueError("options: expected a JSON object")
    inner = options.get("publicKey")
    return cast(Mapping[str, Any], inner) if isinstance(inner, Mapping) else options


def _b64u_option(value: Any, name: str) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return from_b64u(value, name)
    except FormatError as err:
        raise ValueError(str(err)) from None


def _host(origin: str) -> str:
    host = urlsplit(origin).hostname
    if not host:
        raise ValueError(f"origin {origin!r} has no host")
    return host


def _client_data(kind: str, challenge: bytes, origin: str) -> bytes:
    # Key order and compact separators as browsers serialise it.
    return json.dumps(
        {"type": kind, "challenge": b64u(challenge), "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


class SoftPasskey:
    """One software passkey (see the module docstring for the file format)."""

    def __init__(
        self,
        alg: SoftPasskeyAlg,
        private_key: bytes,
        credential_id: bytes,
        *,
        rp_id: str | None = None,
        user_handle: bytes | None = None,
    ) -> None:
        """Wrap an existing key.

        Args:
            alg: ``"ES256"`` or ``"Ed25519"``.
            private_key: 32 bytes: the P-256 scalar (big-endian) or the Ed25519 seed.
            credential_id: The credential id (1-1023 bytes).
            rp_id: The relying party it is registered with, if any.
            user_handle: The user handle it was registered for, if any.

        Raises:
            ValueError: Unknown algorithm, wrong key length, scalar out of range,
                credential id of the wrong size.
        """
        if alg not in _COSE_ALG:
            raise ValueError(f"unsupported algorithm {alg!r} (ES256 or Ed25519)")
        if len(private_key) != 32:
            raise ValueError("private key must be 32 bytes")
        if not 1 <= len(credential_id) <= 1023:
            raise ValueError("credential id must be 1-1023 bytes")
        self._alg: SoftPasskeyAlg = alg
        self._private = bytes(private_key)
        self._key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey
        if alg == "ES256":
            self._key = ec.derive_private_key(
                int.from_bytes(private_key, "big"), ec.SECP256R1()
            )  # ValueError for 0 or >= the group order
        else:
            self._key = Ed25519PrivateKey.from_private_bytes(private_key)
        self._credential_id = bytes(credential_id)
        self.rp_id = rp_id
        self.user_handle = user_handle

    def __repr__(self) -> str:
        return (
            f"SoftPasskey(alg={self._alg!r}, credential_id={b64u(self._credential_id)!r}, "
            f"rp_id={self.rp_id!r})"
        )

    @classmethod
    def generate(cls, alg: SoftPasskeyAlg = "ES256") -> SoftPasskey:
        """A fresh random key and a random 32-byte credential id."""
        if alg == "ES256":
            scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
            private = scalar.to_bytes(32, "big")
        else:
            private = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(alg, private, secrets.token_bytes(_CREDENTIAL_ID_SIZE))

    @property
    def alg(self) -> SoftPasskeyAlg:
        """``"ES256"`` or ``"Ed25519"``."""
        return self._alg

    @property
    def credential_id(self) -> bytes:
        """The credential id (``rawId``)."""
        return self._credential_id

    @property
    def sign_count(self) -> int:
        """Always 0 (see the module docstring)."""
        return 0

    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key in CTAP2 canonical CBOR (what registration carries)."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            numbers = self._key.public_key().public_numbers()
            cose: dict[int, Any] = {
                1: 2,  # kty EC2
                3: -7,  # alg ES256
                -1: 1,  # crv P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        else:
            raw = self._key.public_key().public_bytes_raw()
            cose = {1: 1, 3: -8, -1: 6, -2: raw}  # kty OKP, alg EdDSA, crv Ed25519, x
        return cbor2.dumps(cose, canonical=True)

    def _spki(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hashes.SHA256()))  # DER
        return self._key.sign(data)

    def _auth_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + self.sign_count.to_bytes(4, "big")
            + attested
        )

    def register(
        self,
        options: Mapping[str, Any] | str,
        origin: str | None = None,
        *,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """Answer ``navigator.credentials.create`` options (JSON form) with "none" attestation.

        Records the options' rp id and user handle on this object (`save` afterwards
        to keep them).

        Args:
            options: ``PublicKeyCredentialCreationOptionsJSON`` (as py_webauthn's
                ``options_to_json`` makes it), as text or parsed, bare or as
                ``{"publicKey": ...}``.
            origin: The page's origin. Default: ``http://localhost`` for rp id
                ``localhost``, else ``https://<rp id>``.
            user_verified: Set the UV flag (a real authenticator would after a PIN or
                biometric; this one has nothing to verify).

        Raises:
            ValueError: The options lack the challenge or user, ask for no algorithm
                this key has, exclude this credential, or name another rp than the
                one this key is registered with.

        Returns:
            The ``PublicKeyCredential`` JSON (bytes as unpadded base64url).
        """
        opts = _options(options)
        challenge = _b64u_option(opts.get("challenge"), "challenge")
        rp = opts.get("rp")
        if not isinstance(rp, Mapping):
            rp = {}
        rp_id = rp.get("id") or (_host(origin) if origin else None)
        if not isinstance(rp_id, str) or not rp_id:
            raise ValueError("options: no rp.id and no origin to take it from")
        if origin is None:
            origin = "http://localhost" if rp_id == "localhost" else f"https://{rp_id}"
        user = opts.get("user")
        if not isinstance(user, Mapping):
            raise ValueError("options: user missing")
        user_handle = _b64u_option(user.get("id"), "user.id")
        params = opts.get("pubKeyCredParams") or [{"type": "public-key", "alg": -7}]
        if not any(isinstance(p, Mapping) and p.get("alg") == _COSE_ALG[self._alg] for p in params):
            raise ValueError(f"options: pubKeyCredParams do not allow {self._alg}")
        for cred in opts.get("excludeCredentials") or []:
            if isinstance(cred, Mapping) and cred.get("id") == b64u(self._credential_id):
                raise ValueError("options: this credential is excluded (already registered)")
        if self.rp_id is not None and self.rp_id != rp_id:
            raise ValueError(f"this passkey is registered with {self.rp_id!r}, not {rp_id!r}")
        cose = self.cose_public_key()
        attested = _AAGUID + len(self._credential_id).to_bytes(2, "big") + self._credential_id
        flags = _FLAG_UP | _FLAG_AT | (_FLAG_UV if user_verified else 0)
        auth_data = self._auth_data(rp_id, flags, attested + cose)
        attestation = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": auth_data}, canonical=True
        )
        self.rp_id = rp_id
        self.user_handle = user_handle
        return {
            "id": b64u(self._credential_id),
            "rawId": b64u(self._credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(_client_data("webauthn.create", challenge, origin)),
                "attestationObject": b64u(attestation),
                "authenticatorData": b64u(auth_data),
                "publicKeyAlgorithm": _COSE_ALG[self._alg],
                "publicKey": b64u(self._spki()),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def assert_(
        self,
        options: Mapping[str, Any] | str,
        origin: str,
        *,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """Answer ``navigator.credentials.get`` options (JSON form) with a signed assertion.

        Args:
            options: ``PublicKeyCredentialRequestOptionsJSON`` (``challenge`` b64url,
                ``rpId``, ``allowCredentials`` ...), as text or parsed, bare or as
                ``{"publicKey": ...}``. Without ``rpId`` the origin's host is used.
            origin: The page's origin, written into the client data.
            user_verified: Set the UV flag.

        Raises:
            ValueError: No challenge; ``allowCredentials`` does not list this
                credential; the rp id is not the one this key is registered with.

        Returns:
            ``{"id", "rawId", "type": "public-key", "response": {"authenticatorData",
            "clientDataJSON", "signature", "userHandle"}, "clientExtensionResults": {}}``
            with bytes as unpadded base64url (``userHandle`` null if unknown).
        """
        opts = _options(options)
        challenge = _b64u_option(opts.get("challenge"), "challenge")
        rp_id = opts.get("rpId") or _host(origin)
        if not isinstance(rp_id, str):
            raise ValueError("options: rpId must be a string")
        if self.rp_id is not None and self.rp_id != rp_id:
            raise ValueError(f"this passkey is registered with {self.rp_id!r}, not {rp_id!r}")
        allowed = opts.get("allowCredentials") or []
        if allowed and not any(
            isinstance(c, Mapping) and c.get("id") == b64u(self._credential_id) for c in allowed
        ):
            raise ValueError("options: allowCredentials does not list this credential")
        auth_data = self._auth_data(rp_id, _FLAG_UP | (_FLAG_UV if user_verified else 0))
        client_data = _client_data("webauthn.get", challenge, origin)
        signature = self._sign(auth_data + hashlib.sha256(client_data).digest())
        return {
            "id": b64u(self._credential_id),
            "rawId": b64u(self._credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64u(auth_data),
                "clientDataJSON": b64u(client_data),
                "signature": b64u(signature),
                "userHandle": None if self.user_handle is None else b64u(self.user_handle),
            },
            "clientExtensionResults": {},
        }

    # --- key file -----------------------------------------------------------------------

    def to_json(self) -> bytes:
        """The key-file JSON (contains the private key)."""
        return _file.key_file_json(
            self._alg, self._private, self._credential_id, self.rp_id, self.user_handle
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the key file atomically with mode 0600.

        Args:
            path: Destination file.
            overwrite: Replace an existing file (off by default: the credential it
                holds may be the only way its owner can approve).

        Raises:
            KeyFileError: The file exists (and not `overwrite`) or cannot be written.
        """
        _file.write_key_file(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SoftPasskey:
        """Read and check a key file.

        Raises:
            KeyFileError: Missing, unreadable, not JSON, not a soft passkey, an
                unsupported version or algorithm, or a malformed field.
        """
        contents = _file.read_key_file(path)
        try:
            return cls(
                contents.alg,
                contents.private_key,
                contents.credential_id,
                rp_id=contents.rp_id,
                user_handle=contents.user_handle,
            )
        except ValueError as err:
            raise KeyFileError(
                f"{Path(path)}: private_key or credential_id unusable ({err})"
            ) from None
