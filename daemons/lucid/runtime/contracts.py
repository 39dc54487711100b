"""Bus names, object paths and interface XML of every Lucid daemon.

Each daemon exports exactly one versioned interface ``io.lucid.<Daemon>1`` at the object
path made from it (``/io/lucid/<Daemon>1``), and owns the same well-known name. The XML in
``lucid/interfaces/`` is the contract: services dispatch from it and clients call from it.
Who may call each method is part of the contract: every ``<method>`` carries
``<annotation name="io.lucid.Callers" value="..."/>``, a space-separated list of

- daemon names (``admin_ui``, ``recorder`` ...): that daemon's process — its unix user, and
  the connection owning its well-known name;
- ``daemons``: any Lucid daemon, as above (read-only methods);
- ``operator``: the local console (``lucid`` commands): root on the device, the appliance's
  own user under ``lucid up``;
- ``anyone``: any local user the bus lets through (rdp_gate's Wait and End).

``ContractService`` enforces the list before a handler runs (lucid.runtime.principals), and
lucid.runtime.policy derives the bus policies from it. This module only names things; it
does not touch the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from xml.etree import ElementTree

CALLERS_ANNOTATION = "io.lucid.Callers"
#: The local console: root on the device, the appliance user under ``lucid up``.
OPERATOR = "operator"
#: Any local user the bus policy lets through.
ANYONE = "anyone"
#: Any Lucid daemon (its user and its own name).
DAEMONS = "daemons"


@dataclass(frozen=True)
class Method:
    name: str
    in_signature: str
    out_signature: str
    in_args: tuple[str, ...]
    callers: tuple[str, ...] = ()
    """Who may call it, in the contract's order (see the module docstring)."""


@dataclass(frozen=True)
class Signal:
    name: str
    signature: str


@dataclass(frozen=True)
class Contract:
    daemon: str  # module name: lucid.<daemon>
    interface: str  # io.lucid.<Daemon>1, also the well-known bus name

    @property
    def bus_name(self) -> str:
        return self.interface

    @property
    def path(self) -> str:
        return "/" + self.interface.replace(".", "/")

    @property
    def xml(self) -> str:
        return _read_xml(self.interface)

    @property
    def methods(self) -> dict[str, Method]:
        return _parse(self.interface)[0]

    @property
    def signals(self) -> dict[str, Signal]:
        return _parse(self.interface)[1]


@cache
def _read_xml(interface: str) -> str:
    return resources.files("lucid.interfaces").joinpath(f"{interface}.xml").read_text("utf-8")


@cache
def _parse(interface: str) -> tuple[dict[str, Method], dict[str, Signal]]:
    root = ElementTree.fromstring(_read_xml(interface))
    iface = root if root.tag == "interface" else root.find(f"interface[@name='{interface}']")
    if iface is None or iface.get("name") != interface:
        raise RuntimeError(f"{interface}.xml does not define interface {interface}")
    methods: dict[str, Method] = {}
    for m in iface.findall("method"):
        ins = [a for a in m.findall("arg") if a.get("direction", "in") == "in"]
        outs = [a for a in m.findall("arg") if a.get("direction") == "out"]
        methods[m.get("name", "")] = Method(
            name=m.get("name", ""),
            in_signature="".join(a.get("type", "") for a in ins),
            out_signature="".join(a.get("type", "") for a in outs),
            in_args=tuple(a.get("name", "") for a in ins),
            callers=_callers(interface, m),
        )
    signals = {
        s.get("name", ""): Signal(
            s.get("name", ""), "".join(a.get("type", "") for a in s.findall("arg"))
        )
        for s in iface.findall("signal")
    }
    return methods, signals


def _callers(interface: str, method: ElementTree.Element) -> tuple[str, ...]:
    """The method's ``io.lucid.Callers``; a contract without one is a programming error."""
    name = method.get("name", "")
    values = [
        a.get("value", "")
        for a in method.findall("annotation")
        if a.get("name") == CALLERS_ANNOTATION
    ]
    if len(values) != 1 or not values[0].split():
        raise RuntimeError(f"{interface}.{name} must declare one {CALLERS_ANNOTATION} annotation")
    callers = tuple(values[0].split())
    known = {c.daemon for c in ALL} | {OPERATOR, ANYONE, DAEMONS}
    unknown = sorted(set(callers) - known)
    if unknown:
        raise RuntimeError(f"{interface}.{name}: unknown callers {', '.join(unknown)}")
    return callers


def _contract(daemon: str, short: str) -> Contract:
    return Contract(daemon=daemon, interface=f"io.lucid.{short}1")


WALLETD = _contract("walletd", "Walletd")
RECORDER = _contract("recorder", "Recorder")
CHUNKER = _contract("chunker", "Chunker")
ENCRYPTOR = _contract("encryptor", "Encryptor")
MERKLE = _contract("merkle", "Merkle")
GATEKEEPER = _contract("gatekeeper", "Gatekeeper")
#: The device web page (a later issue); gatekeeper trusts it for password decisions.
ADMIN_UI = _contract("admin_ui", "AdminUi")
#: The login gate of xrdp sessions (issue 4): waiting screen, recorder start, session end.
RDP_GATE = Contract("rdp_gate", "io.lucid.RdpGate1")
#: Anchors sealed session roots on an EVM chain; walletd signs EVM transactions only for it.
CHAIN_CLIENT = _contract("chain_client", "ChainClient")
#: Pays hosts in USDT-TRC20 from work credits; walletd signs TRON transactions only for it.
TRON_NODE = _contract("tron_node", "TronNode")

#: The daemons of the recording pipeline, in start order.
PIPELINE: tuple[Contract, ...] = (WALLETD, RECORDER, CHUNKER, ENCRYPTOR, MERKLE)

#: Every Lucid contract (the names a bus policy reserves).
ALL: tuple[Contract, ...] = (
    WALLETD,
    RECORDER,
    CHUNKER,
    ENCRYPTOR,
    MERKLE,
    GATEKEEPER,
    ADMIN_UI,
    RDP_GATE,
    CHAIN_CLIENT,
    TRON_NODE,
)


def by_daemon(daemon: str) -> Contract:
    """The contract of daemon ``daemon`` (module name, e.g. ``admin_ui``)."""
    for contract in ALL:
        if contract.daemon == daemon:
            return contract
    raise KeyError(daemon)
