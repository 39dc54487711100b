"""The compiled contracts chain-client talks to (``lucid/chain_artifacts/<Name>.json``).

Each artifact is ``{"abi": [...], "bytecode": "0x...", ...}`` exported from contracts/
(Foundry, contracts/export.sh). This module only reads files; it does not compile or deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lucid.runtime.errors import ConfigError

ANCHORS = "LucidAnchors"
CHUNK_STORE = "LucidChunkStore"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x hex; "0x" for an interface


def _path(name: str) -> Path | None:
    ref = resources.files("lucid").joinpath("chain_artifacts", f"{name}.json")
    return Path(str(ref)) if ref.is_file() else None


def available(name: str) -> bool:
    """Whether the artifact of contract `name` is installed."""
    return _path(name) is not None


@cache
def load(name: str) -> Artifact:
    """Load the artifact of contract `name`.

    Raises:
        ConfigError: it is missing or malformed (the contracts were not exported).
    """
    path = _path(name)
    if path is None:
        raise ConfigError(
            f"contract artifact {name}.json is missing (export it from contracts/ into "
            "daemons/lucid/chain_artifacts/)"
        )
    try:
        doc = json.loads(path.read_text("utf-8"))
        abi, bytecode = doc["abi"], doc["bytecode"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"contract artifact {path} is unreadable: {err}") from err
    if isinstance(bytecode, dict):  # forge's own layout: {"object": "0x..."}
        bytecode = bytecode.get("object", "")
    if not isinstance(abi, list) or not isinstance(bytecode, str):
        raise ConfigError(
            f"contract artifact {path}: expected {{'abi': [...], 'bytecode': '0x...'}}"
        )
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return Artifact(name=name, abi=abi, bytecode=bytecode)
