"""Typed proxy for io.lucid.ChainClient1 — the only chain_client module others import — and
the shape of a session's anchoring (`AnchorInfo`)."""

from __future__ import annotations

from typing import TypedDict, cast

from lucid.chain_client.health import anchoring
from lucid.runtime.bus import ContractClient
from lucid.runtime.contracts import CHAIN_CLIENT


class _AnchorQueued(TypedDict):
    session: str
    root: str  # the session's Merkle root (hex), as merkle sealed it
    state: str
    queued_at: str  # unix seconds with 3 decimals


# total=False rather than NotRequired[]: under `from __future__ import annotations`, Python
# 3.11's TypedDict takes a string NotRequired[...] for a required key.
class AnchorInfo(_AnchorQueued, total=False):
    """One session's anchoring as ``GetSession`` gives it (``a{ss}``; every value a string).

    ``state`` moves ``queued`` -> ``batched`` -> ``anchored`` (a newer chain-client may add
    states); the batch keys come with ``batched``, the transaction keys with ``anchored``.
    """

    batch_root: str  # once batched
    batch_size: str
    leaf_index: str
    tx: str  # once anchored
    block_number: str
    block_hash: str
    chain_id: str
    contract: str


class ChainClientClient(ContractClient):
    contract = CHAIN_CLIENT

    async def get_status(self) -> dict[str, str]:
        return dict(await self.call("GetStatus"))

    async def health(self) -> tuple[str, bool, bool]:
        """Whether it anchors, for `lucid.runtime.health` (lucid.chain_client.health)."""
        said = anchoring(await self.get_status())
        return said.text, said.degraded, said.settled

    async def get_session(self, session: str) -> AnchorInfo:
        return cast(AnchorInfo, dict(await self.call("GetSession", session)))

    async def get_proof(self, session: str) -> str:
        """The session's ``anchor.json`` (canonical JSON). Raises NotFoundError until confirmed."""
        return str(await self.call("GetProof", session))
