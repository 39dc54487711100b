"""What chain-client's GetStatus means for a person (lucid.chain_client.health)."""

from __future__ import annotations

import pytest

from lucid.chain_client.health import anchoring


@pytest.mark.parametrize(
    ("fields", "text", "degraded"),
    [
        ({"ledger": "none", "state": "disabled"}, "anchoring: not configured", False),
        (
            {"ledger": "local", "state": "backoff", "error": "io.lucid.Error.NoLocalChain"},
            "anchoring: anvil missing",
            True,
        ),
        ({"ledger": "local", "state": "starting"}, "anchoring: starting", False),
        (
            {"ledger": "local", "state": "running", "anchored": "3", "chain_id": "31337"},
            "anchoring: ok (3 session(s) anchored on chain 31337)",
            False,
        ),
        (
            {
                "ledger": "local",
                "state": "backoff",
                "error": "io.lucid.Error.RpcUnavailable",
                "error_message": "connection refused",
                "retry_in_s": "4",
            },
            "anchoring: failing: connection refused; retry in 4 s",
            True,
        ),
    ],
)
def test_anchoring_phrases(fields: dict[str, str], text: str, degraded: bool) -> None:
    said = anchoring(fields)
    assert said.text.startswith(text) and said.degraded is degraded
    assert said.settled is (fields["state"] != "starting")
