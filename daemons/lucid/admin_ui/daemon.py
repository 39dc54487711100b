"""admin-ui wiring: config -> db -> bus clients and signal relay -> HTTP server -> service.

The listening socket is bound first (``admin_ui.port = 0`` lets the kernel pick a free
port), because the public origin — ``http://localhost:<port>`` unless configured — is part
of the application's configuration (WebAuthn origin, CSRF Origin check). The page's URL is
then written to ``<state>/admin_ui/url`` (atomically) and logged. The HTTP server is
stopped by the runtime's exit stack before the database closes: aiohttp's shutdown ends
the event streams, then open requests get ``SHUTDOWN_S`` to finish.

The limits under abuse come from ``[admin_ui]`` (see `lucid.runtime.config`): guesses
(`limits.RateLimiter`), Argon2 at once (`auth.Passwords`), connections and header/body
deadlines (`server`), event streams (`sse.EventHub`); the log collapses repeats
(`lucid.runtime.logflood`).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path

from aiohttp import web

from lucid.admin_ui.accounts import MIGRATIONS, AccountStore
from lucid.admin_ui.app import create_app
from lucid.admin_ui.auth import Logins, Passwords
from lucid.admin_ui.deps import Deps
from lucid.admin_ui.limits import RateLimiter
from lucid.admin_ui.passkeys import Flows
from lucid.admin_ui.peers import Peers
from lucid.admin_ui.server import GuardedSite, ServerLimits
from lucid.admin_ui.service import AdminUiService
from lucid.admin_ui.sse import EventHub
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime
from lucid.runtime.db import open_db
from lucid.runtime.errors import ConfigError
from lucid.runtime.logflood import RepeatFilter

SHUTDOWN_S = 5.0
URL_FILE = "url"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        raise ConfigError(f"admin_ui: cannot listen on {host}:{port}: {err.strerror}") from err
    return sock


def _write_url(state: Path, url: str) -> None:
    tmp = state / f"{URL_FILE}.tmp"
    tmp.write_text(url + "\n")
    os.replace(tmp, state / URL_FILE)


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    ui = cfg.admin_ui
    for handler in logging.getLogger().handlers:  # a flood of requests never floods the log
        handler.addFilter(RepeatFilter())
    state = cfg.paths.daemon_state("admin_ui")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = state / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # exports left behind by a crash
    tmp.mkdir(mode=0o700)
    db = await open_db(state / "admin_ui.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    store = AccountStore(db)

    peers = Peers.connect(rt.bus, cfg.bus.max_calls_in_flight, cfg.bus.call_timeout_s)
    hub = EventHub(ui.max_streams, ui.max_streams_per_login)
    for member, fields in (
        ("RequestFiled", ("session",)),
        ("RequestDecided", ("session", "state")),
        ("GrantEnded", ("session", "reason")),
    ):
        await peers.gatekeeper.on_signal(member, hub.relay(member, *fields))
    await peers.merkle.on_signal("SessionSealed", hub.relay("SessionSealed", "session", "root"))

    sock = _bind(ui.host, ui.port)
    rt.stack.callback(sock.close)
    port = int(sock.getsockname()[1])
    origin = (ui.public_origin or f"http://localhost:{port}").rstrip("/")
    deps = Deps(
        store=store,
        logins=Logins(store, ui.session_ttl_s),
        limiter=RateLimiter(ui.login_attempts, ui.login_window_s, ui.login_attempts_all),
        passwords=Passwords(ui.hash_slots, ui.hash_queue),
        flows=Flows(),
        peers=peers,
        hub=hub,
        origin=origin,
        tmp_dir=tmp,
        disks=(cfg.paths.state_dir, cfg.paths.spool_dir),
    )
    limits = ServerLimits(ui.max_connections, ui.header_timeout_s, ui.body_timeout_s)
    runner = web.AppRunner(create_app(deps, limits), access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    rt.stack.push_async_callback(runner.cleanup)
    await GuardedSite(runner, sock, limits).start()

    url = origin + "/"
    _write_url(state, url)
    onboarded = await store.has_owner()
    rt.log.info("device page at %s (listening on %s:%d)", url, ui.host, port)
    if not onboarded:
        rt.log.info("not claimed yet: open the page and enter the setup code the device shows")
    return AdminUiService(rt.bus, store, url, f"{ui.host}:{port}")
