"""merkle wiring: config -> db -> sealer; seals on SessionComplete and on a catch-up timer."""

from __future__ import annotations

import asyncio
from typing import Any

from lucid.chain_client.client import ChainClientClient
from lucid.encryptor.client import EncryptorClient
from lucid.gatekeeper.client import GatekeeperClient
from lucid.merkle.sealer import MIGRATIONS, ManifestSealer, SealError, Sources
from lucid.merkle.service import MerkleService
from lucid.runtime.bus import ContractService
from lucid.runtime.daemon import Runtime
from lucid.runtime.db import open_db
from lucid.runtime.errors import BusError, NotFoundError, UnavailableError
from lucid.walletd.client import WalletdClient

CATCH_UP_S = 5.0  # how often to look for complete sessions whose signal was missed
ANCHOR_TIMEOUT_S = 5.0  # an export does not wait longer for chain-client's proof


async def build(rt: Runtime) -> ContractService:
    cfg = rt.config
    state = cfg.paths.daemon_state("merkle")
    (state / "sessions").mkdir(mode=0o700, parents=True, exist_ok=True)
    db = await open_db(state / "merkle.db", MIGRATIONS)
    rt.stack.push_async_callback(db.close)
    limits = (cfg.bus.max_calls_in_flight, cfg.bus.call_timeout_s)
    walletd = WalletdClient(rt.bus, *limits)
    encryptor = EncryptorClient(rt.bus, *limits)
    sources = Sources(
        session_info=encryptor.get_session_info,
        chunks=encryptor.list_chunks,
        recipients=walletd.get_recipients,
        identity=walletd.get_identity,
        sign=walletd.sign_manifest,
        session_policy=GatekeeperClient(rt.bus, *limits).get_session_policy,
    )
    sealer = ManifestSealer(db, state / "sessions", sources)
    chain = ChainClientClient(rt.bus, cfg.bus.max_calls_in_flight, ANCHOR_TIMEOUT_S)

    async def anchor_proof(session: str) -> bytes | None:
        """The session's confirmed anchor proof for its bundle; None without one."""
        try:
            return (await chain.get_proof(session)).encode()
        except (NotFoundError, UnavailableError):  # not anchored (yet), or no chain-client
            return None
        except BusError as err:  # chain-client failing: export without the proof
            rt.log.warning("exporting %s without an anchor proof: %s", session, err)
            return None

    service = MerkleService(rt.bus, sealer, cfg.paths.store_dir, anchor_proof)
    wake = asyncio.Event()

    def on_complete(_args: list[Any]) -> None:
        wake.set()

    await encryptor.on_signal("SessionComplete", on_complete)
    rt.spawn(_loop(rt, sealer, service, encryptor, wake), "seal")
    return service


async def _loop(
    rt: Runtime,
    sealer: ManifestSealer,
    service: MerkleService,
    encryptor: EncryptorClient,
    wake: asyncio.Event,
) -> None:
    reported: set[str] = set()  # sessions whose delay was already logged
    while not rt.stopping.is_set():
        retry = False
        try:
            sessions = await encryptor.list_sessions()
        except BusError as err:
            rt.log.warning("cannot list sessions from the encryptor: %s", err)
            sessions = []
        for session, state in sessions:
            if state != "complete" or await sealer.state(session):
                continue
            try:
                root = await sealer.seal(session)
            except SealError as err:
                rt.log.error("%s", err)
                await sealer.mark_failed(session, str(err))
                service.seal_failed(session, "io.lucid.Error.Failed", str(err))
                continue
            except NotFoundError as err:
                rt.log.error("cannot seal %s: %s", session, err)
                await sealer.mark_failed(session, str(err))
                service.seal_failed(session, err.name, str(err))
                continue
            except BusError as err:  # a source is down: retry on the next pass
                retry = True
                if session not in reported:
                    rt.log.warning("sealing %s delayed: %s", session, err)
                    reported.add(session)
                continue
            except Exception as err:  # a bug: fail this session loudly, keep sealing others
                rt.log.exception("sealing %s failed unexpectedly", session)
                await sealer.mark_failed(session, f"internal error: {type(err).__name__}")
                service.seal_failed(session, "io.lucid.Error.Internal", str(err))
                continue
            reported.discard(session)
            rt.log.info("sealed %s root %s", session, root)
            service.session_sealed(session, root)
        await rt.pause(wake, rt.config.merkle.retry_seconds if retry else CATCH_UP_S)
