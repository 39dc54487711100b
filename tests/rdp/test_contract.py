"""io.lucid.RdpGate1: the service and the client follow the XML (as every daemon's do)."""

from __future__ import annotations

from lucid.runtime.contracts import RDP_GATE
from tests.runtime import test_contracts


def test_service_and_client_follow_the_xml() -> None:
    test_contracts.test_service_and_client_follow_the_xml(RDP_GATE)
