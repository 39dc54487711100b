"""rdp_gate's sessions table: what a restarted gate needs to guard or end the sessions it had.

Rows are written when a session is opened (`insert`) and on every state change (`store`);
`unended` reads back the ones not ``ended``. A restored session carries its id, user,
source, X server, creation time, state and outcome — not its message, screen or guard.
"""

from __future__ import annotations

import aiosqlite

from lucid.rdp_gate import procs
from lucid.rdp_gate.session import GateSession

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


async def unended(db: aiosqlite.Connection) -> list[GateSession]:
    """The sessions a previous run left not ``ended``, in the table's order."""
    async with db.execute("SELECT * FROM sessions WHERE state != 'ended'") as cur:
        rows = [dict(r) async for r in cur]
    sessions = []
    for row in rows:
        x = procs.XServer(
            procs.ProcId(row["x_pid"], row["x_start"]),
            -1,
            row["display"],
            row["auth_file"],
        )
        s = GateSession(row["session"], row["user"], row["source"], x, row["created_at"])
        s.state, s.outcome = row["state"], row["outcome"]
        sessions.append(s)
    return sessions


async def insert(db: aiosqlite.Connection, s: GateSession) -> None:
    """Record a newly opened session as ``waiting``."""
    x = s.x
    await db.execute(
        "INSERT INTO sessions(session, user, source, display, x_pid, x_start, auth_file,"
        " state, created_at) VALUES (?,?,?,?,?,?,?, 'waiting', ?)",
        (s.id, s.user, s.source, x.display, x.proc.pid, x.proc.start, x.auth_file, s.created_at),
    )


async def store(db: aiosqlite.Connection, s: GateSession) -> None:
    """Record ``s``'s state, outcome and message."""
    await db.execute(
        "UPDATE sessions SET state=?, outcome=?, message=? WHERE session=?",
        (s.state, s.outcome, s.message, s.id),
    )
