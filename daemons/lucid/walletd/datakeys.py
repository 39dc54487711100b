"""Per-session data keys: created once, kept only wrapped (sealed boxes) in walletd's db.

The device X25519 key is always a recipient, so walletd can reopen a session's key for the
encryptor after a restart; auditors' keys come from config. The plaintext data key is
returned to the caller and never stored. This module does not check who is calling.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import aiosqlite

from lucid.evidence.crypto import new_data_key, wrap_key
from lucid.runtime.errors import NotFoundError
from lucid.runtime.ids import check_session
from lucid.walletd.keys import KeyBackend

MIGRATION = """
    CREATE TABLE data_keys (
        session TEXT PRIMARY KEY,
        created_at REAL NOT NULL
    );
    CREATE TABLE wrapped_keys (
        session TEXT NOT NULL REFERENCES data_keys(session),
        position INTEGER NOT NULL,
        recipient BLOB NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (session, position)
    );
"""


class DataKeys:
    def __init__(
        self, db: aiosqlite.Connection, backend: KeyBackend, recipients: Sequence[bytes]
    ) -> None:
        self._db = db
        self._backend = backend
        device = backend.public_keys().x25519
        # Device first, then each configured auditor once.
        self._recipients = [device] + [r for r in dict.fromkeys(recipients) if r != device]

    async def create(self, session: str) -> bytes:
        """Return the session's data key, creating and wrapping it on first use."""
        check_session(session)
        existing = await self._wrapped(session)
        if existing:
            return await self.open(session)
        key = new_data_key()
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "INSERT INTO data_keys(session, created_at) VALUES (?, ?)", (session, time.time())
            )
            for pos, recipient in enumerate(self._recipients):
                await self._db.execute(
                    "INSERT INTO wrapped_keys(session, position, recipient, sealed) "
                    "VALUES (?, ?, ?, ?)",
                    (session, pos, recipient, wrap_key(key, recipient)),
                )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        return key

    async def open(self, session: str) -> bytes:
        """Unwrap the session's data key with the device key."""
        check_session(session)
        device = self._backend.public_keys().x25519
        for recipient, sealed in await self._wrapped(session):
            if recipient == device:
                return self._backend.unseal(sealed)
        raise NotFoundError(f"no data key for session {session}")

    async def recipients(self, session: str) -> list[tuple[bytes, bytes]]:
        check_session(session)
        rows = await self._wrapped(session)
        if not rows:
            raise NotFoundError(f"no data key for session {session}")
        return rows

    async def _wrapped(self, session: str) -> list[tuple[bytes, bytes]]:
        async with self._db.execute(
            "SELECT recipient, sealed FROM wrapped_keys WHERE session = ? ORDER BY position",
            (session,),
        ) as cur:
            return [(bytes(r[0]), bytes(r[1])) async for r in cur]
