from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tronpy.keys import PrivateKey

from lucid.tron_node.testnode import TestNode
from tests.tron_node.helpers import Rig, address


@pytest.fixture
async def testnode() -> AsyncIterator[TestNode]:
    async with TestNode() as node:  # blocks on demand: the tests decide when time moves
        yield node


@pytest.fixture
async def rig(tmp_path: Path, testnode: TestNode) -> AsyncIterator[Rig]:
    key = PrivateKey.random()
    payee = address(PrivateKey.random())
    testnode.chain.fund_trx(address(key), 100_000_000)
    testnode.chain.mint_usdt(address(key), 50_000_000)
    r = Rig(tmp_path, testnode, payee=payee, key=key)
    yield r
    await r.close()
