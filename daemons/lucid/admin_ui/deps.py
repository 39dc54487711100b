"""What the handlers share: one `Deps` per application, reached through ``app[DEPS]``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web

from lucid.admin_ui.accounts import AccountStore
from lucid.admin_ui.auth import Login, Logins, Passwords
from lucid.admin_ui.limits import RateLimiter
from lucid.admin_ui.passkeys import Flows
from lucid.admin_ui.peers import Peers
from lucid.admin_ui.sse import EventHub

LOGIN_KEY: Final = "lucid.admin_ui.login"  # request[LOGIN_KEY]: the `Login`, set by the guard


@dataclass(frozen=True)
class Deps:
    store: AccountStore
    logins: Logins
    limiter: RateLimiter
    passwords: Passwords  # Argon2 with bounded slots
    flows: Flows
    peers: Peers
    hub: EventHub
    origin: str  # the public origin browsers use, e.g. http://localhost:8080
    tmp_dir: Path  # bundle exports pass through unlinked files here
    disks: tuple[Path, ...]  # state and spool, for the device page
    enrollment_ttl_s: int = 24 * 3600  # as long as gatekeeper keeps its codes

    @property
    def rp_id(self) -> str:
        return urlsplit(self.origin).hostname or "localhost"

    @property
    def secure(self) -> bool:
        """Cookies get ``Secure`` when the page is served over https."""
        return self.origin.startswith("https://")


DEPS: Final = web.AppKey("deps", Deps)


def deps_of(request: web.Request) -> Deps:
    return request.app[DEPS]


def login_of(request: web.Request) -> Login:
    """The request's login (only on routes the guard let through with one)."""
    login = request.get(LOGIN_KEY)
    if not isinstance(login, Login):
        raise RuntimeError(f"{request.path} is public: it has no login")
    return login
