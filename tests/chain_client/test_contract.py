"""io.lucid.ChainClient1.xml is the contract: the service, the client and the live object
follow it (the same checks tests/runtime/test_contracts.py makes for the pipeline)."""

from __future__ import annotations

import inspect
import re

from dbus_fast.aio import MessageBus

from lucid.chain_client.client import ChainClientClient
from lucid.chain_client.service import ChainClientService
from lucid.runtime.contracts import CHAIN_CLIENT
from tests.conftest import LucidEnv


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_service_and_client_follow_the_xml() -> None:
    assert (
        ChainClientService.contract is CHAIN_CLIENT and ChainClientClient.contract is CHAIN_CLIENT
    )
    assert CHAIN_CLIENT.path == "/io/lucid/ChainClient1"
    assert set(CHAIN_CLIENT.methods) == {"GetStatus", "GetSession", "GetProof"}
    assert CHAIN_CLIENT.signals["Anchored"].signature == "ust"
    for name, method in CHAIN_CLIENT.methods.items():
        handler = getattr(ChainClientService, _snake(name))
        params = list(inspect.signature(handler).parameters)[2:]  # self, caller
        assert tuple(params) == method.in_args, name
        assert hasattr(ChainClientClient, _snake(name)), name
    public = {
        n
        for n, _ in inspect.getmembers(ChainClientClient, inspect.iscoroutinefunction)
        if not n.startswith("_")
    }
    # health(): GetStatus read as "does it anchor" for `lucid status` (no bus method of its own)
    helpers = {"call", "on_signal", "is_running", "health"}
    extra = public - {_snake(m) for m in CHAIN_CLIENT.methods} - helpers
    assert not extra, extra


async def test_live_object_exports_exactly_the_xml(lucid: LucidEnv, bus: MessageBus) -> None:
    lucid.set("chain_client", "ledger", "none")  # no chain needed to look at the interface
    await lucid.start("chain_client")
    node = await bus.introspect(CHAIN_CLIENT.bus_name, CHAIN_CLIENT.path)
    iface = next(i for i in node.interfaces if i.name == CHAIN_CLIENT.interface)
    assert {m.name: (m.in_signature, m.out_signature) for m in iface.methods} == {
        n: (m.in_signature, m.out_signature) for n, m in CHAIN_CLIENT.methods.items()
    }
    assert {s.name: s.signature for s in iface.signals} == {
        n: s.signature for n, s in CHAIN_CLIENT.signals.items()
    }
