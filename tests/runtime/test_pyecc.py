"""lucid.runtime.pyecc: after web3 / eth-account are imported, deep recursion raises
RecursionError again instead of crashing the interpreter. Each case runs in a fresh
interpreter, so what this test process imported earlier does not matter."""

from __future__ import annotations

import subprocess
import sys

NESTED = "import json; json.loads('[' * 200_000 + ']' * 200_000)"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_importing_eth_account_raises_the_limit() -> None:
    """The reason the helper exists: py_ecc changes the limit for the whole process."""
    out = _run("import sys, eth_account; print(sys.getrecursionlimit())")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 1000


def test_reset_restores_recursion_error() -> None:
    code = (
        "import eth_account\n"
        "from lucid.runtime.pyecc import reset_recursion_limit\n"
        "reset_recursion_limit()\n"
        "try:\n"
        f"    {NESTED}\n"
        "except RecursionError:\n"
        "    print('RecursionError')\n"
    )
    out = _run(code)
    assert (out.returncode, out.stdout.strip()) == (0, "RecursionError"), out.stderr


def test_walletd_evm_resets_on_import() -> None:
    out = _run("import sys, lucid.walletd.evm; print(sys.getrecursionlimit())")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 1000
