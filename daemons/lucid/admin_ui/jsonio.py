"""JSON in and out of handlers: the error shape, body parsing, field checks.

Every API error is ``{"error": code, "message": text}`` with an HTTP status; handlers
raise `ApiError` (or `Invalid` from a field check, which becomes 400) and the
error middleware in `security` writes it. This module does not check logins or roles.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from lucid.runtime.errors import (
    BusError,
    ConflictError,
    InvalidArgumentError,
    NotApprovedError,
    NotAuthorizedError,
    NotFoundError,
    UnavailableError,
)

MAX_TEXT = 4096


class Invalid(ValueError):
    """A field of the request is malformed (answered 400 with this message)."""


class ApiError(Exception):
    """An error answer: HTTP ``status``, a stable ``code`` and a message a person can act on."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": code, "message": message}, status=status, headers=headers or {}
    )


_BUS_STATUS: list[tuple[type[BusError], int, str]] = [
    (NotFoundError, 404, "not_found"),
    (InvalidArgumentError, 400, "invalid"),
    (NotAuthorizedError, 403, "refused"),
    (ConflictError, 409, "conflict"),
    (NotApprovedError, 409, "not_approved"),
    (UnavailableError, 503, "unavailable"),
]


def from_bus_error(err: BusError) -> ApiError:
    """The HTTP answer for a daemon's named error (unknown names: 502, upstream failed)."""
    for cls, status, code in _BUS_STATUS:
        if isinstance(err, cls):
            return ApiError(status, code, err.message)
    return ApiError(502, "upstream", err.message)


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (an empty body counts as ``{}``).

    Raises:
        ApiError: 400 unless the body is one JSON object.
    """
    return (await body_and_text(request))[0]


async def body_and_text(request: web.Request) -> tuple[dict[str, Any], str]:
    """The JSON object and its text as sent (to pass a browser's credential on unchanged)."""
    raw = await request.read()
    if not raw.strip():
        return {}, "{}"
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ApiError(400, "invalid", "the body is not JSON") from err
    if not isinstance(value, dict):
        raise ApiError(400, "invalid", "the body must be a JSON object")
    return value, text


def text(
    data: dict[str, Any], key: str, *, default: str | None = None, limit: int = MAX_TEXT
) -> str:
    """A string field (``default`` if absent and given, else required)."""
    value = data.get(key, default)
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{key}: expected a string of at most {limit} characters")
    return value


def obj(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    """An optional object field (None if absent or null)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{key}: expected an object")
    return value


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def parse_json_text(raw: str | bytes, what: str) -> Any:
    """Parse JSON a daemon sent (a broken reply is the daemon's fault: 502)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ApiError(502, "upstream", f"{what}: the daemon sent malformed JSON") from err
