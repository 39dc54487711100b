"""The ledger behind the TRON test node: accounts, a fake USDT-TRC20, a fake payout router,
a mempool and blocks. NOT a TRON implementation (see ``testnode.py``).

What it checks on broadcast, as java-tron does: the txID is sha256 of the protobuf raw data
(re-encoded from the JSON, and equal to ``raw_data_hex`` when given), one contract and one
signature that recovers to its ``owner_address``, the expiration (after the clock, within a
day), TaPoS (``ref_block_bytes``/``ref_block_hash`` name a known block), no duplicate, an
existing owner account, TRX balance for TRX transfers, and a known contract for calls.
Blocks execute the calls: USDT ``transfer(address,uint256)`` and the router's payout function
move fake USDT, and revert (``REVERT``, result ``FAILED``) when the payer's balance is short.
Fees, energy, bandwidth and votes are not modelled.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from tronpy import keys  # type: ignore[import-untyped]  # tronpy ships no hints

from lucid.tron_node.txbuild import encode_raw

MAINNET_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
DAY_MS = 24 * 3600 * 1000
TRANSFER_SELECTOR = bytes(function_signature_to_4byte_selector("transfer(address,uint256)"))
BALANCE_OF = "balanceOf(address)"


@dataclass
class Block:
    number: int
    block_id: str
    timestamp: int  # ms
    parent: str
    txids: list[str] = field(default_factory=list)


@dataclass
class Included:
    tx: dict[str, Any]  # the broadcast JSON
    block: int
    timestamp: int
    success: bool
    receipt: str  # SUCCESS | REVERT | OUT_OF_ENERGY
    message: str


def b58(address: str) -> str:
    """Any address form -> base58check (raises ValueError on garbage)."""
    return str(keys.to_base58check_address(address))


class TestChain:
    """State of the fake chain. Amounts: TRX in sun, USDT in base units (1e-6)."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        usdt_contract: str = MAINNET_USDT,
        payout_router: str = "",
        router_function: str = "payout(address,uint256)",
        solid_lag: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.usdt_contract = b58(usdt_contract)
        self.payout_router = b58(payout_router) if payout_router else ""
        self.router_selector = bytes(function_signature_to_4byte_selector(router_function))
        self.solid_lag = solid_lag
        self.clock = clock
        self.trx: dict[str, int] = {}
        self.usdt: dict[str, int] = {}
        self.frozen: dict[str, dict[str, int]] = {}  # address -> resource -> sun (reported)
        self.pending: dict[str, dict[str, Any]] = {}
        self.included: dict[str, Included] = {}
        self.accepted: list[str] = []  # txids accepted by broadcast, in order
        self.rejected: list[tuple[str, str]] = []  # (code, message) of refused broadcasts
        self.blocks: list[Block] = []
        self._append_block([])

    # --- set-up for tests -------------------------------------------------------------------

    def fund_trx(self, address: str, sun: int) -> None:
        addr = b58(address)
        self.trx[addr] = self.trx.get(addr, 0) + sun

    def mint_usdt(self, address: str, amount: int) -> None:
        addr = b58(address)
        self.usdt[addr] = self.usdt.get(addr, 0) + amount

    def usdt_balance(self, address: str) -> int:
        return self.usdt.get(b58(address), 0)

    # --- blocks -----------------------------------------------------------------------------

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    @property
    def solid(self) -> Block:
        return self.blocks[max(0, len(self.blocks) - 1 - self.solid_lag)]

    def _append_block(self, txids: list[str]) -> Block:
        number = len(self.blocks)
        parent = self.blocks[-1].block_id if self.blocks else "00" * 32
        stamp = int(self.clock() * 1000)
        if self.blocks:
            stamp = max(stamp, self.blocks[-1].timestamp + 1)
        digest = hashlib.sha256(f"{parent}:{number}:{stamp}:{','.join(txids)}".encode()).digest()
        block = Block(number, number.to_bytes(8, "big").hex() + digest[8:].hex(), stamp, parent)
        block.txids = txids
        self.blocks.append(block)
        return block

    def produce_block(self) -> Block:
        """Seal the next block: pending transactions not expired at its time, executed in order."""
        stamp = max(int(self.clock() * 1000), self.head.timestamp + 1)
        live = [t for t, tx in self.pending.items() if tx["raw_data"]["expiration"] > stamp]
        block = self._append_block(live)
        for txid in live:
            self.included[txid] = self._execute(self.pending[txid], block)
        self.pending.clear()  # the expired ones are dropped, as a node's pool drops them
        return block

    # --- broadcast --------------------------------------------------------------------------

    def broadcast(self, body: dict[str, Any]) -> dict[str, Any]:
        """``/wallet/broadcasttransaction``: java-tron's answer for ``body``."""
        try:
            code, message, txid = self._validate(body)
        except (KeyError, TypeError, ValueError) as err:
            code, message, txid = "OTHER_ERROR", f"bad transaction: {err!r}", ""
        if code:
            self.rejected.append((code, message))
            return {"code": code, "txid": txid, "message": message.encode().hex()}
        self.pending[txid] = body
        self.accepted.append(txid)
        return {"result": True, "txid": txid}

    def _validate(self, body: dict[str, Any]) -> tuple[str, str, str]:
        raw = body["raw_data"]
        raw_bytes = encode_raw(raw)
        txid = hashlib.sha256(raw_bytes).hexdigest()
        if body.get("raw_data_hex") not in (None, raw_bytes.hex()):
            return "OTHER_ERROR", "raw_data_hex does not encode raw_data", txid
        if body.get("txID") != txid:
            return "OTHER_ERROR", f"txID {body.get('txID')} is not sha256(raw_data) {txid}", txid
        if txid in self.pending or txid in self.included:
            return "DUP_TRANSACTION_ERROR", "dup transaction", txid
        contracts = raw["contract"]
        if len(contracts) != 1:
            return "CONTRACT_VALIDATE_ERROR", "exactly one contract per transaction", txid
        now = int(self.clock() * 1000)
        if raw["expiration"] <= max(now, self.head.timestamp):
            return "TRANSACTION_EXPIRATION_ERROR", "transaction expired", txid
        if raw["expiration"] > max(now, self.head.timestamp) + DAY_MS:
            return "TRANSACTION_EXPIRATION_ERROR", "expiration is more than a day away", txid
        if not self._tapos_ok(raw["ref_block_bytes"], raw["ref_block_hash"]):
            return "TAPOS_ERROR", "Tapos check error: reference block not found", txid
        value = contracts[0]["parameter"]["value"]
        owner = b58(value["owner_address"])
        signatures = body.get("signature") or []
        if len(signatures) != 1:
            return "SIGERROR", "miss sig or contract", txid
        signer = keys.Signature(bytes.fromhex(signatures[0])).recover_public_key_from_msg_hash(
            bytes.fromhex(txid)
        )
        if signer.to_base58check_address() != owner:
            return (
                "SIGERROR",
                f"Validate signature error: {owner} is signed by "
                f"{signer.to_base58check_address()} but it is not contained of permission",
                txid,
            )
        if owner not in self.trx:
            return "CONTRACT_VALIDATE_ERROR", f"account {owner} does not exist", txid
        kind = contracts[0]["type"]
        if kind == "TransferContract":
            if self.trx[owner] < int(value["amount"]):
                return "CONTRACT_VALIDATE_ERROR", "balance is not sufficient", txid
        elif kind == "TriggerSmartContract":
            if b58(value["contract_address"]) not in (self.usdt_contract, self.payout_router):
                return "CONTRACT_VALIDATE_ERROR", "No contract or not a valid smart contract", txid
        else:
            return "CONTRACT_VALIDATE_ERROR", f"{kind} is not supported by this test node", txid
        return "", "", txid

    def _tapos_ok(self, ref_bytes: str, ref_hash: str) -> bool:
        for block in reversed(self.blocks[-65536:]):
            if block.block_id[12:16] == ref_bytes and block.block_id[16:32] == ref_hash:
                return True
        return False

    # --- execution --------------------------------------------------------------------------

    def _execute(self, body: dict[str, Any], block: Block) -> Included:
        contract = body["raw_data"]["contract"][0]
        value = contract["parameter"]["value"]
        owner = b58(value["owner_address"])

        def done(success: bool, receipt: str = "SUCCESS", message: str = "") -> Included:
            return Included(body, block.number, block.timestamp, success, receipt, message)

        if contract["type"] == "TransferContract":
            amount, to = int(value["amount"]), b58(value["to_address"])
            if self.trx.get(owner, 0) < amount:
                return done(False, "REVERT", "balance is not sufficient")
            self.trx[owner] -= amount
            self.trx[to] = self.trx.get(to, 0) + amount
            return done(True)
        data = bytes.fromhex(value.get("data", ""))
        target = b58(value["contract_address"])
        if target == self.usdt_contract and data[:4] == TRANSFER_SELECTOR:
            payer = owner
        elif target == self.payout_router and target and data[:4] == self.router_selector:
            payer = target  # the router pays from its own balance
        else:
            return done(False, "REVERT", "unknown function")
        try:
            to_hex, amount = abi_decode(["address", "uint256"], data[4:], strict=True)
        except Exception:  # any undecodable call reverts, as the EVM would
            return done(False, "REVERT", "bad arguments")
        to = b58("41" + str(to_hex)[2:])
        if self.usdt.get(payer, 0) < amount:
            return done(False, "REVERT", "REVERT opcode executed: transfer amount exceeds balance")
        self.usdt[payer] -= amount
        self.usdt[to] = self.usdt.get(to, 0) + amount
        return done(True)

    # --- queries ----------------------------------------------------------------------------

    def _visible(self, inc: Included, solid: bool) -> bool:
        return not solid or inc.block <= self.solid.number

    def tx_info(self, txid: str, *, solid: bool = False) -> dict[str, Any]:
        inc = self.included.get(txid)
        if inc is None or not self._visible(inc, solid):
            return {}
        info: dict[str, Any] = {
            "id": txid,
            "fee": 0,
            "blockNumber": inc.block,
            "blockTimeStamp": inc.timestamp,
            "contractResult": ["" if inc.success else "08c379a0"],
            "receipt": {"result": inc.receipt, "energy_usage_total": 0},
        }
        if not inc.success:
            info["result"] = "FAILED"
            info["resMessage"] = inc.message.encode().hex()
        return info

    def tx_by_id(self, txid: str, *, solid: bool = False) -> dict[str, Any]:
        inc = self.included.get(txid)
        if inc is None or not self._visible(inc, solid):
            return {}
        return dict(inc.tx) | {"ret": [{"contractRet": inc.receipt}]}

    def block_json(self, block: Block) -> dict[str, Any]:
        return {
            "blockID": block.block_id,
            "block_header": {
                "raw_data": {
                    "number": block.number,
                    "timestamp": block.timestamp,
                    "parentHash": block.parent,
                }
            },
            "transactions": [self.included[t].tx for t in block.txids if t in self.included],
        }

    def node_info(self) -> dict[str, Any]:
        head, solid = self.head, self.solid
        return {
            "block": f"Num:{head.number},ID:{head.block_id}",
            "solidityBlock": f"Num:{solid.number},ID:{solid.block_id}",
            "activeConnectCount": 0,
            "configNodeInfo": {"codeVersion": "lucid-testnode"},
        }

    def account(self, address: str) -> dict[str, Any]:
        addr = b58(address)
        if addr not in self.trx:
            return {}
        frozen = self.frozen.get(addr, {})
        return {
            "address": addr,
            "balance": self.trx[addr],
            "frozenV2": [
                {"amount": frozen["BANDWIDTH"]} if frozen.get("BANDWIDTH") else {},
                {"type": "ENERGY", "amount": frozen.get("ENERGY", 0)},
                {"type": "TRON_POWER"},
            ],
        }

    def account_resource(self, address: str) -> dict[str, Any]:
        frozen = self.frozen.get(b58(address), {})
        # One unit of resource per TRX staked: a stand-in for the network's real ratio.
        return {
            "freeNetLimit": 600,
            "NetLimit": frozen.get("BANDWIDTH", 0) // 1_000_000,
            "EnergyLimit": frozen.get("ENERGY", 0) // 1_000_000,
        }

    def constant_call(self, body: dict[str, Any]) -> dict[str, Any]:
        if b58(body["contract_address"]) != self.usdt_contract:
            message = "No contract or not a valid smart contract"
            return {
                "result": {"code": "CONTRACT_VALIDATE_ERROR", "message": message.encode().hex()}
            }
        if body.get("function_selector") != BALANCE_OF:
            return {"result": {"code": "OTHER_ERROR", "message": b"REVERT".hex()}}
        (who,) = abi_decode(["address"], bytes.fromhex(body["parameter"]))
        balance = self.usdt.get(b58("41" + str(who)[2:]), 0)
        return {
            "result": {"result": True},
            "energy_used": 0,
            "constant_result": [balance.to_bytes(32, "big").hex()],
        }
