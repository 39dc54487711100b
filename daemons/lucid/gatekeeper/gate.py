"""The gatekeeper domain in one place: every operation, under one lock, audited.

`Gatekeeper` strings the stores together (policy, requests, accounts, decisions), writes
one audit event per decision into the `AuditLog`, and reports state changes through
``emit(signal, *args)`` (the service turns these into D-Bus signals: ``RequestFiled``,
``RequestDecided``, ``GrantEnded``). Mutations are serialised by one ``asyncio.Lock``, so
two approvals racing cannot both miss the approver count. `tick` expires what is due on
the injected clock. This module does not import the bus library or check callers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

from lucid.evidence.approvals import Policy
from lucid.gatekeeper.audit import AuditLog
from lucid.gatekeeper.clock import Clock, now_ms, parse_ms, stamp, stamp_or_empty
from lucid.gatekeeper.credentials import Accounts
from lucid.gatekeeper.decisions import Decisions, DeviceKey, Outcome
from lucid.gatekeeper.policy import PolicyStore
from lucid.gatekeeper.records import Records
from lucid.gatekeeper.requests import GRANTED, RESTARTED, RequestStore, Row, parse_request
from lucid.runtime.errors import (
    ConflictError,
    LucidError,
    NotApprovedError,
)
from lucid.runtime.ids import check_session

Emit = Callable[..., None]
log = logging.getLogger(__name__)


class Gatekeeper:
    def __init__(
        self,
        db: aiosqlite.Connection,
        state_dir: Path,
        audit: AuditLog,
        emit: Emit,
        clock: Clock,
        rp_name: str = "Lucid",
        *,
        device_key: DeviceKey,
    ) -> None:
        """``device_key`` returns the device's Ed25519 identity key (walletd's), which every
        approval document names."""
        self._db = db
        self._audit = audit
        self._emit = emit
        self._clock = clock
        self._rp_name = rp_name
        self._lock = asyncio.Lock()
        self.policies = PolicyStore(db)
        self.requests = RequestStore(db)
        self.accounts = Accounts(db, state_dir)
        self.records = Records(db, self.policies, self.requests, device_key)
        self.decisions = Decisions(
            db, self.policies, self.requests, self.accounts, self.records, device_key
        )

    def _now(self) -> int:
        return now_ms(self._clock)

    def _event(self, event_type: str, **fields: Any) -> None:
        try:
            self._audit.write(event_type, **fields)
        except (LucidError, OSError) as err:  # the decision stands; say loudly it is unlogged
            log.error("audit event %s not written: %s", event_type, err)

    async def start(self, initial: Policy, boot: str = "") -> str | None:
        """Load state (installing ``initial`` on a fresh db); returns the setup code while
        no owner exists.

        ``boot`` names this boot of the appliance (lucid.gatekeeper.requests): requests and
        unstarted grants of other boots are expired ("appliance restarted"), each with its
        audit event and signal. "" (unknown) expires nothing.
        """
        if await self.policies.load(initial):
            snap = self.policies.current
            self._event("policy.set", version=snap.version, hash=snap.hash.hex(), by="default")
        if boot:
            async with self._lock:
                self.requests.boot = boot
                stale = await self.requests.expire_other_boots(boot, self._now())
            for row in stale:
                was = row.state
                kind = "request.expired" if was == "pending" else "grant.expired"
                self._event(kind, session=row.id, was=was, reason=RESTARTED)
                if was == "pending":
                    self._emit("RequestDecided", row.id, "expired")
                else:
                    self._emit("GrantEnded", row.id, "expired")
            if stale:
                log.info("expired %d request(s) of an earlier boot (%s)", len(stale), RESTARTED)
        return await self.accounts.setup_code()

    # -- policy --------------------------------------------------------------------------

    def get_policy(self) -> tuple[str, str]:
        snap = self.policies.current
        return snap.to_json(), snap.hash.hex()

    async def set_policy(self, text: str, by: str) -> str:
        async with self._lock:
            snap = await self.policies.set(text, by, self._now())
        self._event("policy.set", version=snap.version, hash=snap.hash.hex(), by=by)
        return snap.hash.hex()

    # -- requests ------------------------------------------------------------------------

    async def request_session(self, text: str) -> str:
        async with self._lock:
            now = self._now()
            request = parse_request(text, now)
            await self.requests.add(request, now)
            self._event("request.filed", session=request.id, request=request.to_dict())
            self._emit("RequestFiled", request.id)
            earlier = await self.records.window(request, now)
        if earlier is not None:
            row = await self.requests.get(request.id)
            self._event("request.approved", **_grant_fields(row), via_window=earlier.id)
            self._emit("RequestDecided", request.id, "approved")
        return request.id

    async def get_request(self, session: str) -> dict[str, Any]:
        return await self._describe(await self.requests.get(check_session(session)))

    async def list_requests(self, state: str) -> list[dict[str, Any]]:
        return [await self._describe(row) for row in await self.requests.list(state)]

    async def _describe(self, row: Row) -> dict[str, Any]:
        pending_until = ""
        if row.state == "pending":
            timeout = self.policies.current.policy.request_timeout_s
            pending_until = stamp(self._requested_ms(row) + timeout * 1000)
        return {
            "id": row.id,
            "request": row.request.to_dict(),
            "state": row.state,
            "updated_at": stamp(row.updated_ms),
            "reason": row.reason,
            "pending_until": pending_until,
            "grant": row.grant_dict(),
            "approvals": await self.records.summary(row.id),
        }

    @staticmethod
    def _requested_ms(row: Row) -> int:
        return parse_ms(row.request.requested_at, "requested_at")

    # -- decisions -----------------------------------------------------------------------

    async def begin_approval(
        self, session: str, account: str, decision: str, scope: str
    ) -> tuple[str, str]:
        async with self._lock:
            return await self.decisions.begin(
                check_session(session), account, decision, scope, self._now()
            )

    async def complete_approval(self, session: str, document: str, credential: str) -> str:
        async with self._lock:
            try:
                outcome = await self.decisions.complete(
                    check_session(session), document, credential, self._now()
                )
            except LucidError as err:
                self._event("approval.refused", session=session, error=str(err))
                raise
            return await self._decided(session, outcome)

    async def decide_with_password(
        self, session: str, account: str, decision: str, scope: str
    ) -> str:
        async with self._lock:
            outcome = await self.decisions.password(
                check_session(session), account, decision, scope, self._now()
            )
            return await self._decided(session, outcome)

    async def _decided(self, session: str, outcome: Outcome) -> str:
        self._event(
            "approval",
            session=session,
            account=outcome.account,
            decision=outcome.decision,
            method=outcome.method,
            scope=outcome.scope.to_dict(),
            state=outcome.state,
        )
        if outcome.state == "approved":
            row = await self.requests.get(session)
            self._event("request.approved", **_grant_fields(row))
        elif outcome.state == "denied":
            self._event("request.denied", session=session, account=outcome.account)
        if outcome.state != "pending":
            self._emit("RequestDecided", session, outcome.state)
        return outcome.state

    async def deny(self, session: str, account: str, reason: str) -> None:
        async with self._lock:
            row = await self.requests.get(check_session(session))
            if row.state != "pending":
                raise ConflictError(f"session {session} is {row.state}, not pending")
            await self.requests.move(session, "denied", self._now(), reason or f"by {account}")
        self._event("request.denied", session=session, account=account, reason=reason)
        self._emit("RequestDecided", session, "denied")

    async def revoke(self, session: str, account: str, reason: str) -> None:
        async with self._lock:
            row = await self.requests.get(check_session(session))
            if row.state not in GRANTED:
                raise ConflictError(f"session {session} is {row.state}: no grant to revoke")
            await self.requests.move(session, "revoked", self._now(), reason or f"by {account}")
        self._event("grant.revoked", session=session, account=account, reason=reason)
        self._emit("GrantEnded", session, "revoked")

    # -- grants --------------------------------------------------------------------------

    async def get_grant(self, session: str) -> dict[str, str]:
        row = await self.requests.get(check_session(session))
        in_force = row.state in GRANTED and row.scope is not None
        return {
            "state": row.state,
            "scope": json.dumps(row.scope.to_dict() if in_force and row.scope else None),
            "expires_at": stamp_or_empty(row.expires_ms if in_force else None),
            "max_end_at": stamp_or_empty(row.max_end_ms if row.state == "active" else None),
        }

    async def mark_active(self, session: str) -> None:
        async with self._lock:
            row = await self.requests.get(check_session(session))
            if row.state == "active":
                return  # the recorder resumed the session after a restart
            if row.state != "approved":
                raise NotApprovedError(f"session {session} is {row.state}, not approved")
            await self.requests.start(row, self._now())
            row = await self.requests.get(session)
        self._event("grant.active", session=session, max_end_at=stamp_or_empty(row.max_end_ms))

    async def mark_ended(self, session: str) -> None:
        async with self._lock:
            row = await self.requests.get(check_session(session))
            if row.state in ("ended", "revoked", "expired"):
                return  # already over (e.g. revoked first, then the recorder stopped)
            if row.state not in GRANTED:
                raise ConflictError(f"session {session} is {row.state}: it never started")
            await self.requests.move(session, "ended", self._now(), "recording ended")
        self._event("grant.ended", session=session)
        self._emit("GrantEnded", session, "ended")

    async def get_session_policy(self, session: str) -> dict[str, Any]:
        return await self.records.session_policy(check_session(session))

    # -- accounts ------------------------------------------------------------------------

    async def begin_registration(self, account: str) -> str:
        async with self._lock:
            policy = self.policies.current.policy
            return await self.accounts.begin_registration(
                policy, self._rp_name, account, self._now()
            )

    async def complete_registration(self, account: str, credential: str, code: str) -> str:
        async with self._lock:
            policy = self.policies.current.policy
            cred_id, role = await self.accounts.complete_registration(
                policy, account, credential, code, self._now()
            )
        self._event("account.registered", account=account, role=role, credential_id=cred_id)
        return cred_id

    async def create_enrollment(self, account: str, role: str) -> str:
        async with self._lock:
            code = await self.accounts.create_enrollment(account, role, self._now())
        self._event("enrollment.created", account=account, role=role)
        return code

    async def list_accounts(self) -> list[dict[str, Any]]:
        return await self.accounts.list()

    # -- timers --------------------------------------------------------------------------

    async def tick(self) -> None:
        """Expire what is due now; roll and rotate the audit stream."""
        async with self._lock:
            now = self._now()
            timeout_ms = self.policies.current.policy.request_timeout_s * 1000
            for row in await self.requests.list("pending"):
                if self._requested_ms(row) + timeout_ms <= now:
                    await self.requests.move(row.id, "expired", now, "not approved in time")
                    self._event("request.expired", session=row.id)
                    self._emit("RequestDecided", row.id, "expired")
            for state in GRANTED:
                for row in await self.requests.list(state):
                    deadline = row.deadline_ms()
                    if deadline is not None and deadline <= now:
                        await self.requests.move(row.id, "expired", now, f"grant expired ({state})")
                        self._event("grant.expired", session=row.id, was=state)
                        self._emit("GrantEnded", row.id, "expired")
            await self._db.execute("DELETE FROM documents WHERE expires_ms<=?", (now,))
            await self.accounts.purge(now)
        try:
            self._audit.tick()
        except (LucidError, OSError) as err:
            log.error("audit stream: %s", err)

    def close(self) -> None:
        """End the audit session (at shutdown)."""
        try:
            self._audit.close()
        except (LucidError, OSError) as err:  # a restart's recover() ends it instead
            log.error("audit stream not ended: %s", err)


def _grant_fields(row: Row) -> dict[str, Any]:
    return {
        "session": row.id,
        "user": row.request.user,
        "target": row.request.target,
        "grant": row.grant_dict(),
    }
