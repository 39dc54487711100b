"""Session identifiers: what a valid one looks like, and how new ones are made."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from lucid.runtime.errors import InvalidArgumentError

SESSION_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def check_session(session: str) -> str:
    """Return ``session`` if it is a valid id (safe as a file name), else raise.

    Raises:
        InvalidArgumentError: not 1–64 of ``A-Z a-z 0-9 . _ -`` (or only dots).
    """
    if not SESSION_RE.match(session) or set(session) == {"."}:
        raise InvalidArgumentError(f"invalid session id {session!r}")
    return session


def new_session_id(prefix: str = "s") -> str:
    """A sortable, unique id like ``s-20261122T021530Z-3f9a1c``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"
