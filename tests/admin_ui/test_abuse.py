"""The page under abuse (issue 9): concurrent guesses, error answers, event streams, log floods.

Each attack is the one the issue reports, with counts scaled down; small limits are set for
this module (`ui_settings`). Attackers come from other loopback addresses (127.0.0.2, …)
where the test needs the owner's own address (127.0.0.1) to stay usable.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import aiohttp
import pytest

from tests.admin_ui.conftest import PASSWORD, Browser, Ui, new_browser
from tests.admin_ui.test_security import EXPECTED

ATTEMPTS = 3  # login_attempts below
ALL_ATTEMPTS = 8  # login_attempts_all below


@pytest.fixture
def ui_settings() -> dict[str, str]:
    return {
        "login_attempts": str(ATTEMPTS),
        "login_attempts_all": str(ALL_ATTEMPTS),
        "max_streams": "3",
        "max_streams_per_login": "2",
    }


def attacker(n: int) -> aiohttp.ClientSession:
    """A client from loopback address 127.0.0.<n> with no cap on parallel connections."""
    connector = aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.0.{n}", 0))
    return aiohttp.ClientSession(connector=connector)


async def flood(
    http: aiohttp.ClientSession, ui: Ui, path: str, bodies: list[dict[str, Any]]
) -> Counter[int]:
    """POST every body at once; count the answers by status."""

    async def one(body: dict[str, Any]) -> int:
        async with http.post(ui.base + path, json=body, headers={"Origin": ui.origin}) as resp:
            await resp.read()
            return resp.status

    return Counter(await asyncio.gather(*(one(b) for b in bodies)))


def log_of(ui: Ui, name: str = "admin_ui") -> str:
    return ui.daemons.log_path(name).read_text(errors="replace")


async def test_concurrent_wrong_logins_are_evaluated_at_most_attempts_times(
    owner: Browser,
) -> None:
    ui = owner.ui
    async with attacker(2) as http:
        wrong = {"account": "alice", "password": "not the password"}
        statuses = await flood(http, ui, "/api/login", [wrong] * 40)
        assert statuses[401] <= ATTEMPTS and statuses[401] + statuses[429] == 40, statuses
        # and the right password, right after, is refused too: the account is locked
        statuses = await flood(http, ui, "/api/login", [{"account": "alice", "password": PASSWORD}])
        assert statuses == Counter({429: 1})
    await owner.ok("GET", "/api/me")  # an open login keeps working


async def test_concurrent_setup_code_guesses_are_bounded(browser: Browser) -> None:
    ui = browser.ui
    async with attacker(2) as http:
        guesses = [{"account": "mallory", "setup_code": f"guess-{n}"} for n in range(60)]
        statuses = await flood(http, ui, "/api/setup", guesses)
    assert statuses[403] <= ATTEMPTS and statuses[403] + statuses[429] == 60, statuses
    assert (await browser.onboard("alice"))["role"] == "owner"  # the owner still gets in


async def test_guesses_from_many_addresses_meet_the_global_bound(owner: Browser) -> None:
    ui = owner.ui
    evaluated = 0
    for n in range(2, 8):  # six addresses, each within its own limit
        async with attacker(n) as http:
            bodies = [{"account": f"user{n}", "password": "not the password"}] * ATTEMPTS
            statuses = await flood(http, ui, "/api/login", bodies)
        evaluated += statuses[401]
    assert evaluated <= ALL_ATTEMPTS, evaluated


async def test_wrong_invitation_codes_are_refused_before_hashing(owner: Browser) -> None:
    ui = owner.ui
    invitation = await owner.ok("POST", "/api/accounts", {"account": "bob", "role": "viewer"}, 201)
    async with attacker(2) as http:
        bodies = [{"account": "bob", "code": f"guess-{n}", "password": PASSWORD} for n in range(40)]
        statuses = await flood(http, ui, "/api/enroll", bodies)
    assert statuses[403] <= ATTEMPTS and statuses[403] + statuses[429] == 40, statuses
    async with await new_browser(ui) as http:
        body = {"account": "bob", "code": invitation["code"], "password": PASSWORD}
        got, data = await Browser(ui, http).call("POST", "/api/enroll", body)
    # bob's name took the failures: its invitation waits out the window (unspent)
    assert (got, data["error"]) == (429, "rate_limited")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/no-such-thing", 404),
        ("POST", "/api/no-such-thing", 404),
        ("PATCH", "/api/me", 405),
        ("DELETE", "/api/setup", 405),
    ],
)
async def test_router_errors_under_api_are_json(
    browser: Browser, method: str, path: str, status: int
) -> None:
    ui = browser.ui
    async with browser.http.request(method, ui.base + path, headers={"Origin": ui.origin}) as resp:
        assert resp.status == status and resp.content_type == "application/json"
        assert (await resp.json())["error"] == "http"
        if status == 405:
            assert "GET" in resp.headers["Allow"]
        for name, value in EXPECTED.items():
            assert resp.headers.get(name) == value
    assert "Traceback" not in log_of(ui)


async def test_a_body_over_the_limit_is_413_json(browser: Browser) -> None:
    ui = browser.ui
    big = {"account": "alice", "password": "x" * (300 * 1024)}
    async with browser.http.post(
        ui.base + "/api/login", json=big, headers={"Origin": ui.origin}
    ) as resp:
        assert resp.status == 413 and (await resp.json())["error"] == "http"
    assert (await browser.ok("GET", "/api/setup"))["onboarded"] is False
    assert "Traceback" not in log_of(ui)


async def _raw(ui: Ui, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)  # guard only: the server closes
    finally:
        writer.close()


async def test_aiohttps_own_errors_carry_the_security_headers(browser: Browser) -> None:
    ui = browser.ui
    for garbage in (
        b"NOT A REQUEST LINE\r\n\r\n",
        b"GET /api/setup HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n",
    ):
        answer = await _raw(ui, garbage)
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert re.match(r"HTTP/1\.[01] 4\d\d ", head), head
        headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
        for name, value in EXPECTED.items():
            assert headers.get(name) == value, (garbage[:20], name)


async def test_a_burst_of_bad_requests_does_not_flood_the_log(browser: Browser) -> None:
    ui = browser.ui
    before = len(log_of(ui).splitlines())
    await asyncio.gather(*(_raw(ui, b"NOT A REQUEST LINE\r\n\r\n") for _ in range(150)))
    async with browser.http.get(ui.base + "/api/no-such-thing") as resp:
        assert resp.status == 404  # and a burst of router errors
    await asyncio.gather(*(browser.call("GET", f"/api/nope{n}") for n in range(150)))
    added = log_of(ui).splitlines()[before:]
    assert len(added) <= 20, "\n".join(added[:30])
    assert not any("Traceback" in line for line in added)
    assert (await browser.ok("GET", "/api/setup"))["onboarded"] is False


async def _open_stream(http: aiohttp.ClientSession, ui: Ui) -> aiohttp.ClientResponse:
    resp = await http.get(ui.base + "/api/events")
    if resp.status == 200:
        assert (await resp.content.readuntil(b"\n\n")).startswith(b"retry:")
    return resp


async def test_event_streams_are_capped_per_login_and_in_all(owner: Browser) -> None:
    ui = owner.ui
    opened: list[aiohttp.ClientResponse] = []
    try:
        for _ in range(2):  # max_streams_per_login
            opened.append(await _open_stream(owner.http, ui))
        assert [r.status for r in opened] == [200, 200]
        refused = await _open_stream(owner.http, ui)
        assert refused.status == 429 and (await refused.json())["error"] == "too_many_streams"
        for name, value in EXPECTED.items():
            assert refused.headers.get(name) == value
        async with await new_browser(ui) as http:  # a second login of the same person
            other = Browser(ui, http)
            await other.login("alice")
            opened.append(await _open_stream(http, ui))
            assert opened[-1].status == 200
            full = await _open_stream(http, ui)  # max_streams = 3 in all
            assert full.status == 503 and (await full.json())["error"] == "busy"
            opened.pop().close()  # a stream ends: its place is free again
            for _ in range(100):  # the server notices within sse.ALIVE_CHECK_S (a guard only)
                again = await _open_stream(http, ui)
                if again.status == 200:
                    opened.append(again)
                    break
                again.close()
                await asyncio.sleep(0.2)
            assert opened[-1].status == 200
    finally:
        for resp in opened:
            resp.close()
    await owner.ok("GET", "/api/me")
