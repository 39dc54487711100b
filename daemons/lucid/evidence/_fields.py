"""Strict field readers shared by the manifest, proofs and bundle-header parsers.

Each reader takes an untrusted value plus its path (``"manifest.chunks[3].size"``)
and either returns a typed value or raises `FormatError` naming that path. Nothing
here knows a schema; this module does not parse bytes (see `canonical`).
"""

from __future__ import annotations

import re
from typing import Any

from lucid.evidence.canonical import from_hex
from lucid.evidence.errors import FormatError

__all__ = [
    "MAX_SAFE_INT",
    "NAME_RE",
    "check_name",
    "get_bool",
    "get_hex",
    "get_int",
    "get_list",
    "get_obj",
    "get_str",
]

MAX_SAFE_INT = 2**53 - 1
"""Largest integer RFC 8785 (and every JSON reader) represents exactly."""

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""Session and stream names: they become file and directory names."""


def get_obj(value: Any, path: str, keys: frozenset[str]) -> dict[str, Any]:
    """Require a JSON object with exactly the given keys (`path` "" for the top level).

    Raises:
        FormatError: Not an object, a key missing, or an unknown key.
    """
    if not isinstance(value, dict):
        raise FormatError(f"{path}: expected an object" if path else "expected a JSON object")
    prefix = f"{path}." if path else ""
    missing = sorted(keys - value.keys())
    if missing:
        raise FormatError(f"{prefix}{missing[0]}: missing")
    unknown = sorted(value.keys() - keys)
    if unknown:
        raise FormatError(f"{prefix}{unknown[0]}: unknown field")
    return value


def get_list(value: Any, path: str) -> list[Any]:
    """Require a JSON array.

    Raises:
        FormatError: Not an array.
    """
    if not isinstance(value, list):
        raise FormatError(f"{path}: expected an array")
    return value


def get_str(value: Any, path: str, *, choices: frozenset[str] | None = None) -> str:
    """Require a non-empty string, optionally one of `choices`.

    Raises:
        FormatError: Not a string, empty, or not one of `choices`.
    """
    if not isinstance(value, str) or not value:
        raise FormatError(f"{path}: expected a non-empty string")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) for c in sorted(choices))
        raise FormatError(f"{path}: {value!r} is not one of {allowed}")
    return value


def check_name(value: Any, path: str) -> str:
    """Require a session / stream name: 1-64 of ``A-Z a-z 0-9 . _ -``, not ``.`` or ``..``.

    Raises:
        FormatError: Anything else.
    """
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or value in (".", ".."):
        raise FormatError(f"{path}: expected 1-64 characters of A-Z a-z 0-9 . _ - (not . or ..)")
    return value


def get_int(value: Any, path: str, *, minimum: int = 0) -> int:
    """Require an integer in ``[minimum, 2**53 - 1]`` (booleans are not integers).

    Raises:
        FormatError: Not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{path}: expected an integer")
    if not minimum <= value <= MAX_SAFE_INT:
        raise FormatError(f"{path}: {value} is out of range [{minimum}, 2**53-1]")
    return value


def get_bool(value: Any, path: str) -> bool:
    """Require true or false.

    Raises:
        FormatError: Anything else.
    """
    if not isinstance(value, bool):
        raise FormatError(f"{path}: expected true or false")
    return value


def get_hex(value: Any, path: str, size: int) -> bytes:
    """Require lowercase hex encoding exactly `size` bytes.

    Raises:
        FormatError: See `canonical.from_hex`.
    """
    return from_hex(value, path, size)
