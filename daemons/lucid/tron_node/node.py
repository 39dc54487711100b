"""The TRON HTTP API as tron-node uses it, through tronpy's async provider.

Calls (java-tron's HTTP API): ``wallet/getnodeinfo`` (reference block), ``wallet/getnowblock``
(head number and time), ``wallet/getaccount``, ``wallet/getaccountresource``,
``wallet/triggerconstantcontract`` (``balanceOf``), ``wallet/broadcasttransaction``,
``wallet/gettransactioninfobyid`` and ``walletsolidity/gettransactioninfobyid`` (in a block /
in a solid block). Every transport failure, HTTP error or unreadable answer becomes
``NodeUnavailableError``; a refused broadcast becomes ``BroadcastRejectedError`` carrying the
node's code. This module does not sign and keeps no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lucid.runtime.errors import BroadcastRejectedError, NodeUnavailableError

if TYPE_CHECKING:
    import httpx

# tronpy and httpx load when a node is configured (some 35 MB; payouts are off by default).

# Codes with which a node refuses a transaction that can never become valid as it is, but
# that the same payout may retry with a freshly built one (nothing was spent).
STALE_CODES = frozenset({"TRANSACTION_EXPIRATION_ERROR", "TAPOS_ERROR"})
DUPLICATE = "DUP_TRANSACTION_ERROR"


class Rejected(BroadcastRejectedError):
    """The node refused a broadcast; ``code`` is its response code (e.g. ``SIGERROR``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"the TRON node rejected the transaction: {code}: {message}")
        self.code = code
        self.reason = message


@dataclass(frozen=True)
class Head:
    number: int
    timestamp: int  # ms since the unix epoch (block time, the chain's clock)
    block_id: str


@dataclass(frozen=True)
class TxInfo:
    block: int
    success: bool
    reason: str  # receipt result and message when not successful


class TronNode:
    """One TRON HTTP API endpoint. The owner must ``await close()``."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout_s: float = 10.0,
        api_key: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        import httpx
        from tronpy import AsyncTron  # type: ignore[import-untyped]  # tronpy ships no hints
        from tronpy.providers.async_http import (  # type: ignore[import-untyped]  # no hints
            AsyncHTTPProvider,
        )

        self.endpoint = endpoint.rstrip("/") + "/"
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        provider = AsyncHTTPProvider(
            self.endpoint, timeout=timeout_s, client=self._http, api_key=api_key or None
        )
        self.tron = AsyncTron(provider)

    async def close(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        try:
            reply = await self.tron.provider.make_request(path, body or {})
        except httpx.HTTPStatusError as err:
            raise NodeUnavailableError(
                f"TRON node {self.endpoint}{path}: HTTP {err.response.status_code}"
            ) from err
        except (httpx.HTTPError, ValueError) as err:  # ValueError: a body that is not JSON
            raise NodeUnavailableError(f"TRON node {self.endpoint} unreachable: {err!r}") from err
        if not isinstance(reply, dict):
            raise NodeUnavailableError(f"TRON node {self.endpoint}{path}: not a JSON object")
        if "Error" in reply:  # java-tron's way of reporting an exception
            raise NodeUnavailableError(f"TRON node {self.endpoint}{path}: {reply['Error']}")
        return reply

    async def ref_block_id(self) -> str:
        """A recent solid block id for TaPoS (tronpy's choice: from ``getnodeinfo``)."""
        info = await self._post("wallet/getnodeinfo")
        try:
            block_id = str(info["solidityBlock"]).split(",ID:", 1)[1]
        except (KeyError, IndexError) as err:
            raise NodeUnavailableError(f"getnodeinfo without a solid block: {info!r}") from err
        return block_id

    async def head(self) -> Head:
        block = await self._post("wallet/getnowblock", {"visible": True})
        try:
            raw = block["block_header"]["raw_data"]
            return Head(int(raw["number"]), int(raw["timestamp"]), str(block["blockID"]))
        except (KeyError, TypeError, ValueError) as err:
            raise NodeUnavailableError(f"getnowblock: unexpected answer {block!r}") from err

    async def account(self, address: str) -> dict[str, Any] | None:
        """The account as the node shows it, or None if it does not exist on chain yet."""
        reply = await self._post("wallet/getaccount", {"address": address, "visible": True})
        return reply or None

    async def account_resource(self, address: str) -> dict[str, Any]:
        return await self._post("wallet/getaccountresource", {"address": address, "visible": True})

    async def trc20_balance(self, contract: str, owner: str) -> int:
        """``balanceOf(owner)`` of a TRC20 contract, by a constant call."""
        from tronpy.abi import trx_abi  # type: ignore[import-untyped]  # no hints

        param = trx_abi.encode_single("(address)", [owner]).hex()
        reply = await self._post(
            "wallet/triggerconstantcontract",
            {
                "owner_address": owner,
                "contract_address": contract,
                "function_selector": "balanceOf(address)",
                "parameter": param,
                "visible": True,
            },
        )
        try:
            if reply.get("result", {}).get("result") is not True:
                raise ValueError(reply.get("result"))
            return int(reply["constant_result"][0], 16)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise NodeUnavailableError(f"balanceOf on {contract} failed: {reply!r}") from err

    async def broadcast(self, payload: dict[str, Any]) -> bool:
        """Send a signed transaction. Returns False if the node already had it.

        Raises:
            Rejected: the node refused it (``code`` says why).
            NodeUnavailableError: no answer.
        """
        reply = await self._post("wallet/broadcasttransaction", payload)
        if reply.get("result") is True:
            return True
        code = str(reply.get("code", "UNKNOWN"))
        if code == DUPLICATE:
            return False
        raise Rejected(code, _message(reply.get("message", "")))

    async def tx_info(self, txid: str, *, solid: bool = False) -> TxInfo | None:
        """The receipt of ``txid`` if it is in a block (a solid block with ``solid``)."""
        path = "walletsolidity/gettransactioninfobyid" if solid else "wallet/gettransactioninfobyid"
        info = await self._post(path, {"value": txid, "visible": True})
        if not info:
            return None
        try:
            block = int(info["blockNumber"])
        except (KeyError, TypeError, ValueError) as err:
            raise NodeUnavailableError(f"transaction info without a block: {info!r}") from err
        receipt = str(info.get("receipt", {}).get("result", "SUCCESS"))
        failed = info.get("result") == "FAILED" or receipt not in ("SUCCESS", "DEFAULT")
        reason = ""
        if failed:
            reason = f"{receipt}: {_message(info.get('resMessage', ''))}".rstrip(": ")
        return TxInfo(block=block, success=not failed, reason=reason)


def _message(text: Any) -> str:
    """java-tron sends messages hex-encoded; decode when they are."""
    value = str(text)
    try:
        return bytes.fromhex(value).decode("utf-8")
    except ValueError:
        return value
