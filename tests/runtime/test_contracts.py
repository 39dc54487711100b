"""The interface XML is the contract: services, clients and the live bus must match it."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from dbus_fast.aio import MessageBus

from lucid.runtime.bus import ContractClient, ContractService
from lucid.runtime.contracts import PIPELINE, Contract
from tests.conftest import LucidEnv


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _classes(contract: Contract) -> tuple[type[ContractService], type[ContractClient]]:
    service_mod = importlib.import_module(f"lucid.{contract.daemon}.service")
    client_mod = importlib.import_module(f"lucid.{contract.daemon}.client")
    service = next(
        c
        for c in vars(service_mod).values()
        if isinstance(c, type) and issubclass(c, ContractService) and c is not ContractService
    )
    client = next(
        c
        for c in vars(client_mod).values()
        if isinstance(c, type) and issubclass(c, ContractClient) and c is not ContractClient
    )
    return service, client


@pytest.mark.parametrize("contract", PIPELINE, ids=lambda c: c.daemon)
def test_service_and_client_follow_the_xml(contract: Contract) -> None:
    service, client = _classes(contract)
    assert service.contract is contract and client.contract is contract
    for name, method in contract.methods.items():
        handler = getattr(service, _snake(name))
        params = list(inspect.signature(handler).parameters)[2:]  # self, caller
        assert tuple(params) == method.in_args, f"{service.__name__}.{_snake(name)}"
        assert hasattr(client, _snake(name)), f"{client.__name__} lacks {_snake(name)}"
    public = {
        n
        for n, _ in inspect.getmembers(client, inspect.iscoroutinefunction)
        if not n.startswith("_")
    }
    extra = public - {_snake(m) for m in contract.methods} - {"call", "on_signal", "is_running"}
    assert not extra, f"client methods not in the XML: {extra}"


@pytest.mark.parametrize("contract", PIPELINE, ids=lambda c: c.daemon)
def test_names_follow_the_convention(contract: Contract) -> None:
    assert re.fullmatch(r"io\.lucid\.[A-Z][a-z]+1", contract.interface)
    assert contract.path == "/" + contract.interface.replace(".", "/")


async def test_live_objects_export_exactly_the_xml(lucid: LucidEnv, bus: MessageBus) -> None:
    await lucid.start(*(c.daemon for c in PIPELINE))
    for contract in PIPELINE:
        node = await bus.introspect(contract.bus_name, contract.path)
        iface = next(i for i in node.interfaces if i.name == contract.interface)
        live = {m.name: (m.in_signature, m.out_signature) for m in iface.methods}
        xml = {n: (m.in_signature, m.out_signature) for n, m in contract.methods.items()}
        assert live == xml
        assert {s.name: s.signature for s in iface.signals} == {
            n: s.signature for n, s in contract.signals.items()
        }


async def test_wrong_signature_is_refused_by_name(lucid: LucidEnv, bus: MessageBus) -> None:
    from dbus_fast import Message, MessageType

    await lucid.start("walletd")
    reply = await bus.call(
        Message(
            destination="io.lucid.Walletd1",
            path="/io/lucid/Walletd1",
            interface="io.lucid.Walletd1",
            member="OpenDataKey",
            signature="u",
            body=[7],
        )
    )
    assert reply is not None and reply.message_type == MessageType.ERROR
    assert reply.error_name == "io.lucid.Error.InvalidArgument"
