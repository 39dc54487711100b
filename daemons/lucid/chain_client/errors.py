"""chain-client's named errors and the retry policy of each.

The tree::

    ChainError                  root; ``name`` is shown by GetStatus, ``retry`` says what happens
    ├── RpcUnavailableError     io.lucid.Error.RpcUnavailable: endpoint unreachable / timed out
    ├── WrongChainError         io.lucid.Error.WrongChain: endpoint serves another chain id
    ├── NoContractError         io.lucid.Error.NoContract: no LucidAnchors code at the address
    ├── TxRevertedError         io.lucid.Error.TxReverted: a transaction (or its gas estimate) reverted
    ├── InsufficientFundsError  io.lucid.Error.InsufficientFunds: balance < gas * max fee
    ├── FeeCapError             io.lucid.Error.FeeCap: base fee above chain_client.max_fee_per_gas
    ├── SignerRefusedError      io.lucid.Error.LimitExceeded: walletd's spending limit said no
    ├── SignerUnavailableError  io.lucid.Error.SignerUnavailable: walletd down or refusing us
    └── LocalChainError         io.lucid.Error.NoLocalChain: ledger "local" and no anvil
                                (in localchain.py; the daemon stops anchoring until restarted)

Whatever the error, no root leaves the queue: a root is removed only when its batch's
transaction has the configured confirmations. Every error is followed by a wait from
`Backoff` (doubling from ``backoff_initial_s`` up to ``backoff_max_s``); ``slow`` errors,
those a person has to fix (wrong chain, no contract, walletd's limit), start at the maximum.
This module does not import the bus library.
"""

from __future__ import annotations

from typing import ClassVar

from lucid.runtime.errors import ERROR_PREFIX, LucidError


class ChainError(LucidError):
    """An anchoring step failed; the queue is untouched and the step is retried."""

    name: ClassVar[str] = ERROR_PREFIX + "Failed"
    retry: ClassVar[str] = "backoff, then retry the step"
    slow: ClassVar[bool] = False  # True: needs a person; retry at the maximum interval


class RpcUnavailableError(ChainError):
    name = ERROR_PREFIX + "RpcUnavailable"
    retry = "exponential backoff; sessions keep queueing and are anchored when it is back"


class WrongChainError(ChainError):
    name = ERROR_PREFIX + "WrongChain"
    retry = "nothing is signed; re-checked at the maximum backoff until the config is fixed"
    slow = True


class NoContractError(ChainError):
    name = ERROR_PREFIX + "NoContract"
    retry = "nothing is signed; re-checked at the maximum backoff until the config is fixed"
    slow = True


class TxRevertedError(ChainError):
    name = ERROR_PREFIX + "TxReverted"
    retry = "registration re-checked (NotRegistered: register again); the batch gets a new tx"

    def __init__(self, message: str, *, not_registered: bool = False) -> None:
        super().__init__(message)
        self.not_registered = not_registered


class InsufficientFundsError(ChainError):
    name = ERROR_PREFIX + "InsufficientFunds"
    retry = "nothing is signed; exponential backoff until the account is funded"


class FeeCapError(ChainError):
    name = ERROR_PREFIX + "FeeCap"
    retry = "nothing is signed; exponential backoff until the base fee drops under the cap"


class SignerRefusedError(ChainError):
    name = ERROR_PREFIX + "LimitExceeded"
    retry = "walletd's limit: retried at the maximum backoff (the daily limit resets at 00:00 UTC)"
    slow = True


class SignerUnavailableError(ChainError):
    name = ERROR_PREFIX + "SignerUnavailable"
    retry = "exponential backoff until walletd signs again"


class Backoff:
    """Exponential backoff: ``initial``, doubling up to ``maximum``; `reset` after a success."""

    def __init__(self, initial_s: float, maximum_s: float) -> None:
        self.initial = initial_s
        self.maximum = maximum_s
        self._next = initial_s

    def next(self, err: ChainError) -> float:
        """Seconds to wait after `err`."""
        if err.slow:
            return self.maximum
        delay = self._next
        self._next = min(self.maximum, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.initial
