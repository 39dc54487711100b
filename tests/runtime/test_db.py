from __future__ import annotations

from pathlib import Path

import pytest

from lucid.runtime.db import open_db
from lucid.runtime.errors import DatabaseError

M1 = "CREATE TABLE a (x INTEGER);"
M2 = "ALTER TABLE a ADD COLUMN y TEXT; CREATE INDEX a_y ON a(y);"


async def test_migrations_run_once_in_order(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "t.db", [M1])
    await db.execute("INSERT INTO a(x) VALUES (1)")
    await db.close()
    db = await open_db(tmp_path / "t.db", [M1, M2])
    async with db.execute("PRAGMA user_version") as cur:
        assert (await cur.fetchone())[0] == 2  # type: ignore[index]  # one row
    async with db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"  # type: ignore[index]  # one row
    async with db.execute("SELECT x, y FROM a") as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [(1, None)]
    await db.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    (await open_db(tmp_path / "t.db", [M1, M2])).close  # noqa: B018  # opened for its side effect
    db = await open_db(tmp_path / "t.db", [M1, M2])
    await db.close()
    with pytest.raises(DatabaseError, match="newer than this software"):
        await open_db(tmp_path / "t.db", [M1])


async def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="migration 2 failed"):
        await open_db(tmp_path / "t.db", [M1, "CREATE TABLE b (x); SELECT nonsense FROM nowhere;"])
    db = await open_db(tmp_path / "t.db", [M1])
    async with db.execute("SELECT name FROM sqlite_master WHERE name='b'") as cur:
        assert await cur.fetchone() is None
    await db.close()


async def test_garbage_file_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "t.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError):
        await open_db(tmp_path / "t.db", [M1])
