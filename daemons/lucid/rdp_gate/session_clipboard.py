"""A gated session's clipboard: its `ClipboardGuard` and the backlog of the guard's reports.

Each session's clipboard is under a guard from the first ``Wait`` on: blocked until
approval, then as the grant's scope says. The guard's reports (``clipboard.blocked``,
``clipboard.transfer``) wait in ``GateSession.audit`` until the recording runs, then
`record_audit` hands them to the recorder's audit stream (``AddAuditEvent``), oldest first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from lucid.rdp_gate import procs
from lucid.rdp_gate.clipboard import ClipboardGuard, Mode
from lucid.rdp_gate.session import GateSession, Recordings
from lucid.rdp_gate.waiting import ScreenError
from lucid.runtime.errors import BusError, ConflictError, InvalidArgumentError, NotFoundError

log = logging.getLogger("lucid.rdp_gate.gate")  # one logger for the gate, as before the split


async def guard(s: GateSession, allowed: bool, reason: str) -> bool:
    """Put ``s``'s clipboard under a guard (audited if ``allowed``). False if it failed."""
    loop = asyncio.get_running_loop()

    def report(kind: str, fields: dict[str, Any]) -> None:  # from the guard's thread
        loop.call_soon_threadsafe(_report, s, kind, fields)

    x = s.x
    g = ClipboardGuard(
        x.name,
        x.auth_file or None,
        lambda pid: procs.is_chansrv(pid, x),
        report,
        Mode.AUDIT if allowed else Mode.BLOCK,
        reason,
    )
    try:
        await asyncio.to_thread(g.open)
    except ScreenError as err:
        log.error("session %s: %s", s.id, err)
        return False
    s.guard = g
    return True


async def unguard(s: GateSession) -> None:
    """Take ``s``'s guard down; its last reports are in ``s.audit`` when this returns."""
    if s.guard is not None:
        g, s.guard = s.guard, None
        await asyncio.to_thread(g.close)


def _report(s: GateSession, kind: str, fields: dict[str, Any]) -> None:
    log.info("session %s: %s %s", s.id, kind, json.dumps(fields, sort_keys=True))
    s.audit.append((kind, fields))


async def record_audit(s: GateSession, recordings: Recordings) -> None:
    """Hand the session's waiting reports to the recorder, oldest first.

    A report the recorder refuses is logged and dropped; when the recorder is busy or
    restarting the rest wait for the next call.
    """
    while s.audit:
        kind, fields = s.audit[0]
        try:
            await recordings.add_audit_event(s.id, kind, json.dumps(fields))
        except (ConflictError, NotFoundError, InvalidArgumentError) as err:
            log.error("session %s: %s not recorded: %s", s.id, kind, err)
        except BusError as err:  # the recorder is busy or restarting: next tick
            log.warning("session %s: %s waits for the recorder: %s", s.id, kind, err)
            return
        s.audit.pop(0)
