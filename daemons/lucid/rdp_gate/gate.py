"""The RDP gate: an xrdp session from login to end, under gatekeeper's decision.

A session's ``state`` here:

* ``waiting`` — the request is filed, the waiting screen is up; nothing else of the user's
  runs but the start script blocked in ``Wait``;
* ``running`` — approved: the recorder records the display, the script starts the desktop;
* ``closing`` — refused (denied, expired, or the recording could not start): the screen
  says why for ``outcome_show_s``, then the X server is terminated;
* ``ended`` — the X server was terminated or is gone.

Grant changes are found by `tick` (gatekeeper's signals only make it run sooner): a grant
that is no longer approved/active (revoked, expired, ended) stops the recording and
terminates the X server. Each session's clipboard is under a `ClipboardGuard` from the
first ``Wait`` on: blocked until approval, then as the grant's scope says; its reports
(``clipboard.blocked``, ``clipboard.transfer``) wait in the session's backlog until the
recording runs and then go into the recording's audit stream (``AddAuditEvent``). Sessions are kept in a small database so that a restarted
rdp_gate still guards the running ones and ends the ones whose waiter it lost.
This module does not import the bus library: gatekeeper and the recorder come in as
`Grants` and `Recordings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite

from lucid.rdp_gate import procs
from lucid.rdp_gate.clipboard import ClipboardGuard, Mode
from lucid.rdp_gate.scp import Login
from lucid.rdp_gate.waiting import ScreenError, WaitingScreen, admit_local_user
from lucid.runtime.errors import (
    BusError,
    ConflictError,
    InvalidArgumentError,
    NotAuthorizedError,
    NotFoundError,
    UnavailableError,
)
from lucid.runtime.ids import new_session_id

log = logging.getLogger(__name__)

MIGRATIONS = [
    """
    CREATE TABLE sessions (
        session TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        source TEXT NOT NULL,
        display INTEGER NOT NULL,
        x_pid INTEGER NOT NULL,
        x_start INTEGER NOT NULL,
        auth_file TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'closing', 'ended')),
        outcome TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    """,
]

LIVE_GRANT = ("approved", "active")
KEEP_ENDED = 50  # ended sessions kept in ListSessions


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

    def info(self) -> dict[str, str]:
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


def _host(source: str) -> str:
    """The address part of ``"addr:port"`` (IPv6 addresses contain colons too)."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clipboard_allowed(grant: Mapping[str, str]) -> bool:
    """The grant's scope allows the clipboard (no scope, or an unreadable one: no)."""
    try:
        scope = json.loads(grant.get("scope") or "null")
    except ValueError:
        return False
    return isinstance(scope, dict) and scope.get("clipboard") is True


class RdpGate:
    """Gate xrdp sessions.

    Args:
        db: the daemon's database (MIGRATIONS applied).
        grants: gatekeeper.
        recordings: the recorder.
        settings: device name, requested scope, timings.
        recorder_user: the user name the recorder connects to X as (asked at approval).
        stopping: set when the daemon stops; waiting ``Wait`` calls return then.
        on_change: told (session, state) after each state change (a D-Bus signal).
    """

    def __init__(
        self,
        db: aiosqlite.Connection,
        grants: Grants,
        recordings: Recordings,
        settings: GateSettings,
        recorder_user: Callable[[], Awaitable[str]],
        stopping: asyncio.Event,
        on_change: Callable[[str, str], None] = lambda session, state: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._grants = grants
        self._recordings = recordings
        self._settings = settings
        self._recorder_user = recorder_user
        self._stopping = stopping
        self._on_change = on_change
        self._clock = clock
        self._sessions: dict[str, GateSession] = {}
        self._logins: dict[int, Login] = {}  # display -> the login sesman granted last
        self._lock = asyncio.Lock()

    # -- start-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Take over the sessions a previous run left: guard running ones, end the rest."""
        async with self._db.execute("SELECT * FROM sessions WHERE state != 'ended'") as cur:
            rows = [dict(r) async for r in cur]
        for row in rows:
            x = procs.XServer(
                procs.ProcId(row["x_pid"], row["x_start"]),
                -1,
                row["display"],
                row["auth_file"],
            )
            s = GateSession(row["session"], row["user"], row["source"], x, row["created_at"])
            s.state, s.outcome = row["state"], row["outcome"]
            self._sessions[s.id] = s
            if s.state != "running":
                # its waiter and waiting screen went with the previous run: fail closed
                await self._finish(s, "failed", "rdp_gate restarted while the session waited")
                continue
            log.warning("guarding session %s on %s again after a restart", s.id, x.name)
            try:
                allowed = clipboard_allowed(await self._grants.get_grant(s.id))
            except BusError as err:
                log.warning("session %s: cannot read its grant (%s): clipboard blocked", s.id, err)
                allowed = False
            if procs.alive(x.proc) and not await self._guard(s, allowed, "grant"):
                await self._finish(s, "failed", "the clipboard could not be guarded")

    async def close(self) -> None:
        """Daemon shutdown: take the waiting screens and clipboard guards down; sessions
        stay (see `start`)."""
        for s in self._sessions.values():
            if s.screen is not None:
                await asyncio.to_thread(s.screen.close)
                s.screen = None
            await self._unguard(s)

    # -- sesman proxy -----------------------------------------------------------------------

    async def on_login(self, login: Login) -> bool:
        """sesman granted ``login``: a new session, or a reconnect to one we know."""
        async with self._lock:
            current = self._by_display(login.display)
            if current is None:
                self._logins[login.display] = login
                log.info("login of %s from %s on :%d", login.user, login.source, login.display)
                return True
            if (
                current.user == login.user
                and current.state in ("waiting", "running")
                and _host(current.source) == _host(login.source)
            ):
                log.info("%s reconnects to %s from %s", login.user, current.id, login.source)
                return True
            log.warning(
                "refused %s from %s: display :%d is session %s (%s, from %s)",
                login.user,
                login.source,
                login.display,
                current.id,
                current.state,
                current.source,
            )
            return False

    def _by_display(self, display: int) -> GateSession | None:
        for s in self._sessions.values():
            if s.x.display == display and s.state != "ended" and procs.alive(s.x.proc):
                return s
        return None

    # -- calls from the session -------------------------------------------------------------

    async def _caller_session(self, uid: int, pid: int) -> procs.XServer:
        try:
            return await asyncio.to_thread(procs.find_session, pid, uid)
        except procs.NoSessionError as err:
            raise NotAuthorizedError(f"not an xrdp session: {err}") from err

    async def wait(self, uid: int, user: str, pid: int) -> tuple[str, str]:
        """``Wait`` from process ``pid`` of ``user`` (uid ``uid``): see the XML."""
        x = await self._caller_session(uid, pid)
        async with self._lock:
            s = self._by_display(x.display)
            if s is None or s.x.proc != x.proc:
                login = self._logins.pop(x.display, None)
                if login is None or login.user != user:
                    raise NotAuthorizedError(
                        f"display {x.name} was not handed to {user} through the gate"
                    )
                s = await self._open(user, login.source, x)
        deadline = self._clock() + self._settings.wait_reply_s
        while s.state in ("waiting", "closing") and not self._stopping.is_set():
            left = deadline - self._clock()
            if left <= 0:
                break
            await self._wait_change(s, left)
        return s.reply()

    async def end(self, uid: int, pid: int) -> None:
        """``End``: the caller's session is over."""
        x = await self._caller_session(uid, pid)
        s = self._by_display(x.display)
        if s is not None and s.x.proc == x.proc:
            async with s.lock:
                await self._finish(s, "ended", "the desktop exited")

    def sessions(self) -> list[dict[str, str]]:
        return [s.info() for s in sorted(self._sessions.values(), key=lambda s: s.created_at)]

    async def _wait_change(self, s: GateSession, timeout: float) -> None:
        s.changed.clear()
        changed = asyncio.ensure_future(s.changed.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({changed, stopping}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            changed.cancel()
            stopping.cancel()

    async def _open(self, user: str, source: str, x: procs.XServer) -> GateSession:
        session = new_session_id("rdp")
        s = GateSession(session, user, source, x, _now())
        # the clipboard first: chansrv may hold the client's clipboard already
        if not await self._guard(s, False, "pending_approval"):
            procs.terminate(x.proc)
            raise UnavailableError(f"the clipboard of {x.name} could not be guarded")
        try:
            await self._grants.request_session(
                {
                    "id": session,
                    "user": user,
                    "source": source,
                    "target": user,
                    "requested_scope": dict(self._settings.scope),
                }
            )
        except BusError as err:
            log.error("%s on %s: could not file a request: %s", user, x.name, err)
            await self._unguard(s)
            procs.terminate(x.proc)
            raise
        self._sessions[session] = s
        await self._db.execute(
            "INSERT INTO sessions(session, user, source, display, x_pid, x_start, auth_file,"
            " state, created_at) VALUES (?,?,?,?,?,?,?, 'waiting', ?)",
            (session, user, source, x.display, x.proc.pid, x.proc.start, x.auth_file, s.created_at),
        )
        self._prune()
        screen = WaitingScreen(x.name, x.auth_file or None, self._waiting_lines(s))
        try:
            await asyncio.to_thread(screen.open)
        except ScreenError as err:
            await self._finish(s, "failed", str(err))
            return s
        s.screen = screen
        log.info("session %s: %s on %s from %s waits for approval", session, user, x.name, source)
        self._changed(s)
        return s

    # -- lines on the waiting screen ---------------------------------------------------------

    def _waiting_lines(self, s: GateSession) -> list[str]:
        who = f"{s.user} from {s.source}" if s.source else s.user
        return [
            "Lucid",
            "",
            "This session waits for an administrator's approval.",
            "",
            f"Device:  {self._settings.device_name}",
            f"Request: {s.id}",
            f"User:    {who}",
            "",
            "Nothing of the desktop is available until it is approved.",
        ]

    def _outcome_lines(self, s: GateSession) -> list[str]:
        headline = {
            "approved": "Approved. Starting the desktop ...",
            "denied": "The request was denied.",
            "expired": "Nobody approved the request in time.",
            "revoked": "The approval was revoked.",
        }.get(s.outcome, "The session cannot start.")
        lines = ["Lucid", "", headline]
        if s.message:
            lines.append(s.message)
        lines += ["", f"Device:  {self._settings.device_name}", f"Request: {s.id}"]
        if s.state == "closing":
            lines += ["", f"This session ends in {self._settings.outcome_show_s:g} seconds."]
        return lines

    # -- the decisions ----------------------------------------------------------------------

    async def tick(self) -> None:
        """Act on decisions, grant ends, gone X servers and elapsed refusals."""
        live = [s for s in self._sessions.values() if s.state != "ended"]
        await asyncio.gather(*(self._check(s) for s in live))

    async def _check(self, s: GateSession) -> None:
        async with s.lock:
            if s.state == "ended":
                return
            if not procs.alive(s.x.proc):
                await self._finish(s, s.outcome if s.state == "closing" else "ended", "")
                return
            if s.state == "closing":
                if self._clock() >= s.closing_at:
                    await self._finish(s, s.outcome, s.message)
                return
            try:
                grant = await self._grants.get_grant(s.id)
            except NotFoundError:
                grant = {"state": "failed"}
            except BusError as err:
                log.warning("session %s: cannot read its grant: %s", s.id, err)
                return
            state = grant.get("state", "")
            if s.state == "waiting":
                if state == "approved":
                    await self._admit(s, grant)
                elif state != "pending":
                    await self._refuse(s, state, await self._reason(s.id))
            elif s.state == "running" and state not in LIVE_GRANT:
                log.warning("session %s: grant %s; ending it", s.id, state)
                await self._finish(s, state if state != "ended" else "ended", "")
            elif s.state == "running":
                await self._record_audit(s)

    async def _reason(self, session: str) -> str:
        with contextlib.suppress(BusError, ValueError):
            reason = json.loads(await self._grants.get_request(session)).get("reason", "")
            return str(reason)
        return ""

    async def _admit(self, s: GateSession, grant: Mapping[str, str]) -> None:
        s.outcome = "approved"
        if s.screen is not None:
            s.screen.show(self._outcome_lines(s))
        try:
            user = await self._recorder_user()
            await asyncio.to_thread(admit_local_user, s.x.name, s.x.auth_file or None, user)
            await self._recordings.start_session(s.id, s.x.name, "")
        except (BusError, ScreenError) as err:
            log.error("session %s: recording did not start: %s", s.id, err)
            await self._refuse(s, "failed", "The recording could not start.")
            return
        # before Wait answers "approved": the desktop never runs with the waiting-time guard
        allowed = clipboard_allowed(grant)
        if s.guard is not None:
            s.guard.set_mode(Mode.AUDIT if allowed else Mode.BLOCK, "grant")
        s.state = "running"
        await self._store(s)
        if s.screen is not None:
            await asyncio.to_thread(s.screen.close)
            s.screen = None
        log.info(
            "session %s approved: recording %s, clipboard %s",
            s.id,
            s.x.name,
            "audited" if allowed else "blocked",
        )
        await self._record_audit(s)
        self._changed(s)

    async def _refuse(self, s: GateSession, outcome: str, message: str) -> None:
        s.state, s.outcome, s.message = "closing", outcome, message
        s.closing_at = self._clock() + self._settings.outcome_show_s
        if s.screen is not None:
            s.screen.show(self._outcome_lines(s))
        await self._store(s)
        log.info("session %s: %s %s", s.id, outcome, message)
        self._changed(s)

    async def _finish(self, s: GateSession, outcome: str, message: str) -> None:
        await self._unguard(s)  # its last reports are in s.audit when this returns
        if s.state == "running":
            await self._record_audit(s)
            with contextlib.suppress(BusError):  # already stopped: grant end, display lost
                await self._recordings.stop_session(s.id)
        elif s.audit:
            log.info("session %s: %d clipboard report(s) not recorded", s.id, len(s.audit))
        s.audit.clear()
        if procs.terminate(s.x.proc):
            log.info("session %s: terminated the X server of %s", s.id, s.x.name)
        if s.screen is not None:
            await asyncio.to_thread(s.screen.close)
            s.screen = None
        s.state, s.outcome = "ended", outcome or s.outcome or "ended"
        if message:
            s.message = message
        await self._store(s)
        self._changed(s)

    # -- the clipboard --------------------------------------------------------------------------

    async def _guard(self, s: GateSession, allowed: bool, reason: str) -> bool:
        """Put ``s``'s clipboard under a guard (audited if ``allowed``). False if it failed."""
        loop = asyncio.get_running_loop()

        def report(kind: str, fields: dict[str, Any]) -> None:  # from the guard's thread
            loop.call_soon_threadsafe(self._clipboard_report, s, kind, fields)

        x = s.x
        guard = ClipboardGuard(
            x.name,
            x.auth_file or None,
            lambda pid: procs.is_chansrv(pid, x),
            report,
            Mode.AUDIT if allowed else Mode.BLOCK,
            reason,
        )
        try:
            await asyncio.to_thread(guard.open)
        except ScreenError as err:
            log.error("session %s: %s", s.id, err)
            return False
        s.guard = guard
        return True

    async def _unguard(self, s: GateSession) -> None:
        if s.guard is not None:
            guard, s.guard = s.guard, None
            await asyncio.to_thread(guard.close)

    def _clipboard_report(self, s: GateSession, kind: str, fields: dict[str, Any]) -> None:
        log.info("session %s: %s %s", s.id, kind, json.dumps(fields, sort_keys=True))
        s.audit.append((kind, fields))

    async def _record_audit(self, s: GateSession) -> None:
        """Hand the session's waiting reports to the recorder, oldest first."""
        while s.audit:
            kind, fields = s.audit[0]
            try:
                await self._recordings.add_audit_event(s.id, kind, json.dumps(fields))
            except (ConflictError, NotFoundError, InvalidArgumentError) as err:
                log.error("session %s: %s not recorded: %s", s.id, kind, err)
            except BusError as err:  # the recorder is busy or restarting: next tick
                log.warning("session %s: %s waits for the recorder: %s", s.id, kind, err)
                return
            s.audit.pop(0)

    async def _store(self, s: GateSession) -> None:
        await self._db.execute(
            "UPDATE sessions SET state=?, outcome=?, message=? WHERE session=?",
            (s.state, s.outcome, s.message, s.id),
        )

    def _changed(self, s: GateSession) -> None:
        s.changed.set()
        self._on_change(s.id, s.state)

    def _prune(self) -> None:
        ended = [s for s in self._sessions.values() if s.state == "ended"]
        for s in sorted(ended, key=lambda s: s.created_at)[:-KEEP_ENDED]:
            del self._sessions[s.id]
