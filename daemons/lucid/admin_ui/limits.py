"""The page's admission limits: guess rate (`RateLimiter`) and costly work at once (`Slots`).

* `RateLimiter` bounds failed guesses (passwords, TOTP, setup and invitation codes, passkey
  assertions) per key — an account or a client address — and over all keys together, in a
  sliding window. An attempt is *reserved* before it is evaluated and counts as a failure
  until it ends: concurrent guesses cannot all pass the check before the first failure is
  recorded. An attempt that ends without `Attempt.fail` (a success, or an error that is no
  guess, e.g. a daemon that did not answer) is given back.
* `Slots` bounds how many of a costly operation (Argon2, 64 MiB each) run at once and how
  many may wait for a turn; beyond that it refuses at once with `Busy` instead of queueing
  without bound.

Both live in memory: a restart forgets them, on purpose (no lock-out outlives the process).
Neither does HTTP; the error middleware answers `TooManyAttempts` with 429 and `Busy` with
503, both with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from types import TracebackType

#: The key every attempt also counts against (the global bound).
ALL = "*"
#: Past this many keys, expired ones are swept (memory stays bounded under a flood of names).
SWEEP_KEYS = 10_000


class TooManyAttempts(Exception):
    """The rate limit is used up; ``retry_after`` seconds until the window frees a slot."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class Busy(Exception):
    """Too much of a costly operation at once; ``retry_after`` seconds is a fair wait."""

    def __init__(self, what: str, retry_after: int = 1) -> None:
        super().__init__(f"the device is busy with other {what}; try again in {retry_after} s")
        self.retry_after = retry_after


class Attempt:
    """One reserved attempt (a context manager): counts as a failure only if `fail` is called.

    Leaving the ``with`` block without `fail` (normally or by an exception) gives it back.
    """

    def __init__(self, limiter: RateLimiter, entries: list[tuple[str, float]]) -> None:
        self._limiter = limiter
        self.entries = entries  # (key, reserved at) pairs, for the limiter
        self._failed = False

    def fail(self) -> None:
        """Keep this attempt as a failure (call it before raising the refusal)."""
        self._failed = True

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._failed:
            self._limiter._give_back(self.entries)


class RateLimiter:
    """At most ``attempts`` failures per key and ``global_attempts`` over all keys, each
    within ``window_s`` seconds (attempts in progress count as failures)."""

    def __init__(
        self,
        attempts: int,
        window_s: float,
        global_attempts: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts = max(1, attempts)
        self._global = max(1, global_attempts)
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

    def attempt(self, keys: Iterable[str]) -> Attempt:
        """Reserve one attempt against every key of ``keys`` (and the global bound).

        Raises:
            TooManyAttempts: a key (or the global bound) has no failure left in the window;
                nothing is reserved then.
        """
        now = self._clock()
        if len(self._failures) > SWEEP_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
        wanted = [*dict.fromkeys(keys), ALL]
        waits = []
        for key in wanted:
            times = self._recent(key, now)
            if len(times) >= (self._global if key == ALL else self._attempts):
                waits.append(times[0] + self._window - now)
        if waits:
            raise TooManyAttempts(max(1, int(max(waits) + 0.999)))
        for key in wanted:
            self._failures.setdefault(key, deque()).append(now)
        return Attempt(self, [(key, now) for key in wanted])

    def check(self, keys: Iterable[str]) -> None:
        """Raise `TooManyAttempts` if `attempt` would; reserve nothing.

        Raises:
            TooManyAttempts: as `attempt`.
        """
        self._give_back(self.attempt(keys).entries)

    def _give_back(self, entries: list[tuple[str, float]]) -> None:
        for key, at in entries:
            times = self._failures.get(key)
            if times is not None and at in times:
                times.remove(at)
                if not times:
                    del self._failures[key]

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the failures of ``keys`` (an account after its successful login)."""
        for key in keys:
            if key != ALL:
                self._failures.pop(key, None)


class Slots:
    """At most ``running`` holders at once and ``waiting`` more queued for a turn."""

    def __init__(self, what: str, running: int, waiting: int) -> None:
        self._what = what
        self._running = asyncio.Semaphore(max(1, running))
        self._capacity = max(1, running) + max(0, waiting)
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Holders running or waiting now."""
        return self._admitted

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for a turn (if a place in the queue is free) and hold it inside the block.

        Raises:
            Busy: ``running`` hold a turn and ``waiting`` wait already.
        """
        if self._admitted >= self._capacity:
            raise Busy(self._what)
        self._admitted += 1
        try:
            async with self._running:
                yield
        finally:
            self._admitted -= 1
