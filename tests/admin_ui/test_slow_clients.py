"""Slow and many clients (issue 9): header and body deadlines, the connection cap.

Before, two slow clients held 20,000 descriptors: a connection that never finished its
headers (or its body) stayed open for ever. Each test waits for the server to act, with a
generous guard (``GUARD_S``) that only keeps a broken server from hanging the run.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest

from tests.admin_ui.conftest import Browser, Ui
from tests.admin_ui.test_security import EXPECTED

GUARD_S = 60.0
CAP = 16


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), GUARD_S)


async def _answers(ui: Ui) -> bool:
    """Whether the page answers ``GET /api/setup`` on a fresh connection."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        try:
            async with http.get(ui.base + "/api/setup") as resp:
                return resp.status == 200 and "onboarded" in await resp.json()
        except aiohttp.ClientError:
            return False


class TestDeadlines:
    @pytest.fixture
    def ui_settings(self) -> dict[str, str]:
        return {"header_timeout_s": "1", "body_timeout_s": "1"}

    async def test_headers_that_never_end_are_cut_off(self, ui: Ui) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
        writer.write(b"GET /api/setup HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")

        async def dribble() -> None:  # slowloris: a byte every 0.2 s, never a header's end
            for _ in range(int(GUARD_S / 0.2)):
                await asyncio.sleep(0.2)
                if writer.is_closing():
                    return
                writer.write(b"y")

        dribbler = asyncio.create_task(dribble())
        try:
            assert await _closed_by_server(reader) == b""  # closed, nothing answered
        finally:
            dribbler.cancel()
            writer.close()
        assert await _answers(ui)

    async def test_a_connection_that_sends_nothing_is_closed(self, ui: Ui) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
        try:
            assert await _closed_by_server(reader) == b""
        finally:
            writer.close()

    async def test_a_body_that_never_arrives_is_408(self, ui: Ui) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
        head = (
            "POST /api/login HTTP/1.1\r\nHost: localhost\r\n"
            f"Origin: {ui.origin}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n"
        )
        writer.write(head.encode() + b'{"account": "al')
        try:
            answer = await _closed_by_server(reader)
        finally:
            writer.close()
        status_line, rest = answer.split(b"\r\n", 1)
        assert re.match(rb"HTTP/1\.1 408 ", status_line), answer[:200]
        assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == "timeout"
        for name, value in EXPECTED.items():
            assert f"{name}: {value}".encode() in rest

    async def test_a_normal_client_is_not_hurried(self, ui: Ui) -> None:
        # a keep-alive connection used again right away, and a body sent in two parts
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(ui.base + "/api/setup") as resp:
                    assert resp.status == 200
        reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
        body = json.dumps({"account": "alice", "password": "wrong password"}).encode()
        head = (
            "POST /api/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            f"Origin: {ui.origin}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body[:5])
        await writer.drain()
        writer.write(body[5:])
        try:
            answer = await _closed_by_server(reader)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


class TestConnectionCap:
    @pytest.fixture
    def ui_settings(self) -> dict[str, str]:
        # long deadlines: only the cap acts within a test; streams: up to the cap
        return {
            "max_connections": str(CAP),
            "header_timeout_s": "60",
            "body_timeout_s": "60",
            "max_streams": str(2 * CAP),
            "max_streams_per_login": str(2 * CAP),
        }

    async def _hold(self, ui: Ui, request: bytes) -> list[tuple[asyncio.StreamReader, Any]]:
        held = []
        for _ in range(CAP):
            reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
            writer.write(request)
            held.append((reader, writer))
        return held

    async def test_busy_connections_over_the_cap_get_503(self, owner: Browser) -> None:
        ui = owner.ui
        streams = []  # requests in progress: every place is busy
        try:
            for _ in range(CAP):
                resp = await owner.http.get(ui.base + "/api/events")
                assert resp.status == 200
                await resp.content.readuntil(b"\n\n")
                streams.append(resp)
            reader, writer = await asyncio.open_connection("127.0.0.1", ui.port)
            answer = await _closed_by_server(reader)
            writer.close()
            head, body = answer.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 503 "), answer[:200]
            assert json.loads(body)["error"] == "busy"
            for name, value in EXPECTED.items():
                assert f"{name}: {value}".encode() in head
        finally:
            for resp in streams:
                resp.close()
        for _ in range(int(GUARD_S / 0.2)):  # the places free up as the server sees the closes
            if await _answers(ui):
                break
            await asyncio.sleep(0.2)
        assert await _answers(ui)

    async def test_idle_connections_give_way_to_a_new_one(self, ui: Ui) -> None:
        held = await self._hold(ui, b"GET /api/setup HTTP/1.1\r\n")  # headers never end
        try:
            for _ in range(int(GUARD_S / 0.2)):  # refused until one has been idle long enough
                if await _answers(ui):
                    break
                await asyncio.sleep(0.2)
            assert await _answers(ui)  # served with every place taken by an idle connection
            reads = [asyncio.ensure_future(r.read()) for r, _w in held]
            closed, still_open = await asyncio.wait(
                reads, timeout=GUARD_S, return_when=asyncio.FIRST_COMPLETED
            )
            # the idlest gave way (closed without an answer); the others keep their places
            assert closed and still_open and all(t.result() == b"" for t in closed)
            for task in still_open:
                task.cancel()
        finally:
            for _reader, w in held:
                w.close()
