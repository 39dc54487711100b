"""The floods that ``tests.admin_ui.flood`` replays, one coroutine each, and the clients they
send from.

Each flood returns the statuses of its answers as a ``Counter`` (0: the connection was refused
or cut without an answer). Nothing here checks the answers or reads admin-ui's memory: that is
``flood.replay``'s and ``flood.Report``'s job.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

from lucid.evidence.softpasskey import SoftPasskey

GUARD_S = 120.0  # only keeps a broken server from hanging the run
ACCOUNT = "owner"
PASSWORD = "flood owner password"
HASH_USERS = 6  # accounts that log in right all at once, ...
HASH_ADDRESS = 20  # ... each from its own address, 127.0.0.20 and up


@dataclass(frozen=True)
class Target:
    base: str  # where to connect: http://127.0.0.1:PORT
    origin: str  # the page's origin: http://localhost:PORT
    pid: int  # admin-ui's process (for its memory)
    setup_code: str  # the device's setup code (the device has no owner yet)


def client(address: int = 1) -> aiohttp.ClientSession:
    """A client from loopback address 127.0.0.<address>, with no cap on its connections."""
    connector = aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.0.{address}", 0))
    timeout = aiohttp.ClientTimeout(total=GUARD_S)
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


async def status(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], body: Any
) -> int:
    """One request's status (0: the connection was refused or cut)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = headers | {"Content-Type": "application/json"}
    try:
        async with http.request(method, url, data=data, headers=headers) as resp:
            await resp.read()
            return resp.status
    except aiohttp.ClientError:
        return 0  # the connection was refused or cut: counted as 0


async def burst(
    http: aiohttp.ClientSession, t: Target, method: str, path: str, bodies: list[Any]
) -> Counter[int]:
    """Send every body at once; count the answers by status."""
    headers = {"Origin": t.origin}
    return Counter(
        await asyncio.gather(*(status(http, method, t.base + path, headers, b) for b in bodies))
    )


async def malformed(t: Target, n: int) -> Counter[int]:
    """``n`` requests aiohttp cannot parse (its own 400s); count the answers' statuses."""

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(t))
        try:
            writer.write(b"NOT A REQUEST LINE\r\n\r\n")
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), GUARD_S)
            return int(answer.split(b" ", 2)[1])
        except (ConnectionError, asyncio.IncompleteReadError):
            return 0  # closed without an answer
        finally:
            writer.close()

    return Counter(await asyncio.gather(*(one() for _ in range(n))))


def _port(t: Target) -> int:
    return int(t.base.rsplit(":", 1)[1])


async def slow_client(t: Target, body: bool, stop: asyncio.Event) -> bool:
    """Dribble a request (headers, or a body after full headers) until the server closes the
    connection (True) or ``stop`` is set (False)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(t))
    head = f"POST /api/login HTTP/1.1\r\nHost: localhost\r\nOrigin: {t.origin}\r\n"
    if body:
        head += "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    writer.write(head.encode())
    closed = asyncio.ensure_future(reader.read())  # answers (408) and EOF, or nothing
    try:
        n = 0
        while not stop.is_set():
            done, _ = await asyncio.wait({closed}, timeout=0.5)
            if done:
                return True
            n += 1
            writer.write(b" " if body else f"X-Slow-{n}: y\r\n".encode())
        return False
    except ConnectionError:
        return True
    finally:
        closed.cancel()
        writer.close()


async def onboard(http: aiohttp.ClientSession, t: Target) -> str:
    """Claim the device as ``ACCOUNT``; return the login's CSRF token (cookie kept in ``http``)."""
    headers = {"Origin": t.origin}
    body = {"account": ACCOUNT, "setup_code": t.setup_code, "password": PASSWORD}
    async with http.post(t.base + "/api/setup", json=body, headers=headers) as resp:
        begun = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"setup: {resp.status} {begun}")
    credential = SoftPasskey.generate().register(begun["publicKey"], t.origin)
    async with http.post(
        f"{t.base}/api/setup/{begun['flow']}", json=credential, headers=headers
    ) as resp:
        result = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"setup: {resp.status} {result}")
    return str(result["csrf"])


async def invite_and_enroll(owner: aiohttp.ClientSession, t: Target, csrf: str, user: str) -> None:
    """The owner invites ``user`` (viewer), who enrolls with ``PASSWORD``."""
    headers = {"Origin": t.origin, "X-CSRF-Token": csrf}
    invite = {"account": user, "role": "viewer"}
    async with owner.post(t.base + "/api/accounts", json=invite, headers=headers) as resp:
        invitation = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"invite: {resp.status} {invitation}")
    async with client(HASH_ADDRESS - 1) as http:
        body = {"account": user, "code": invitation["code"], "password": PASSWORD}
        async with http.post(t.base + "/api/enroll", json=body, headers=headers) as resp:
            if resp.status != 201:
                raise RuntimeError(f"enroll: {resp.status} {await resp.text()}")


async def right_logins(
    owner: aiohttp.ClientSession, t: Target, csrf: str, count: int
) -> Counter[int]:
    """``count`` right logins at once, spread over ``HASH_USERS`` accounts the owner invites.

    Several people (each their own account and address, so that the rate limit, which counts
    logins in flight, lets more through) log in right, many times: each costs one Argon2 check.
    """
    users = [f"user{n}" for n in range(HASH_USERS)]
    for user in users:
        await invite_and_enroll(owner, t, csrf, user)
    spread = [users[n % HASH_USERS] for n in range(count)]
    clients = [client(HASH_ADDRESS + n) for n in range(HASH_USERS)]
    try:
        statuses = await asyncio.gather(
            *(
                burst(
                    clients[n],
                    t,
                    "POST",
                    "/api/login",
                    [{"account": u, "password": PASSWORD} for u in spread if u == user],
                )
                for n, user in enumerate(users)
            )
        )
    finally:
        for http in clients:
            await http.close()
    return sum(statuses, Counter())


async def wrong_enrollments(
    owner: aiohttp.ClientSession, attacker: aiohttp.ClientSession, t: Target, csrf: str, count: int
) -> Counter[int]:
    """The owner invites one account; ``attacker`` tries ``count`` wrong codes for it at once,
    each with a password to hash."""
    headers = {"Origin": t.origin, "X-CSRF-Token": csrf}
    invite = {"account": "invited", "role": "viewer"}
    async with owner.post(t.base + "/api/accounts", json=invite, headers=headers) as resp:
        if resp.status != 201:
            raise RuntimeError(f"invite: {resp.status} {await resp.text()}")
    bodies = [
        {"account": "invited", "code": f"guess-{n}", "password": "a long password here"}
        for n in range(count)
    ]
    return await burst(attacker, t, "POST", "/api/enroll", bodies)


async def open_streams(http: aiohttp.ClientSession, t: Target, n: int) -> Counter[int]:
    """Open ``n`` event streams with ``http``'s login at once, then close them all."""
    opened: list[aiohttp.ClientResponse] = []

    async def one() -> int:
        try:
            resp = await http.get(t.base + "/api/events")
        except aiohttp.ClientError:
            return 0
        opened.append(resp)
        if resp.status == 200:
            await resp.content.readuntil(b"\n\n")  # the stream really started
        return resp.status

    try:
        return Counter(await asyncio.gather(*(one() for _ in range(n))))
    finally:
        for resp in opened:
            resp.close()
