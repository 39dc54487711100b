"""The route sweep: every operation of the served OpenAPI document, without a login and
with each role, gets exactly the access `roles.ROUTES` grants (and never a 5xx)."""

from __future__ import annotations

import re
from typing import Any

from lucid.admin_ui.roles import PUBLIC, ROUTES, Role
from tests.admin_ui.conftest import Browser, invite_and_enroll, new_browser

PAGES = {("GET", "/"), ("GET", "/favicon.ico"), ("GET", "/static")}


def concrete(path: str) -> str:
    path = re.sub(r"{stream}", "video.0", path)
    return re.sub(r"{session}", "s1", re.sub(r"{flow}", "f1", path))


async def _hit(who: Browser, method: str, path: str) -> tuple[int, str]:
    url = who.ui.base + concrete(path)
    async with who.http.request(method, url, headers=who.headers(method), json={}) as resp:
        if resp.content_type == "text/event-stream":
            return resp.status, ""  # a live stream: the status is all we need
        data: Any = await resp.json() if resp.content_type == "application/json" else None
        code = data.get("error", "") if isinstance(data, dict) else ""
        return resp.status, code


async def test_every_operation_with_every_role(owner: Browser) -> None:
    doc = await owner.ok("GET", "/api/openapi.json")
    assert doc["openapi"] == "3.1.0"
    operations = [
        (method.upper(), path, spec)
        for path, item in doc["paths"].items()
        for method, spec in item.items()
    ]
    assert {(m, p) for m, p, _s in operations} == set(ROUTES) - PAGES
    for method, path, spec in operations:  # the document says what the table says
        allowed = ROUTES[(method, path)]
        assert spec["x-roles"] == (
            "public" if allowed == PUBLIC else sorted(r.value for r in allowed)
        )

    browsers: dict[Role, Browser] = {Role.OWNER: owner}
    for role in (Role.ADMIN, Role.AUDITOR, Role.VIEWER):
        browsers[role] = await invite_and_enroll(owner, f"sweep-{role.value}", role.value)
    anonymous = Browser(owner.ui, await new_browser(owner.ui))
    # logout last: it ends the login the other calls use
    operations.sort(key=lambda op: op[1] == "/api/logout")
    failures: list[str] = []
    try:
        for method, path, _spec in operations:
            allowed = ROUTES[(method, path)]
            status, code = await _hit(anonymous, method, path)
            if status >= 500 or (allowed != PUBLIC and (status, code) != (401, "login_required")):
                failures.append(f"anonymous {method} {path}: {status} {code}")
            if allowed == PUBLIC and code in ("login_required", "forbidden"):
                failures.append(f"anonymous {method} {path}: public route refused: {status} {code}")
            for role, who in browsers.items():
                status, code = await _hit(who, method, path)
                if status >= 500:
                    failures.append(f"{role} {method} {path}: {status} {code}")
                elif role in allowed or allowed == PUBLIC:
                    if code in ("login_required", "forbidden", "csrf"):
                        failures.append(f"{role} {method} {path}: allowed but {status} {code}")
                elif (status, code) != (403, "forbidden"):
                    failures.append(f"{role} {method} {path}: expected 403, got {status} {code}")
    finally:
        await anonymous.http.close()
        for role, who in browsers.items():
            if role is not Role.OWNER:
                await who.http.close()
    assert not failures, "\n".join(failures)
