"""Accounts, their passkeys, and how a passkey gets registered.

Roles: ``owner``, ``admin``, ``auditor``, ``viewer``; only owner and admin passkeys may
approve. Registering needs an enrollment code: while no owner exists, the device setup
code (made once, kept in ``<state>/setup-code`` with mode 0600, spent by the first
registration, which makes that account the owner); afterwards a one-time code from
`Accounts.create_enrollment` (stored as a SHA-256 digest, with the role it grants). A
second passkey for an existing account needs a code too (and takes the code's role). This module does not check who
is calling; the credential's public key is what gatekeeper later verifies approvals with.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from lucid.evidence.approvals import Policy, b64u, from_b64u
from lucid.gatekeeper import rp
from lucid.gatekeeper.clock import stamp
from lucid.runtime.errors import (
    ConflictError,
    InvalidArgumentError,
    NotAuthorizedError,
)

ROLES = ("owner", "admin", "auditor", "viewer")
APPROVER_ROLES = frozenset({"owner", "admin"})
SETUP_CODE_FILE = "setup-code"
REGISTRATION_TTL_MS = 5 * 60 * 1000  # a BeginRegistration challenge is good for 5 minutes
ENROLLMENT_TTL_MS = 24 * 3600 * 1000  # a CreateEnrollment code is good for a day
_ACCOUNT = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")


def check_account(account: str) -> str:
    """Return ``account`` if it is a valid account name, else raise InvalidArgumentError."""
    if not _ACCOUNT.match(account):
        raise InvalidArgumentError(f"invalid account name {account!r} (1-64 of A-Z a-z 0-9 ._@+-)")
    return account


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class StoredCredential:
    id: str  # base64url
    account: str
    public_key: bytes  # COSE_Key as registered
    alg: int
    sign_count: int


class Accounts:
    """Accounts and passkeys in gatekeeper's database; the setup code in its state dir."""

    def __init__(self, db: aiosqlite.Connection, state_dir: Path) -> None:
        self._db = db
        self._setup_file = state_dir / SETUP_CODE_FILE

    async def has_owner(self) -> bool:
        async with self._db.execute("SELECT 1 FROM accounts WHERE role='owner' LIMIT 1") as cur:
            return await cur.fetchone() is not None

    async def setup_code(self) -> str | None:
        """The device setup code while no owner exists (created on first call), else None."""
        if await self.has_owner():
            self._setup_file.unlink(missing_ok=True)
            return None
        with contextlib.suppress(FileNotFoundError):
            return self._setup_file.read_text().strip()
        code = one_time_code()
        fd = os.open(self._setup_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(code + "\n")
        return code

    async def role(self, account: str) -> str | None:
        async with self._db.execute("SELECT role FROM accounts WHERE account=?", (account,)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def credentials_of(self, account: str) -> list[StoredCredential]:
        async with self._db.execute(
            "SELECT id, account, public_key, alg, sign_count FROM credentials WHERE account=? "
            "ORDER BY created_ms",
            (account,),
        ) as cur:
            return [StoredCredential(r[0], r[1], bytes(r[2]), r[3], r[4]) async for r in cur]

    async def set_sign_count(self, credential_id: str, count: int) -> None:
        await self._db.execute(
            "UPDATE credentials SET sign_count=? WHERE id=?", (count, credential_id)
        )

    async def begin_registration(
        self, policy: Policy, rp_name: str, account: str, now_ms: int
    ) -> str:
        """Creation options for a new passkey of ``account`` (which need not exist yet)."""
        check_account(account)
        async with self._db.execute(
            "SELECT user_handle FROM accounts WHERE account=?", (account,)
        ) as cur:
            row = await cur.fetchone()
        handle = bytes(row[0]) if row else secrets.token_bytes(32)
        existing = [c.id for c in await self.credentials_of(account)]
        challenge = secrets.token_bytes(32)
        await self._db.execute(
            "INSERT INTO registrations(challenge, account, user_handle, expires_ms) "
            "VALUES (?,?,?,?)",
            (challenge, account, handle, now_ms + REGISTRATION_TTL_MS),
        )
        ids = [from_b64u(c, "credential id") for c in existing]
        return rp.registration_options(policy, rp_name, account, handle, challenge, ids)

    async def complete_registration(
        self, policy: Policy, account: str, credential: str, code: str, now_ms: int
    ) -> tuple[str, str]:
        """Verify and store a new passkey; returns (credential id, the account's role).

        Raises:
            InvalidArgumentError: unknown or expired challenge, or the attestation does
                not verify.
            NotAuthorizedError: the enrollment code is wrong, used or expired.
            ConflictError: the credential is registered already.
        """
        check_account(account)
        cred = rp.parse_credential(credential)
        challenge = rp.challenge_of(cred)
        async with self._db.execute(
            "SELECT user_handle FROM registrations WHERE challenge=? AND account=? "
            "AND expires_ms>?",
            (challenge, account, now_ms),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise InvalidArgumentError(
                f"no registration for {account} with this challenge (begin again)"
            )
        handle = bytes(row[0])
        role, enrollment = await self._check_code(account, code, now_ms)
        new = rp.verify_registration(policy, cred, challenge)
        cred_id = b64u(new.id)
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "INSERT INTO accounts(account, role, user_handle, created_ms) VALUES (?,?,?,?) "
                "ON CONFLICT(account) DO UPDATE SET role=excluded.role",
                (account, role, handle, now_ms),
            )
            await self._db.execute(
                "INSERT INTO credentials(id, account, public_key, alg, sign_count, created_ms) "
                "VALUES (?,?,?,?,?,?)",
                (cred_id, account, new.public_key, new.alg, new.sign_count, now_ms),
            )
            await self._db.execute("DELETE FROM registrations WHERE challenge=?", (challenge,))
            if enrollment is not None:
                await self._db.execute(
                    "UPDATE enrollments SET used_ms=? WHERE code_hash=?", (now_ms, enrollment)
                )
            await self._db.execute("COMMIT")
        except sqlite3.IntegrityError:
            await self._db.execute("ROLLBACK")
            raise ConflictError(f"credential {cred_id} is registered already") from None
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
        if enrollment is None:
            self._setup_file.unlink(missing_ok=True)  # spent: the owner exists now
        return cred_id, role

    async def _check_code(self, account: str, code: str, now_ms: int) -> tuple[str, str | None]:
        """The role ``code`` grants ``account`` and the enrollment it spends (None: setup)."""
        if not await self.has_owner():
            setup = await self.setup_code()
            if setup and hmac.compare_digest(setup.encode(), code.encode()):
                return "owner", None
        digest = _digest(code)
        async with self._db.execute(
            "SELECT role FROM enrollments WHERE code_hash=? AND account=? AND used_ms IS NULL "
            "AND expires_ms>?",
            (digest, account, now_ms),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotAuthorizedError(f"enrollment code for {account} is wrong, used or expired")
        return str(row[0]), digest

    async def create_enrollment(self, account: str, role: str, now_ms: int) -> str:
        """A one-time code that lets ``account`` register a passkey with ``role``."""
        check_account(account)
        if role not in ROLES:
            raise InvalidArgumentError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        code = one_time_code()
        await self._db.execute(
            "INSERT INTO enrollments(code_hash, account, role, expires_ms) VALUES (?,?,?,?)",
            (_digest(code), account, role, now_ms + ENROLLMENT_TTL_MS),
        )
        return code

    async def list(self) -> list[dict[str, Any]]:
        """Accounts with their passkeys (ListAccounts)."""
        out: list[dict[str, Any]] = []
        async with self._db.execute("SELECT account, role FROM accounts ORDER BY account") as cur:
            accounts = [(str(r[0]), str(r[1])) async for r in cur]
        for account, role in accounts:
            async with self._db.execute(
                "SELECT id, alg, created_ms, public_key FROM credentials WHERE account=? "
                "ORDER BY created_ms",
                (account,),
            ) as cur:
                creds = [
                    {
                        "id": r[0],
                        "alg": rp.ALGORITHMS.get(r[1], str(r[1])),
                        "created_at": stamp(r[2]),
                        "public_key": b64u(bytes(r[3])),
                    }
                    async for r in cur
                ]
            out.append({"account": account, "role": role, "credentials": creds})
        return out

    async def purge(self, now_ms: int) -> None:
        """Forget expired registration challenges and enrollment codes."""
        await self._db.execute("DELETE FROM registrations WHERE expires_ms<=?", (now_ms,))
        await self._db.execute(
            "DELETE FROM enrollments WHERE expires_ms<=? OR used_ms IS NOT NULL", (now_ms,)
        )


#: Letters and digits a person reads off a screen without confusing them (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 28  # 28 x log2(31) = 138 bits


def one_time_code() -> str:
    """A setup or enrollment code: uppercase letters and digits only, so it never starts
    with ``-`` (a command line would take it for an option) and reads well aloud."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
