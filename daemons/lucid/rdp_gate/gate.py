"""The RDP gate: an xrdp session from login to end, under gatekeeper's decision.

`RdpGate` moves each `GateSession` through its states (see `lucid.rdp_gate.session`).
Grant changes are found by `tick` (gatekeeper's signals only make it run sooner): a grant
that is no longer approved/active (revoked, expired, ended) stops the recording and
terminates the X server. Each session's clipboard is under a guard from the first ``Wait``
on (`lucid.rdp_gate.session_clipboard`); its reports go into the recording's audit stream
once the recording runs. Sessions are kept in a small database
(`lucid.rdp_gate.session_db`) so that a restarted rdp_gate still guards the running ones
and ends the ones whose waiter it lost.
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
from typing import TYPE_CHECKING

import aiosqlite

from lucid.rdp_gate import procs, session_db
from lucid.rdp_gate.clipboard import Mode
from lucid.rdp_gate.scp import Login
from lucid.rdp_gate.session import (
    LIVE_GRANT,
    GateSession,
    GateSettings,
    Grants,
    Recordings,
    clipboard_allowed,
    host_of,
    now,
    outcome_lines,
    waiting_lines,
)
from lucid.rdp_gate.session_clipboard import guard, record_audit, unguard
from lucid.rdp_gate.waiting import ScreenError, WaitingScreen, admit_local_user
from lucid.runtime.errors import BusError, NotAuthorizedError, NotFoundError, UnavailableError
from lucid.runtime.ids import new_session_id

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.rdp_gate.client import GateSessionInfo

log = logging.getLogger(__name__)

KEEP_ENDED = 50  # ended sessions kept in ListSessions


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
        for s in await session_db.unended(self._db):
            x = s.x
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
            if procs.alive(x.proc) and not await guard(s, allowed, "grant"):
                await self._finish(s, "failed", "the clipboard could not be guarded")

    async def close(self) -> None:
        """Daemon shutdown: take the waiting screens and clipboard guards down; sessions
        stay (see `start`)."""
        for s in self._sessions.values():
            if s.screen is not None:
                await asyncio.to_thread(s.screen.close)
                s.screen = None
            await unguard(s)

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
                and host_of(current.source) == host_of(login.source)
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

    def sessions(self) -> list[GateSessionInfo]:
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
        s = GateSession(session, user, source, x, now())
        # the clipboard first: chansrv may hold the client's clipboard already
        if not await guard(s, False, "pending_approval"):
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
            await unguard(s)
            procs.terminate(x.proc)
            raise
        self._sessions[session] = s
        await session_db.insert(self._db, s)
        self._prune()
        screen = WaitingScreen(x.name, x.auth_file or None, waiting_lines(s, self._settings))
        try:
            await asyncio.to_thread(screen.open)
        except ScreenError as err:
            await self._finish(s, "failed", str(err))
            return s
        s.screen = screen
        log.info("session %s: %s on %s from %s waits for approval", session, user, x.name, source)
        self._changed(s)
        return s

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
                await record_audit(s, self._recordings)

    async def _reason(self, session: str) -> str:
        with contextlib.suppress(BusError, ValueError):
            reason = json.loads(await self._grants.get_request(session)).get("reason", "")
            return str(reason)
        return ""

    async def _admit(self, s: GateSession, grant: Mapping[str, str]) -> None:
        s.outcome = "approved"
        if s.screen is not None:
            s.screen.show(outcome_lines(s, self._settings))
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
        await session_db.store(self._db, s)
        if s.screen is not None:
            await asyncio.to_thread(s.screen.close)
            s.screen = None
        log.info(
            "session %s approved: recording %s, clipboard %s",
            s.id,
            s.x.name,
            "audited" if allowed else "blocked",
        )
        await record_audit(s, self._recordings)
        self._changed(s)

    async def _refuse(self, s: GateSession, outcome: str, message: str) -> None:
        s.state, s.outcome, s.message = "closing", outcome, message
        s.closing_at = self._clock() + self._settings.outcome_show_s
        if s.screen is not None:
            s.screen.show(outcome_lines(s, self._settings))
        await session_db.store(self._db, s)
        log.info("session %s: %s %s", s.id, outcome, message)
        self._changed(s)

    async def _finish(self, s: GateSession, outcome: str, message: str) -> None:
        await unguard(s)  # its last reports are in s.audit when this returns
        if s.state == "running":
            await record_audit(s, self._recordings)
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
        await session_db.store(self._db, s)
        self._changed(s)

    def _changed(self, s: GateSession) -> None:
        s.changed.set()
        self._on_change(s.id, s.state)

    def _prune(self) -> None:
        ended = [s for s in self._sessions.values() if s.state == "ended"]
        for s in sorted(ended, key=lambda s: s.created_at)[:-KEEP_ENDED]:
            del self._sessions[s.id]
