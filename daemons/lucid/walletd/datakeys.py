"""Per-session data keys: created once, kept only wrapped (sealed boxes) in walletd's db.

The device X25519 key is always a recipient, so walletd can reopen a session's key for the
encryptor after a restart; auditors' keys come from config (``walletd.recipients``) and from
the owner (`DataKeys.add_recipient`, kept in the db). A session's key is wrapped to the
recipients known when the session's key is created: a recipient added later reads the
sessions recorded after it was added, never earlier ones. The plaintext data key is returned
to the caller and never stored. This module does not check who is calling.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from typing import TypedDict

import aiosqlite
from nacl.exceptions import CryptoError

from lucid.evidence.crypto import fingerprint, new_data_key, wrap_key
from lucid.runtime.errors import ConflictError, InvalidArgumentError, NotFoundError
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

#: Auditor recipients the owner added (walletd's AddRecipient), in the order added.
RECIPIENTS_MIGRATION = """
    CREATE TABLE recipients (
        x25519 BLOB PRIMARY KEY,
        label TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at REAL NOT NULL
    );
"""

MAX_RECIPIENTS = 16  # auditor keys per device (each session's manifest carries them all)
_LABEL = re.compile(r"^[^\x00-\x1f\x7f]{0,64}$")


class RecipientInfo(TypedDict):
    """One auditor recipient as ListRecipients reports it (all strings)."""

    x25519: str  # public key, hex
    fingerprint: str
    source: str  # "config" (walletd.recipients) | "owner" (added on the device)
    label: str
    added_by: str  # the web account that added it ("" for config)
    added_at: str  # unix time, "" for config


class DataKeys:
    def __init__(
        self, db: aiosqlite.Connection, backend: KeyBackend, recipients: Sequence[bytes]
    ) -> None:
        self._db = db
        self._backend = backend
        device = backend.public_keys().x25519
        self._configured = [r for r in dict.fromkeys(recipients) if r != device]

    async def _recipients(self) -> list[bytes]:
        """Device first, then each configured auditor, then each added one, once each."""
        device = self._backend.public_keys().x25519
        everyone = [device, *self._configured, *[r for r, *_ in await self._added()]]
        return list(dict.fromkeys(everyone))

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
            for pos, recipient in enumerate(await self._recipients()):
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

    async def add_recipient(self, x25519: bytes, label: str, added_by: str) -> RecipientInfo:
        """Add an auditor recipient: every session whose key is created from now on is
        wrapped to it too (sessions recorded before stay as they were).

        Raises:
            InvalidArgumentError: not a usable X25519 public key, or a bad label.
            ConflictError: already a recipient (the device, configured or added), or
                ``MAX_RECIPIENTS`` reached.
        """
        if len(x25519) != 32:
            raise InvalidArgumentError("an X25519 public key is 32 bytes (64 hex digits)")
        try:
            wrap_key(new_data_key(), x25519)  # libsodium refuses keys it cannot seal to
        except (CryptoError, ValueError):
            raise InvalidArgumentError("not a usable X25519 public key") from None
        if not _LABEL.match(label):
            raise InvalidArgumentError("label: at most 64 characters, no control characters")
        if x25519 == self._backend.public_keys().x25519:
            raise ConflictError("that is the device's own key: it is always a recipient")
        if x25519 in self._configured:
            raise ConflictError("that key is configured already (walletd.recipients)")
        if len(self._configured) + len(await self._added()) >= MAX_RECIPIENTS:
            raise ConflictError(f"at most {MAX_RECIPIENTS} auditor recipients")
        now = time.time()
        try:
            await self._db.execute(
                "INSERT INTO recipients(x25519, label, added_by, added_at) VALUES (?, ?, ?, ?)",
                (x25519, label, added_by, now),
            )
        except sqlite3.IntegrityError:
            raise ConflictError("that key is a recipient already") from None
        return _info(x25519, "owner", label, added_by, now)

    async def list_recipients(self) -> list[RecipientInfo]:
        """The auditor recipients new sessions are wrapped to (the device key not included)."""
        out = [_info(r, "config", "", "", None) for r in self._configured]
        out += [_info(r, "owner", label, by, at) for r, label, by, at in await self._added()]
        return out

    async def _added(self) -> list[tuple[bytes, str, str, float]]:
        async with self._db.execute(
            "SELECT x25519, label, added_by, added_at FROM recipients ORDER BY added_at, x25519"
        ) as cur:
            return [(bytes(r[0]), str(r[1]), str(r[2]), float(r[3])) async for r in cur]


def _info(x25519: bytes, source: str, label: str, by: str, at: float | None) -> RecipientInfo:
    return {
        "x25519": x25519.hex(),
        "fingerprint": fingerprint(x25519),
        "source": source,
        "label": label,
        "added_by": by,
        "added_at": "" if at is None else f"{at:.3f}",
    }
