"""Session requests and their grants: filing, states, and what is due to expire.

States (docs/approvals.md): ``pending`` -> ``approved`` | ``denied`` | ``expired``;
``approved`` -> ``active`` -> ``ended`` | ``revoked`` | ``expired`` (an approved grant that
was never used can also be revoked or expire). A grant is its scope, the policy version it
was approved under, ``approved_at``, ``expires_at = approved_at + ttl_s`` and, once active,
``max_end_at = min(expires_at, started_at + max_duration_s)``. This module does not decide
who may approve; it only stores and moves states.

Each request records the appliance *boot* it was filed in (the bus daemon's id: a new one
each time the device boots or `lucid up` starts). Whoever filed a request from an earlier
boot (an RDP login, `lucid up --desktop`) is gone, so at startup its pending requests and its
approved but never started grants are expired with the reason ``appliance restarted``
(`RequestStore.expire_other_boots`); a daemon restart within one boot keeps them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from lucid.evidence.approvals import Request, Scope
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError
from lucid.gatekeeper.clock import stamp, stamp_or_empty
from lucid.runtime.errors import ConflictError, InvalidArgumentError, NotFoundError
from lucid.runtime.ids import check_session, new_session_id

STATES = ("pending", "approved", "denied", "expired", "active", "ended", "revoked")
GRANTED = frozenset({"approved", "active"})  # states in which a grant is in force
_REQUEST_KEYS = frozenset({"id", "user", "source", "target", "requested_scope"})
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
#: Migration 2: the boot each request was filed in ('' for requests filed before it).
BOOT_MIGRATION = "ALTER TABLE requests ADD COLUMN boot TEXT NOT NULL DEFAULT '';"
RESTARTED = "appliance restarted"  # the reason given to what `expire_other_boots` expires
STALE = ("pending", "approved")  # states nothing of an earlier boot can move on from
_COLUMNS = (
    "id, request, state, updated_ms, reason, scope, policy_version, approved_ms, expires_ms, "
    "started_ms, max_end_ms, via_window"
)


@dataclass(frozen=True)
class Row:
    """A request as stored, with its grant if it has one."""

    request: Request
    state: str
    updated_ms: int
    reason: str
    scope: Scope | None
    policy_version: int | None
    approved_ms: int | None
    expires_ms: int | None
    started_ms: int | None
    max_end_ms: int | None
    via_window: str | None

    @property
    def id(self) -> str:
        return self.request.id

    def deadline_ms(self) -> int | None:
        """When the grant runs out in its current state (None without a grant in force)."""
        if self.state == "approved":
            return self.expires_ms
        if self.state == "active":
            return self.max_end_ms
        return None

    def grant_dict(self) -> dict[str, Any] | None:
        if self.scope is None or self.approved_ms is None or self.expires_ms is None:
            return None
        return {
            "scope": self.scope.to_dict(),
            "policy_version": self.policy_version,
            "approved_at": stamp(self.approved_ms),
            "expires_at": stamp(self.expires_ms),
            "started_at": stamp_or_empty(self.started_ms),
            "max_end_at": stamp_or_empty(self.max_end_ms),
            "via_window": self.via_window or "",
        }


def parse_request(text: str, now_ms: int) -> Request:
    """Parse RequestSession JSON ``{"user","source","target","requested_scope","id"?}``.

    Raises:
        InvalidArgumentError: not JSON, unknown or missing keys, a bad scope or id.
    """
    try:
        data: Any = json.loads(text)
    except ValueError as err:
        raise InvalidArgumentError(f"request is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("request must be a JSON object")
    unknown = sorted(set(data) - _REQUEST_KEYS)
    if unknown:
        raise InvalidArgumentError(f"request.{unknown[0]}: unknown key")
    for key in ("user", "target"):
        value = data.get(key)
        if not isinstance(value, str) or not _NAME.match(value):
            raise InvalidArgumentError(f"request.{key}: expected a non-empty name")
    source = data.get("source", "")
    if not isinstance(source, str) or len(source) > 256:
        raise InvalidArgumentError("request.source: expected a string")
    session = data.get("id")
    if session is None:
        session = new_session_id("s")
    elif not isinstance(session, str):
        raise InvalidArgumentError("request.id: expected a session id")
    check_session(session)
    try:
        scope = Scope.from_dict(data.get("requested_scope"), "request.requested_scope")
    except FormatError as err:
        raise InvalidArgumentError(str(err)) from None
    return Request(session, data["user"], source, data["target"], scope, stamp(now_ms))


class RequestStore:
    """Requests in gatekeeper's database."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.boot = ""  # the current boot (set at startup); stored with each new request

    async def add(self, request: Request, now_ms: int) -> None:
        """Store a new pending request.

        Raises:
            ConflictError: a request with this id exists.
        """
        try:
            await self._db.execute(
                "INSERT INTO requests(id, request, user, target, requested_ms, state, updated_ms, "
                "boot) VALUES (?,?,?,?,?, 'pending', ?, ?)",
                (
                    request.id,
                    canonical_json(request.to_dict()).decode(),
                    request.user,
                    request.target,
                    now_ms,
                    now_ms,
                    self.boot,
                ),
            )
        except sqlite3.IntegrityError:
            raise ConflictError(f"session {request.id} was already requested") from None

    async def get(self, session: str) -> Row:
        """The request ``session``.

        Raises:
            NotFoundError: unknown session.
        """
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE id=?", (session,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"no request for session {session}")
        return _row(row)

    async def list(self, state: str = "") -> list[Row]:
        """Requests in ``state`` ("" for all), oldest first.

        Raises:
            InvalidArgumentError: not a known state.
        """
        if state and state not in STATES:
            raise InvalidArgumentError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        sql = f"SELECT {_COLUMNS} FROM requests"
        args: tuple[str, ...] = ()
        if state:
            sql, args = sql + " WHERE state=?", (state,)
        async with self._db.execute(sql + " ORDER BY requested_ms, id", args) as cur:
            return [_row(r) async for r in cur]

    async def move(self, session: str, state: str, now_ms: int, reason: str = "") -> None:
        """Set ``state`` (and the reason given for it)."""
        await self._db.execute(
            "UPDATE requests SET state=?, updated_ms=?, reason=? WHERE id=?",
            (state, now_ms, reason, session),
        )

    async def expire_other_boots(self, boot: str, now_ms: int) -> tuple[Row, ...]:
        """Expire (reason ``RESTARTED``) the pending requests and unstarted grants filed in
        another boot than ``boot``; returns them as they were. Active grants are left to the
        recorder, which ends or resumes their sessions."""
        placeholders = ",".join("?" * len(STALE))
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE state IN ({placeholders}) AND boot<>? "
            "ORDER BY requested_ms, id",
            (*STALE, boot),
        ) as cur:
            stale = tuple([_row(r) async for r in cur])
        for row in stale:
            await self.move(row.id, "expired", now_ms, RESTARTED)
        return stale

    async def grant(
        self,
        session: str,
        scope: Scope,
        policy_version: int,
        now_ms: int,
        via_window: str | None = None,
    ) -> None:
        """Approve: record the grant (expires at now + ``scope.ttl_s``)."""
        await self._db.execute(
            "UPDATE requests SET state='approved', updated_ms=?, scope=?, policy_version=?, "
            "approved_ms=?, expires_ms=?, via_window=? WHERE id=?",
            (
                now_ms,
                canonical_json(scope.to_dict()).decode(),
                policy_version,
                now_ms,
                now_ms + scope.ttl_s * 1000,
                via_window,
                session,
            ),
        )

    async def start(self, row: Row, now_ms: int) -> None:
        """approved -> active; the session may last until ``max_end_at``."""
        assert row.scope is not None and row.expires_ms is not None
        max_end = min(row.expires_ms, now_ms + row.scope.max_duration_s * 1000)
        await self._db.execute(
            "UPDATE requests SET state='active', updated_ms=?, started_ms=?, max_end_ms=? "
            "WHERE id=?",
            (now_ms, now_ms, max_end, row.id),
        )

    async def window_grant(self, user: str, target: str, since_ms: int) -> Row | None:
        """The latest grant for ``user``+``target`` approved at or after ``since_ms`` by
        approvers (not itself through a window) and not revoked."""
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE user=? AND target=? AND approved_ms>=? "
            "AND via_window IS NULL AND state IN ('approved', 'active', 'ended', 'expired') "
            "ORDER BY approved_ms DESC",
            (user, target, since_ms),
        ) as cur:
            rows = [_row(r) async for r in cur]
        return rows[0] if rows else None


def _row(r: Any) -> Row:
    scope = None if r["scope"] is None else Scope.from_dict(json.loads(r["scope"]))
    return Row(
        request=Request.from_dict(json.loads(r["request"])),
        state=str(r["state"]),
        updated_ms=int(r["updated_ms"]),
        reason=str(r["reason"]),
        scope=scope,
        policy_version=r["policy_version"],
        approved_ms=r["approved_ms"],
        expires_ms=r["expires_ms"],
        started_ms=r["started_ms"],
        max_end_ms=r["max_end_ms"],
        via_window=r["via_window"],
    )
