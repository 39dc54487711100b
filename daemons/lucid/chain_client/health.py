"""What chain-client's GetStatus means for a person: one phrase, degraded or not.

Pure: it reads the ``a{ss}`` GetStatus returns (io.lucid.ChainClient1.xml) and does no I/O.
`lucid up`, `lucid status` and the Device page all say it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lucid.runtime.errors import ERROR_PREFIX

NO_LOCAL_CHAIN = ERROR_PREFIX + "NoLocalChain"


@dataclass(frozen=True)
class Anchoring:
    """``text`` starts with "anchoring: "; ``degraded``: sealed sessions are not being
    anchored and a person must act; ``settled``: False while chain-client is still starting
    (the answer may change on its own within seconds)."""

    text: str
    degraded: bool
    settled: bool = True


def anchoring(status: Mapping[str, str]) -> Anchoring:
    """Read a GetStatus answer (unknown states are reported as they come, degraded)."""
    state = status.get("state", "")
    if state == "disabled" or status.get("ledger") == "none":
        return Anchoring('anchoring: not configured (chain_client.ledger = "none")', False)
    if status.get("error") == NO_LOCAL_CHAIN:
        return Anchoring(
            "anchoring: anvil missing (run `make setup`, or set rpc_url or LUCID_ANVIL; "
            "restart chain-client after)",
            True,
        )
    if state == "starting":
        return Anchoring("anchoring: starting", False, settled=False)
    if state == "running":
        anchored = status.get("anchored", "0") or "0"
        chain = status.get("chain_id", "")
        where = f" on chain {chain}" if chain else ""
        return Anchoring(f"anchoring: ok ({anchored} session(s) anchored{where})", False)
    if state == "backoff":
        why = status.get("error_message") or status.get("error") or "failing"
        retry = status.get("retry_in_s", "")
        again = f"; retry in {retry} s" if retry and retry != "0" else ""
        return Anchoring(f"anchoring: failing: {why}{again}", True)
    return Anchoring(f"anchoring: {state or 'unknown state'}", True)
