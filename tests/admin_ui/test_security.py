"""Security headers on every response, cookie flags, CSRF refusals."""

from __future__ import annotations

import re

import aiohttp
from aiohttp import web

from lucid.admin_ui.roles import ROUTES
from lucid.admin_ui.security import CSP, set_login_cookie
from tests.admin_ui.conftest import Browser, new_browser

EXPECTED = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def concrete(path: str) -> str:
    return re.sub(r"{session}", "s1", re.sub(r"{flow}", "f1", path))


def test_csp_is_exactly_the_required_one() -> None:
    assert CSP == (
        "default-src 'self'; script-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


async def _check_headers(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str]
) -> int:
    async with http.request(method, url, headers=headers, allow_redirects=False, json={}) as resp:
        for name, value in EXPECTED.items():
            assert resp.headers.get(name) == value, (method, url, resp.status, name)
        if "/api/" in url:
            assert resp.headers.get("Cache-Control") == "no-store", (method, url)
        if resp.content_type != "text/event-stream":
            await resp.read()
        return resp.status


async def test_security_headers_on_every_route(owner: Browser) -> None:
    ui = owner.ui
    paths = [(m, concrete(p)) for m, p in ROUTES if p != "/static"]
    paths += [
        ("GET", "/static/app.js"),
        ("GET", "/static/index.html"),
        ("GET", "/nope"),
        ("GET", "/static/missing.js"),
        ("PATCH", "/api/me"),
    ]
    async with await new_browser(ui) as anon:
        for method, path in paths:
            if path == "/api/events":
                continue  # a stream: checked below with a login
            await _check_headers(anon, method, ui.base + path, {"Origin": ui.origin})
    for method, path in paths:
        if path in ("/api/logout", "/api/events"):
            continue
        await _check_headers(owner.http, method, ui.base + path, owner.headers(method))
    async with owner.http.get(ui.base + "/api/events") as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        for name, value in EXPECTED.items():
            assert resp.headers.get(name) == value


async def test_page_is_sent_to_the_public_origin(owner: Browser) -> None:
    ui = owner.ui
    async with owner.http.get(ui.base + "/", allow_redirects=False) as resp:
        assert resp.status == 307 and resp.headers["Location"] == ui.origin + "/"
    async with owner.http.get(ui.base + "/", headers={"Host": f"localhost:{ui.port}"}) as resp:
        page = await resp.text()
        assert resp.status == 200 and "<script" in page
    # no inline script anywhere in the page: every <script> has a src under /static
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", page))
    assert "style=" not in page and "onclick" not in page


async def test_login_cookie_flags(browser: Browser) -> None:
    ui = browser.ui
    body = {"account": "alice", "setup_code": ui.setup_code()}
    begun = await browser.ok("POST", "/api/setup", body)
    from lucid.evidence.softpasskey import SoftPasskey

    credential = SoftPasskey.generate().register(begun["publicKey"], ui.origin)
    async with browser.http.post(
        f"{ui.base}/api/setup/{begun['flow']}", json=credential, headers={"Origin": ui.origin}
    ) as resp:
        assert resp.status == 201
        cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("lucid_session=")
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attrs
    assert "samesite=strict" in cookie.lower() and "secure" not in attrs  # http://localhost
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token not in (ui.env.state / "admin_ui" / "admin_ui.db").read_bytes().decode("latin-1")


def test_cookie_is_secure_on_https() -> None:
    from types import SimpleNamespace

    from lucid.admin_ui.auth import Login
    from lucid.admin_ui.roles import Role

    deps = SimpleNamespace(secure=True, logins=SimpleNamespace(ttl_s=60))
    response = web.Response()
    set_login_cookie(response, deps, Login("tok", "a", Role.OWNER, "c", 0.0))  # type: ignore[arg-type]  # only secure and ttl are read
    cookie = response.cookies["__Host-lucid_session"].OutputString()
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_state_changes_need_csrf_token_and_origin(owner: Browser) -> None:
    ui = owner.ui
    body = {"account": "bob", "role": "viewer"}
    cases = [
        {"Origin": ui.origin},  # no token
        {"Origin": ui.origin, "X-CSRF-Token": "wrong"},
        {"X-CSRF-Token": owner.csrf},  # no Origin
        {"Origin": "http://evil.example", "X-CSRF-Token": owner.csrf},
        {"Origin": f"http://127.0.0.1:{ui.port}", "X-CSRF-Token": owner.csrf},
    ]
    for headers in cases:
        async with owner.http.post(ui.base + "/api/accounts", json=body, headers=headers) as resp:
            assert resp.status == 403, headers
            assert (await resp.json())["error"] == "csrf"
    for method, path in [
        ("POST", "/api/logout"),
        ("PUT", "/api/policy"),
        ("DELETE", "/api/me/totp"),
    ]:
        async with owner.http.request(
            method, ui.base + path, json={}, headers={"Origin": ui.origin}
        ) as resp:
            assert resp.status == 403 and (await resp.json())["error"] == "csrf"
    await owner.ok("POST", "/api/accounts", body, 201)  # with both it works
