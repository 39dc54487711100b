"""Fixtures: a real anvil on 127.0.0.1 (free port) with LucidAnchors deployed.

anvil comes from npm ``@foundry-rs/anvil-linux-amd64`` (``cd contracts && npm ci``); the
contract from ``daemons/lucid/chain_artifacts/LucidAnchors.json``. A missing one fails the
test with what to install; nothing is skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lucid.chain_client import artifacts
from lucid.chain_client.deploy import deploy_contracts
from lucid.chain_client.localchain import LocalChain, start_anvil
from lucid.runtime.pyecc import reset_recursion_limit
from tests.chain_client.chainkit import DevChain

# web3 imported py_ecc (see lucid.runtime.pyecc): deep recursion elsewhere in the run, such as
# tests/evidence/test_canonical.py's nested JSON, must raise RecursionError, not crash.
reset_recursion_limit()


@pytest.fixture
async def anvil(tmp_path: Path) -> AsyncIterator[LocalChain]:
    chain = await start_anvil(log_file=tmp_path / "anvil.log")
    yield chain
    await chain.stop()


@pytest.fixture
async def dev_chain(anvil: LocalChain) -> AsyncIterator[DevChain]:
    chain = DevChain(anvil.url)
    yield chain
    await chain.close()


@pytest.fixture
async def contract(dev_chain: DevChain) -> str:
    """LucidAnchors deployed from anvil's first dev account (lowercase address)."""
    return (await deploy_contracts(dev_chain.w3))[artifacts.ANCHORS]
