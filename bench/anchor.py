"""Benchmark: what anchoring costs on a real node, batched against one transaction per session.

`bench_anchor` runs ``contracts/scripts/gas.js`` (deploys LucidAnchors from the build on a
private anvil on 127.0.0.1, registers a device, anchors 100-session batches and reads gasUsed
from the receipts, 21,000 base and calldata included). chain-client's metadata
(``lucid.anchor.v1``, 15 bytes) ABI-pads to 32, so the 32-byte case is the one it pays. The
peer is the same contract anchoring each session root on its own (one transaction per
session): ``anchor_batch_saving`` is how many times cheaper the batch is per session.
Gas is deterministic: this figure does not move with machine load.

Needs ``contracts/test.sh`` (or ``make test``) to have installed and built the contracts.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GAS_JS = REPO / "contracts" / "scripts" / "gas.js"
_LINE = re.compile(
    r"gas per session: (\d+) \(anchor tx (\d+) gas, (\d+) sessions/batch, meta (\d+) B"
)
_SINGLE = re.compile(r"single-session anchor tx: (\d+) gas")


def bench_anchor(workdir: Path) -> list[tuple[str, float, str]]:
    if not (REPO / "contracts" / "out").is_dir():
        raise RuntimeError("the contracts are not built: run `bash contracts/test.sh` first")
    out = subprocess.run(
        ["node", str(GAS_JS)],
        cwd=GAS_JS.parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    per_session = {int(m[4]): (int(m[1]), int(m[2]), int(m[3])) for m in _LINE.finditer(out)}
    if 32 not in per_session:
        raise RuntimeError(f"gas.js printed no 32-byte-metadata case: {out.strip()[:200]}")
    gas, tx_gas, sessions = per_session[32]
    single = _SINGLE.search(out)
    if single is None:
        raise RuntimeError("gas.js printed no single-session case")
    return [
        ("anchor_gas_per_session", float(gas), "≤ 1000"),
        ("anchor_batch_saving", int(single[1]) / (tx_gas / sessions), "≥ 20"),
    ]


if __name__ == "__main__":
    for name, value, goal in bench_anchor(REPO / ".bench"):
        print(f"{name}: {value:.2f} (goal {goal})")
