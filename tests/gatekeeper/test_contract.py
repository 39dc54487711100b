"""io.lucid.Gatekeeper1 is the contract: service, client and the live object follow it."""

from __future__ import annotations

import inspect
import re

from dbus_fast.aio import MessageBus

from lucid.gatekeeper.client import GatekeeperClient
from lucid.gatekeeper.service import GatekeeperService
from lucid.runtime.contracts import ADMIN_UI, GATEKEEPER
from tests.conftest import LucidEnv


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_service_and_client_follow_the_xml() -> None:
    assert GatekeeperService.contract is GATEKEEPER and GatekeeperClient.contract is GATEKEEPER
    for name, method in GATEKEEPER.methods.items():
        handler = getattr(GatekeeperService, _snake(name))
        params = list(inspect.signature(handler).parameters)[2:]  # self, caller
        assert tuple(params) == method.in_args, f"GatekeeperService.{_snake(name)}"
        assert hasattr(GatekeeperClient, _snake(name)), f"GatekeeperClient lacks {_snake(name)}"
    public = {
        n
        for n, _ in inspect.getmembers(GatekeeperClient, inspect.iscoroutinefunction)
        if not n.startswith("_")
    }
    extra = public - {_snake(m) for m in GATEKEEPER.methods} - {"call", "on_signal", "is_running"}
    assert not extra, f"client methods not in the XML: {extra}"
    assert ADMIN_UI.bus_name == "io.lucid.AdminUi1"


async def test_live_object_exports_exactly_the_xml(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start("walletd", "gatekeeper")
    node = await bus.introspect(GATEKEEPER.bus_name, GATEKEEPER.path)
    iface = next(i for i in node.interfaces if i.name == GATEKEEPER.interface)
    live = {m.name: (m.in_signature, m.out_signature) for m in iface.methods}
    xml = {n: (m.in_signature, m.out_signature) for n, m in GATEKEEPER.methods.items()}
    assert live == xml
    assert {s.name: s.signature for s in iface.signals} == {
        n: s.signature for n, s in GATEKEEPER.signals.items()
    }
