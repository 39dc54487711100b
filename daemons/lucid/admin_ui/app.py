"""The aiohttp application factory: routes, middlewares, headers, static pages.

`create_app` refuses to build an application whose routes and `roles.ROUTES` (or the
OpenAPI operations) disagree, so every reachable route has exactly one access rule.
The factory starts nothing: the daemon runs the application (`daemon.build`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from lucid.admin_ui import api_auth, api_device, api_history, api_me, api_requests
from lucid.admin_ui.deps import DEPS, Deps, deps_of
from lucid.admin_ui.openapi import OPERATIONS, document
from lucid.admin_ui.roles import ROUTES
from lucid.admin_ui.security import access_middleware, add_headers, cookie_name, error_middleware
from lucid.admin_ui.server import GUARD_KEY, ServerLimits, body_middleware

STATIC = Path(__file__).parent / "static"
MAX_BODY = 256 * 1024  # JSON bodies only; nothing is uploaded

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Routes that are not part of the JSON API (nor of the OpenAPI document).
PAGES = frozenset({("GET", "/"), ("GET", "/favicon.ico"), ("GET", "/static")})


async def openapi(request: web.Request) -> web.Response:
    deps = deps_of(request)
    return web.json_response(document(deps.origin, cookie_name(deps)))


API: list[tuple[str, str, Handler]] = [
    ("GET", "/api/openapi.json", openapi),
    ("GET", "/api/setup", api_auth.setup_status),
    ("POST", "/api/setup", api_auth.setup_begin),
    ("POST", "/api/setup/{flow}", api_auth.setup_complete),
    ("POST", "/api/enroll", api_auth.enroll_password),
    ("POST", "/api/enroll/passkey", api_auth.enroll_passkey_begin),
    ("POST", "/api/enroll/passkey/{flow}", api_auth.enroll_passkey_complete),
    ("POST", "/api/login", api_auth.login_password),
    ("POST", "/api/login/passkey", api_auth.login_passkey_begin),
    ("POST", "/api/login/passkey/{flow}", api_auth.login_passkey_complete),
    ("POST", "/api/logout", api_auth.logout),
    ("GET", "/api/me", api_me.me),
    ("POST", "/api/me/password", api_me.change_password),
    ("POST", "/api/me/totp", api_me.totp_begin),
    ("POST", "/api/me/totp/{flow}", api_me.totp_confirm),
    ("DELETE", "/api/me/totp", api_me.totp_disable),
    ("POST", "/api/me/passkeys", api_me.passkey_begin),
    ("POST", "/api/me/passkeys/{flow}", api_me.passkey_complete),
    ("GET", "/api/events", api_me.events),
    ("GET", "/api/requests", api_requests.list_requests),
    ("GET", "/api/requests/{session}", api_requests.get_request),
    ("POST", "/api/requests/{session}/approval", api_requests.approval_begin),
    ("POST", "/api/requests/{session}/approval/{flow}", api_requests.approval_complete),
    ("POST", "/api/requests/{session}/decision", api_requests.password_decision),
    ("POST", "/api/requests/{session}/deny", api_requests.deny),
    ("POST", "/api/requests/{session}/revoke", api_requests.revoke),
    ("GET", "/api/sessions", api_requests.active_sessions),
    ("GET", "/api/history", api_history.list_history),
    ("GET", "/api/history/{session}", api_history.get_history),
    ("GET", "/api/history/{session}/manifest", api_history.manifest),
    ("GET", "/api/history/{session}/bundle", api_history.bundle),
    ("GET", "/api/history/{session}/verify", api_history.verify),
    ("GET", "/api/history/{session}/streams/{stream}", api_history.play),
    ("GET", "/api/keys", api_device.keys),
    ("POST", "/api/keys/recipients", api_device.add_recipient),
    ("GET", "/api/device", api_device.device),
    ("GET", "/api/device/trust", api_device.trust),
    ("GET", "/api/policy", api_device.get_policy),
    ("PUT", "/api/policy", api_device.set_policy),
    ("GET", "/api/accounts", api_device.list_accounts),
    ("POST", "/api/accounts", api_device.invite),
]


async def index(request: web.Request) -> web.StreamResponse:
    """The page shell; a visit through another host name is sent to the public origin
    (WebAuthn works only on the origin passkeys were registered for)."""
    deps = deps_of(request)
    if f"{request.scheme}://{request.host}" != deps.origin:
        raise web.HTTPTemporaryRedirect(deps.origin + "/")
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def favicon(request: web.Request) -> web.StreamResponse:
    """The page's icon where browsers look for it without being told (``/favicon.ico``)."""
    return web.FileResponse(STATIC / "favicon.ico", headers={"Cache-Control": "max-age=86400"})


def create_app(deps: Deps, limits: ServerLimits | None = None) -> web.Application:
    """Build the application for ``deps`` (served within ``limits``: see `server`).

    Raises:
        RuntimeError: a route lacks an access rule or an OpenAPI operation (or the reverse).
    """
    app = web.Application(
        middlewares=[error_middleware, body_middleware, access_middleware],
        client_max_size=MAX_BODY,
    )
    app[DEPS] = deps
    app[GUARD_KEY] = limits or ServerLimits()
    app.on_response_prepare.append(add_headers)
    app.on_shutdown.append(deps.hub.close)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    for method, path, handler in API:
        app.router.add_route(method, path, handler)
    app.router.add_static("/static", STATIC, follow_symlinks=False)
    registered = PAGES | {(m, p) for m, p, _h in API}
    if registered != set(ROUTES):
        raise RuntimeError(f"routes without an access rule: {sorted(registered ^ set(ROUTES))}")
    if {(m, p) for m, p, _h in API} != set(OPERATIONS):
        raise RuntimeError("API routes and OpenAPI operations differ")
    return app
