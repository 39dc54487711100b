"""The OpenAPI 3.1 document of the JSON API, built from one table of operations.

Each operation names its summary, request body schema, success status and answer schema;
path parameters come from the path, and the roles that may call it (``x-roles``) and
its security requirement come from `roles.ROUTES`, so the document cannot disagree with
what the middleware enforces. Pages and static files are not API operations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from lucid.admin_ui.roles import PUBLIC, ROUTES
from lucid.admin_ui.schemas import FLOW_PARAM, SCHEMAS, SESSION_PARAM, STREAM_PARAM, Schema

JSON = "application/json"


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    request: str | None = None  # schema name of the JSON body
    status: int = 200
    answer: str | None = None  # schema name; None: no body
    media: str = JSON  # of the answer


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/openapi.json"): Op("This document", "meta", answer="Flag"),
    ("GET", "/api/setup"): Op(
        "Whether the device has an owner yet", "onboarding", answer="SetupStatus"
    ),
    ("POST", "/api/setup"): Op(
        "Start onboarding: setup code, owner name, optional password -> passkey creation options",
        "onboarding",
        "SetupBegin",
        answer="Ceremony",
    ),
    ("POST", "/api/setup/{flow}"): Op(
        "Finish onboarding with the browser's PublicKeyCredential; logs the owner in",
        "onboarding",
        "PublicKeyCredential",
        201,
        "LoginResult",
    ),
    ("POST", "/api/enroll"): Op(
        "Enroll with an invitation code and a password (no passkey); logs in",
        "onboarding",
        "EnrollPassword",
        201,
        "LoginResult",
    ),
    ("POST", "/api/enroll/passkey"): Op(
        "Start enrolling with an invitation code -> passkey creation options",
        "onboarding",
        "EnrollPasskey",
        answer="Ceremony",
    ),
    ("POST", "/api/enroll/passkey/{flow}"): Op(
        "Finish enrolling with the browser's PublicKeyCredential; logs in",
        "onboarding",
        "PublicKeyCredential",
        201,
        "LoginResult",
    ),
    ("POST", "/api/login"): Op(
        "Log in with password (and TOTP if on)", "login", "LoginPassword", answer="LoginResult"
    ),
    ("POST", "/api/login/passkey"): Op(
        "Start a passkey login -> assertion options", "login", answer="Ceremony"
    ),
    ("POST", "/api/login/passkey/{flow}"): Op(
        "Finish a passkey login with the browser's PublicKeyCredential",
        "login",
        "PublicKeyCredential",
        answer="LoginResult",
    ),
    ("POST", "/api/logout"): Op("End this login", "login", status=204),
    ("GET", "/api/me"): Op(
        "This login: account, role, CSRF token, factors", "account", answer="Me"
    ),
    ("POST", "/api/me/password"): Op(
        "Set or change the password", "account", "PasswordChange", answer="Flag"
    ),
    ("POST", "/api/me/totp"): Op(
        "Start turning TOTP on: a new secret", "account", answer="TotpSetup"
    ),
    ("POST", "/api/me/totp/{flow}"): Op(
        "Confirm TOTP with a current code", "account", "TotpCode", answer="Flag"
    ),
    ("DELETE", "/api/me/totp"): Op(
        "Turn TOTP off (needs a current code)", "account", "TotpCode", answer="Flag"
    ),
    ("POST", "/api/me/passkeys"): Op(
        "Start registering another passkey", "account", answer="Ceremony"
    ),
    ("POST", "/api/me/passkeys/{flow}"): Op(
        "Finish registering a passkey with the browser's PublicKeyCredential",
        "account",
        "PublicKeyCredential",
        201,
        "Flag",
    ),
    ("GET", "/api/events"): Op(
        "Server-sent events: RequestFiled, RequestDecided, GrantEnded, SessionSealed (hints)",
        "events",
        answer="Flag",
        media="text/event-stream",
    ),
    ("GET", "/api/requests"): Op(
        "Requests (optionally of one state)", "requests", answer="Requests"
    ),
    ("GET", "/api/requests/{session}"): Op(
        "One request with state, grant and approvals", "requests", answer="Request"
    ),
    ("POST", "/api/requests/{session}/approval"): Op(
        "Start a passkey-signed decision -> approval document and assertion options",
        "requests",
        "ApprovalBegin",
        answer="ApprovalBegun",
    ),
    ("POST", "/api/requests/{session}/approval/{flow}"): Op(
        "Finish it with the browser's PublicKeyCredential (passed to gatekeeper unchanged)",
        "requests",
        "PublicKeyCredential",
        answer="DecisionResult",
    ),
    ("POST", "/api/requests/{session}/decision"): Op(
        "Approve or deny with the password (only if the policy allows it)",
        "requests",
        "PasswordDecision",
        answer="DecisionResult",
    ),
    ("POST", "/api/requests/{session}/deny"): Op(
        "Deny a pending request", "requests", "Reason", answer="Request"
    ),
    ("POST", "/api/requests/{session}/revoke"): Op(
        "End an approved or active grant now", "requests", "Reason", answer="Request"
    ),
    ("GET", "/api/sessions"): Op(
        "Approved and active grants with their recordings", "requests", answer="ActiveSessions"
    ),
    ("GET", "/api/history"): Op("Sealed (and failed) sessions", "history", answer="History"),
    ("GET", "/api/history/{session}"): Op("One sealed session", "history", answer="SealedSession"),
    ("GET", "/api/history/{session}/manifest"): Op("The signed manifest", "history", answer="Flag"),
    ("GET", "/api/history/{session}/bundle"): Op(
        "Download the evidence bundle (.lucid)",
        "history",
        answer="Flag",
        media="application/octet-stream",
    ),
    ("GET", "/api/history/{session}/verify"): Op(
        "Verify the bundle as `lucid verify --trust` would with this device's trust file",
        "history",
        answer="VerifyResult",
    ),
    ("GET", "/api/history/{session}/streams/{stream}"): Op(
        "Play one stream, decrypted on the device: video.N (fragmented MP4) or audit (JSON lines)",
        "history",
        answer="Flag",
        media="video/mp4",
    ),
    ("GET", "/api/keys"): Op(
        "Device public keys and fingerprints; auditor recipients (configured and added)",
        "device",
        answer="Keys",
    ),
    ("POST", "/api/keys/recipients"): Op(
        "Add an auditor recipient: sessions recorded from now on open with its key",
        "device",
        "RecipientInput",
        201,
        "Recipient",
    ),
    ("GET", "/api/device"): Op(
        "Daemon health, storage, versions, web address", "device", answer="Device"
    ),
    ("GET", "/api/device/trust"): Op(
        "Download the device's trust file (lucid.trust: device key, approvers' passkeys) "
        "for `lucid verify --trust`",
        "device",
        answer="TrustFile",
    ),
    ("GET", "/api/policy"): Op(
        "The active approval policy and its hash", "policy", answer="Policy"
    ),
    ("PUT", "/api/policy"): Op(
        "Replace the policy (gatekeeper assigns the version)",
        "policy",
        "PolicyInput",
        answer="Policy",
    ),
    ("GET", "/api/accounts"): Op(
        "Accounts with their factors and passkeys", "accounts", answer="Accounts"
    ),
    ("POST", "/api/accounts"): Op(
        "Invite an account: a one-time enrollment code (shown once)",
        "accounts",
        "Invite",
        201,
        "Invitation",
    ),
}

_PARAMS = {"session": SESSION_PARAM, "flow": FLOW_PARAM, "stream": STREAM_PARAM}


def _operation(method: str, path: str, op: Op) -> dict[str, Any]:
    roles = ROUTES[(method, path)]
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{method.lower()}{path}").strip("_"),
        "x-roles": sorted(r.value for r in roles) if roles != PUBLIC else "public",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": _PARAMS[name]}
            for name in re.findall(r"{(\w+)}", path)
        ],
    }
    if path == "/api/requests" and method == "GET":
        states = ["pending", "approved", "denied", "expired", "active", "ended", "revoked"]
        out["parameters"].append(
            {"name": "state", "in": "query", "required": False, "schema": {"enum": states}}
        )
    if roles == PUBLIC:
        out["security"] = []
    elif method in ("GET", "HEAD"):
        out["security"] = [{"login": []}]
    else:
        out["security"] = [{"login": [], "csrf": []}]
    if op.request is not None:
        out["requestBody"] = {
            "required": op.request not in ("ApprovalBegin", "Reason"),
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{op.request}"}}},
        }
    success: dict[str, Any] = {"description": op.summary}
    if op.answer is not None and op.status != 204:
        schema: Schema = {"$ref": f"#/components/schemas/{op.answer}"}
        if op.media != JSON:
            schema = {"type": "string"}
        success["content"] = {op.media: {"schema": schema}}
    out["responses"] = {
        str(op.status): success,
        "default": {
            "description": "error",
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    return out


@cache
def document(server: str = "/", cookie: str = "lucid_session") -> dict[str, Any]:
    """The OpenAPI 3.1 document (``server``: the public origin; ``cookie``: the login's)."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lucid device API (admin-ui)",
            "version": "1",
            "description": "State changes need the Origin of the page and, with a login, "
            "the X-CSRF-Token header from /api/me. x-roles lists who may call each operation.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "login": {"type": "apiKey", "in": "cookie", "name": cookie},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }
