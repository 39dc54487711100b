"""Security headers, login cookies, CSRF, and the middlewares that enforce them and roles.

* Every response (pages, files, API, errors, event streams) gets `HEADERS`; API
  responses are also ``Cache-Control: no-store``.
* The login cookie is ``HttpOnly; SameSite=Strict; Path=/`` and, when the public origin
  is https, ``Secure`` with the ``__Host-`` name prefix.
* CSRF: every state change (POST, PUT, PATCH, DELETE) must carry ``Origin`` equal to the
  public origin; with a login it must also carry the login's synchronizer token in
  ``X-CSRF-Token`` (given by ``/api/me`` and the login answers, never in a cookie).
* `access_middleware` is the only place roles are enforced, from `roles.ROUTES`.

Error bodies never echo secrets; unexpected exceptions are logged and answered 500. The
router's own 404/405/413 under ``/api/`` get the JSON error shape (``Allow`` kept); a used-up
rate limit is 429 and full hashing slots 503, both with ``Retry-After`` (`limits`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from lucid.admin_ui.auth import Login
from lucid.admin_ui.deps import DEPS, LOGIN_KEY, Deps
from lucid.admin_ui.jsonio import ApiError, Invalid, error_response, from_bus_error
from lucid.admin_ui.limits import Busy, TooManyAttempts
from lucid.admin_ui.roles import PUBLIC, access
from lucid.runtime.errors import BusError

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: runs for every response, errors and streams included."""
    for name, value in HEADERS.items():
        response.headers[name] = value
    if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


def cookie_name(deps: Deps) -> str:
    return "__Host-lucid_session" if deps.secure else "lucid_session"


def set_login_cookie(response: web.StreamResponse, deps: Deps, login: Login) -> None:
    response.set_cookie(
        cookie_name(deps),
        login.token,
        max_age=deps.logins.ttl_s,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=deps.secure,
    )


def clear_login_cookie(response: web.StreamResponse, deps: Deps) -> None:
    response.del_cookie(
        cookie_name(deps), path="/", httponly=True, samesite="Strict", secure=deps.secure
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the JSON error shape (API) or a plain status (pages)."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.status, err.code, err.message, err.headers)
    except Invalid as err:
        return error_response(400, "invalid", str(err))
    except TooManyAttempts as err:
        return error_response(429, "rate_limited", str(err), {"Retry-After": str(err.retry_after)})
    except Busy as err:
        return error_response(503, "busy", str(err), {"Retry-After": str(err.retry_after)})
    except BusError as err:
        api = from_bus_error(err)
        if api.status >= 500:
            log.warning("%s %s: %s", request.method, request.path, err)
        return error_response(api.status, api.code, api.message)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        # Only headers that mean something for the JSON answer (its own type and length).
        kept = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error_response(exc.status, "http", exc.reason, kept)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal", "internal error; see the admin-ui log")


def _check_origin(request: web.Request, deps: Deps) -> None:
    if request.headers.get("Origin") != deps.origin:
        raise ApiError(403, "csrf", f"state changes must come from {deps.origin}")


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce `roles.ROUTES`: 401 without a login, 403 for other roles or a CSRF failure."""
    match = request.match_info
    resource = match.route.resource
    if match.http_exception is not None or resource is None:
        return await handler(request)  # 404 / 405 from the router
    allowed = access(request.method, resource.canonical)
    if allowed is None:  # fail closed; the app factory makes this unreachable
        raise ApiError(403, "forbidden", "this route is not in the access table")
    deps = request.app[DEPS]
    unsafe = request.method not in SAFE_METHODS
    if allowed == PUBLIC:
        if unsafe:
            _check_origin(request, deps)
        return await handler(request)
    login = await deps.logins.find(request.cookies.get(cookie_name(deps), ""))
    if login is None:
        raise ApiError(401, "login_required", "log in first (or the login expired)")
    if login.role not in allowed:
        raise ApiError(403, "forbidden", f"the {login.role} role may not do this")
    if unsafe:
        _check_origin(request, deps)
        token = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(token.encode(), login.csrf.encode()):
            raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    request[LOGIN_KEY] = login
    return await handler(request)
