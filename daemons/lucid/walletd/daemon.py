"""walletd wiring: config -> key backend -> db -> service."""

from __future__ import annotations

from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime
from lucid.runtime.db import open_db
from lucid.runtime.errors import ConfigError
from lucid.walletd.datakeys import MIGRATIONS, DataKeys
from lucid.walletd.keys import FileKeyBackend
from lucid.walletd.service import WalletdService


async def build(rt: Runtime) -> ContractService:
    state = rt.config.paths.daemon_state("walletd")
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        recipients = [bytes.fromhex(r) for r in rt.config.walletd.recipients]
    except ValueError as err:
        raise ConfigError(f"config walletd.recipients: not hex ({err})") from err
    if any(len(r) != 32 for r in recipients):
        raise ConfigError("config walletd.recipients: each must be a 32-byte X25519 key in hex")
    backend = FileKeyBackend(state)
    db = await open_db(state / "walletd.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    rt.log.info("identity %s (backend %s)", backend.public_keys().fingerprint, backend.name)
    return WalletdService(rt.bus, backend, DataKeys(db, backend, recipients))
