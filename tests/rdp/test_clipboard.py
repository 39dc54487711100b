"""The clipboard per grant, with the real client: blocked and recorded, or passed and measured.

The RDP client is xfreerdp with ``+clipboard``; "the client copies" is ``xclip -i`` on the
client's Xvfb, "a session program pastes" is ``xclip -o`` run as the session's user on the
session's display (and the other way round). Outcomes are read where they land, then in the
sealed recording's audit stream.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.rdp.conftest import TIMEOUT, RdpClient, RdpHost, RdpUser, settle

pytestmark = pytest.mark.rdp

READ_TIMEOUT_S = 10.0  # a paste nobody answers (the guard refused) hangs this long at most


class Clipboards:
    """Copy and paste on either side; every ``xclip -i`` started here is stopped at the end."""

    def __init__(self, client: RdpClient, user: RdpUser, display: str) -> None:
        self.client, self.user, self.display = client, user, display
        self._owners: list[subprocess.Popen[bytes]] = []

    def _session_argv(self, *argv: str) -> tuple[list[str], dict[str, str]]:
        home = pwd.getpwnam(self.user.name).pw_dir
        env = {
            "PATH": os.environ["PATH"],
            "HOME": home,
            "DISPLAY": self.display,
            "XAUTHORITY": f"{home}/.Xauthority",
        }
        return ["runuser", "-u", self.user.name, "--", *argv], env

    def _client_argv(self, *argv: str) -> tuple[list[str], dict[str, str]]:
        return list(argv), {**os.environ, "DISPLAY": self.client.display}

    def _copy(self, argv: list[str], env: dict[str, str], text: bytes) -> None:
        owner = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE)
        assert owner.stdin is not None
        owner.stdin.write(text)
        owner.stdin.close()
        self._owners.append(owner)

    @staticmethod
    def _paste(argv: list[str], env: dict[str, str]) -> bytes | None:
        try:
            done = subprocess.run(argv, env=env, capture_output=True, timeout=READ_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None
        return done.stdout if done.returncode == 0 else None

    def client_copies(self, text: bytes) -> None:
        self._copy(*self._client_argv("xclip", "-i", "-quiet", "-selection", "clipboard"), text)

    def session_copies(self, text: bytes) -> None:
        self._copy(*self._session_argv("xclip", "-i", "-quiet", "-selection", "clipboard"), text)

    def client_pastes(self) -> bytes | None:
        return self._paste(*self._client_argv("xclip", "-o", "-selection", "clipboard"))

    def session_pastes(self) -> bytes | None:
        return self._paste(*self._session_argv("xclip", "-o", "-selection", "clipboard"))

    def stop(self) -> None:
        for owner in self._owners:
            if owner.poll() is None:
                owner.terminate()
            try:
                owner.wait(timeout=5)
            except subprocess.TimeoutExpired:
                owner.kill()
                owner.wait()


def _token(label: str) -> bytes:
    return f"{label}-{secrets.token_hex(8)}".encode()


async def _never_arrives(paste: Any, text: bytes, seconds: int = 6) -> None:
    """``paste()`` never yields ``text`` while we keep asking (a leak shows within ~1 s).

    The first paste comes a while after the copy: one issued within milliseconds of it can
    be served by chansrv before the guard takes the selection back (docs/rdp.md).
    """
    await settle(2)
    for _ in range(seconds):
        assert paste() != text, "clipboard content crossed although the clipboard is off"
        await settle(1)


async def _end(host: RdpHost, user: RdpUser, session: str) -> None:
    """The user logs out: the desktop exits and the start script ends the session."""
    for pid in host.desktop_pids(user):
        os.kill(pid, 15)
    await host.wait_state(session, "ended")


def _events(text: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in map(json.loads, text.splitlines()) if e["type"] == kind]


async def test_clipboard_off_blocks_both_ways_and_records_the_attempts(
    rdp_host: RdpHost, rdp_users: list[RdpUser], tmp_path: Path
) -> None:
    host, user = rdp_host, rdp_users[0]
    client = host.connect(user, "+clipboard")
    waiting = await host.session_of(user, "waiting")
    session = waiting["session"]
    clip = Clipboards(client, user, waiting["display"])
    early, late, inside = _token("early"), _token("late"), _token("inside")
    try:
        # before approval nothing crosses, whatever the grant will say
        clip.client_copies(early)
        await _never_arrives(clip.session_pastes, early)

        assert await host.approve(session, clipboard=False) == "approved"
        await host.wait_state(session, "running")
        await wait_for(lambda: host.desktop_pids(user), TIMEOUT, "the desktop")

        # a grant without clipboard: the client's copy does not reach session programs ...
        clip.client_copies(late)
        await _never_arrives(clip.session_pastes, late)
        # ... and a session program's copy does not reach the client
        clip.session_copies(inside)
        await settle(2)
        assert clip.client_pastes() != inside, "the session's clipboard reached the client"
    finally:
        clip.stop()

    await _end(host, user, session)
    audit = await host.sealed_audit(session, tmp_path)
    blocked = _events(audit, "clipboard.blocked")
    assert {(e["direction"], e["reason"]) for e in blocked} >= {
        ("to_session", "pending_approval"),
        ("to_session", "grant"),
        ("to_client", "grant"),
    }, blocked
    for e in blocked:
        assert e["producer"] == "rdp_gate" and e["selection"] == "CLIPBOARD", e
        assert e["takeovers"] >= 1 and "UTF8_STRING" in e["formats"], e
    assert _events(audit, "clipboard.transfer") == []
    gate_log = host.daemons.log_path("rdp_gate").read_text()
    for text in (early, late, inside):
        assert text.decode() not in audit and text.decode() not in gate_log


async def test_clipboard_on_passes_and_records_size_and_hash_only(
    rdp_host: RdpHost, rdp_users: list[RdpUser], tmp_path: Path
) -> None:
    host, user = rdp_host, rdp_users[0]
    client = host.connect(user, "+clipboard")
    waiting = await host.session_of(user, "waiting")
    session = waiting["session"]
    clip = Clipboards(client, user, waiting["display"])
    there, back = _token("there"), _token("back")
    try:
        assert await host.approve(session, clipboard=True) == "approved"
        await host.wait_state(session, "running")
        await wait_for(lambda: host.desktop_pids(user), TIMEOUT, "the desktop")

        # pastes a while after each copy, as people do: chansrv serves one text request at a
        # time, and the guard measures each offer as it is made (docs/rdp.md)
        clip.client_copies(there)
        await settle(2)
        await wait_for(lambda: clip.session_pastes() == there, TIMEOUT, "the copy in the session")
        clip.session_copies(back)
        await settle(2)
        await wait_for(lambda: clip.client_pastes() == back, TIMEOUT, "the copy on the client")
    finally:
        clip.stop()

    await _end(host, user, session)
    audit = await host.sealed_audit(session, tmp_path)
    transfers = {
        (e["direction"], e["format"], e["bytes"], e["sha256"])
        for e in _events(audit, "clipboard.transfer")
    }
    for direction, text in (("to_session", there), ("to_client", back)):
        measured = (direction, "UTF8_STRING", len(text), hashlib.sha256(text).hexdigest())
        assert measured in transfers, (direction, transfers)
    # only what the client offered while the session waited (xfreerdp offers at connect)
    blocked = _events(audit, "clipboard.blocked")
    assert all(e["reason"] == "pending_approval" for e in blocked), blocked
    assert there.decode() not in audit and back.decode() not in audit
