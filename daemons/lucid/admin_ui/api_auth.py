"""Onboarding, enrollment, login and logout (the public part of the API).

Onboarding and enrollment follow the design in the package docstring: gatekeeper checks
the setup code (first owner) and its own enrollment codes; admin-ui keeps a hash of each
enrollment code it asked for, so password-only accounts can enroll too. Both codes are
checked before the browser is asked for a passkey (a wrong one leaves no stray passkey on
the authenticator): enrollment codes against admin-ui's hash, the setup code by asking
gatekeeper (`_setup_code_refused`); the completing call checks them again. Each ceremony is
two calls: ``POST …`` returns ``{"flow", "publicKey"}`` (options for
``navigator.credentials.create``/``get``), ``POST …/{flow}`` takes the browser's
``PublicKeyCredential`` JSON as the whole body. Failed codes, passwords and passkeys count
against the login rate limit (per client address, per account where one is named, and over
all of them): each guess reserves its attempt before it is evaluated, and a password is
hashed only after the guess it comes with was accepted (`limits`).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web
from webauthn.helpers import bytes_to_base64url

from lucid.admin_ui import auth
from lucid.admin_ui.accounts import Credential
from lucid.admin_ui.deps import Deps, deps_of, login_of
from lucid.admin_ui.jsonio import ApiError, body, body_and_text, ok, text
from lucid.admin_ui.limits import Attempt
from lucid.admin_ui.passkeys import (
    Flow,
    PasskeyError,
    challenge_of,
    credential_id,
    login_options,
    public_key_options,
    verify_login,
    verify_registration,
)
from lucid.admin_ui.roles import Role
from lucid.admin_ui.security import clear_login_cookie, set_login_cookie
from lucid.runtime.errors import InvalidArgumentError, NotAuthorizedError


def _ip(request: web.Request) -> str:
    return f"ip:{request.remote or 'unknown'}"


def _optional_password(data: dict[str, Any]) -> str | None:
    """The new password of ``data`` checked for length (not hashed yet), if one is given."""
    password = data.get("password")
    if password is None or password == "":
        return None
    return auth.check_new_password(password)


async def _hash_optional(deps: Deps, password: str | None) -> str | None:
    return None if password is None else await deps.passwords.hash(password)


async def _start_login(deps: Deps, account: str, role: Role, status: int = 200) -> web.Response:
    login = await deps.logins.start(account, role)
    response = ok(
        {
            "account": account,
            "role": role.value,
            "csrf": login.csrf,
            "expires_at": login.expires_at,
        },
        status,
    )
    set_login_cookie(response, deps, login)
    return response


async def _begin_registration(
    deps: Deps, kind: str, account: str, data: dict[str, Any]
) -> web.Response:
    options = public_key_options(await deps.peers.gatekeeper.begin_registration(account))
    flow_id = deps.flows.put(Flow(kind, challenge_of(options), "", data | {"account": account}))
    return ok({"flow": flow_id, "publicKey": options})


#: ``clientDataJSON.type`` of the code check: not ``webauthn.create``, so no verifier takes it.
CODE_CHECK_TYPE = "lucid.setup-code-check"


def _code_check_credential(challenge: bytes) -> str:
    """A stand-in "credential" that can never register: it names the challenge of a
    registration gatekeeper just began, but has no attestation, no public key and a client
    data type that is not ``webauthn.create``."""
    client_data = {"type": CODE_CHECK_TYPE, "challenge": bytes_to_base64url(challenge)}
    raw_id = bytes_to_base64url(secrets.token_bytes(16))
    client_data_b64 = bytes_to_base64url(json.dumps(client_data).encode())
    return json.dumps(
        {
            "id": raw_id,
            "rawId": raw_id,
            "type": "public-key",
            "response": {"clientDataJSON": client_data_b64},
            "clientExtensionResults": {},
        }
    )


async def _setup_code_refused(deps: Deps, account: str, code: str, challenge: bytes) -> bool:
    """Whether gatekeeper refuses ``code``, asked before the browser makes a passkey.

    gatekeeper owns the setup code and has no method to only check it, so this asks
    CompleteRegistration with `_code_check_credential`: gatekeeper finds the registration
    just begun, checks the code (refusing a wrong one with NotAuthorized), and only then
    the attestation, which this stand-in can never pass (InvalidArgument). Nothing is
    stored or spent either way. Any other answer counts as "not refused": the real
    CompleteRegistration checks the code again and stays the only one that decides.
    """
    try:
        await deps.peers.gatekeeper.complete_registration(
            account, _code_check_credential(challenge), code
        )
    except NotAuthorizedError:
        return True
    except InvalidArgumentError:
        return False
    raise ApiError(500, "internal", "gatekeeper accepted a credential without attestation")


async def _register_with_gatekeeper(
    request: web.Request, deps: Deps, kind: str, attempt: Attempt
) -> tuple[Flow, Credential]:
    """Finish a registration flow: check it here, then let gatekeeper check the code."""
    flow = deps.flows.take(request.match_info["flow"], kind)
    if flow is None:
        raise ApiError(404, "no_flow", "unknown or expired registration; start again")
    credential, raw = await body_and_text(request)
    try:
        passkey = verify_registration(credential, flow.challenge, deps.rp_id, deps.origin)
    except PasskeyError as err:
        raise ApiError(400, "passkey", str(err)) from err
    account = str(flow.data["account"])
    try:
        await deps.peers.gatekeeper.complete_registration(account, raw, str(flow.data["code"]))
    except NotAuthorizedError as err:
        attempt.fail()
        raise ApiError(403, "wrong_code", f"gatekeeper refused the code: {err.message}") from err
    except InvalidArgumentError as err:
        raise ApiError(400, "passkey", f"gatekeeper refused the passkey: {err.message}") from err
    return flow, Credential(passkey.id, account, passkey.public_key, passkey.sign_count)


async def setup_status(request: web.Request) -> web.Response:
    deps = deps_of(request)
    return ok(
        {"onboarded": await deps.store.has_owner(), "origin": deps.origin, "rp_id": deps.rp_id}
    )


async def setup_begin(request: web.Request) -> web.Response:
    deps = deps_of(request)
    data = await body(request)
    account = auth.check_account_name(data.get("account"))
    code = text(data, "setup_code", limit=256)
    password = _optional_password(data)
    if await deps.store.has_owner():
        raise ApiError(409, "onboarded", "this device already has an owner; log in instead")
    with deps.limiter.attempt([_ip(request)]) as attempt:
        options = public_key_options(await deps.peers.gatekeeper.begin_registration(account))
        challenge = challenge_of(options)
        if await _setup_code_refused(deps, account, code, challenge):
            attempt.fail()
            raise ApiError(
                403, "wrong_code", "gatekeeper refused the code: it is not the setup code"
            )
    data = {"code": code, "password_hash": await _hash_optional(deps, password), "account": account}
    flow_id = deps.flows.put(Flow("setup", challenge, "", data))
    return ok({"flow": flow_id, "publicKey": options})


async def setup_complete(request: web.Request) -> web.Response:
    deps = deps_of(request)
    with deps.limiter.attempt([_ip(request)]) as attempt:
        if await deps.store.has_owner():
            raise ApiError(409, "onboarded", "this device already has an owner; log in instead")
        flow, cred = await _register_with_gatekeeper(request, deps, "setup", attempt)
    if not await deps.store.create(cred.account, Role.OWNER, flow.data["password_hash"], cred):
        raise ApiError(409, "conflict", f"account {cred.account} exists already")
    return await _start_login(deps, cred.account, Role.OWNER, 201)


async def _invitation(request: web.Request, deps: Deps, account: str, code: str) -> Role:
    """The role ``code`` invites ``account`` to, checked as one rate-limited attempt."""
    with deps.limiter.attempt([_ip(request), f"acct:{account}"]) as attempt:
        role = await deps.store.enrollment(code, account)
        if role is None:
            attempt.fail()
            raise ApiError(403, "wrong_code", "no such invitation for this account (or it expired)")
    return role


async def enroll_password(request: web.Request) -> web.Response:
    """Enroll with an invitation code and a password only (no passkey)."""
    deps = deps_of(request)
    data = await body(request)
    account = auth.check_account_name(data.get("account"))
    code = text(data, "code", limit=256)
    password = auth.check_new_password(data.get("password"))
    role = await _invitation(request, deps, account, code)
    password_hash = await deps.passwords.hash(password)
    if not await deps.store.take_enrollment(code, account):
        raise ApiError(403, "wrong_code", "the invitation was used or expired meanwhile")
    if not await deps.store.create(account, role, password_hash, None):
        raise ApiError(409, "conflict", f"account {account} exists already")
    return await _start_login(deps, account, role, 201)


async def enroll_passkey_begin(request: web.Request) -> web.Response:
    deps = deps_of(request)
    data = await body(request)
    account = auth.check_account_name(data.get("account"))
    code = text(data, "code", limit=256)
    password = _optional_password(data)
    role = await _invitation(request, deps, account, code)
    password_hash = await _hash_optional(deps, password)
    data = {"code": code, "password_hash": password_hash, "role": role.value}
    return await _begin_registration(deps, "enroll", account, data)


async def enroll_passkey_complete(request: web.Request) -> web.Response:
    deps = deps_of(request)
    with deps.limiter.attempt([_ip(request)]) as attempt:
        flow, cred = await _register_with_gatekeeper(request, deps, "enroll", attempt)
    if not await deps.store.take_enrollment(str(flow.data["code"]), cred.account):
        raise ApiError(403, "wrong_code", "the invitation was used or expired meanwhile")
    role = Role(flow.data["role"])
    if not await deps.store.create(cred.account, role, flow.data["password_hash"], cred):
        raise ApiError(409, "conflict", f"account {cred.account} exists already")
    return await _start_login(deps, cred.account, role, 201)


async def login_password(request: web.Request) -> web.Response:
    deps = deps_of(request)
    data = await body(request)
    account_name = text(data, "account", limit=64)
    password = text(data, "password", limit=auth.MAX_PASSWORD)
    keys = [_ip(request), f"acct:{account_name}"]
    account = await deps.store.get(account_name)
    try:
        await deps.passwords.check_attempt(deps.limiter, keys, account, password, data.get("totp"))
    except auth.AuthFailure as err:
        raise ApiError(401, "wrong_credentials", str(err)) from err
    assert account is not None
    deps.limiter.forget(keys[1:])
    return await _start_login(deps, account.account, account.role)


async def login_passkey_begin(request: web.Request) -> web.Response:
    deps = deps_of(request)
    deps.limiter.check([_ip(request)])
    challenge, options = login_options(deps.rp_id)
    return ok({"flow": deps.flows.put(Flow("login", challenge, "")), "publicKey": options})


async def login_passkey_complete(request: web.Request) -> web.Response:
    deps = deps_of(request)
    with deps.limiter.attempt([_ip(request)]) as attempt:
        flow = deps.flows.take(request.match_info["flow"], "login")
        if flow is None:
            raise ApiError(404, "no_flow", "unknown or expired login; start again")
        credential = await body(request)
        try:
            cred = await deps.store.credential(credential_id(credential))
            if cred is None:
                raise PasskeyError("this passkey is not registered here")
            count = verify_login(
                credential,
                flow.challenge,
                deps.rp_id,
                deps.origin,
                cred.public_key,
                cred.sign_count,
            )
        except PasskeyError as err:
            attempt.fail()
            raise ApiError(401, "wrong_credentials", str(err)) from err
    await deps.store.set_sign_count(cred.id, count)
    account = await deps.store.get(cred.account)
    if account is None:
        raise ApiError(401, "wrong_credentials", "the account of this passkey is gone")
    return await _start_login(deps, account.account, account.role)


async def logout(request: web.Request) -> web.Response:
    deps = deps_of(request)
    await deps.logins.end(login_of(request).token)
    response = web.Response(status=204)
    clear_login_cookie(response, deps)
    return response
