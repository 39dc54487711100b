"""Replay issue 9's floods against admin-ui on loopback; check it keeps answering in bounded memory.

Run it on its own (it starts an appliance with ``lucid up``'s machinery in a temporary
directory, with the shipped limits, unless ``--url`` names a running one)::

    .venv/bin/python -m tests.admin_ui.flood
    .venv/bin/python -m tests.admin_ui.flood --scale 3
    .venv/bin/python -m tests.admin_ui.flood --url http://127.0.0.1:PORT --pid PID \\
        --setup-code-file STATE/gatekeeper/setup-code

``tests/admin_ui/test_flood.py`` runs it in pytest with small counts. What it replays, in
this order (attackers on 127.0.0.2 and up, the owner on 127.0.0.1):

1. concurrent setup-code guesses (before the device has an owner),
2. the owner claims the device (setup code, soft passkey, password),
3. concurrent right logins (each costs one Argon2 check: the hashing flood),
4. concurrent wrong logins for the owner's account (which locks it for the window),
5. concurrent enrollments with wrong invitation codes (each carries a password to hash),
6. 404 / 405 / 413 bursts under ``/api/`` and malformed requests (aiohttp's own 400),
7. event streams opened by one login,

while slow clients dribble headers (slowloris) and bodies. Then it checks: the page answers
``GET /api/setup`` and the owner's login still works; no answer was a 5xx other than
503 ("busy"); guesses evaluated (403/401) stayed within the rate limits; the slow clients
were closed by the server; and admin-ui's peak RSS (``VmHWM`` in ``/proc/<pid>/status``)
stayed within ``MEMORY_BOUND_MB`` of its RSS before the floods. Exit status 0 when all hold.
The floods themselves (and the clients they send from) are in ``tests/admin_ui/floods.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from lucid.runtime.config import AdminUiConfig
from tests.admin_ui.floods import (
    ACCOUNT,
    GUARD_S,
    Target,
    burst,
    client,
    malformed,
    onboard,
    open_streams,
    right_logins,
    slow_client,
    status,
    wrong_enrollments,
)

__all__ = ["MEMORY_BOUND_MB", "Counts", "Limits", "Report", "Target", "main", "replay"]

#: Peak RSS over the RSS before the floods: two Argon2 slots (64 MiB each) and the rest.
#: Before the fix, six hashes at once (Python's thread pool on two cores) took ~384 MiB.
MEMORY_BOUND_MB = 200


@dataclass(frozen=True)
class Counts:
    """How many of each attack (``scale`` multiplies them all)."""

    setup_guesses: int = 400
    logins: int = 60
    enrollments: int = 120
    right_logins: int = 24
    slow_headers: int = 20
    slow_bodies: int = 20
    router_errors: int = 200
    malformed: int = 200
    streams: int = 40

    def scaled(self, factor: float) -> Counts:
        return Counts(*(max(1, int(v * factor)) for v in vars(self).values()))


@dataclass(frozen=True)
class Limits:
    """The target's limits (``[admin_ui]``); the shipped defaults unless told otherwise."""

    attempts: int
    attempts_all: int
    per_login_streams: int

    @classmethod
    def of(cls, cfg: AdminUiConfig) -> Limits:
        return cls(cfg.login_attempts, cfg.login_attempts_all, cfg.max_streams_per_login)


@dataclass
class Report:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    slow_closed: int = 0
    slow_total: int = 0
    rss_before_mb: float = 0.0
    peak_mb: float = 0.0
    rss_after_mb: float = 0.0
    answers_after: bool = False
    login_works_after: bool = False

    def failures(self, limits: Limits) -> list[str]:
        """What did not hold (empty: admin-ui survived the floods)."""
        out = []
        for phase, counts in self.statuses.items():
            bad = {s: n for s, n in counts.items() if s >= 500 and s != 503}
            if bad:
                out.append(f"{phase}: server errors {bad}")
        guesses = {"setup guesses": 403, "wrong logins": 401, "wrong enrollments": 403}
        for phase, refused in guesses.items():
            evaluated = self.statuses[phase][refused]
            if evaluated > limits.attempts:
                out.append(f"{phase}: {evaluated} evaluated, limit {limits.attempts}")
        total = sum(self.statuses[p][s] for p, s in guesses.items())
        if total > limits.attempts_all:
            out.append(f"guesses evaluated in all: {total}, limit {limits.attempts_all}")
        if self.statuses["streams"][200] > limits.per_login_streams:
            out.append(f"one login opened {self.statuses['streams'][200]} event streams")
        if self.slow_closed < self.slow_total:
            out.append(f"slow clients: {self.slow_total - self.slow_closed} left open")
        if self.peak_mb - self.rss_before_mb > MEMORY_BOUND_MB:
            out.append(
                f"memory: peak {self.peak_mb:.0f} MB, {self.rss_before_mb:.0f} MB before "
                f"(bound: +{MEMORY_BOUND_MB} MB)"
            )
        if not self.answers_after:
            out.append("GET /api/setup did not answer after the floods")
        if not self.login_works_after:
            out.append("the owner's login did not work after the floods")
        return out

    def summary(self) -> str:
        lines = [f"{phase}: {dict(sorted(c.items()))}" for phase, c in self.statuses.items()]
        lines.append(f"slow clients closed by the server: {self.slow_closed}/{self.slow_total}")
        lines.append(
            f"admin-ui RSS: {self.rss_before_mb:.0f} MB before, peak {self.peak_mb:.0f} MB, "
            f"{self.rss_after_mb:.0f} MB after (bound: +{MEMORY_BOUND_MB} MB)"
        )
        return "\n".join(lines)


def memory_mb(pid: int, field_name: str) -> float:
    """``VmRSS`` / ``VmHWM`` of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field_name} in /proc/{pid}/status")


async def replay(t: Target, counts: Counts, log: Callable[[str], None] = print) -> Report:
    """Run every flood against ``t``; the device must not have an owner yet."""
    report = Report(rss_before_mb=memory_mb(t.pid, "VmRSS"))
    phases: list[tuple[str, Callable[[], Awaitable[Counter[int]]]]] = []
    owner = client(1)
    attackers = [client(n) for n in range(2, 6)]
    stop = asyncio.Event()
    slow = [
        asyncio.ensure_future(slow_client(t, body=n >= counts.slow_headers, stop=stop))
        for n in range(counts.slow_headers + counts.slow_bodies)
    ]
    try:
        guesses = [
            {"account": "mallory", "setup_code": f"g{n}"} for n in range(counts.setup_guesses)
        ]
        phases.append(
            ("setup guesses", lambda: burst(attackers[0], t, "POST", "/api/setup", guesses))
        )
        csrf = ""

        async def claim() -> Counter[int]:
            nonlocal csrf
            csrf = await onboard(owner, t)
            return Counter({201: 1})

        phases.append(("owner claims the device", claim))
        phases.append(
            ("right logins (hashing)", lambda: right_logins(owner, t, csrf, counts.right_logins))
        )
        wrong = [{"account": ACCOUNT, "password": "not the password"}] * counts.logins
        phases.append(("wrong logins", lambda: burst(attackers[1], t, "POST", "/api/login", wrong)))
        phases.append(
            (
                "wrong enrollments",
                lambda: wrong_enrollments(owner, attackers[2], t, csrf, counts.enrollments),
            )
        )
        n = counts.router_errors
        phases.append(
            ("404 bursts", lambda: burst(attackers[3], t, "GET", "/api/no-such-thing", [b""] * n))
        )
        phases.append(
            ("405 bursts", lambda: burst(attackers[3], t, "PATCH", "/api/setup", [b""] * n))
        )
        too_big = [b'{"x": "' + b"x" * (300 * 1024) + b'"}'] * max(1, n // 10)
        phases.append(("413 bursts", lambda: burst(attackers[3], t, "POST", "/api/login", too_big)))
        phases.append(("malformed requests", lambda: malformed(t, counts.malformed)))
        phases.append(("streams", lambda: open_streams(owner, t, counts.streams)))

        for name, run in phases:
            report.statuses[name] = await run()
            log(f"{name}: {dict(sorted(report.statuses[name].items()))}")

        report.slow_total = len(slow)
        done, _ = await asyncio.wait(slow, timeout=GUARD_S)  # the server closes them
        report.slow_closed = sum(1 for task in done if task.result())
        stop.set()
        async with client(1) as fresh:
            report.answers_after = await status(fresh, "GET", t.base + "/api/setup", {}, b"") == 200
        report.login_works_after = await status(owner, "GET", t.base + "/api/me", {}, b"") == 200
        report.peak_mb = memory_mb(t.pid, "VmHWM")
        report.rss_after_mb = memory_mb(t.pid, "VmRSS")
        return report
    finally:
        stop.set()
        await asyncio.gather(*slow, return_exceptions=True)
        for http in (owner, *attackers):
            await http.close()


async def _standalone(counts: Counts) -> Report:
    from lucid.admin_ui.client import AdminUiClient
    from lucid.cli.appliance import running_appliance

    with tempfile.TemporaryDirectory(prefix="lucid-flood-") as tmp:
        async with running_appliance(Path(tmp) / "state") as app:
            url = (await AdminUiClient(app.bus).get_status())["url"].rstrip("/")
            port = url.rsplit(":", 1)[1]
            code_file = app.config.paths.state_dir / "gatekeeper" / "setup-code"
            target = Target(
                f"http://127.0.0.1:{port}",
                url,
                app.daemons.pid("admin_ui"),
                code_file.read_text().strip(),
            )
            return await replay(target, counts, log=_quiet)


def _quiet(_line: str) -> None:
    """Progress is not printed: the summary at the end says it all."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="a running admin-ui (http://127.0.0.1:PORT); default: start one"
    )
    parser.add_argument("--pid", type=int, help="admin-ui's pid (with --url)")
    parser.add_argument("--setup-code-file", type=Path, help="gatekeeper's setup-code (with --url)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count")
    args = parser.parse_args(argv)
    counts = Counts().scaled(args.scale)
    if args.url:
        if args.pid is None or args.setup_code_file is None:
            parser.error("--url needs --pid and --setup-code-file (an unclaimed device)")
        port = args.url.rstrip("/").rsplit(":", 1)[1]
        target = Target(
            f"http://127.0.0.1:{port}",
            f"http://localhost:{port}",
            args.pid,
            args.setup_code_file.read_text().strip(),
        )
        report = asyncio.run(replay(target, counts, log=_quiet))
    else:
        report = asyncio.run(_standalone(counts))
    print(report.summary())
    failures = report.failures(Limits.of(AdminUiConfig()))
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print("admin-ui survived the floods" if not failures else "admin-ui did not hold")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
