"""admin-ui's database: accounts, their login passkeys, enrollment invitations, logins.

Secrets are never stored as given: passwords as Argon2id hashes (made by `auth`), login
tokens and enrollment codes as SHA-256 digests (both are 256-bit random values, so a
plain hash is enough). TOTP secrets are stored as they are: the page needs them to check
codes. This module does no hashing of passwords, no rate limiting and no HTTP.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass

import aiosqlite

from lucid.admin_ui.roles import Role

MIGRATIONS = [
    """
    CREATE TABLE accounts (
        account TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'auditor', 'viewer')),
        password_hash TEXT,            -- Argon2id (PHC string); NULL: passkey only
        totp_secret TEXT,              -- base32; NULL: no second factor
        created_at REAL NOT NULL
    );
    CREATE TABLE credentials (
        id TEXT PRIMARY KEY,           -- credential id, unpadded base64url
        account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
        public_key BLOB NOT NULL,      -- COSE_Key as registered
        sign_count INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE enrollments (
        code_sha256 TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        role TEXT NOT NULL,
        created_by TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE logins (
        token_sha256 TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(account) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX logins_by_account ON logins(account);
    """,
]


def digest(secret: str) -> str:
    """SHA-256 hex of a random token or code (what the database keeps instead)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Account:
    account: str
    role: Role
    password_hash: str | None
    totp_secret: str | None


@dataclass(frozen=True)
class Credential:
    id: str
    account: str
    public_key: bytes
    sign_count: int


@dataclass(frozen=True)
class LoginRow:
    account: str
    role: Role
    csrf: str
    expires_at: float


class AccountStore:
    """Typed access to the tables above; the caller owns the connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def has_owner(self) -> bool:
        async with self._db.execute("SELECT 1 FROM accounts WHERE role = 'owner' LIMIT 1") as c:
            return await c.fetchone() is not None

    async def get(self, account: str) -> Account | None:
        async with self._db.execute(
            "SELECT account, role, password_hash, totp_secret FROM accounts WHERE account = ?",
            (account,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Account(row[0], Role(row[1]), row[2], row[3])

    async def all(self) -> list[Account]:
        async with self._db.execute(
            "SELECT account, role, password_hash, totp_secret FROM accounts ORDER BY account"
        ) as cur:
            return [Account(r[0], Role(r[1]), r[2], r[3]) async for r in cur]

    async def create(
        self, account: str, role: Role, password_hash: str | None, credential: Credential | None
    ) -> bool:
        """Create an account (and its first passkey); False if the name is taken."""
        now = time.time()
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "INSERT INTO accounts(account, role, password_hash, totp_secret, created_at) "
                "VALUES (?, ?, ?, NULL, ?)",
                (account, role.value, password_hash, now),
            )
            if credential is not None:
                await self._insert_credential(credential, now)
            await self._db.execute("COMMIT")
        except sqlite3.IntegrityError:
            await self._db.execute("ROLLBACK")
            return False
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        return True

    async def set_password(self, account: str, password_hash: str) -> None:
        await self._db.execute(
            "UPDATE accounts SET password_hash = ? WHERE account = ?", (password_hash, account)
        )

    async def set_totp(self, account: str, secret: str | None) -> None:
        await self._db.execute(
            "UPDATE accounts SET totp_secret = ? WHERE account = ?", (secret, account)
        )

    # --- login passkeys ------------------------------------------------------------------

    async def _insert_credential(self, cred: Credential, now: float) -> None:
        await self._db.execute(
            "INSERT INTO credentials(id, account, public_key, sign_count, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (cred.id, cred.account, cred.public_key, cred.sign_count, now),
        )

    async def add_credential(self, cred: Credential) -> bool:
        """Add a passkey to an existing account; False if the id is already registered."""
        try:
            await self._insert_credential(cred, time.time())
        except sqlite3.IntegrityError:
            return False
        return True

    async def credential(self, cred_id: str) -> Credential | None:
        async with self._db.execute(
            "SELECT id, account, public_key, sign_count FROM credentials WHERE id = ?", (cred_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else Credential(row[0], row[1], bytes(row[2]), int(row[3]))

    async def credentials(self, account: str) -> list[Credential]:
        async with self._db.execute(
            "SELECT id, account, public_key, sign_count FROM credentials WHERE account = ? "
            "ORDER BY created_at",
            (account,),
        ) as cur:
            return [Credential(r[0], r[1], bytes(r[2]), int(r[3])) async for r in cur]

    async def set_sign_count(self, cred_id: str, count: int) -> None:
        await self._db.execute(
            "UPDATE credentials SET sign_count = ? WHERE id = ?", (count, cred_id)
        )

    # --- enrollment invitations ----------------------------------------------------------

    async def add_enrollment(
        self, code: str, account: str, role: Role, created_by: str, expires_at: float
    ) -> None:
        # A new invitation for the same name replaces the old one.
        await self._db.execute("DELETE FROM enrollments WHERE account = ?", (account,))
        await self._db.execute(
            "INSERT INTO enrollments(code_sha256, account, role, created_by, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (digest(code), account, role.value, created_by, expires_at),
        )

    async def enrollment(self, code: str, account: str) -> Role | None:
        """The role an unexpired invitation for ``account`` with ``code`` grants, else None."""
        async with self._db.execute(
            "SELECT role FROM enrollments WHERE code_sha256 = ? AND account = ? AND expires_at > ?",
            (digest(code), account, time.time()),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else Role(row[0])

    async def take_enrollment(self, code: str, account: str) -> bool:
        """Use an invitation up (single use); False if it was not (or no longer) there."""
        cur = await self._db.execute(
            "DELETE FROM enrollments WHERE code_sha256 = ? AND account = ? AND expires_at > ?",
            (digest(code), account, time.time()),
        )
        return cur.rowcount == 1

    # --- logins --------------------------------------------------------------------------

    async def add_login(self, token: str, account: str, csrf: str, expires_at: float) -> None:
        await self._db.execute("DELETE FROM logins WHERE expires_at <= ?", (time.time(),))
        await self._db.execute(
            "INSERT INTO logins(token_sha256, account, csrf, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (digest(token), account, csrf, time.time(), expires_at),
        )

    async def login(self, token: str) -> LoginRow | None:
        async with self._db.execute(
            "SELECT l.account, a.role, l.csrf, l.expires_at FROM logins l "
            "JOIN accounts a ON a.account = l.account "
            "WHERE l.token_sha256 = ? AND l.expires_at > ?",
            (digest(token), time.time()),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else LoginRow(row[0], Role(row[1]), row[2], float(row[3]))

    async def drop_login(self, token: str) -> None:
        await self._db.execute("DELETE FROM logins WHERE token_sha256 = ?", (digest(token),))

    async def drop_logins(self, account: str, keep_token: str | None = None) -> None:
        """End every login of ``account`` (after a password change), except ``keep_token``'s."""
        await self._db.execute(
            "DELETE FROM logins WHERE account = ? AND token_sha256 != ?",
            (account, digest(keep_token) if keep_token else ""),
        )
