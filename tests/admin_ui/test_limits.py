"""The admission limits on their own: atomic rate limit, global bound, hashing slots, log filter,
log file modes (no daemons; the HTTP-level attacks are in test_abuse.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from lucid.admin_ui.auth import AuthFailure, Passwords
from lucid.admin_ui.limits import Busy, RateLimiter, Slots, TooManyAttempts
from lucid.runtime.log import open_log
from lucid.runtime.logflood import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_attempt_counts_from_its_reservation() -> None:
    limiter = RateLimiter(3, 60, 100, Clock())
    held = [limiter.attempt(["ip:a"]) for _ in range(3)]  # three guesses in flight at once
    with pytest.raises(TooManyAttempts):
        limiter.attempt(["ip:a"])  # the fourth is refused before any of them is evaluated
    limiter.attempt(["ip:b"]).fail()  # other keys are not affected
    for attempt in held:
        attempt.fail()
    with pytest.raises(TooManyAttempts) as refused:
        limiter.check(["ip:a", "acct:x"])
    assert refused.value.retry_after == 60


def test_a_success_or_a_non_guess_error_is_given_back() -> None:
    limiter = RateLimiter(1, 60, 100, Clock())
    with limiter.attempt(["acct:x"]):
        pass  # success: not a failure
    with pytest.raises(RuntimeError), limiter.attempt(["acct:x"]):
        raise RuntimeError("gatekeeper did not answer")  # no guess was evaluated
    with pytest.raises(AuthFailure), limiter.attempt(["acct:x"]) as attempt:
        attempt.fail()
        raise AuthFailure("wrong")
    with pytest.raises(TooManyAttempts):
        limiter.check(["acct:x"])


def test_the_window_frees_attempts() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, 100, clock)
    limiter.attempt(["k"]).fail()
    clock.now += 30
    limiter.attempt(["k"]).fail()
    with pytest.raises(TooManyAttempts) as refused:
        limiter.check(["k"])
    assert refused.value.retry_after == 30
    clock.now += 30.5
    limiter.check(["k"])  # the first failure left the window
    limiter.forget(["k"])
    limiter.attempt(["k"]).fail()
    limiter.attempt(["k"]).fail()


def test_a_global_bound_over_all_keys() -> None:
    limiter = RateLimiter(3, 60, 5, Clock())
    evaluated = 0
    for address in range(10):  # ten addresses, each under its own limit
        for _ in range(3):
            try:
                limiter.attempt([f"ip:{address}"]).fail()
                evaluated += 1
            except TooManyAttempts:
                pass
    assert evaluated == 5


async def test_slots_refuse_beyond_running_and_waiting() -> None:
    slots = Slots("hashes", running=1, waiting=2)
    release = asyncio.Event()
    entered: list[int] = []

    async def hold(n: int) -> None:
        async with slots.hold():
            entered.append(n)
            await release.wait()

    tasks = [asyncio.create_task(hold(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert slots.admitted == 3 and entered == [0]  # one runs, two wait
    with pytest.raises(Busy):
        async with slots.hold():
            raise AssertionError("admitted beyond the bound")
    release.set()
    await asyncio.gather(*tasks)
    assert entered == [0, 1, 2] and slots.admitted == 0


class BlockingHasher:
    """A hasher whose every call waits for ``go``: shows how many run at once."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def _work(self) -> None:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.go.wait(30)
        with self._lock:
            self.running -= 1

    def hash(self, password: str) -> str:
        self._work()
        return "hash:" + password

    def verify(self, hash: str, password: str) -> bool:
        self._work()
        return hash == "hash:" + password


async def test_passwords_hash_in_bounded_slots() -> None:
    hasher = BlockingHasher()
    passwords = Passwords(running=2, waiting=3, hasher=hasher)
    tasks = [asyncio.create_task(passwords.hash(f"pw{n}")) for n in range(5)]
    await asyncio.sleep(0)  # each task takes its place (or its turn) in its first step
    assert passwords.slots.admitted == 5
    with pytest.raises(Busy):
        await passwords.hash("one too many")
    hasher.go.set()
    assert await asyncio.gather(*tasks) == [f"hash:pw{n}" for n in range(5)]
    assert hasher.peak == 2


async def test_a_refused_guess_is_never_hashed() -> None:
    hasher = BlockingHasher()
    hasher.go.set()
    passwords = Passwords(running=2, waiting=2, hasher=hasher)
    limiter = RateLimiter(2, 60, 100, Clock())
    results = await asyncio.gather(
        *(passwords.check_attempt(limiter, ["acct:a"], None, "guess", None) for _ in range(20)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, AuthFailure) for r in results) == 2
    assert sum(isinstance(r, TooManyAttempts) for r in results) == 18
    assert hasher.peak <= 2


def _record(msg: str, *args: object, exc: bool = False, line: int = 1) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError as err:
            exc_info = (type(err), err, err.__traceback__)
    return logging.LogRecord("aiohttp.server", logging.ERROR, "x.py", line, msg, args, exc_info)


def test_repeat_filter_collapses_a_flood() -> None:
    clock = Clock()
    flt = RepeatFilter(burst=3, window_s=60, total=50, clock=clock)
    passed = [r for r in (_record("from %s", n, exc=True) for n in range(1000)) if flt.filter(r)]
    assert len(passed) == 3
    assert passed[0].exc_info is not None  # the first keeps its traceback
    assert passed[1].exc_info is None and "traceback as above" in passed[1].getMessage()
    clock.now += 61
    later = _record("from %s", "x")
    assert flt.filter(later)
    assert "997 similar messages suppressed" in later.getMessage()
    assert later.getMessage().startswith("from x")


def test_repeat_filter_bounds_all_kinds_together() -> None:
    clock = Clock()
    flt = RepeatFilter(burst=3, window_s=60, total=20, clock=clock)
    passed = sum(flt.filter(_record(f"kind {n}", line=n)) for n in range(500))
    assert passed == 20
    clock.now += 61
    later = _record("after")
    assert flt.filter(later) and "480 other messages suppressed" in later.getMessage()


def test_log_files_are_0640(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.log"
    with open_log(fresh) as f:
        f.write(b"one\n")
    old = tmp_path / "old.log"
    old.write_bytes(b"before\n")
    os.chmod(old, 0o644)
    with open_log(old) as f:
        f.write(b"after\n")
    for path in (fresh, old):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    assert old.read_bytes() == b"before\nafter\n"
