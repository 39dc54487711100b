"""Requests decided through the HTTP API, live events, and the evidence of a real recording.

The JSON the approval endpoint takes is what `SoftPasskey.assert_` returns: the shape of a
browser's ``PublicKeyCredential.toJSON()``, so the browser tests use the same endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast.aio import MessageBus

from lucid.cli.desktop import start_desktop
from lucid.evidence.verify import verify_bundle
from lucid.gatekeeper.client import GatekeeperClient
from lucid.recorder.client import RecorderClient
from tests.admin_ui.conftest import PASSWORD, Browser, Ui, invite_and_enroll
from tests.conftest import LucidEnv

SCOPE: dict[str, Any] = {
    "ttl_s": 600,
    "max_duration_s": 600,
    "clipboard": True,
    "file_transfer": False,
    "drives": False,
}


class Events:
    """The page's EventSource: reads ``/api/events`` into a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()

    async def read(self, who: Browser) -> None:
        async with who.http.get(who.ui.base + "/api/events") as resp:
            assert resp.status == 200
            name = ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    await self.queue.put((name, json.loads(line[6:])))

    async def next(self, name: str, session: str = "", timeout: float = 60) -> dict[str, str]:
        async with asyncio.timeout(timeout):
            while True:
                got, data = await self.queue.get()
                if got == name and (not session or data.get("session") == session):
                    return data


@pytest.fixture
async def events(owner: Browser) -> AsyncIterator[Events]:
    ev = Events()
    task = asyncio.create_task(ev.read(owner))
    await ev.next("hello")
    yield ev
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def file_request(bus: MessageBus, session: str) -> None:
    body = {"id": session, "user": "u1", "source": "10.0.0.5", "target": "t1"}
    await GatekeeperClient(bus).request_session(body | {"requested_scope": SCOPE})


async def approve(who: Browser, session: str, scope: dict[str, Any] | None = None) -> Any:
    assert who.passkey is not None
    begun = await who.ok(
        "POST",
        f"/api/requests/{session}/approval",
        {"decision": "approve", "scope": scope or SCOPE},
    )
    assert begun["document"]["request"]["id"] == session
    credential = who.passkey.assert_(begun["publicKey"], who.ui.origin)
    return await who.ok("POST", f"/api/requests/{session}/approval/{begun['flow']}", credential)


async def test_approve_with_passkey_live_events(
    owner: Browser, events: Events, bus: MessageBus
) -> None:
    await file_request(bus, "s1")
    await events.next("RequestFiled", "s1")
    pending = await owner.ok("GET", "/api/requests?state=pending")
    assert [r["id"] for r in pending] == ["s1"]
    narrower = SCOPE | {"ttl_s": 300, "clipboard": False}
    assert (await approve(owner, "s1", narrower))["state"] == "approved"
    assert (await events.next("RequestDecided", "s1"))["state"] == "approved"
    request = await owner.ok("GET", "/api/requests/s1")
    assert request["state"] == "approved"
    active = await owner.ok("GET", "/api/sessions")
    assert [g["id"] for g in active["grants"]] == ["s1"] and active["recorder"] == "ok"
    # an approval flow is single use and bound to the login that began it
    await file_request(bus, "s2")
    begun = await owner.ok("POST", "/api/requests/s2/approval", {})
    viewer = await invite_and_enroll(owner, "vic", "admin")
    try:
        credential = owner.passkey.assert_(begun["publicKey"], owner.ui.origin)  # type: ignore[union-attr]  # set by onboard
        got, _ = await viewer.call("POST", f"/api/requests/s2/approval/{begun['flow']}", credential)
        assert got == 404
    finally:
        await viewer.http.close()
    # an assertion made for another origin is refused by gatekeeper
    begun = await owner.ok("POST", "/api/requests/s2/approval", {})
    forged = owner.passkey.assert_(begun["publicKey"], "http://evil.example")  # type: ignore[union-attr]  # set by onboard
    got, data = await owner.call("POST", f"/api/requests/s2/approval/{begun['flow']}", forged)
    assert got == 400, data
    assert (await owner.ok("GET", "/api/requests/s2"))["state"] == "pending"


async def test_deny_password_decision_and_revoke(
    owner: Browser, events: Events, bus: MessageBus
) -> None:
    await file_request(bus, "d1")
    denied = await owner.ok("POST", "/api/requests/d1/deny", {"reason": "not now"})
    assert denied["state"] == "denied"
    assert (await events.next("RequestDecided", "d1"))["state"] == "denied"

    await file_request(bus, "p1")
    body = {"decision": "approve", "password": PASSWORD}
    got, data = await owner.call("POST", "/api/requests/p1/decision", body)
    assert got in (403, 409), data  # the default policy wants passkeys
    got, data = await owner.call(
        "POST", "/api/requests/p1/decision", body | {"password": "wrong password"}
    )
    assert (got, data["error"]) == (403, "wrong_credentials")
    policy = (await owner.ok("GET", "/api/policy"))["policy"]
    policy.pop("version")
    changed = await owner.ok("PUT", "/api/policy", policy | {"allow_password_approval": True})
    assert changed["policy"]["allow_password_approval"] is True
    assert (await owner.ok("POST", "/api/requests/p1/decision", body))["state"] == "approved"
    revoked = await owner.ok("POST", "/api/requests/p1/revoke", {"reason": "enough"})
    assert revoked["state"] == "revoked"
    assert (await events.next("GrantEnded", "p1"))["reason"] == "revoked"


async def test_recorded_session_evidence_through_the_page(
    ui: Ui, owner: Browser, events: Events, bus: MessageBus, lucid: LucidEnv, tmp_path: Path
) -> None:
    for key, value in (("chunk_bytes", str(64 * 1024)), ("flush_seconds", "1.0")):
        lucid.set("chunker", key, value)
    await lucid.start("chunker", "encryptor")
    await file_request(bus, "rec1")
    assert (await approve(owner, "rec1"))["state"] == "approved"
    desktop = start_desktop(320, 240)
    try:
        recorder = RecorderClient(bus)
        await recorder.start_session("rec1", desktop.display, "")
        await asyncio.sleep(2)
        await recorder.stop_session("rec1")
    finally:
        desktop.stop()
    await events.next("SessionSealed", "rec1", timeout=120)
    history = await owner.ok("GET", "/api/history")
    assert [h["session"] for h in history] == ["rec1"] and "manifest" not in history[0]
    manifest = await owner.ok("GET", "/api/history/rec1/manifest")
    assert manifest["manifest"]["session"] == "rec1"
    assert (
        manifest["manifest"]["policy"]["approvals"][0]["document"]["approver"]["account"] == "alice"
    )
    result = await owner.ok("GET", "/api/history/rec1/verify")
    assert result["ok"] is True and result["approvals"] == 1, result
    async with owner.http.get(ui.base + "/api/history/rec1/bundle") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Disposition"] == 'attachment; filename="rec1.lucid"'
        data = await resp.read()
        assert len(data) == int(resp.headers["Content-Length"])
    bundle = tmp_path / "rec1.lucid"
    bundle.write_bytes(data)
    keys = await owner.ok("GET", "/api/keys")
    report = verify_bundle(bundle, device_key=bytes.fromhex(keys["device"]["ed25519"]))
    assert report.session == "rec1" and report.approvals == 1
    assert not list((lucid.state / "admin_ui" / "tmp").iterdir())  # exports leave nothing
