"""POST /api/keys/recipients: only the owner adds an auditor recipient; it shows on
GET /api/keys with who added it; bad keys are refused with a message."""

from __future__ import annotations

from lucid.evidence.keyfile import RecipientKey
from tests.admin_ui.conftest import Browser, invite_and_enroll


async def test_owner_adds_a_recipient_shown_to_everyone(owner: Browser) -> None:
    before = await owner.ok("GET", "/api/keys")
    assert before["recipients"] == []
    key = RecipientKey.generate().public.hex()
    added = await owner.ok(
        "POST", "/api/keys/recipients", {"x25519": key.upper(), "label": "audit"}, 201
    )
    assert added["x25519"] == key and added["added_by"] == "alice" and added["label"] == "audit"
    viewer = await invite_and_enroll(owner, "vic", "viewer")
    try:
        [shown] = (await viewer.ok("GET", "/api/keys"))["recipients"]
    finally:
        await viewer.http.close()
    assert shown["x25519"] == key and shown["source"] == "owner"
    assert shown["fingerprint"] == key[:16]


async def test_only_the_owner_adds(owner: Browser) -> None:
    key = RecipientKey.generate().public.hex()
    for role in ("admin", "auditor", "viewer"):
        other = await invite_and_enroll(owner, f"a{role}", role)
        try:
            got, data = await other.call("POST", "/api/keys/recipients", {"x25519": key})
        finally:
            await other.http.close()
        assert got == 403, (role, got, data)
    assert (await owner.ok("GET", "/api/keys"))["recipients"] == []


async def test_bad_keys_are_refused(owner: Browser) -> None:
    for body in ({"x25519": "xyz"}, {"x25519": "00" * 32}, {}, {"x25519": "ab" * 32, "label": 5}):
        got, data = await owner.call("POST", "/api/keys/recipients", body)
        assert got == 400, (body, got, data)
        assert data["message"]
    device = (await owner.ok("GET", "/api/keys"))["device"]["x25519"]
    got, data = await owner.call("POST", "/api/keys/recipients", {"x25519": device})
    assert got == 409 and "device" in data["message"]
