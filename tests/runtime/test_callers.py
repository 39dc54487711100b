"""Every method of every contract, called as the wrong caller, is refused before its handler.

The services here are the real contracts (the interface XML) on the real dispatcher with the
real caller checks (lucid.runtime.principals); only the handlers are stand-ins that record
that they ran. The bus is permissive on purpose: it lets anyone own any name and call
anything, so what is refused here is refused by the daemon's own check, the one that still
holds in a restart window or on a bus whose policy is lax. (What the policy itself refuses
is in test_appliance_bus.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from dbus_fast import Message
from dbus_fast.aio import MessageBus

from lucid.encryptor.client import EncryptorClient
from lucid.runtime.bus import Caller, ContractService, connect
from lucid.runtime.contracts import ALL, ANYONE, DAEMONS, OPERATOR, Contract
from lucid.runtime.errors import ConflictError, NotAuthorizedError
from lucid.runtime.principals import PER_DAEMON, SHARED, Principals
from tests.runtime.caller_probe import call
from tests.runtime.probes import NOBODY, probe, spec

NOT_AUTHORIZED = NotAuthorizedError.name
REACHED = ConflictError.name  # what the stand-in handlers answer


def stand_in(contract: Contract, ran: list[str]) -> type[ContractService]:
    """A service class for ``contract`` whose every handler records its call and refuses."""

    def handler(name: str) -> Any:
        async def run(self: ContractService, caller: Caller, *args: Any) -> None:
            ran.append(f"{contract.daemon}.{name} as {caller.principal}")
            raise ConflictError("reached the handler")

        return run

    attrs: dict[str, Any] = {"contract": contract}
    for name in contract.methods:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
        attrs[snake] = handler(name)
    return type(f"StandIn{contract.daemon}", (ContractService,), attrs)


def calls_of(contract: Contract, destination: str) -> list[dict[str, str]]:
    return [spec(contract, m, destination) for m in contract.methods]


class StandIns:
    """Every contract served by stand-ins on its own connection (owning no name)."""

    def __init__(self, address: str, layout: str) -> None:
        self.address = address
        self.layout = layout
        self.ran: list[str] = []
        self.buses: dict[str, MessageBus] = {}

    async def start(self) -> None:
        for contract in ALL:
            bus = await connect(self.address)
            service = stand_in(contract, self.ran)(bus)
            service.principals = Principals(bus, self.layout)
            service.export()
            self.buses[contract.daemon] = bus

    def destination(self, contract: Contract) -> str:
        return str(self.buses[contract.daemon].unique_name)

    def close(self) -> None:
        for bus in self.buses.values():
            bus.disconnect()


async def _stand_ins(address: str, layout: str) -> AsyncIterator[StandIns]:
    services = StandIns(address, layout)
    await services.start()
    yield services
    services.close()


@pytest.fixture
async def shared(lax_bus: str) -> AsyncIterator[StandIns]:
    async for services in _stand_ins(lax_bus, SHARED):
        yield services


@pytest.fixture
async def per_daemon(lax_bus: str) -> AsyncIterator[StandIns]:
    async for services in _stand_ins(lax_bus, PER_DAEMON):
        yield services


def expected(callers: tuple[str, ...], allowed: bool) -> str:
    return REACHED if allowed or ANYONE in callers else NOT_AUTHORIZED


def test_every_method_declares_its_callers() -> None:
    for contract in ALL:
        for method in contract.methods.values():
            assert method.callers, f"{contract.interface}.{method.name}"
            if ANYONE in method.callers:
                assert method.callers == (ANYONE,)


@pytest.mark.parametrize("contract", ALL, ids=lambda c: c.daemon)
async def test_another_unix_user_is_refused_everything_but_public_methods(
    shared: StandIns, contract: Contract
) -> None:
    outcome = await probe(shared.address, NOBODY, calls_of(contract, shared.destination(contract)))
    methods = list(contract.methods.values())
    assert outcome["calls"] == [expected(m.callers, False) for m in methods]
    public = [m.name for m in methods if ANYONE in m.callers]
    assert sorted(r.split(" ")[0] for r in shared.ran) == sorted(
        f"{contract.daemon}.{name}" for name in public
    )


@pytest.mark.parametrize("contract", ALL, ids=lambda c: c.daemon)
async def test_another_unix_user_owning_the_right_name_is_refused(
    shared: StandIns, contract: Contract
) -> None:
    """The restart-window race: a process of another user grabs the name of a daemon that
    is down (this bus lets it) and calls what that daemon may call."""
    for method in contract.methods.values():
        daemons = [c for c in method.callers if c not in (OPERATOR, ANYONE, DAEMONS)]
        if not daemons:
            continue
        squatted = next(c for c in ALL if c.daemon == daemons[0])
        spec = [
            s
            for s in calls_of(contract, shared.destination(contract))
            if s["member"] == method.name
        ]
        outcome = await probe(shared.address, NOBODY, spec, own=squatted.bus_name)
        assert outcome["own"] == "ok", "the lax bus should have let it own the name"
        assert outcome["calls"] == [NOT_AUTHORIZED], f"{contract.daemon}.{method.name}"
    assert shared.ran == []


@pytest.mark.parametrize("contract", ALL, ids=lambda c: c.daemon)
async def test_same_user_without_or_with_another_daemons_name(
    shared: StandIns, contract: Contract
) -> None:
    """Under ``lucid up`` every daemon is the appliance user: there the name decides. A
    connection of that user is the console (operator); owning another daemon's name does
    not make it the daemon a method names."""
    specs = {s["member"]: s for s in calls_of(contract, shared.destination(contract))}
    for method in contract.methods.values():
        named = [c for c in method.callers if c not in (OPERATOR, ANYONE, DAEMONS)]
        console = OPERATOR in method.callers or ANYONE in method.callers
        bare = await connect(shared.address)
        try:
            got = await call(bare, specs[method.name])
            assert got == expected(method.callers, console), f"{method.name} as the console"
        finally:
            bare.disconnect()
        others = [c for c in ALL if c.daemon not in named]
        wrong = await connect(shared.address)
        try:
            await wrong.request_name(others[0].bus_name)
            got = await call(wrong, specs[method.name])
            allowed = console or DAEMONS in method.callers
            assert got == expected(method.callers, allowed), f"{method.name} as {others[0].daemon}"
        finally:
            wrong.disconnect()
        for daemon in named:
            right = await connect(shared.address)
            try:
                await right.request_name(next(c for c in ALL if c.daemon == daemon).bus_name)
                assert await call(right, specs[method.name]) == REACHED, method.name
                assert shared.ran[-1] == f"{contract.daemon}.{method.name} as {daemon}"
            finally:
                right.disconnect()


async def test_per_daemon_users_that_do_not_exist_match_no_one(per_daemon: StandIns) -> None:
    """On the device each daemon has its own user; where those users do not exist (this
    machine), owning a name proves nothing and only root's console methods get through."""
    contract = next(c for c in ALL if c.daemon == "walletd")
    specs = {s["member"]: s for s in calls_of(contract, per_daemon.destination(contract))}
    encryptor = await connect(per_daemon.address)
    try:
        await encryptor.request_name("io.lucid.Encryptor1")
        assert await call(encryptor, specs["OpenDataKey"]) == NOT_AUTHORIZED
        assert await call(encryptor, specs["GetIdentity"]) == REACHED  # root: the console
    finally:
        encryptor.disconnect()
    outcome = await probe(per_daemon.address, NOBODY, [specs["GetIdentity"]])
    assert outcome["calls"] == [NOT_AUTHORIZED]


async def test_signals_come_only_from_the_names_owner(lax_bus: str) -> None:
    """A look-alike wake-up signal from a connection that does not own the name is not
    routed to a client (receivers still re-read state, but cannot be flooded by anyone)."""
    listener, forger, owner = [await connect(lax_bus) for _ in range(3)]
    got: list[list[Any]] = []
    try:
        await EncryptorClient(listener).on_signal("SessionComplete", got.append)
        contract = EncryptorClient.contract
        signal = Message.new_signal(
            contract.path, contract.interface, "SessionComplete", "s", ["x"]
        )
        forger.send(signal)
        # Messages from one sender arrive in order: once the listener answered this ping,
        # the forged signal would have been handled already.
        ping = Message(
            destination=listener.unique_name,
            path="/",
            interface="org.freedesktop.DBus.Peer",
            member="Ping",
        )
        await forger.call(ping)
        assert got == []
        await owner.request_name(contract.bus_name)
        owner.send(
            Message.new_signal(contract.path, contract.interface, "SessionComplete", "s", ["y"])
        )
        await owner.call(
            Message(
                destination=listener.unique_name,
                path="/",
                interface="org.freedesktop.DBus.Peer",
                member="Ping",
            )
        )
        assert got == [["y"]]
    finally:
        for bus in (listener, forger, owner):
            bus.disconnect()
