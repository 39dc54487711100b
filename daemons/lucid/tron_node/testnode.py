"""A local TRON HTTP *test* node: a fake, not a TRON node.

No TRON node (java-tron) can be installed here, so tron-node's tests and the demo talk to
this aiohttp app on 127.0.0.1 instead. It implements only the few java-tron HTTP endpoints
that tron-node (through tronpy) calls, with java-tron's request and answer shapes:

    /wallet/getnodeinfo  /wallet/getnowblock  /walletsolidity/getnowblock
    /wallet/broadcasttransaction  /wallet/gettransactionbyid  /wallet/gettransactioninfobyid
    /walletsolidity/gettransactionbyid  /walletsolidity/gettransactioninfobyid
    /wallet/getaccount  /wallet/getaccountresource  /wallet/triggerconstantcontract
    /wallet/getchainparameters

and it checks what a real node would refuse (``testnode_chain``): txID == sha256(raw data),
the signature recovers to the owner, expiration, TaPoS, duplicates, balances. It keeps a fake
USDT-TRC20 ledger at a configured contract address. Blocks come on a timer
(``block_interval_s``) or on demand (``produce_block``); the solid block trails the head by
``solid_lag`` blocks. There is no consensus, no TVM, no fees, no energy or bandwidth
accounting, no peers: passing against it proves the transactions are well formed and
correctly signed, not that mainnet will execute them.

Test hooks (Python, same event loop): ``go_down``/``come_up`` (the listening socket closes and
reopens on the same port), ``hold_broadcasts`` (hold the broadcast handler until
``release_broadcasts``: ``before`` the chain sees it, then drop it; or ``after`` the chain
accepted it, then answer). For other processes (the demo) two control endpoints exist:
``/testnode/fund`` {"address", "trx", "usdt"} and ``/testnode/block``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web

from lucid.tron_node.testnode_chain import MAINNET_USDT, TestChain

Hold = Literal["before", "after"]


class TestNode:
    """The fake node's HTTP server around a :class:`TestChain`. ``async with`` starts it."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        block_interval_s: float | None = None,
        usdt_contract: str = MAINNET_USDT,
        payout_router: str = "",
        router_function: str = "payout(address,uint256)",
        solid_lag: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = TestChain(
            usdt_contract=usdt_contract,
            payout_router=payout_router,
            router_function=router_function,
            solid_lag=solid_lag,
            clock=clock,
        )
        self.host = host
        self.port = port
        self.block_interval_s = block_interval_s
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._hold: Hold | None = None
        self._release = asyncio.Event()
        self.held = asyncio.Event()  # set while a broadcast waits at the hold

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def __aenter__(self) -> TestNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.come_up()
        if self.block_interval_s and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.release_broadcasts()
        await self.go_down()

    async def come_up(self) -> None:
        """(Re)open the HTTP API on the same port."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self._app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def go_down(self) -> None:
        """Close the HTTP API (connections refused); the chain keeps its state."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def hold_broadcasts(self, where: Hold) -> None:
        """Hold each broadcast until ``release_broadcasts``: ``before`` it reaches the chain
        (then it is dropped unprocessed) or ``after`` the chain accepted it (then answered)."""
        self._hold = where
        self._release.clear()

    def release_broadcasts(self) -> None:
        self._hold = None
        self._release.set()

    def produce_block(self) -> int:
        return self.chain.produce_block().number

    async def _tick(self) -> None:
        assert self.block_interval_s
        while True:
            await asyncio.sleep(self.block_interval_s)
            self.chain.produce_block()

    # --- HTTP ----------------------------------------------------------------------------

    def _app(self) -> web.Application:
        chain = self.chain
        routes: dict[str, Callable[[dict[str, Any]], Any]] = {
            "wallet/getnodeinfo": lambda _b: chain.node_info(),
            "wallet/getnowblock": lambda _b: chain.block_json(chain.head),
            "walletsolidity/getnowblock": lambda _b: chain.block_json(chain.solid),
            "wallet/gettransactionbyid": lambda b: chain.tx_by_id(b["value"]),
            "walletsolidity/gettransactionbyid": lambda b: chain.tx_by_id(b["value"], solid=True),
            "wallet/gettransactioninfobyid": lambda b: chain.tx_info(b["value"]),
            "walletsolidity/gettransactioninfobyid": lambda b: chain.tx_info(
                b["value"], solid=True
            ),
            "wallet/getaccount": lambda b: chain.account(b["address"]),
            "wallet/getaccountresource": lambda b: chain.account_resource(b["address"]),
            "wallet/triggerconstantcontract": chain.constant_call,
            "wallet/getchainparameters": lambda _b: {
                "chainParameter": [
                    {"key": "getTransactionFee", "value": 1000},
                    {"key": "getEnergyFee", "value": 420},
                ]
            },
            "testnode/fund": self._fund,
            "testnode/block": lambda _b: {"number": self.produce_block()},
        }
        app = web.Application()

        async def handle(request: web.Request) -> web.Response:
            path = request.match_info["path"]
            body = await _body(request)
            if path == "wallet/broadcasttransaction":
                return web.json_response(await self._broadcast(body))
            route = routes.get(path)
            if route is None:
                raise web.HTTPNotFound(text=f"{path} is not implemented by the TRON test node")
            try:
                return web.json_response(route(body))
            except (KeyError, TypeError, ValueError) as err:
                # java-tron answers a malformed request with 200 and an "Error" field
                return web.json_response({"Error": f"class {type(err).__name__} : {err}"})

        app.router.add_route("*", "/{path:.+}", handle)
        return app

    async def _broadcast(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._hold == "before":
            self.held.set()
            await self._release.wait()
            # It never reached the node: the sender crashed or the link broke on the way.
            raise web.HTTPServiceUnavailable(text="broadcast dropped by the test hold")
        reply = self.chain.broadcast(body)
        if self._hold == "after":
            self.held.set()
            await self._release.wait()
        return reply

    def _fund(self, body: dict[str, Any]) -> dict[str, Any]:
        address = str(body["address"])
        self.chain.fund_trx(address, int(body.get("trx", 0)))
        self.chain.mint_usdt(address, int(body.get("usdt", 0)))
        return {"trx": self.chain.trx.get(address, 0), "usdt": self.chain.usdt_balance(address)}


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text:
        return dict(request.query)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="request body is not JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="request body is not a JSON object")
    return data


async def _serve(args: argparse.Namespace) -> None:
    node = TestNode(
        port=args.port,
        block_interval_s=args.block_interval,
        usdt_contract=args.usdt_contract,
        payout_router=args.payout_router,
    )
    async with node:
        print(node.url, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    """``python -m lucid.tron_node.testnode``: serve until interrupted; prints the URL."""
    p = argparse.ArgumentParser(description="A local TRON HTTP test node (a fake)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--block-interval", type=float, default=3.0, help="seconds per block")
    p.add_argument("--usdt-contract", default=MAINNET_USDT)
    p.add_argument("--payout-router", default="")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(p.parse_args()))


if __name__ == "__main__":
    main()
