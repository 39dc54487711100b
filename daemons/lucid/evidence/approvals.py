"""Approvals in the manifest: the policy, requests, approval records and their offline check.

The byte-level contract is docs/approvals.md (gatekeeper's side) and the section
"Approvals in the manifest" of docs/evidence.md (the verifier's side). In short:

* a `Policy` snapshot is hashed: ``BLAKE3("lucid.policy.v1" 0x00 || JCS(policy))``;
* an approver signs, with a WebAuthn ``get`` assertion, the challenge
  ``SHA-256("lucid.approval.v1" 0x00 || JCS(document))`` of an approval document
  naming the `Request`, the granted `Scope` and the policy hash;
* the manifest's ``policy`` member is a `SessionPolicy`: the policy, its hash, the
  request, the grant and the approval records; `SessionPolicy.verify` re-checks
  every assertion with nothing but the record itself (no network, no device).

Parsers (``from_dict``) accept exactly the schema and raise `FormatError` naming
the field path; checks raise `VerificationError` whose ``item`` names what failed
(``"policy.approvals[0].signature"``). Misuse by the calling code raises
`ValueError`.

This module is the public face only: it re-exports, and the code lives in private
modules, one concern each: `_scope` (`Scope`, `Policy`, `policy_hash`,
`DEFAULT_POLICY`), `_webauthn` (`WebAuthnAssertion`, `verify_assertion`, `b64u`,
`from_b64u`), `_approval` (`Request`, the approval document and challenge,
`ApprovalRecord`) and `_session_policy` (`Grant`, `SessionPolicy`). Import from here,
not from them.

None of this talks WebAuthn to a browser or registers credentials (the gatekeeper
does, with py_webauthn), decides whether a public key really belongs to the account
it is filed under (that binding is the device's word), or stores anything. Together
these modules import only the standard library, rfc8785 (through `canonical`),
blake3, cbor2 and cryptography.
"""

from __future__ import annotations

from lucid.evidence._approval import (
    APPROVAL_FORMAT,
    APPROVAL_VERSION,
    NONCE_SIZE,
    ApprovalRecord,
    Decision,
    Method,
    Request,
    approval_challenge,
    approval_document,
)
from lucid.evidence._scope import (
    DEFAULT_POLICY,
    POLICY_FORMAT,
    Policy,
    Scope,
    default_policy,
    policy_hash,
)
from lucid.evidence._session_policy import (
    GRANT_SLACK_S,
    SESSION_POLICY_FORMAT,
    Grant,
    SessionPolicy,
)
from lucid.evidence._webauthn import WebAuthnAssertion, b64u, from_b64u, verify_assertion

# Not public API (not in __all__), but importable from here before the split into
# private modules: kept so that no importer breaks.
from lucid.evidence.canonical import canonical_json as canonical_json
from lucid.evidence.errors import FormatError as FormatError
from lucid.evidence.errors import VerificationError as VerificationError
from lucid.evidence.timestamps import parse_timestamp as parse_timestamp
from lucid.evidence.timestamps import utc_timestamp as utc_timestamp

__all__ = [
    "APPROVAL_FORMAT",
    "APPROVAL_VERSION",
    "DEFAULT_POLICY",
    "GRANT_SLACK_S",
    "NONCE_SIZE",
    "POLICY_FORMAT",
    "SESSION_POLICY_FORMAT",
    "ApprovalRecord",
    "Decision",
    "Grant",
    "Method",
    "Policy",
    "Request",
    "Scope",
    "SessionPolicy",
    "WebAuthnAssertion",
    "approval_challenge",
    "approval_document",
    "b64u",
    "default_policy",
    "from_b64u",
    "policy_hash",
    "verify_assertion",
]
