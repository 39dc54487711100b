"""The versioned approval policy: every change is a new snapshot, old ones are kept.

Grants name the policy version they were approved under, so a session's manifest carries
the exact snapshot (and its hash) even after the policy changed. A fresh database starts
at version 1 with `lucid.evidence.approvals.default_policy` for the configured relying
party. This module does not check who may change the policy (the service does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from lucid.evidence.approvals import POLICY_FORMAT, Policy, policy_hash
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError
from lucid.runtime.errors import InvalidArgumentError, NotFoundError


@dataclass(frozen=True)
class Snapshot:
    """One policy version and its hash."""

    policy: Policy
    hash: bytes

    @property
    def version(self) -> int:
        return self.policy.version

    def to_json(self) -> str:
        """The policy document as canonical JSON text."""
        return canonical_json(self.policy.to_dict()).decode()


def parse_policy_update(text: str, version: int) -> Policy:
    """Parse a SetPolicy document (without ``version``) as the policy ``version``.

    ``format`` may be left out; a ``version`` sent along (e.g. from GetPolicy) is ignored:
    gatekeeper assigns it.

    Raises:
        InvalidArgumentError: not JSON, or not a valid policy (the message names the field).
    """
    try:
        data: Any = json.loads(text)
    except ValueError as err:
        raise InvalidArgumentError(f"policy is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("policy must be a JSON object")
    data = {"format": POLICY_FORMAT, **data, "version": version}
    try:
        policy = Policy.from_dict(data)
    except FormatError as err:
        raise InvalidArgumentError(f"invalid policy: {err}") from None
    if policy.approval_window_s < 0:
        raise InvalidArgumentError("invalid policy: policy.approval_window_s must be >= 0")
    if not policy.rp_id:
        raise InvalidArgumentError("invalid policy: policy.rp_id must not be empty")
    return policy


class PolicyStore:
    """The policy snapshots in gatekeeper's database; `current` is the active one."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._current: Snapshot | None = None

    async def load(self, initial: Policy) -> bool:
        """Read the active policy, installing ``initial`` (as version 1) on a fresh db.

        Returns:
            True if ``initial`` was installed now.
        """
        async with self._db.execute(
            "SELECT document FROM policies ORDER BY version DESC LIMIT 1"
        ) as cur:
            row = await cur.fetchone()
        if row is not None:
            self._current = _snapshot(str(row[0]))
            return False
        await self._insert(initial, "default", 0)
        return True

    @property
    def current(self) -> Snapshot:
        if self._current is None:
            raise RuntimeError("PolicyStore.load() was not called")
        return self._current

    async def set(self, text: str, by: str, at_ms: int) -> Snapshot:
        """Make ``text`` (SetPolicy JSON) the next version; returns it.

        Raises:
            InvalidArgumentError: see `parse_policy_update`.
        """
        policy = parse_policy_update(text, self.current.version + 1)
        return await self._insert(policy, by, at_ms)

    async def get(self, version: int) -> Snapshot:
        """The snapshot of ``version``.

        Raises:
            NotFoundError: no such version.
        """
        async with self._db.execute(
            "SELECT document FROM policies WHERE version=?", (version,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"no policy version {version}")
        return _snapshot(str(row[0]))

    async def _insert(self, policy: Policy, by: str, at_ms: int) -> Snapshot:
        snap = Snapshot(policy, policy_hash(policy))
        await self._db.execute(
            "INSERT INTO policies(version, document, hash, set_ms, set_by) VALUES (?,?,?,?,?)",
            (policy.version, snap.to_json(), snap.hash.hex(), at_ms, by),
        )
        self._current = snap
        return snap


def _snapshot(document: str) -> Snapshot:
    policy = Policy.from_dict(json.loads(document))
    return Snapshot(policy, policy_hash(policy))
