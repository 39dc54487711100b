"""The daemons admin-ui talks to, as typed bus clients (one bundle, built once)."""

from __future__ import annotations

from dataclasses import dataclass

from dbus_fast.aio import MessageBus

from lucid.chain_client.client import ChainClientClient
from lucid.encryptor.client import EncryptorClient
from lucid.gatekeeper.client import GatekeeperClient
from lucid.merkle.client import MerkleClient
from lucid.rdp_gate.client import RdpGateClient
from lucid.recorder.client import RecorderClient
from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import (
    ADMIN_UI,
    CHAIN_CLIENT,
    CHUNKER,
    ENCRYPTOR,
    GATEKEEPER,
    MERKLE,
    RDP_GATE,
    RECORDER,
    WALLETD,
    Contract,
)
from lucid.runtime.health import Probe
from lucid.walletd.client import WalletdClient

#: Daemons whose health the device page shows (lucid.runtime.health: NameHasOwner of each
#: contract, and what chain-client says about anchoring).
HEALTH: tuple[Contract, ...] = (
    WALLETD,
    RECORDER,
    CHUNKER,
    ENCRYPTOR,
    MERKLE,
    CHAIN_CLIENT,
    GATEKEEPER,
    RDP_GATE,
    ADMIN_UI,
)
#: Of those, the daemons a device cannot do without (the RDP host is optional).
REQUIRED = frozenset(c.daemon for c in HEALTH if c is not RDP_GATE)


@dataclass(frozen=True)
class Peers:
    gatekeeper: GatekeeperClient
    encryptor: EncryptorClient
    merkle: MerkleClient
    rdp_gate: RdpGateClient
    recorder: RecorderClient
    walletd: WalletdClient
    probes: tuple[ContractClient, ...]

    @classmethod
    def connect(cls, bus: MessageBus, max_in_flight: int, timeout_s: float) -> Peers:
        return cls(
            gatekeeper=GatekeeperClient(bus, max_in_flight, timeout_s),
            encryptor=EncryptorClient(bus, max_in_flight, timeout_s),
            merkle=MerkleClient(bus, max_in_flight, timeout_s),
            rdp_gate=RdpGateClient(bus, max_in_flight, timeout_s),
            recorder=RecorderClient(bus, max_in_flight, timeout_s),
            walletd=WalletdClient(bus, max_in_flight, timeout_s),
            probes=tuple(
                ChainClientClient(bus, max_in_flight, timeout_s)
                if c is CHAIN_CLIENT
                else Probe(bus, c)
                for c in HEALTH
            ),
        )
