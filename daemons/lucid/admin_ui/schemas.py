"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's bodies and answers."""

from __future__ import annotations

from typing import Any

from lucid.admin_ui.auth import ACCOUNT_RE, MAX_PASSWORD, MIN_PASSWORD
from lucid.admin_ui.roles import Role
from lucid.runtime.ids import SESSION_RE

Schema = dict[str, Any]


def _obj(required: list[str], props: dict[str, Schema], extra: bool = False) -> Schema:
    return {
        "type": "object",
        "required": required,
        "properties": props,
        "additionalProperties": extra,
    }


STR: Schema = {"type": "string", "maxLength": 4096}
ACCOUNT: Schema = {"type": "string", "pattern": ACCOUNT_RE.pattern}
NEW_PASSWORD: Schema = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}
PASSWORD: Schema = {"type": "string", "maxLength": MAX_PASSWORD}
TOTP: Schema = {"type": "string", "pattern": "^[0-9]{6}$"}
ROLE: Schema = {"type": "string", "enum": [r.value for r in Role]}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}
POS_INT: Schema = {"type": "integer", "minimum": 1, "maximum": 10**9}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(["error", "message"], {"error": STR, "message": STR}),
    "LoginResult": _obj(
        ["account", "role", "csrf", "expires_at"],
        {"account": ACCOUNT, "role": ROLE, "csrf": STR, "expires_at": {"type": "number"}},
    ),
    "SetupStatus": _obj(
        ["onboarded", "origin", "rp_id"],
        {"onboarded": {"type": "boolean"}, "origin": STR, "rp_id": STR},
    ),
    "Ceremony": _obj(
        ["flow", "publicKey"],
        {"flow": STR, "publicKey": ANY_OBJECT},
    ),
    # What a browser's PublicKeyCredential.toJSON() gives (registration or assertion).
    "PublicKeyCredential": _obj(
        ["id", "rawId", "type", "response"],
        {
            "id": STR,
            "rawId": STR,
            "type": {"const": "public-key"},
            "response": ANY_OBJECT,
            "authenticatorAttachment": {"type": ["string", "null"]},
            "clientExtensionResults": ANY_OBJECT,
        },
        extra=True,
    ),
    "SetupBegin": _obj(
        ["account", "setup_code"],
        {
            "account": ACCOUNT,
            "setup_code": {"type": "string", "maxLength": 256},
            "password": NEW_PASSWORD,
        },
    ),
    "EnrollPassword": _obj(
        ["account", "code", "password"],
        {
            "account": ACCOUNT,
            "code": {"type": "string", "maxLength": 256},
            "password": NEW_PASSWORD,
        },
    ),
    "EnrollPasskey": _obj(
        ["account", "code"],
        {
            "account": ACCOUNT,
            "code": {"type": "string", "maxLength": 256},
            "password": NEW_PASSWORD,
        },
    ),
    "LoginPassword": _obj(
        ["account", "password"],
        {"account": {"type": "string", "maxLength": 64}, "password": PASSWORD, "totp": TOTP},
    ),
    "Me": _obj(
        ["account", "role", "csrf", "expires_at", "password", "totp", "passkeys"],
        {
            "account": ACCOUNT,
            "role": ROLE,
            "csrf": STR,
            "expires_at": {"type": "number"},
            "password": {"type": "boolean"},
            "totp": {"type": "boolean"},
            "passkeys": {"type": "array", "items": STR},
        },
    ),
    "PasswordChange": _obj(["new"], {"new": NEW_PASSWORD, "current": PASSWORD, "totp": TOTP}),
    "TotpSetup": _obj(["flow", "secret", "uri"], {"flow": STR, "secret": STR, "uri": STR}),
    "TotpCode": _obj(["code"], {"code": TOTP}),
    "Flag": ANY_OBJECT,
    "Scope": _obj(
        ["ttl_s", "max_duration_s", "clipboard", "file_transfer", "drives"],
        {
            "ttl_s": POS_INT,
            "max_duration_s": POS_INT,
            "clipboard": {"type": "boolean"},
            "file_transfer": {"type": "boolean"},
            "drives": {"type": "boolean"},
        },
    ),
    "ApprovalBegin": _obj(
        [],
        {
            "decision": {"enum": ["approve", "deny"]},
            "scope": {"$ref": "#/components/schemas/Scope"},
        },
    ),
    "ApprovalBegun": _obj(
        ["flow", "document", "publicKey"],
        {"flow": STR, "document": ANY_OBJECT, "publicKey": ANY_OBJECT},
    ),
    "PasswordDecision": _obj(
        ["password"],
        {
            "decision": {"enum": ["approve", "deny"]},
            "scope": {"$ref": "#/components/schemas/Scope"},
            "password": PASSWORD,
            "totp": TOTP,
        },
    ),
    "DecisionResult": _obj(["session", "state"], {"session": STR, "state": STR}),
    "Reason": _obj([], {"reason": {"type": "string", "maxLength": 512}}),
    "Request": ANY_OBJECT,  # gatekeeper's GetRequest object (docs/approvals.md)
    "Requests": {"type": "array", "items": ANY_OBJECT},
    "ActiveSessions": _obj(
        ["grants", "recorder"], {"grants": {"type": "array", "items": ANY_OBJECT}, "recorder": STR}
    ),
    "SealedSession": {"type": "object", "additionalProperties": {"type": "string"}},
    "History": {"type": "array", "items": {"$ref": "#/components/schemas/SealedSession"}},
    # ok: summary (the OK line after "OK <file>: ") and lines (what the OK rests on), with
    # the report's fields; not ok: item and message (the FAILED line's).
    "VerifyResult": {
        "type": "object",
        "required": ["ok"],
        "properties": {
            "ok": {"type": "boolean"},
            "summary": STR,
            "lines": {"type": "array", "items": STR},
            "item": STR,
            "message": STR,
        },
        "additionalProperties": True,
    },
    # docs/evidence.md section 16 states every member; lucid.evidence.trust checks them.
    "TrustFile": _obj(
        ["format", "version", "device", "approvers", "exported_at"],
        {
            "format": {"const": "lucid.trust"},
            "version": {"const": 1},
            "device": ANY_OBJECT,
            "approvers": {"type": "array", "items": ANY_OBJECT},
            "exported_at": STR,
        },
    ),
    "Keys": _obj(["device", "recipients"], {"device": ANY_OBJECT, "recipients": {"type": "array"}}),
    "Device": ANY_OBJECT,
    "RecipientInput": _obj(
        ["x25519"],
        {
            "x25519": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
            "label": {"type": "string", "maxLength": 64},
        },
    ),
    "Recipient": {"type": "object", "additionalProperties": {"type": "string"}},
    "PolicyInput": _obj(
        [
            "format",
            "approvers_required",
            "allow_password_approval",
            "require_user_verification",
            "request_timeout_s",
            "approval_window_s",
            "scope_ceiling",
            "rp_id",
            "origins",
        ],
        {
            "format": {"const": "lucid.policy"},
            "approvers_required": POS_INT,
            "allow_password_approval": {"type": "boolean"},
            "require_user_verification": {"type": "boolean"},
            "request_timeout_s": POS_INT,
            "approval_window_s": {"type": "integer", "minimum": 0, "maximum": 10**9},
            "scope_ceiling": {"$ref": "#/components/schemas/Scope"},
            "rp_id": {"type": "string", "minLength": 1, "maxLength": 253},
            "origins": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": 256},
            },
        },
    ),
    "Policy": _obj(["policy", "hash"], {"policy": ANY_OBJECT, "hash": STR}),
    "Accounts": {"type": "array", "items": ANY_OBJECT},
    "Invite": _obj(["account", "role"], {"account": ACCOUNT, "role": ROLE}),
    "Invitation": _obj(
        ["account", "role", "code", "expires_at"],
        {"account": ACCOUNT, "role": ROLE, "code": STR, "expires_at": {"type": "number"}},
    ),
}

SESSION_PARAM: Schema = {"type": "string", "pattern": SESSION_RE.pattern}
FLOW_PARAM: Schema = {"type": "string", "maxLength": 64}
STREAM_PARAM: Schema = {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}
