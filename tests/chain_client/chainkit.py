"""Test helpers for chain-client: a real anvil driven over JSON-RPC, an honest walletd
stand-in for in-process tests, and a TCP proxy that takes the RPC endpoint down and up.

Nothing here patches chain-client; the fakes implement the same interfaces for real.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nacl.signing
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3

from lucid.chain_client.anchorer import DeviceAccount
from lucid.chain_client.errors import SignerRefusedError
from lucid.evidence.anchor import ANCHORED_TOPIC, binding_message


class DevChain:
    """anvil at ``url``, with the dev-node methods tests need."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.w3: AsyncWeb3[Any] = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(url))

    async def rpc(self, method: str, *params: Any) -> Any:
        reply = await self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]  # RPCEndpoint is a str
        if reply.get("error"):
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result")

    async def block_number(self) -> int:
        return int(await self.w3.eth.block_number)

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", hex(blocks))

    async def automine(self, on: bool) -> None:
        await self.rpc("evm_setAutomine", on)

    async def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks with as many new blocks without their transactions."""
        await self.rpc("anvil_reorg", depth, [])

    async def set_balance(self, address: str, wei: int) -> None:
        await self.rpc("anvil_setBalance", to_checksum_address(address), hex(wei))

    async def set_nonce(self, address: str, nonce: int) -> None:
        await self.rpc("anvil_setNonce", to_checksum_address(address), hex(nonce))

    async def anchored_logs(self, contract: str) -> list[dict[str, Any]]:
        """Every Anchored event of `contract` on the canonical chain."""
        logs = await self.rpc(
            "eth_getLogs",
            {
                "address": to_checksum_address(contract),
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [ANCHORED_TOPIC],
            },
        )
        return list(logs)

    async def close(self) -> None:
        await self.w3.provider.disconnect()


class LocalSigner:
    """What walletd does for chain-client, in process: an EVM key bound to an Ed25519 key."""

    def __init__(self) -> None:
        self.identity = nacl.signing.SigningKey.generate()
        self.evm: LocalAccount = Account.create()
        self.signed: list[dict[str, int | str]] = []
        self.refuse = False

    @property
    def address(self) -> str:
        return self.evm.address.lower()

    async def account(self) -> DeviceAccount:
        return DeviceAccount(
            address=self.address,
            identity_key=self.identity.verify_key.encode(),
            binding=self.identity.sign(binding_message(self.address)).signature,
        )

    async def sign(self, tx: dict[str, int | str]) -> tuple[bytes, str]:
        if self.refuse:
            raise SignerRefusedError("walletd refused to sign: limit (test)")
        self.signed.append(dict(tx))
        signed = self.evm.sign_transaction(
            {
                "type": 2,
                "chainId": int(tx["chainId"]),
                "nonce": int(tx["nonce"]),
                "to": to_checksum_address(str(tx["to"])),
                "data": str(tx["data"]),
                "value": int(tx["value"]),
                "gas": int(tx["gas"]),
                "maxFeePerGas": int(tx["maxFeePerGas"]),
                "maxPriorityFeePerGas": int(tx["maxPriorityFeePerGas"]),
            }
        )
        return bytes(signed.raw_transaction), "0x" + signed.hash.hex().removeprefix("0x")


class RpcProxy:
    """A TCP forwarder on a fixed 127.0.0.1 port in front of the RPC; `down` refuses
    connections (and cuts open ones) until `up`, like an endpoint that went away."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()  # one side closed: close the other

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
