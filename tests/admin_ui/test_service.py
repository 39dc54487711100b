"""io.lucid.AdminUi1 is the contract: service, client and the live object follow it."""

from __future__ import annotations

import inspect

from dbus_fast.aio import MessageBus

from lucid.admin_ui.client import AdminUiClient
from lucid.admin_ui.service import AdminUiService
from lucid.runtime.contracts import ADMIN_UI
from tests.admin_ui.conftest import Ui


def test_service_and_client_follow_the_xml() -> None:
    assert AdminUiService.contract is ADMIN_UI and AdminUiClient.contract is ADMIN_UI
    assert list(ADMIN_UI.methods) == ["GetStatus"]
    params = list(inspect.signature(AdminUiService.get_status).parameters)[2:]
    assert tuple(params) == ADMIN_UI.methods["GetStatus"].in_args
    assert ADMIN_UI.path == "/io/lucid/AdminUi1"


async def test_live_object_exports_exactly_the_xml(ui: Ui, bus: MessageBus) -> None:
    node = await bus.introspect(ADMIN_UI.bus_name, ADMIN_UI.path)
    iface = next(i for i in node.interfaces if i.name == ADMIN_UI.interface)
    assert {m.name: (m.in_signature, m.out_signature) for m in iface.methods} == {
        n: (m.in_signature, m.out_signature) for n, m in ADMIN_UI.methods.items()
    }
    status = await AdminUiClient(bus).get_status()
    assert status == {
        "url": ui.origin + "/",
        "listen": f"127.0.0.1:{ui.port}",
        "onboarded": "false",
    }
