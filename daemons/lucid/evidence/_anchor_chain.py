"""The online half of the anchor check: ask an Ethereum JSON-RPC endpoint about a proof.

`verify_online` checks an `AnchorProof` (already checked offline) against the chain an
endpoint serves; `http_rpc` is the stdlib JSON-RPC 2.0 transport it is normally given.
Import these from `lucid.evidence.anchor`, which re-exports them. This module does not
send transactions and does not judge how many confirmations are enough (it reports them).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lucid.evidence.errors import EvidenceError, VerificationError

if TYPE_CHECKING:  # anchor.py imports this module to re-export it
    from lucid.evidence.anchor import AnchorProof

ANCHORED_TOPIC = "0x8c2bcd360727040d6ba2cd20aafef9fbe8d0268a5b5f125310dbcf0bbd616d7d"
"""keccak256("Anchored(address,bytes32,uint32,bytes)"): topic 0 of the event."""
IDENTITY_OF_SELECTOR = "0xc6345626"
"""First 4 bytes of keccak256("identityOf(address)")."""


class RpcError(EvidenceError):
    """The chain could not be asked (endpoint unreachable, or a JSON-RPC error reply)."""


Rpc = Callable[[str, list[Any]], Any]
"""A JSON-RPC call: ``rpc(method, params)`` returns the ``result`` member.

Raises `RpcError` when the endpoint cannot be reached or replies with an error."""


def http_rpc(url: str, timeout_s: float = 15.0) -> Rpc:
    """An `Rpc` that POSTs JSON-RPC 2.0 requests to `url` (stdlib only)."""
    counter = iter(range(1, 2**62))

    def call(method: str, params: list[Any]) -> Any:
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(counter), "method": method, "params": params}
        ).encode()
        req = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # the auditor's URL
                reply = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise RpcError(f"cannot ask {url} ({method}): {err}") from None
        if not isinstance(reply, dict):
            raise RpcError(f"{url}: {method}: not a JSON-RPC reply")
        if reply.get("error") is not None:
            raise RpcError(f"{url}: {method}: {reply['error']}")
        return reply.get("result")

    return call


@dataclass(frozen=True)
class ChainReport:
    """What `verify_online` established.

    Attributes:
        chain_id: The chain the endpoint serves (equal to the proof's).
        confirmations: Blocks from the anchor's block to the endpoint's latest, inclusive.
        latest_block: The endpoint's latest block number.
    """

    chain_id: int
    confirmations: int
    latest_block: int


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]+", value):
        raise RpcError(f"the endpoint returned a malformed {what}: {value!r}")
    return int(value, 16)


def _fail(item: str, chain: object, proof: object) -> VerificationError:
    return VerificationError(item, f"{item}: chain has {chain}, proof says {proof}")


def _check_log(proof: AnchorProof, receipt: dict[str, Any]) -> None:
    device_topic = "0x" + proof.device[2:].rjust(64, "0")
    root_topic = "0x" + proof.batch_root.hex()
    counts = []
    for log in receipt.get("logs") or []:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if (
            str(log.get("address", "")).lower() != proof.contract
            or len(topics) != 3
            or topics[0] != ANCHORED_TOPIC
            or topics[1] != device_topic
        ):
            continue
        if topics[2] != root_topic:
            counts.append(-1)
            continue
        data = bytes.fromhex(str(log.get("data", "0x"))[2:])
        counts.append(int.from_bytes(data[:32], "big") if len(data) >= 32 else -1)
        if counts[-1] == proof.batch_size:
            return
    if not any(c >= 0 for c in counts):
        raise VerificationError(
            "anchor.batch_root",
            f"anchor.batch_root: the transaction emits no Anchored event of "
            f"{proof.contract} with root {proof.batch_root.hex()}",
        )
    raise _fail("anchor.batch_size", f"count {max(counts)}", proof.batch_size)


def verify_online(
    proof: AnchorProof, rpc: Rpc, *, identity_key: bytes | None = None
) -> ChainReport:
    """Check the proof against the chain an Ethereum JSON-RPC endpoint serves.

    In order (items): the endpoint's chain id (``anchor.chain_id``); the transaction's
    receipt exists (``anchor.tx_hash``) with status 1 (``anchor.tx_status``), sent to the
    contract (``anchor.contract``) by the device (``anchor.device``) in the block
    (``anchor.block_number``) whose hash the proof names and which is on the endpoint's
    canonical chain (``anchor.block_hash``); an ``Anchored(device, batch_root, batch_size,
    …)`` event of the contract in it (``anchor.batch_root``, ``anchor.batch_size``); and,
    given `identity_key` (the manifest's Ed25519 key), ``identityOf(device)`` equals it
    (``anchor.identity``).

    Args:
        proof: A parsed proof (run `AnchorProof.check` first).
        rpc: The JSON-RPC transport (`http_rpc(url)`).
        identity_key: The device key the contract must have registered for `proof.device`.

    Raises:
        VerificationError: The chain disagrees; ``.item`` names what.
        RpcError: The endpoint cannot be reached or answers nonsense.

    Returns:
        The report (confirmations included; judging them is the caller's call).
    """
    chain_id = _quantity(rpc("eth_chainId", []), "chain id")
    if chain_id != proof.chain_id:
        raise _fail("anchor.chain_id", chain_id, proof.chain_id)
    receipt = rpc("eth_getTransactionReceipt", [proof.tx_hash])
    if not isinstance(receipt, dict):
        raise VerificationError(
            "anchor.tx_hash", f"anchor.tx_hash: chain has no transaction {proof.tx_hash}"
        )
    status = _quantity(receipt.get("status"), "receipt status")
    if status != 1:
        raise _fail("anchor.tx_status", f"status {status} (reverted)", "an anchor")
    to = str(receipt.get("to") or "").lower()
    if to != proof.contract:
        raise _fail("anchor.contract", to or "a contract creation", proof.contract)
    sender = str(receipt.get("from") or "").lower()
    if sender != proof.device:
        raise _fail("anchor.device", sender, proof.device)
    number = _quantity(receipt.get("blockNumber"), "block number")
    if number != proof.block_number:
        raise _fail("anchor.block_number", number, proof.block_number)
    block_hash = str(receipt.get("blockHash") or "").lower()
    block = rpc("eth_getBlockByNumber", [hex(proof.block_number), False])
    canonical = str(block.get("hash") or "").lower() if isinstance(block, dict) else "no block"
    for seen in (block_hash, canonical):
        if seen != proof.block_hash:
            raise _fail("anchor.block_hash", seen, proof.block_hash)
    _check_log(proof, receipt)
    if identity_key is not None:
        call = {
            "to": proof.contract,
            "data": IDENTITY_OF_SELECTOR + proof.device[2:].rjust(64, "0"),
        }
        registered = str(rpc("eth_call", [call, "latest"]) or "0x").lower()
        if registered != "0x" + identity_key.hex():
            raise _fail(
                "anchor.identity",
                f"identityOf(device) = {registered}",
                f"the manifest's key 0x{identity_key.hex()}",
            )
    latest = _quantity(rpc("eth_blockNumber", []), "block number")
    return ChainReport(
        chain_id=chain_id, confirmations=max(0, latest - number + 1), latest_block=latest
    )
