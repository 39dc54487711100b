"""SoftPasskey: what it answers is what browsers answer, for py_webauthn and for our own
offline verifier; its key file is as careful as the recipient key file."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import cbor2
import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from lucid.evidence import KeyFileError, SoftPasskey, WebAuthnAssertion, verify_assertion
from lucid.evidence.approvals import b64u, from_b64u

RP_ID = "localhost"
ORIGIN = "http://localhost"
ALGS = ["ES256", "Ed25519"]


def _registration_options(**kw: Any) -> Any:
    return generate_registration_options(
        rp_id=RP_ID,
        rp_name="Lucid",
        user_name="alice",
        authenticator_selection=AuthenticatorSelectionCriteria(
            user_verification=UserVerificationRequirement.REQUIRED
        ),
        **kw,
    )


def _register(key: SoftPasskey) -> Any:
    options = _registration_options()
    credential = key.register(json.loads(options_to_json(options)))
    return verify_registration_response(
        credential=credential,
        expected_challenge=options.challenge,
        expected_origin=ORIGIN,
        expected_rp_id=RP_ID,
        require_user_verification=True,
    )


def _authenticate(key: SoftPasskey, public_key: bytes, **kw: Any) -> Any:
    options = generate_authentication_options(
        rp_id=RP_ID,
        allow_credentials=[PublicKeyCredentialDescriptor(id=key.credential_id)],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    credential = key.assert_(options_to_json(options), ORIGIN, **kw)
    return verify_authentication_response(
        credential=credential,
        expected_challenge=options.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=0,
        require_user_verification=True,
    )


@pytest.mark.parametrize("alg", ALGS)
def test_py_webauthn_accepts_registration_and_assertion(alg: Any) -> None:
    key = SoftPasskey.generate(alg)
    registered = _register(key)
    assert registered.fmt == "none"
    assert registered.credential_id == key.credential_id
    assert registered.credential_public_key == key.cose_public_key()
    assert registered.sign_count == 0 and registered.user_verified
    assert key.rp_id == RP_ID and key.user_handle is not None
    verified = _authenticate(key, registered.credential_public_key)
    assert verified.credential_id == key.credential_id
    assert verified.user_verified and verified.new_sign_count == 0
    # The counter stays 0, and py_webauthn keeps accepting it while the stored count is 0.
    assert _authenticate(key, registered.credential_public_key).new_sign_count == 0


@pytest.mark.parametrize("alg", ALGS)
def test_own_verifier_accepts_assertion(alg: Any) -> None:
    key = SoftPasskey.generate(alg)
    challenge = bytes(range(32))
    credential = key.assert_({"challenge": b64u(challenge), "rpId": RP_ID}, ORIGIN)
    assertion = WebAuthnAssertion.from_credential(
        credential, rp_id=RP_ID, public_key=key.cose_public_key()
    )
    assert assertion.origin == ORIGIN and assertion.user_verified
    assert assertion.credential_id == key.credential_id
    verify_assertion(assertion, challenge, True)


def test_credential_json_shapes() -> None:
    key = SoftPasskey.generate()
    options = _registration_options()
    reg = key.register(options_to_json(options))
    assert reg["id"] == reg["rawId"] == b64u(key.credential_id)
    assert reg["type"] == "public-key" and reg["clientExtensionResults"] == {}
    client = json.loads(from_b64u(reg["response"]["clientDataJSON"], "c"))
    assert client == {
        "type": "webauthn.create",
        "challenge": b64u(options.challenge),
        "origin": ORIGIN,
        "crossOrigin": False,
    }
    attestation = cbor2.loads(from_b64u(reg["response"]["attestationObject"], "a"))
    assert attestation["fmt"] == "none" and attestation["attStmt"] == {}
    auth = attestation["authData"]
    assert auth[32] == 0x45  # UP | UV | AT
    assert auth[33:37] == bytes(4) and auth[37:53] == bytes(16)  # counter, AAGUID
    cid_len = int.from_bytes(auth[53:55], "big")
    assert auth[55 : 55 + cid_len] == key.credential_id
    assert auth[55 + cid_len :] == key.cose_public_key()

    got = key.assert_({"publicKey": {"challenge": b64u(b"x" * 16)}}, ORIGIN)
    assert set(got) == {"id", "rawId", "type", "response", "clientExtensionResults"}
    assert set(got["response"]) == {
        "authenticatorData",
        "clientDataJSON",
        "signature",
        "userHandle",
    }
    assert got["response"]["userHandle"] == b64u(options.user.id)
    assert from_b64u(got["response"]["authenticatorData"], "d")[32] == 0x05  # UP | UV
    for value in (got["id"], got["rawId"], *got["response"].values()):
        assert "=" not in value and "+" not in value and "/" not in value


def test_cose_keys() -> None:
    es = cbor2.loads(SoftPasskey.generate("ES256").cose_public_key())
    assert (es[1], es[3], es[-1], len(es[-2]), len(es[-3])) == (2, -7, 1, 32, 32)
    ed = cbor2.loads(SoftPasskey.generate("Ed25519").cose_public_key())
    assert (ed[1], ed[3], ed[-1], len(ed[-2])) == (1, -8, 6, 32) and -3 not in ed


def test_user_verification_can_be_withheld() -> None:
    key = SoftPasskey.generate()
    registered = _register(key)
    with pytest.raises(InvalidAuthenticationResponse, match=r"User verification is required"):
        _authenticate(key, registered.credential_public_key, user_verified=False)


def test_py_webauthn_rejects_wrong_origin_and_challenge() -> None:
    key = SoftPasskey.generate()
    registered = _register(key)
    options = generate_authentication_options(rp_id=RP_ID)
    credential = key.assert_(options_to_json(options), "http://localhost:8080")
    with pytest.raises(InvalidAuthenticationResponse, match=r"origin"):
        verify_authentication_response(
            credential=credential,
            expected_challenge=options.challenge,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            credential_public_key=registered.credential_public_key,
            credential_current_sign_count=0,
        )
    credential = key.assert_(options_to_json(options), ORIGIN)
    with pytest.raises(InvalidAuthenticationResponse, match=r"challenge"):
        verify_authentication_response(
            credential=credential,
            expected_challenge=b"other",
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            credential_public_key=registered.credential_public_key,
            credential_current_sign_count=0,
        )


def test_register_refusals() -> None:
    key = SoftPasskey.generate("Ed25519")
    rs256_only = json.loads(options_to_json(_registration_options()))
    rs256_only["pubKeyCredParams"] = [{"type": "public-key", "alg": -257}]
    with pytest.raises(ValueError, match=r"do not allow Ed25519"):
        key.register(rs256_only)
    _register(key)
    excluded = _registration_options(
        exclude_credentials=[PublicKeyCredentialDescriptor(id=key.credential_id)]
    )
    with pytest.raises(ValueError, match=r"excluded"):
        key.register(options_to_json(excluded))
    other_rp = json.loads(options_to_json(_registration_options()))
    other_rp["rp"]["id"] = "lucid.example"
    with pytest.raises(ValueError, match=r"registered with 'localhost'"):
        key.register(other_rp)
    with pytest.raises(ValueError, match=r"user missing"):
        SoftPasskey.generate().register({"challenge": "AAAA", "rp": {"id": RP_ID}})
    with pytest.raises(ValueError, match=r"challenge"):
        SoftPasskey.generate().register({"rp": {"id": RP_ID}, "user": {"id": "AAAA"}})


def test_register_origin_defaults() -> None:
    options: dict[str, Any] = {
        "challenge": b64u(b"c" * 16),
        "rp": {"id": "lucid.example", "name": "Lucid"},
        "user": {"id": b64u(b"u"), "name": "alice", "displayName": "Alice"},
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }
    reg = SoftPasskey.generate().register(options)
    client = json.loads(from_b64u(reg["response"]["clientDataJSON"], "c"))
    assert client["origin"] == "https://lucid.example"
    del options["rp"]["id"]
    key = SoftPasskey.generate()
    key.register(options, "https://box.lucid.example:8443")
    assert key.rp_id == "box.lucid.example"


def test_assert_refusals() -> None:
    key = SoftPasskey.generate()
    _register(key)
    options = {"challenge": b64u(b"c" * 16), "rpId": RP_ID}
    with pytest.raises(ValueError, match=r"allowCredentials"):
        key.assert_({**options, "allowCredentials": [{"id": "AAAA", "type": "public-key"}]}, ORIGIN)
    with pytest.raises(ValueError, match=r"registered with 'localhost'"):
        key.assert_({**options, "rpId": "lucid.example"}, "https://lucid.example")
    with pytest.raises(ValueError, match=r"challenge"):
        key.assert_({"rpId": RP_ID}, ORIGIN)


def test_constructor_misuse() -> None:
    with pytest.raises(ValueError, match=r"unsupported algorithm"):
        SoftPasskey("RS256", b"\x01" * 32, b"id")  # type: ignore[arg-type]  # the point
    with pytest.raises(ValueError, match=r"32 bytes"):
        SoftPasskey("ES256", b"\x01" * 31, b"id")
    with pytest.raises(ValueError):
        SoftPasskey("ES256", b"\xff" * 32, b"id")  # beyond the P-256 group order
    with pytest.raises(ValueError, match=r"credential id"):
        SoftPasskey("Ed25519", b"\x01" * 32, b"")


# --- key file -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_key_file_round_trip(tmp_path: Path, alg: Any) -> None:
    key = SoftPasskey.generate(alg)
    registered = _register(key)
    path = tmp_path / "admin.passkey"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["admin.passkey"]
    loaded = SoftPasskey.load(path)
    assert loaded.alg == alg and loaded.credential_id == key.credential_id
    assert loaded.rp_id == RP_ID and loaded.user_handle == key.user_handle
    assert loaded.cose_public_key() == key.cose_public_key()
    _authenticate(loaded, registered.credential_public_key)
    doc = json.loads(path.read_text())
    assert doc["format"] == "lucid.soft-passkey" and doc["version"] == 1
    assert doc["private_key"] not in repr(key)


def test_key_file_refuses_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "admin.passkey"
    first = SoftPasskey.generate()
    first.save(path)
    with pytest.raises(KeyFileError, match=r"already exists"):
        SoftPasskey.generate().save(path)
    assert SoftPasskey.load(path).credential_id == first.credential_id
    second = SoftPasskey.generate("Ed25519")
    second.save(path, overwrite=True)
    assert SoftPasskey.load(path).credential_id == second.credential_id
    assert len(list(tmp_path.iterdir())) == 1
    with pytest.raises(KeyFileError, match=r"cannot write key file"):
        first.save(tmp_path / "missing" / "admin.passkey")


def _doc(**changes: Any) -> str:
    key = SoftPasskey.generate()
    doc = json.loads(key.to_json())
    for name, value in changes.items():
        if value is None and name in ("alg", "private_key"):
            del doc[name]
        else:
            doc[name] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such key file"),
        ("{", "not a key file (not JSON)"),
        ('{"format": "lucid.recipient-key", "version": 1}', "not a soft passkey"),
        (_doc(version=2), "unsupported soft passkey version 2"),
        (_doc(version=True), "unsupported soft passkey version True"),
        (_doc(alg="RS256"), "alg: 'RS256' is not"),
        (_doc(alg=None), "alg: missing"),
        (_doc(extra=1), "extra: unknown field"),
        (_doc(private_key="AB" * 32), "private_key or credential_id unusable"),
        (_doc(private_key="ab"), "private_key: expected 64 lowercase hex"),
        (_doc(private_key="ff" * 32), "private_key or credential_id unusable"),
        (_doc(credential_id="a=="), "credential_id: expected unpadded base64url"),
        (_doc(rp_id=""), "rp_id: expected a non-empty string or null"),
        (_doc(user_handle=5), "user_handle: expected unpadded base64url"),
    ],
)
def test_key_file_load_errors(tmp_path: Path, content: str | None, fragment: str) -> None:
    path = tmp_path / "admin.passkey"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeyFileError) as err:
        SoftPasskey.load(path)
    message = str(err.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message
