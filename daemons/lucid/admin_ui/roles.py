"""Roles and the one table that says which role may use which route.

``ROUTES`` maps (HTTP method, route pattern as registered with aiohttp) to the roles
allowed, or to ``PUBLIC`` for routes that need no login (the page shell, its icon, static files,
the OpenAPI document, onboarding, enrollment and login). `security.access_middleware`
enforces it for every request, and the app factory refuses to start if a registered
route is missing here (or the other way round), so nothing is reachable by omission.
Tests read this table to sweep every route with every role. This module does not know
how logins work.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """Account roles, most powerful first (gatekeeper knows the same four names)."""

    OWNER = "owner"  # everything, including the policy and any account
    ADMIN = "admin"  # approves, denies and revokes; invites auditors and viewers
    AUDITOR = "auditor"  # reads manifests, downloads and verifies evidence, reads the policy
    VIEWER = "viewer"  # sees requests, sessions, history, keys and device health


Access = frozenset[Role]

PUBLIC: Final[Access] = frozenset()  # no login needed (an empty set of roles, by convention)
ANY: Final[Access] = frozenset(Role)
APPROVERS: Final[Access] = frozenset({Role.OWNER, Role.ADMIN})
AUDITORS: Final[Access] = frozenset({Role.OWNER, Role.ADMIN, Role.AUDITOR})
OWNER: Final[Access] = frozenset({Role.OWNER})
# who may see decrypted recordings in the browser (viewers see that sessions exist, not them)
DECRYPTORS: Final[Access] = frozenset({Role.OWNER, Role.ADMIN, Role.AUDITOR})

ROUTES: Final[dict[tuple[str, str], Access]] = {
    # the page shell and its files, the API description
    ("GET", "/"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    # onboarding, enrollment and login (rate-limited, Origin-checked)
    ("GET", "/api/setup"): PUBLIC,
    ("POST", "/api/setup"): PUBLIC,
    ("POST", "/api/setup/{flow}"): PUBLIC,
    ("POST", "/api/enroll"): PUBLIC,
    ("POST", "/api/enroll/passkey"): PUBLIC,
    ("POST", "/api/enroll/passkey/{flow}"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/login/passkey"): PUBLIC,
    ("POST", "/api/login/passkey/{flow}"): PUBLIC,
    # the logged-in account itself
    ("POST", "/api/logout"): ANY,
    ("GET", "/api/me"): ANY,
    ("POST", "/api/me/password"): ANY,
    ("POST", "/api/me/totp"): ANY,
    ("POST", "/api/me/totp/{flow}"): ANY,
    ("DELETE", "/api/me/totp"): ANY,
    ("POST", "/api/me/passkeys"): ANY,
    ("POST", "/api/me/passkeys/{flow}"): ANY,
    ("GET", "/api/events"): ANY,
    # requests and grants
    ("GET", "/api/requests"): ANY,
    ("GET", "/api/requests/{session}"): ANY,
    ("POST", "/api/requests/{session}/approval"): APPROVERS,
    ("POST", "/api/requests/{session}/approval/{flow}"): APPROVERS,
    ("POST", "/api/requests/{session}/decision"): APPROVERS,
    ("POST", "/api/requests/{session}/deny"): APPROVERS,
    ("POST", "/api/requests/{session}/revoke"): APPROVERS,
    ("GET", "/api/sessions"): ANY,
    # sealed sessions and their evidence
    ("GET", "/api/history"): ANY,
    ("GET", "/api/history/{session}"): ANY,
    ("GET", "/api/history/{session}/manifest"): AUDITORS,
    ("GET", "/api/history/{session}/bundle"): AUDITORS,
    ("GET", "/api/history/{session}/verify"): AUDITORS,
    ("GET", "/api/history/{session}/streams/{stream}"): DECRYPTORS,
    # device, keys, policy, accounts
    ("GET", "/api/keys"): ANY,
    ("POST", "/api/keys/recipients"): OWNER,
    ("GET", "/api/device"): ANY,
    # public keys only, but naming every approver: for those who verify evidence
    ("GET", "/api/device/trust"): AUDITORS,
    ("GET", "/api/policy"): AUDITORS,
    ("PUT", "/api/policy"): OWNER,
    ("GET", "/api/accounts"): APPROVERS,
    ("POST", "/api/accounts"): APPROVERS,
}

#: Roles an inviter may hand out (the route table lets both in; this narrows admins).
MAY_INVITE: Final[dict[Role, Access]] = {
    Role.OWNER: frozenset(Role),
    Role.ADMIN: frozenset({Role.AUDITOR, Role.VIEWER}),
}


def access(method: str, pattern: str) -> Access | None:
    """The roles allowed on a route (``PUBLIC`` = no login), or None if it is not listed.

    ``HEAD`` is treated as ``GET`` (aiohttp answers HEAD for every GET route).
    """
    return ROUTES.get(("GET" if method == "HEAD" else method, pattern))
