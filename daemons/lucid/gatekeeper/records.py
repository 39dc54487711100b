"""Approval records and what they prove: the manifest's session policy, approval windows.

`Records` reads the approval records `lucid.gatekeeper.decisions` stored, assembles the
``policy`` member of a session's manifest (`SessionPolicy`, checked with the offline
verifier before it leaves gatekeeper) and decides whether an approval window covers a new
request (docs/approvals.md: same user and target, same policy version, every re-used
approval issued at most ``approval_window_s`` before the new grant). It changes no state
except granting a request through a window.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from lucid.evidence.approvals import ApprovalRecord, Grant, Request, SessionPolicy
from lucid.evidence.errors import FormatError, VerificationError
from lucid.gatekeeper.clock import parse_ms, stamp
from lucid.gatekeeper.policy import PolicyStore
from lucid.gatekeeper.requests import RequestStore, Row
from lucid.runtime.errors import InternalError, NotApprovedError


class Records:
    def __init__(
        self,
        db: aiosqlite.Connection,
        policies: PolicyStore,
        requests: RequestStore,
        device_key: Callable[[], Awaitable[bytes]],
    ) -> None:
        self._device_key = device_key
        self._db = db
        self._policies = policies
        self._requests = requests

    async def approvals(self, session: str, policy_version: int) -> list[ApprovalRecord]:
        """The approve records of ``session`` made under ``policy_version``, oldest first."""
        async with self._db.execute(
            "SELECT record FROM approvals WHERE session=? AND policy_version=? "
            "AND decision='approve' ORDER BY created_ms, account",
            (session, policy_version),
        ) as cur:
            return [ApprovalRecord.from_dict(json.loads(r[0])) async for r in cur]

    async def summary(self, session: str) -> list[dict[str, Any]]:
        """Who decided what on ``session`` (for GetRequest)."""
        async with self._db.execute(
            "SELECT account, decision, method, policy_version, created_ms FROM approvals "
            "WHERE session=? ORDER BY created_ms, account",
            (session,),
        ) as cur:
            return [
                {
                    "account": r[0],
                    "decision": r[1],
                    "method": r[2],
                    "policy_version": r[3],
                    "at": stamp(r[4]),
                }
                async for r in cur
            ]

    async def window(self, request: Request, now_ms: int) -> Row | None:
        """Approve ``request`` at once if an approval window of the same user+target covers
        it (same policy version, every approval issued at most ``approval_window_s`` ago).

        Returns:
            The earlier grant whose approvals are re-used, or None.
        """
        snap = self._policies.current
        window_ms = snap.policy.approval_window_s * 1000
        if window_ms <= 0:
            return None
        earlier = await self._requests.window_grant(
            request.user, request.target, now_ms - window_ms
        )
        if earlier is None or earlier.policy_version != snap.version or earlier.scope is None:
            return None
        records = await self.approvals(earlier.id, snap.version)
        if not records:
            return None
        issued = min(parse_ms(r.document["issued_at"], "issued_at") for r in records)
        if now_ms > issued + window_ms:
            return None
        scope = request.requested_scope.clamp(earlier.scope).clamp(snap.policy.scope_ceiling)
        await self._requests.grant(request.id, scope, snap.version, now_ms, via_window=earlier.id)
        return earlier

    async def session_policy(self, session: str) -> dict[str, Any]:
        """The manifest's ``policy`` member for ``session`` (checked before it is returned).

        Raises:
            NotFoundError: unknown session.
            NotApprovedError: the session never had a grant.
        """
        row = await self._requests.get(session)
        if row.scope is None or row.policy_version is None or row.approved_ms is None:
            raise NotApprovedError(f"session {session} was never approved ({row.state})")
        assert row.expires_ms is not None
        snap = await self._policies.get(row.policy_version)
        records = await self.approvals(row.via_window or row.id, row.policy_version)
        grant = Grant(row.scope, stamp(row.approved_ms), stamp(row.expires_ms), row.via_window)
        result = SessionPolicy.create(snap.policy, row.request, grant, records)
        # the recording's own times are the recorder's (merkle puts them in the manifest and
        # the verifier checks them against the grant); here: when gatekeeper saw it start
        start = stamp(row.started_ms if row.started_ms is not None else row.approved_ms)
        try:
            result.verify(session, await self._device_key(), start, start)
        except (FormatError, VerificationError) as err:
            raise InternalError(f"session {session}: its approval does not verify: {err}") from err
        return result.to_dict()
