"""What GetStatus reports besides the queue counts: the ledger and the loop's last outcome.

The anchoring loop writes it, the service reads it; plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid.chain_client.errors import ChainError


@dataclass
class Status:
    ledger: str
    rpc_url: str = ""
    chain_id: int = 0
    contract: str = ""
    device: str = ""
    registered: bool = False
    state: str = "starting"  # disabled | starting | running | backoff
    activity: str = ""
    error: ChainError | None = None
    retry_in_s: float = 0.0

    def failed(self, err: ChainError, delay: float) -> None:
        self.state = "backoff"
        self.error = err
        self.retry_in_s = delay

    def ok(self) -> None:
        self.state = "running"
        self.error = None
        self.retry_in_s = 0.0

    def fields(self) -> dict[str, str]:
        err = self.error
        return {
            "ledger": self.ledger,
            "rpc_url": self.rpc_url,
            "chain_id": str(self.chain_id) if self.chain_id else "",
            "contract": self.contract,
            "device": self.device,
            "registered": "true" if self.registered else "false",
            "state": self.state,
            "activity": self.activity,
            "error": err.name if err else "",
            "error_message": str(err) if err else "",
            "retry": err.retry if err else "",
            "retry_in_s": f"{self.retry_in_s:g}" if err else "",
        }
