"""Passwords, second factors and logins.

* Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile: 64 MiB
  each) in a worker thread, at most ``admin_ui.hash_slots`` at once with
  ``admin_ui.hash_queue`` more waiting (`Passwords`; more are refused with
  `limits.Busy`); an unknown account still costs one hash check, so timing does not tell
  which names exist. Callers check a guess's rate limit *before* asking for a hash.
* TOTP (RFC 6238, 30 s, 6 digits, one step of clock drift) is an optional second factor
  for password logins and password decisions; a passkey login needs no TOTP.
* A login is a random 256-bit token in a cookie; the database keeps only its digest, its
  CSRF token and its absolute expiry (``admin_ui.session_ttl_s``).
* `Passwords.check_attempt` checks a password (and TOTP) as one attempt of
  `limits.RateLimiter`, reserved before the hash runs.

Nothing here logs a password, token, code or TOTP secret.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import argon2
import pyotp

from lucid.admin_ui.accounts import Account, AccountStore, LoginRow
from lucid.admin_ui.jsonio import Invalid
from lucid.admin_ui.limits import RateLimiter, Slots
from lucid.admin_ui.roles import Role

ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing is the cost; refuse megabyte "passwords"
TOTP_ISSUER = "Lucid"

_hasher = argon2.PasswordHasher()  # Argon2id, t=3, m=64 MiB, p=4
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthFailure(Exception):
    """Wrong account, password, code or TOTP: the message is safe to show."""


def check_account_name(name: object) -> str:
    if not isinstance(name, str) or not ACCOUNT_RE.match(name):
        raise Invalid("account: 1-32 of a-z 0-9 . _ - starting with a letter")
    return name


def check_new_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=TOTP_ISSUER)


def totp_ok(secret: str, code: object) -> bool:
    return isinstance(code, str) and pyotp.TOTP(secret).verify(code, valid_window=1)


class Hasher(Protocol):
    """What `Passwords` needs of argon2-cffi's ``PasswordHasher`` (a seam for tests)."""

    def hash(self, password: str) -> str: ...

    def verify(self, hash: str, password: str) -> bool: ...


T = TypeVar("T")


class Passwords:
    """Argon2id hashes and password checks, ``running`` at once and ``waiting`` queued."""

    def __init__(self, running: int, waiting: int, hasher: Hasher = _hasher) -> None:
        self._hasher = hasher
        self.slots = Slots("password checks", running, waiting)

    async def _in_slot(self, fn: Callable[..., T], *args: object) -> T:
        # Handlers are not cancelled when a client goes away (aiohttp's default), so a
        # slot is held exactly as long as its thread hashes.
        async with self.slots.hold():
            return await asyncio.to_thread(fn, *args)

    async def hash(self, password: str) -> str:
        """The Argon2id hash of ``password``.

        Raises:
            limits.Busy: all slots and queue places are taken.
        """
        return await self._in_slot(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches ``stored`` (always spends one Argon2 check).

        Raises:
            limits.Busy: all slots and queue places are taken.
        """

        def check() -> bool:
            try:
                return self._hasher.verify(stored or _DUMMY_HASH, password) and bool(stored)
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
                return False

        if len(password) > MAX_PASSWORD:
            return False
        return await self._in_slot(check)

    async def check_factors(self, account: Account | None, password: str, totp: object) -> None:
        """Check password (and TOTP if enabled) of ``account``.

        Raises:
            AuthFailure: unknown account, no password set, wrong password or TOTP.
            limits.Busy: all slots and queue places are taken.
        """
        ok = await self.verify(account.password_hash if account else None, password)
        if not ok or account is None:
            raise AuthFailure("wrong account or password")
        if account.totp_secret and not totp_ok(account.totp_secret, totp):
            raise AuthFailure("wrong or missing TOTP code")

    async def check_attempt(
        self,
        limiter: RateLimiter,
        keys: Iterable[str],
        account: Account | None,
        password: str,
        totp: object,
    ) -> None:
        """`check_factors` as one attempt of ``limiter`` under ``keys``, reserved first.

        Raises:
            limits.TooManyAttempts: no attempt left (nothing was hashed).
            AuthFailure: as `check_factors` (the attempt counts as failed).
            limits.Busy: as `check_factors` (the attempt is given back).
        """
        with limiter.attempt(keys) as attempt:
            try:
                await self.check_factors(account, password, totp)
            except AuthFailure:
                attempt.fail()
                raise


@dataclass(frozen=True)
class Login:
    """A logged-in browser: what handlers get as ``request[LOGIN]``."""

    token: str
    account: str
    role: Role
    csrf: str
    expires_at: float


class Logins:
    """Create, look up and end logins (cookie tokens) with an absolute lifetime."""

    def __init__(self, store: AccountStore, ttl_s: int) -> None:
        self._store = store
        self.ttl_s = ttl_s

    async def start(self, account: str, role: Role) -> Login:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = time.time() + self.ttl_s
        await self._store.add_login(token, account, csrf, expires)
        return Login(token, account, role, csrf, expires)

    async def find(self, token: str) -> Login | None:
        if not token or len(token) > 128:
            return None
        row: LoginRow | None = await self._store.login(token)
        if row is None:
            return None
        return Login(token, row.account, row.role, row.csrf, row.expires_at)

    async def end(self, token: str) -> None:
        await self._store.drop_login(token)
