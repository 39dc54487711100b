"""The approval policy and the scope of a grant: `Scope`, `Policy` and `policy_hash`.

A `Policy` is a versioned snapshot (``lucid.policy``) of how sessions are approved;
`policy_hash` is ``BLAKE3("lucid.policy.v1" 0x00 || JCS(policy))`` (docs/approvals.md).
A `Scope` says what a grant allows and is compared against the policy's ceiling.

This module only models, parses (``from_dict``, raising `FormatError` that names the
field path) and hashes policies. It does not decide requests, check approvals (see
`lucid.evidence._session_policy`) or store a policy anywhere. Import these names from
`lucid.evidence.approvals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import blake3

from lucid.evidence import _fields as f
from lucid.evidence.canonical import canonical_json
from lucid.evidence.errors import FormatError

__all__ = ["DEFAULT_POLICY", "POLICY_FORMAT", "Policy", "Scope", "default_policy", "policy_hash"]

POLICY_FORMAT = "lucid.policy"

_POLICY_DOMAIN = b"lucid.policy.v1\x00"
_SCOPE_KEYS = frozenset({"ttl_s", "max_duration_s", "clipboard", "file_transfer", "drives"})
_POLICY_KEYS = frozenset(
    {
        "format",
        "version",
        "approvers_required",
        "allow_password_approval",
        "require_user_verification",
        "request_timeout_s",
        "approval_window_s",
        "scope_ceiling",
        "rp_id",
        "origins",
    }
)


@dataclass(frozen=True)
class Scope:
    """What a grant allows. Integers are seconds and positive."""

    ttl_s: int  # grant lifetime from approval
    max_duration_s: int  # longest session allowed under the grant
    clipboard: bool
    file_transfer: bool
    drives: bool

    def within(self, ceiling: Scope) -> bool:
        """True if this scope allows nothing that `ceiling` does not."""
        return (
            self.ttl_s <= ceiling.ttl_s
            and self.max_duration_s <= ceiling.max_duration_s
            and (ceiling.clipboard or not self.clipboard)
            and (ceiling.file_transfer or not self.file_transfer)
            and (ceiling.drives or not self.drives)
        )

    def clamp(self, ceiling: Scope) -> Scope:
        """The largest scope within both this one and `ceiling`."""
        return Scope(
            ttl_s=min(self.ttl_s, ceiling.ttl_s),
            max_duration_s=min(self.max_duration_s, ceiling.max_duration_s),
            clipboard=self.clipboard and ceiling.clipboard,
            file_transfer=self.file_transfer and ceiling.file_transfer,
            drives=self.drives and ceiling.drives,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "ttl_s": self.ttl_s,
            "max_duration_s": self.max_duration_s,
            "clipboard": self.clipboard,
            "file_transfer": self.file_transfer,
            "drives": self.drives,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "scope") -> Scope:
        """Validate and convert the JSON form.

        Raises:
            FormatError: A field missing, unknown, of the wrong type or out of range.
        """
        d = f.get_obj(value, path, _SCOPE_KEYS)
        return cls(
            ttl_s=f.get_int(d["ttl_s"], f"{path}.ttl_s", minimum=1),
            max_duration_s=f.get_int(d["max_duration_s"], f"{path}.max_duration_s", minimum=1),
            clipboard=f.get_bool(d["clipboard"], f"{path}.clipboard"),
            file_transfer=f.get_bool(d["file_transfer"], f"{path}.file_transfer"),
            drives=f.get_bool(d["drives"], f"{path}.drives"),
        )


@dataclass(frozen=True)
class Policy:
    """A snapshot of the approval policy (``lucid.policy``); `version` grows on every change."""

    version: int
    approvers_required: int  # N >= 1 distinct approvers
    allow_password_approval: bool  # password-only admins may approve
    require_user_verification: bool  # the WebAuthn UV flag is required
    request_timeout_s: int  # pending -> expired after this
    approval_window_s: int  # 0 = off; else an approval is re-used for the same user+target
    scope_ceiling: Scope  # a grant never exceeds this
    rp_id: str  # WebAuthn relying party id
    origins: tuple[str, ...]  # origins assertions may come from

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what `policy_hash` hashes)."""
        return {
            "format": POLICY_FORMAT,
            "version": self.version,
            "approvers_required": self.approvers_required,
            "allow_password_approval": self.allow_password_approval,
            "require_user_verification": self.require_user_verification,
            "request_timeout_s": self.request_timeout_s,
            "approval_window_s": self.approval_window_s,
            "scope_ceiling": self.scope_ceiling.to_dict(),
            "rp_id": self.rp_id,
            "origins": list(self.origins),
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "policy") -> Policy:
        """Validate and convert the JSON form.

        Raises:
            FormatError: A field missing, unknown, of the wrong type or out of range;
                no origin, or an origin listed twice.
        """
        d = f.get_obj(value, path, _POLICY_KEYS)
        f.get_str(d["format"], f"{path}.format", choices=frozenset({POLICY_FORMAT}))
        origins = tuple(
            f.get_str(o, f"{path}.origins[{i}]")
            for i, o in enumerate(f.get_list(d["origins"], f"{path}.origins"))
        )
        if not origins:
            raise FormatError(f"{path}.origins: at least one origin is required")
        for i, origin in enumerate(origins):
            if origin in origins[:i]:
                raise FormatError(f"{path}.origins[{i}]: duplicate origin {origin!r}")
        return cls(
            version=f.get_int(d["version"], f"{path}.version", minimum=1),
            approvers_required=f.get_int(
                d["approvers_required"], f"{path}.approvers_required", minimum=1
            ),
            allow_password_approval=f.get_bool(
                d["allow_password_approval"], f"{path}.allow_password_approval"
            ),
            require_user_verification=f.get_bool(
                d["require_user_verification"], f"{path}.require_user_verification"
            ),
            request_timeout_s=f.get_int(
                d["request_timeout_s"], f"{path}.request_timeout_s", minimum=1
            ),
            approval_window_s=f.get_int(d["approval_window_s"], f"{path}.approval_window_s"),
            scope_ceiling=Scope.from_dict(d["scope_ceiling"], f"{path}.scope_ceiling"),
            rp_id=f.get_str(d["rp_id"], f"{path}.rp_id"),
            origins=origins,
        )


def policy_hash(policy: Policy) -> bytes:
    """``BLAKE3("lucid.policy.v1" 0x00 || JCS(policy.to_dict()))``: 32 bytes."""
    return blake3.blake3(_POLICY_DOMAIN + canonical_json(policy.to_dict())).digest()


def default_policy(
    rp_id: str = "localhost", origins: Sequence[str] = ("http://localhost",)
) -> Policy:
    """The policy a fresh appliance starts with.

    Version 1; one approver, by passkey with user verification; requests expire
    after 300 s; no approval window; the ceiling is 8 h of grant and of session
    with clipboard, file transfer and drives all allowed.
    """
    return Policy(
        version=1,
        approvers_required=1,
        allow_password_approval=False,
        require_user_verification=True,
        request_timeout_s=300,
        approval_window_s=0,
        scope_ceiling=Scope(
            ttl_s=8 * 3600,
            max_duration_s=8 * 3600,
            clipboard=True,
            file_transfer=True,
            drives=True,
        ),
        rp_id=rp_id,
        origins=tuple(origins),
    )


DEFAULT_POLICY = default_policy()
"""`default_policy` for ``rp_id="localhost"``, ``origins=("http://localhost",)``."""
