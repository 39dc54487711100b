"""Approving and denying requests: signed approval documents and the grants they make.

An approval starts with `Decisions.begin`: gatekeeper builds the approval document
(docs/approvals.md), remembers it (single use, `DOCUMENT_TTL_MS`) and hands out WebAuthn
request options whose challenge is the document's challenge. `Decisions.complete` accepts
only that exact document, and only with an assertion by a passkey registered to the
approving account, verified here with py_webauthn (and re-checked with the offline
verifier, so the stored record is one ``lucid verify`` accepts). When enough distinct
approvers (policy ``approvers_required``) approved under the active policy, the request is
approved with the intersection of their scopes, clamped to the ceiling; one signed denial
denies it. Password decisions (`Decisions.password`) make records with method
``password``. This module does not check which bus peer calls, and emits nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any, cast

import aiosqlite

from lucid.evidence.approvals import (
    ApprovalRecord,
    Decision,
    Method,
    Request,
    Scope,
    WebAuthnAssertion,
    approval_challenge,
    approval_document,
    from_b64u,
    verify_assertion,
)
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError, VerificationError
from lucid.gatekeeper import rp
from lucid.gatekeeper.clock import stamp
from lucid.gatekeeper.credentials import APPROVER_ROLES, Accounts, check_account
from lucid.gatekeeper.policy import PolicyStore, Snapshot
from lucid.gatekeeper.records import Records
from lucid.gatekeeper.requests import RequestStore, Row
from lucid.runtime.errors import (
    ConflictError,
    InvalidArgumentError,
    NotAuthorizedError,
    NotFoundError,
)

DOCUMENT_TTL_MS = 5 * 60 * 1000  # an issued approval document must be signed within 5 min
DECISIONS = ("approve", "deny")

DeviceKey = Callable[[], Awaitable[bytes]]
"""Returns the device's Ed25519 identity key (32 bytes), named in every approval document."""


@dataclass(frozen=True)
class Outcome:
    """What a decision did: the request state afterwards and the approver's record."""

    state: str
    account: str
    decision: str
    method: str
    scope: Scope


class Decisions:
    def __init__(
        self,
        db: aiosqlite.Connection,
        policies: PolicyStore,
        requests: RequestStore,
        accounts: Accounts,
        records: Records,
        device_key: DeviceKey,
    ) -> None:
        self._db = db
        self._device_key = device_key
        self._policies = policies
        self._requests = requests
        self._accounts = accounts
        self.records = records

    async def begin(
        self, session: str, account: str, decision: str, scope: str, now_ms: int
    ) -> tuple[str, str]:
        """The approval document (canonical JSON) and the WebAuthn request options.

        Raises:
            InvalidArgumentError: bad decision or scope.
            NotFoundError: unknown session, or the account has no passkey.
            NotAuthorizedError: the account's role may not approve.
            ConflictError: the request is not pending, or the account decided already.
        """
        row = await self._pending(session, decision)
        creds = await self._accounts.credentials_of(account)
        if not creds:
            raise NotFoundError(f"account {account!r} has no registered passkey")
        await self._require_approver(account)
        snap = self._policies.current
        await self._not_yet(session, account, snap)
        granted = _scope(scope, row.request, snap, decision)
        document = approval_document(
            row.request,
            _decision(decision),
            granted,
            snap.policy,
            account,
            "passkey",
            stamp(now_ms),
            device=await self._device_key(),
        )
        text = canonical_json(document).decode()
        await self._db.execute(
            "INSERT INTO documents(nonce, session, account, document, expires_ms) "
            "VALUES (?,?,?,?,?)",
            (document["nonce"], session, account, text, now_ms + DOCUMENT_TTL_MS),
        )
        allowed = [from_b64u(c.id, "credential id") for c in creds]
        return text, rp.authentication_options(snap.policy, approval_challenge(document), allowed)

    async def complete(self, session: str, document: str, credential: str, now_ms: int) -> Outcome:
        """Verify the signed decision on the document `begin` issued and apply it.

        Raises:
            InvalidArgumentError: a document gatekeeper did not issue for this request (or
                already used, altered, expired), a credential not registered to the
                approving account, or an assertion that does not verify.
            NotAuthorizedError: the account's role may no longer approve.
            ConflictError: the request is no longer pending or the policy changed.
        """
        doc = _json_object(document, "document")
        account, issued = await self._take_document(session, doc, now_ms)
        row = await self._pending(session, str(doc.get("decision")))
        snap = self._policies.current
        if doc["policy"]["hash"] != snap.hash.hex():
            raise ConflictError("the policy changed since the approval began; begin again")
        await self._require_approver(account)
        cred = rp.parse_credential(credential)
        cred_id = rp.credential_id(cred)
        stored = next(
            (c for c in await self._accounts.credentials_of(account) if c.id == cred_id), None
        )
        if stored is None:
            raise InvalidArgumentError(f"credential {cred_id} is not registered for {account}")
        challenge = approval_challenge(issued)
        count = rp.verify_assertion(
            snap.policy, cred, challenge, stored.public_key, stored.sign_count
        )
        try:
            assertion = WebAuthnAssertion.from_credential(
                cred, rp_id=snap.policy.rp_id, public_key=stored.public_key
            )
            verify_assertion(assertion, challenge, snap.policy.require_user_verification)
        except (FormatError, VerificationError) as err:
            raise InvalidArgumentError(f"passkey assertion refused: {err}") from None
        await self._accounts.set_sign_count(stored.id, count)
        record = ApprovalRecord(issued, assertion, stamp(now_ms))
        return await self._apply(row, snap, record, "passkey", now_ms)

    async def password(
        self, session: str, account: str, decision: str, scope: str, now_ms: int
    ) -> Outcome:
        """A decision vouched for by admin-ui's password check (record method "password").

        Raises:
            NotAuthorizedError: the policy does not allow password approvals, or the
                account is known here with a role that may not approve.
        """
        check_account(account)
        row = await self._pending(session, decision)
        snap = self._policies.current
        if decision == "approve" and not snap.policy.allow_password_approval:
            raise NotAuthorizedError("the policy does not allow password approvals")
        role = await self._accounts.role(account)
        if role is not None and role not in APPROVER_ROLES:
            raise NotAuthorizedError(f"account {account} ({role}) may not approve")
        await self._not_yet(session, account, snap)
        granted = _scope(scope, row.request, snap, decision)
        method: Method = "password"
        document = approval_document(
            row.request,
            _decision(decision),
            granted,
            snap.policy,
            account,
            method,
            stamp(now_ms),
            device=await self._device_key(),
        )
        record = ApprovalRecord(document, None, stamp(now_ms))
        return await self._apply(row, snap, record, method, now_ms)

    async def _pending(self, session: str, decision: str) -> Row:
        if decision not in DECISIONS:
            raise InvalidArgumentError(f"decision must be approve or deny, not {decision!r}")
        row = await self._requests.get(session)
        if row.state != "pending":
            raise ConflictError(f"session {session} is {row.state}, not pending")
        return row

    async def _require_approver(self, account: str) -> None:
        role = await self._accounts.role(account)
        if role not in APPROVER_ROLES:
            raise NotAuthorizedError(f"account {account} ({role or 'unknown'}) may not approve")

    async def _not_yet(self, session: str, account: str, snap: Snapshot) -> None:
        async with self._db.execute(
            "SELECT 1 FROM approvals WHERE session=? AND account=? AND policy_version=?",
            (session, account, snap.version),
        ) as cur:
            if await cur.fetchone() is not None:
                raise ConflictError(f"{account} already decided on session {session}")

    async def _take_document(
        self, session: str, doc: dict[str, Any], now_ms: int
    ) -> tuple[str, dict[str, Any]]:
        """Spend the issued document ``doc`` names; returns (account, the issued document)."""
        nonce = doc.get("nonce")
        async with self._db.execute(
            "SELECT session, account, document, expires_ms FROM documents WHERE nonce=? AND used=0",
            (nonce if isinstance(nonce, str) else "",),
        ) as cur:
            found = await cur.fetchone()
        if found is None:
            raise InvalidArgumentError(
                "approval document was not issued by gatekeeper or was used already"
            )
        await self._db.execute("UPDATE documents SET used=1 WHERE nonce=?", (nonce,))
        if found[0] != session:
            raise InvalidArgumentError(
                f"approval document is for session {found[0]}, not {session}"
            )
        try:
            same = canonical_json(doc).decode() == found[2]
        except ValueError:
            same = False
        if not same:
            raise InvalidArgumentError("approval document differs from the one gatekeeper issued")
        if found[3] <= now_ms:
            raise InvalidArgumentError("approval document expired; begin the approval again")
        return str(found[1]), json.loads(found[2])

    async def _apply(
        self, row: Row, snap: Snapshot, record: ApprovalRecord, method: str, now_ms: int
    ) -> Outcome:
        doc = record.document
        decision = str(doc["decision"])
        try:
            await self._db.execute(
                "INSERT INTO approvals(session, account, decision, method, policy_version, "
                "record, created_ms) VALUES (?,?,?,?,?,?,?)",
                (
                    row.id,
                    record.account,
                    decision,
                    method,
                    snap.version,
                    canonical_json(record.to_dict()).decode(),
                    now_ms,
                ),
            )
        except sqlite3.IntegrityError:
            raise ConflictError(f"{record.account} already decided on session {row.id}") from None
        scope = Scope.from_dict(doc["scope"])
        if decision == "deny":
            await self._requests.move(row.id, "denied", now_ms, f"denied by {record.account}")
            return Outcome("denied", record.account, decision, method, scope)
        records = await self.records.approvals(row.id, snap.version)
        if len({r.account for r in records}) < snap.policy.approvers_required:
            return Outcome("pending", record.account, decision, method, scope)
        scopes = [Scope.from_dict(r.document["scope"]) for r in records]
        granted = reduce(Scope.clamp, scopes, snap.policy.scope_ceiling)
        await self._requests.grant(row.id, granted, snap.version, now_ms)
        return Outcome("approved", record.account, decision, method, granted)


def _decision(decision: str) -> Decision:
    return cast(Decision, decision)  # checked against DECISIONS by _pending


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data: Any = json.loads(text)
    except ValueError as err:
        raise InvalidArgumentError(f"{what} is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object")
    return data


def _scope(text: str, request: Request, snap: Snapshot, decision: str) -> Scope:
    """The scope a document grants: requested (or given) clamped to the ceiling; a denial
    names the requested scope."""
    if decision == "deny" or not text:
        scope = request.requested_scope
    else:
        try:
            scope = Scope.from_dict(_json_object(text, "scope"))
        except FormatError as err:
            raise InvalidArgumentError(str(err)) from None
    return scope if decision == "deny" else scope.clamp(snap.policy.scope_ceiling)
