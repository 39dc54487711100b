"""One gated xrdp session: its state, what ``Wait`` answers, and what its screen says.

A session's ``state``:

* ``waiting`` — the request is filed, the waiting screen is up; nothing else of the user's
  runs but the start script blocked in ``Wait``;
* ``running`` — approved: the recorder records the display, the script starts the desktop;
* ``closing`` — refused (denied, expired, or the recording could not start): the screen
  says why for ``outcome_show_s``, then the X server is terminated;
* ``ended`` — the X server was terminated or is gone.

Also the two ports the gate is driven through (`Grants` for gatekeeper, `Recordings` for the
recorder) and its settings. This module decides nothing: `lucid.rdp_gate.gate` moves a
session between states; `lucid.rdp_gate.session_db` keeps it across restarts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from lucid.rdp_gate import procs
from lucid.rdp_gate.clipboard import ClipboardGuard
from lucid.rdp_gate.waiting import WaitingScreen

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.rdp_gate.client import GateSessionInfo

LIVE_GRANT = ("approved", "active")


class Grants(Protocol):
    async def request_session(self, request: Mapping[str, Any]) -> str: ...

    async def get_grant(self, session: str) -> dict[str, str]: ...

    async def get_request(self, session: str) -> str: ...


class Recordings(Protocol):
    async def start_session(self, session: str, display: str, xauthority: str) -> None: ...

    async def stop_session(self, session: str) -> None: ...

    async def add_audit_event(self, session: str, kind: str, fields: str) -> None: ...


@dataclass(frozen=True)
class GateSettings:
    device_name: str
    scope: Mapping[str, Any]  # the requested Scope (docs/approvals.md)
    wait_reply_s: float = 15.0
    outcome_show_s: float = 5.0


@dataclass
class GateSession:
    id: str
    user: str
    source: str
    x: procs.XServer
    created_at: str
    state: str = "waiting"
    outcome: str = ""
    message: str = ""
    closing_at: float = 0.0
    screen: WaitingScreen | None = None
    guard: ClipboardGuard | None = None
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # not yet recorded
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def reply(self) -> tuple[str, str]:
        """What ``Wait`` answers: pending, approved, or the refusal.

        While a refusal is on screen the answer stays "pending", so the start script keeps
        the session (and the message) up until rdp_gate ends it.
        """
        if self.state in ("waiting", "closing"):
            return self.id, "pending"
        if self.state == "running":
            return self.id, "approved"
        return self.id, self.outcome or "ended"

    def info(self) -> GateSessionInfo:
        """The session as ``ListSessions`` shows it."""
        return {
            "session": self.id,
            "user": self.user,
            "source": self.source,
            "display": self.x.name,
            "state": self.state,
            "outcome": self.outcome,
            "message": self.message,
            "x_pid": str(self.x.proc.pid),
            "created_at": self.created_at,
        }


def host_of(source: str) -> str:
    """The address part of ``"addr:port"`` (IPv6 addresses contain colons too)."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clipboard_allowed(grant: Mapping[str, str]) -> bool:
    """The grant's scope allows the clipboard (no scope, or an unreadable one: no)."""
    try:
        scope = json.loads(grant.get("scope") or "null")
    except ValueError:
        return False
    return isinstance(scope, dict) and scope.get("clipboard") is True


# -- lines on the waiting screen -----------------------------------------------------------


def waiting_lines(s: GateSession, settings: GateSettings) -> list[str]:
    """What the waiting screen shows while ``s`` waits for approval."""
    who = f"{s.user} from {s.source}" if s.source else s.user
    return [
        "Lucid",
        "",
        "This session waits for an administrator's approval.",
        "",
        f"Device:  {settings.device_name}",
        f"Request: {s.id}",
        f"User:    {who}",
        "",
        "Nothing of the desktop is available until it is approved.",
    ]


def outcome_lines(s: GateSession, settings: GateSettings) -> list[str]:
    """What the screen shows once ``s`` is decided (approved, or why not)."""
    headline = {
        "approved": "Approved. Starting the desktop ...",
        "denied": "The request was denied.",
        "expired": "Nobody approved the request in time.",
        "revoked": "The approval was revoked.",
    }.get(s.outcome, "The session cannot start.")
    lines = ["Lucid", "", headline]
    if s.message:
        lines.append(s.message)
    lines += ["", f"Device:  {settings.device_name}", f"Request: {s.id}"]
    if s.state == "closing":
        lines += ["", f"This session ends in {settings.outcome_show_s:g} seconds."]
    return lines
