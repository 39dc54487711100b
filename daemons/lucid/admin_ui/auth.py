"""Passwords, second factors, logins and the login rate limit.

* Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile) in a
  worker thread; an unknown account still costs one hash check, so timing does not tell
  which names exist.
* TOTP (RFC 6238, 30 s, 6 digits, one step of clock drift) is an optional second factor
  for password logins and password decisions; a passkey login needs no TOTP.
* A login is a random 256-bit token in a cookie; the database keeps only its digest, its
  CSRF token and its absolute expiry (``admin_ui.session_ttl_s``).
* `RateLimiter` counts failed attempts per account and per client address in a sliding
  window, in memory (a restart forgets them — on purpose, no lock-out that outlives the
  process).

Nothing here logs a password, token, code or TOTP secret.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import argon2
import pyotp

from lucid.admin_ui.accounts import Account, AccountStore, LoginRow
from lucid.admin_ui.jsonio import Invalid
from lucid.admin_ui.roles import Role

ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing is the cost; refuse megabyte "passwords"
TOTP_ISSUER = "Lucid"

_hasher = argon2.PasswordHasher()  # Argon2id, t=3, m=64 MiB, p=4
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthFailure(Exception):
    """Wrong account, password, code or TOTP: the message is safe to show."""


class TooManyAttempts(Exception):
    """The rate limit is exceeded; ``retry_after`` seconds until the window frees a slot."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


def check_account_name(name: object) -> str:
    if not isinstance(name, str) or not ACCOUNT_RE.match(name):
        raise Invalid("account: 1-32 of a-z 0-9 . _ - starting with a letter")
    return name


def check_new_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored`` (always spends one Argon2 check)."""

    def check() -> bool:
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    if len(password) > MAX_PASSWORD:
        return False
    return await asyncio.to_thread(check)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=TOTP_ISSUER)


def totp_ok(secret: str, code: object) -> bool:
    return isinstance(code, str) and pyotp.TOTP(secret).verify(code, valid_window=1)


async def check_password_factors(account: Account | None, password: str, totp: object) -> None:
    """Check password (and TOTP if enabled) of ``account``.

    Raises:
        AuthFailure: unknown account, no password set, wrong password or TOTP.
    """
    ok = await verify_password(account.password_hash if account else None, password)
    if not ok or account is None:
        raise AuthFailure("wrong account or password")
    if account.totp_secret and not totp_ok(account.totp_secret, totp):
        raise AuthFailure("wrong or missing TOTP code")


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


class RateLimiter:
    """At most ``attempts`` failures per key within ``window_s`` seconds."""

    def __init__(
        self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._attempts = max(1, attempts)
        self._window = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def check(self, keys: Iterable[str]) -> None:
        """Raise `TooManyAttempts` if any key has used up its failures."""
        now = self._clock()
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self._attempts:
                raise TooManyAttempts(max(1, int(times[0] + self._window - now + 0.999)))

    def fail(self, keys: Iterable[str]) -> None:
        now = self._clock()
        if len(self._failures) > 10_000:  # bound memory under a flood of names
            for key in list(self._failures):
                self._recent(key, now)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
