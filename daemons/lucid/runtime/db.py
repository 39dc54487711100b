"""One SQLite database per daemon: WAL, foreign keys, numbered migrations.

A migration is one SQL script; migration *n* runs once, inside a transaction, and
``PRAGMA user_version`` records the highest applied. A database newer than the code
(user_version above the known migrations) is refused rather than guessed at. This module
does not define any daemon's schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from lucid.runtime.errors import DatabaseError


async def open_db(path: Path, migrations: Sequence[str]) -> aiosqlite.Connection:
    """Open (creating if needed) a daemon database and bring its schema up to date.

    Args:
        path: database file; its directory must exist.
        migrations: SQL scripts; index 0 is migration 1.
    Raises:
        DatabaseError: cannot open, corrupt file, failed migration, or a schema newer
            than this code.
    Returns:
        An open ``aiosqlite.Connection`` with ``row_factory = sqlite3.Row``; the caller
        owns it and must close it.
    """
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as err:
        raise DatabaseError(f"cannot open database {path}: {err}") from err
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")  # sealed state must survive power loss
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current > len(migrations):
            raise DatabaseError(
                f"database {path} has schema version {current}, newer than this software "
                f"({len(migrations)}); refusing to touch it"
            )
        for number in range(current + 1, len(migrations) + 1):
            script = migrations[number - 1]
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version={number}")
                await conn.execute("COMMIT")
            except sqlite3.Error as err:
                await conn.execute("ROLLBACK")
                raise DatabaseError(f"database {path}: migration {number} failed: {err}") from err
    except sqlite3.DatabaseError as err:
        await conn.close()
        raise DatabaseError(f"database {path} is unreadable: {err}") from err
    except DatabaseError:
        await conn.close()
        raise
    return conn


def _statements(script: str) -> list[str]:
    """Split a script into statements (``;`` inside strings or triggers stays put)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip())
    return out
