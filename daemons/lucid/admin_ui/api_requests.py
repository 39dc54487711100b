"""Requests and grants: list, approve (passkey or password), deny, revoke; active sessions.

A passkey approval is two calls: ``POST /api/requests/{session}/approval`` asks gatekeeper
for the approval document and the ``navigator.credentials.get`` options (their challenge is
the document's), ``POST …/approval/{flow}`` passes the browser's ``PublicKeyCredential``
JSON to gatekeeper unchanged — gatekeeper verifies and records it. The document stays on
the server between the two calls, bound to the login that began the flow.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from lucid.admin_ui import auth
from lucid.admin_ui.accounts import digest
from lucid.admin_ui.deps import deps_of, login_of
from lucid.admin_ui.jsonio import (
    ApiError,
    Invalid,
    body,
    body_and_text,
    obj,
    ok,
    parse_json_text,
    text,
)
from lucid.admin_ui.passkeys import Flow, public_key_options
from lucid.evidence.approvals import Scope
from lucid.evidence.errors import FormatError
from lucid.runtime.errors import BusError
from lucid.runtime.ids import check_session

STATES = frozenset({"", "pending", "approved", "denied", "expired", "active", "ended", "revoked"})
DECISIONS = frozenset({"approve", "deny"})


def _session(request: web.Request) -> str:
    return check_session(request.match_info["session"])


def _decision_and_scope(data: dict[str, Any]) -> tuple[str, str]:
    decision = text(data, "decision", default="approve", limit=16)
    if decision not in DECISIONS:
        raise Invalid("decision: approve or deny")
    raw = obj(data, "scope")
    if raw is None:
        return decision, ""
    try:
        scope = Scope.from_dict(raw)
    except FormatError as err:
        raise Invalid(str(err)) from err
    return decision, json.dumps(scope.to_dict(), separators=(",", ":"))


async def list_requests(request: web.Request) -> web.Response:
    state = request.query.get("state", "")
    if state not in STATES:
        raise Invalid(f"state: one of {', '.join(sorted(s for s in STATES if s))} or empty")
    deps = deps_of(request)
    return ok(parse_json_text(await deps.peers.gatekeeper.list_requests(state), "ListRequests"))


async def get_request(request: web.Request) -> web.Response:
    deps = deps_of(request)
    raw = await deps.peers.gatekeeper.get_request(_session(request))
    return ok(parse_json_text(raw, "GetRequest"))


async def approval_begin(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    session = _session(request)
    decision, scope = _decision_and_scope(await body(request))
    document, options = await deps.peers.gatekeeper.begin_approval(
        session, login.account, decision, scope
    )
    opts = public_key_options(options)
    flow = Flow("approval", b"", digest(login.token), {"session": session, "document": document})
    return ok(
        {
            "flow": deps.flows.put(flow),
            "document": parse_json_text(document, "BeginApproval"),
            "publicKey": opts,
        }
    )


async def approval_complete(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    session = _session(request)
    flow = deps.flows.take(request.match_info["flow"], "approval", digest(login.token))
    if flow is None or flow.data["session"] != session:
        raise ApiError(404, "no_flow", "unknown or expired approval; start again")
    _credential, raw = await body_and_text(request)
    state = await deps.peers.gatekeeper.complete_approval(session, str(flow.data["document"]), raw)
    return ok({"session": session, "state": state})


async def password_decision(request: web.Request) -> web.Response:
    """Approve or deny with the password (gatekeeper allows it only if the policy does)."""
    deps, login = deps_of(request), login_of(request)
    session = _session(request)
    data = await body(request)
    decision, scope = _decision_and_scope(data)
    password = text(data, "password", limit=auth.MAX_PASSWORD)
    account = await deps.store.get(login.account)
    try:  # rate limit (429) and hashing slots (503): see limits
        await deps.passwords.check_attempt(
            deps.limiter, [f"acct:{login.account}"], account, password, data.get("totp")
        )
    except auth.AuthFailure as err:
        raise ApiError(403, "wrong_credentials", str(err)) from err
    state = await deps.peers.gatekeeper.decide_with_password(
        session, login.account, decision, scope
    )
    return ok({"session": session, "state": state})


async def deny(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    session = _session(request)
    reason = text(await body(request), "reason", default="", limit=512)
    await deps.peers.gatekeeper.deny(session, login.account, reason)
    return ok(parse_json_text(await deps.peers.gatekeeper.get_request(session), "GetRequest"))


async def revoke(request: web.Request) -> web.Response:
    deps, login = deps_of(request), login_of(request)
    session = _session(request)
    reason = text(await body(request), "reason", default="", limit=512)
    await deps.peers.gatekeeper.revoke(session, login.account, reason)
    return ok(parse_json_text(await deps.peers.gatekeeper.get_request(session), "GetRequest"))


async def active_sessions(request: web.Request) -> web.Response:
    """Grants that are approved or active, each with its recording (if the recorder has one)."""
    deps = deps_of(request)
    gk = deps.peers.gatekeeper
    grants: list[Any] = []
    for state in ("active", "approved"):
        listed = parse_json_text(await gk.list_requests(state), "ListRequests")
        grants.extend(listed if isinstance(listed, list) else [])
    try:
        recordings = {r.get("session", ""): r for r in await deps.peers.recorder.list_sessions()}
        recorder = "ok"
    except BusError as err:
        recordings, recorder = {}, f"unavailable: {err.message}"
    for grant in grants:
        if isinstance(grant, dict):
            grant["recording"] = recordings.get(_request_id(grant))
    return ok({"grants": grants, "recorder": recorder})


def _request_id(grant: dict[str, Any]) -> str:
    req = grant.get("request")
    if isinstance(req, dict) and isinstance(req.get("id"), str):
        return str(req["id"])
    return str(grant.get("id", ""))
