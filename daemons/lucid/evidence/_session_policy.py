"""The manifest's ``policy`` member: the `Grant` and the `SessionPolicy` that checks it.

`SessionPolicy` (``lucid.session-policy`` version 1) carries the policy, its hash,
the request, the grant and the approval records; `SessionPolicy.verify` re-checks,
offline, that the session was approved as that policy demands (docs/evidence.md,
"Approvals in the manifest"): hash, request, grant limits, approver count and
distinctness, each document, and each assertion through `verify_assertion`.

This module does not decide whether a key really belongs to the account it is filed
under (that binding is the device's word), does not check the manifest signature
(`lucid.evidence.signed`) and does not store anything. Import these names from
`lucid.evidence.approvals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lucid.evidence import _fields as f
from lucid.evidence._approval import (
    ApprovalRecord,
    Request,
    _Document,
    _get_time,
    _parse_document,
    approval_challenge,
)
from lucid.evidence._scope import Policy, Scope, policy_hash
from lucid.evidence._webauthn import verify_assertion
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError, VerificationError
from lucid.evidence.timestamps import parse_timestamp

__all__ = ["GRANT_SLACK_S", "SESSION_POLICY_FORMAT", "Grant", "SessionPolicy"]

SESSION_POLICY_FORMAT = "lucid.session-policy"
GRANT_SLACK_S = 60
"""How far past its grant the recording may run: the device's own latency between a grant
running out (gatekeeper's timer) and the recorder having stopped and stamped ``ended_at``.
A session that starts before ``grant.approved_at`` gets no slack at all."""

_SESSION_KEYS = frozenset(
    {"format", "version", "policy", "policy_hash", "request", "grant", "approvals"}
)
_GRANT_KEYS = frozenset({"scope", "approved_at", "expires_at"})


def _fail(item: str, message: str) -> VerificationError:
    return VerificationError(item, f"{item}: {message}")


@dataclass(frozen=True)
class Grant:
    """What was granted. `via_window` names the earlier session whose approvals are re-used."""

    scope: Scope
    approved_at: str  # when the grant was made (RFC 3339 UTC)
    expires_at: str  # at most approved_at + scope.ttl_s
    via_window: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``via_window`` only when set)."""
        out: dict[str, Any] = {
            "scope": self.scope.to_dict(),
            "approved_at": self.approved_at,
            "expires_at": self.expires_at,
        }
        if self.via_window is not None:
            out["via_window"] = self.via_window
        return out

    @classmethod
    def from_dict(cls, value: Any, path: str = "grant") -> Grant:
        """Validate and convert the JSON form.

        Raises:
            FormatError: A field missing, unknown, of the wrong type or out of range.
        """
        optional = isinstance(value, dict) and "via_window" in value
        d = f.get_obj(value, path, _GRANT_KEYS | {"via_window"} if optional else _GRANT_KEYS)
        via = d.get("via_window")
        return cls(
            scope=Scope.from_dict(d["scope"], f"{path}.scope"),
            approved_at=_get_time(d["approved_at"], f"{path}.approved_at"),
            expires_at=_get_time(d["expires_at"], f"{path}.expires_at"),
            via_window=None if via is None else f.check_name(via, f"{path}.via_window"),
        )


@dataclass(frozen=True)
class SessionPolicy:
    """The manifest's ``policy`` member (``lucid.session-policy`` version 1).

    Build one with `SessionPolicy.create`; check one with `verify`.
    """

    policy: Policy
    policy_hash: bytes
    request: Request
    grant: Grant
    approvals: tuple[ApprovalRecord, ...] = field(default=())

    @classmethod
    def create(
        cls,
        policy: Policy,
        request: Request,
        grant: Grant,
        approvals: Sequence[ApprovalRecord],
    ) -> SessionPolicy:
        """Assemble the member, computing `policy_hash` (it does not `verify`)."""
        return cls(policy, policy_hash(policy), request, grant, tuple(approvals))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what goes in ``manifest.policy``)."""
        return {
            "format": SESSION_POLICY_FORMAT,
            "version": 1,
            "policy": self.policy.to_dict(),
            "policy_hash": self.policy_hash.hex(),
            "request": self.request.to_dict(),
            "grant": self.grant.to_dict(),
            "approvals": [a.to_dict() for a in self.approvals],
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "policy") -> SessionPolicy:
        """Validate and convert the JSON form.

        Raises:
            FormatError: Any field missing, unknown, of the wrong type or out of range;
                the message names the field path.
        """
        if isinstance(value, dict) and value.get("format") != SESSION_POLICY_FORMAT:
            raise FormatError(
                f"{path}.format: expected {SESSION_POLICY_FORMAT!r} "
                f"(got {value.get('format')!r}): not a session policy"
            )
        d = f.get_obj(value, path, _SESSION_KEYS)
        if f.get_int(d["version"], f"{path}.version") != 1:
            raise FormatError(f"{path}.version: unsupported version {d['version']}")
        return cls(
            policy=Policy.from_dict(d["policy"], f"{path}.policy"),
            policy_hash=f.get_hex(d["policy_hash"], f"{path}.policy_hash", 32),
            request=Request.from_dict(d["request"], f"{path}.request"),
            grant=Grant.from_dict(d["grant"], f"{path}.grant"),
            approvals=tuple(
                ApprovalRecord.from_dict(a, f"{path}.approvals[{i}]")
                for i, a in enumerate(f.get_list(d["approvals"], f"{path}.approvals"))
            ),
        )

    def verify(self, session: str, device: bytes, started_at: str, ended_at: str) -> None:
        """Check that this session was approved as the policy demands (docs/evidence.md §13.5).

        Args:
            session: The manifest's session name.
            device: The manifest's ``device.ed25519``: every approval must name it.
            started_at: The manifest's ``started_at``: within the grant's window.
            ended_at: The manifest's ``ended_at``: within ``max_duration_s`` of the start.

        Raises:
            FormatError: An approval document is not a valid ``lucid.approval``.
            VerificationError: ``item`` names what failed: ``policy.policy_hash``,
                ``policy.request.id``, ``policy.grant.expires_at``, ``policy.grant.scope``,
                ``policy.grant.via_window``, ``session.started_at``, ``session.ended_at``,
                ``policy.approvals`` (too few), ``policy.approvals[<i>].document.<field>``, or
                ``policy.approvals[<i>].<check>`` with a `verify_assertion` item,
                ``rp_id`` or ``origin``.
        """
        policy = self.policy
        if policy_hash(policy) != self.policy_hash:
            raise _fail("policy.policy_hash", "does not match the policy it names")
        if self.request.id != session:
            raise _fail("policy.request.id", f"{self.request.id!r} is not session {session!r}")
        grant = self.grant
        approved_at = parse_timestamp(grant.approved_at, "grant.approved_at")
        limit = approved_at + timedelta(seconds=grant.scope.ttl_s)
        expires_at = parse_timestamp(grant.expires_at, "grant.expires_at")
        if expires_at > limit:
            raise _fail("policy.grant.expires_at", "later than approved_at + scope.ttl_s")
        self._check_times(approved_at, expires_at, started_at, ended_at)
        if not grant.scope.within(policy.scope_ceiling):
            raise _fail("policy.grant.scope", "exceeds the policy's scope_ceiling")
        if grant.via_window is not None and (
            policy.approval_window_s == 0 or grant.via_window == session
        ):
            raise _fail(
                "policy.grant.via_window",
                "approval window re-use, but the policy has no window or it names this session",
            )
        if len(self.approvals) < policy.approvers_required:
            raise _fail(
                "policy.approvals",
                f"{len(self.approvals)} approver(s), the policy requires "
                f"{policy.approvers_required}",
            )
        accounts: set[str] = set()
        keys: set[bytes] = set()
        for i, record in enumerate(self.approvals):
            where = f"policy.approvals[{i}]"
            doc = _parse_document(record.document, f"{where}.document")
            if doc.device != device:
                raise _fail(
                    f"{where}.document.device",
                    f"approves a session of device {doc.device.hex()[:16]}…, "
                    f"not of {device.hex()[:16]}… (the key that signed this manifest)",
                )
            self._check_document(where, doc, approved_at)
            if doc.account in accounts:
                raise _fail(f"{where}.document.approver.account", f"{doc.account!r} approved twice")
            accounts.add(doc.account)
            if doc.method == "password":
                if not policy.allow_password_approval:
                    raise _fail(
                        f"{where}.document.approver.method",
                        "password approvals are not allowed by the policy",
                    )
                continue
            assertion = record.webauthn
            if assertion is None:
                raise _fail(f"{where}.webauthn", "missing for a passkey approval")
            if assertion.public_key in keys:
                raise _fail(
                    f"{where}.public_key", "the same key already approved as another account"
                )
            keys.add(assertion.public_key)
            if assertion.rp_id != policy.rp_id:
                raise _fail(f"{where}.rp_id", f"{assertion.rp_id!r} is not the policy's rp_id")
            if assertion.origin not in policy.origins:
                raise _fail(f"{where}.origin", f"{assertion.origin!r} is not a policy origin")
            try:
                verify_assertion(
                    assertion, approval_challenge(record.document), policy.require_user_verification
                )
            except VerificationError as err:
                raise VerificationError(f"{where}.{err.item}", f"{where}.{err}") from None

    def _check_times(
        self, approved_at: datetime, expires_at: datetime, started_at: str, ended_at: str
    ) -> None:
        """The recording lies within the grant: started after the approval and before the
        grant ran out, and ended within ``max_duration_s`` (each end with `GRANT_SLACK_S`)."""
        start = parse_timestamp(started_at, "started_at")
        end = parse_timestamp(ended_at, "ended_at")
        slack = timedelta(seconds=GRANT_SLACK_S)
        if start < approved_at:
            raise _fail(
                "session.started_at",
                f"recording started at {started_at}, before the grant was approved at "
                f"{self.grant.approved_at}",
            )
        if start > expires_at + slack:
            raise _fail(
                "session.started_at",
                f"recording started at {started_at}, after the grant expired at "
                f"{self.grant.expires_at}",
            )
        limit = self.grant.scope.max_duration_s
        if end > start + timedelta(seconds=limit) + slack:
            raise _fail(
                "session.ended_at",
                f"recording ran until {ended_at}, past the grant's max_duration_s of {limit} s "
                f"after its start",
            )

    def _check_document(self, where: str, doc: _Document, approved_at: datetime) -> None:
        if doc.decision != "approve":
            raise _fail(f"{where}.document.decision", f"{doc.decision!r}, not 'approve'")
        if doc.policy_version != self.policy.version:
            raise _fail(f"{where}.document.policy.version", "is not the policy's version")
        if doc.policy_hash != self.policy_hash:
            raise _fail(f"{where}.document.policy.hash", "is not the policy hash")
        if not self.grant.scope.within(doc.scope):
            raise _fail("policy.grant.scope", f"exceeds the scope approved in {where}")
        via = self.grant.via_window
        if via is None:
            if canonical_json(doc.request.to_dict()) != canonical_json(self.request.to_dict()):
                raise _fail(f"{where}.document.request", "is not this session's request")
            return
        if doc.request.id != via:
            raise _fail(f"{where}.document.request.id", f"is not the via_window session {via!r}")
        if doc.request.user != self.request.user:
            raise _fail(f"{where}.document.request.user", "is not this request's user")
        if doc.request.target != self.request.target:
            raise _fail(f"{where}.document.request.target", "is not this request's target")
        issued = parse_timestamp(doc.issued_at, "issued_at")
        if approved_at > issued + timedelta(seconds=self.policy.approval_window_s):
            raise _fail(
                f"{where}.document.issued_at",
                "grant.approved_at is past the approval window after this approval",
            )
