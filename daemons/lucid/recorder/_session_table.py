"""The recorder's session table (SQLite): one row per session, and that row as the bus shows it.

`SessionTable` holds every SQL statement about sessions; `MIGRATIONS` creates the table. A row
moves ``recording`` -> ``ended`` | ``failed``; ``part`` counts recorder runs of the session (a
restart after a crash starts the next part). `SessionTable.get` and `SessionTable.all` return
the ``a{ss}`` the bus hands out, shaped as `lucid.recorder.client.RecordingInfo` (``parts``,
``streams`` and ``spool`` are derived, not stored).

This module does not start or stop recordings, does not read or write the spool (it only names
a session's spool directory), and does not talk to the bus.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from lucid.recorder.audit import rfc3339_ms
from lucid.recorder.encoder import EncoderChoice
from lucid.runtime.errors import NotFoundError

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.recorder.client import RecordingInfo

MIGRATIONS = [
    """
    CREATE TABLE sessions (
        session TEXT PRIMARY KEY,
        display TEXT NOT NULL,
        xauthority TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('recording', 'ended', 'failed')),
        part INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL DEFAULT '',
        encoder TEXT NOT NULL DEFAULT '',
        encoder_settings TEXT NOT NULL DEFAULT '{}',
        complete INTEGER NOT NULL DEFAULT 1,
        error TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT ''
    );
    """,
]


def _now() -> str:
    return rfc3339_ms(datetime.now(UTC))


class SessionTable:
    """Reads and writes the ``sessions`` table; timestamps are RFC 3339 UTC with milliseconds."""

    def __init__(self, db: aiosqlite.Connection, spool_dir: Path) -> None:
        """Use ``db`` (migrated with `MIGRATIONS`; owned by the caller) and name session spool
        directories under ``spool_dir``."""
        self._db = db
        self._spool = spool_dir

    async def get(self, session: str) -> RecordingInfo:
        """The session as the bus shows it.

        Raises:
            NotFoundError: no such session.
        """
        async with self._db.execute("SELECT * FROM sessions WHERE session=?", (session,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"no session {session}")
        return self._info(dict(row))

    async def all(self) -> list[RecordingInfo]:
        """Every session as the bus shows it, oldest first."""
        async with self._db.execute("SELECT * FROM sessions ORDER BY started_at") as cur:
            return [self._info(dict(r)) async for r in cur]

    async def exists(self, session: str) -> bool:
        """Whether the session id was ever used (whatever its state)."""
        async with self._db.execute("SELECT state FROM sessions WHERE session=?", (session,)) as c:
            return await c.fetchone() is not None

    async def insert(self, session: str, display: str, xauthority: str) -> None:
        """Add a ``recording`` row at part 0, started now."""
        await self._db.execute(
            "INSERT INTO sessions(session, display, xauthority, state, started_at) "
            "VALUES (?,?,?, 'recording', ?)",
            (session, display, xauthority, _now()),
        )

    async def delete(self, session: str) -> None:
        """Forget a session that never started recording."""
        await self._db.execute("DELETE FROM sessions WHERE session=?", (session,))

    async def set_part(self, session: str, part: int, choice: EncoderChoice) -> None:
        """Record that ``part`` is capturing with ``choice`` (its name and facts)."""
        await self._db.execute(
            "UPDATE sessions SET part=?, encoder=?, encoder_settings=? WHERE session=?",
            (part, choice.name, json.dumps(choice.facts(), sort_keys=True), session),
        )

    async def set_ended(self, session: str, failed: tuple[str, str] | None) -> None:
        """Mark the session ended now: ``ended`` and complete, or ``failed`` with
        ``(error name, message)``."""
        complete = failed is None
        await self._db.execute(
            "UPDATE sessions SET state=?, ended_at=?, complete=?, error=?, message=? "
            "WHERE session=?",
            (
                "ended" if complete else "failed",
                _now(),
                int(complete),
                failed[0] if failed else "",
                failed[1] if failed else "",
                session,
            ),
        )

    async def ended(self) -> list[str]:
        """Ids of the sessions in state ``ended`` or ``failed``."""
        async with self._db.execute(
            "SELECT session FROM sessions WHERE state IN ('ended', 'failed')"
        ) as cur:
            return [r[0] async for r in cur]

    async def recording(self) -> list[tuple[str, str, str, int]]:
        """``(session, display, xauthority, part)`` of every session in state ``recording``."""
        async with self._db.execute(
            "SELECT session, display, xauthority, part FROM sessions WHERE state='recording'"
        ) as cur:
            rows = [tuple(r) async for r in cur]
        return [(session, display, xauth, int(part)) for session, display, xauth, part in rows]

    def _info(self, row: dict[str, Any]) -> RecordingInfo:
        session_dir = self._spool / row["session"]
        parts = int(row["part"]) + 1
        return {
            "session": row["session"],
            "display": row["display"],
            "state": row["state"],
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "encoder": row["encoder"],
            "encoder_settings": row["encoder_settings"],
            "parts": str(parts),
            "streams": ",".join(
                [f"video.{p}" for p in range(parts)] + [f"audit.{p}" for p in range(parts)]
            ),
            "complete": "true" if row["complete"] else "false",
            "error": row["error"],
            "message": row["message"],
            "spool": str(session_dir),
        }
