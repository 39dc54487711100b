"""A login ends by itself after ``admin_ui.session_ttl_s``."""

from __future__ import annotations

import asyncio

import pytest

from tests.admin_ui.conftest import Browser

TTL_S = 2


@pytest.fixture
def ui_settings() -> dict[str, str]:
    return {"session_ttl_s": str(TTL_S)}


async def test_login_expires(owner: Browser) -> None:
    async with owner.http.get(owner.ui.base + "/api/me") as resp:
        assert resp.status == 200
    await asyncio.sleep(TTL_S + 0.5)
    got, data = await owner.call("GET", "/api/me")
    assert (got, data["error"]) == (401, "login_required")
    got, data = await owner.call("POST", "/api/accounts", {"account": "bob", "role": "viewer"})
    assert (got, data["error"]) == (401, "login_required")
    await owner.login("alice")  # a fresh login works again
    await owner.ok("GET", "/api/me")
