"""walletd's chain accounts: the EVM and TRON accounts, their addresses and their signing.

``ChainAccounts`` ties the secp256k1 signers to the rules: an EVM transaction is read
(``evm``), a TRON raw transaction decoded (``tronraw``) and judged (``tron``), and both are
charged against the spending limits (``limits``) before the signature leaves. It imports
eth-account and tronpy, which take seconds to load, so walletd loads this module on the
first chain call, not at start (the recording pipeline never needs it). It does not check
who is calling (``service.py`` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lucid.walletd import evm
from lucid.walletd.chainkeys import Secp256k1Signer, recovers_to
from lucid.walletd.keys import KeyBackend
from lucid.walletd.limits import Signed, SpendLedger
from lucid.walletd.tron import TronPolicy, tron_address
from lucid.walletd.tronraw import decode_address, decode_raw

BINDING_CONTEXT = b"lucid.bind.v1\x00evm:"  # + the lowercase hex EVM address, no 0x
ASSET_WEI = "wei"


class ChainAccounts:
    def __init__(
        self,
        evm_signer: Secp256k1Signer,
        tron_signer: Secp256k1Signer,
        identity: KeyBackend,
        ledger: SpendLedger,
        tron_policy: Callable[[bytes], TronPolicy],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``tron_policy`` makes the policy for walletd's own TRON address (21 bytes)."""
        self._evm = evm_signer
        self._tron = tron_signer
        self._ledger = ledger
        self._clock = clock
        self.evm_address = evm.evm_address(evm_signer.public_key())
        self.tron_address = tron_address(tron_signer.public_key())
        self._policy = tron_policy(decode_address(self.tron_address))
        binding = identity.sign(BINDING_CONTEXT + self.evm_address[2:].lower().encode())
        self._accounts = {
            "evm": self.evm_address,
            "tron": self.tron_address,
            "evm_binding": binding.hex(),
        }

    def accounts(self) -> dict[str, str]:
        """``{"evm", "tron", "evm_binding"}`` as the contract describes them."""
        return dict(self._accounts)

    async def sign_evm(self, text: str) -> tuple[bytes, str]:
        """Sign the JSON transaction ``text``; return (raw transaction, 0x hash).

        Raises:
            InvalidArgumentError: malformed or not walletd's transaction.
            LimitExceededError: above walletd.evm_limit_tx_wei / evm_limit_day_wei.
        """
        tx = evm.parse_transaction(text, self.evm_address)

        def sign() -> Signed:
            raw, tx_hash = evm.sign_transaction(self._evm, tx)
            return Signed(raw, tx_hash)

        key = f"evm:{self.evm_address.lower()}:{tx.chain_id}:{tx.nonce}"
        signed = await self._ledger.sign(key, {ASSET_WEI: tx.cost}, sign)
        return signed.payload, signed.txid

    async def sign_tron(self, raw_data: bytes) -> tuple[bytes, str]:
        """Sign the TRON ``Transaction.raw`` bytes; return (65-byte signature, txid hex).

        Raises:
            InvalidArgumentError: not a kind, contract, owner or expiration walletd signs.
            LimitExceededError: above walletd.tron_limit_tx / tron_limit_day.
        """
        tx = decode_raw(raw_data)
        spends = self._policy.spends(tx, int(self._clock() * 1000))
        digest = bytes.fromhex(tx.txid)

        def sign() -> Signed:
            signature = self._tron.sign_digest(digest)
            if not recovers_to(self._tron.public_key(), digest, signature):
                raise RuntimeError(f"the {self._tron.name} TRON signer signed with another key")
            return Signed(signature, tx.txid)

        signed = await self._ledger.sign(f"tron:{tx.txid}", spends, sign)
        return signed.payload, signed.txid
