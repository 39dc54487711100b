"""lucid.evidence stands alone: stdlib, PyNaCl, blake3, rfc8785, zstandard, cbor2,
cryptography, and itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lucid.evidence

ALLOWED = {"nacl", "blake3", "rfc8785", "zstandard", "cbor2", "cryptography"}
PACKAGE = Path(lucid.evidence.__file__).parent


def test_static_imports() -> None:
    for source in PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: use absolute imports"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in sys.stdlib_module_names
                    or top in ALLOWED
                    or name == "lucid.evidence"
                    or name.startswith("lucid.evidence.")
                )
                assert ok, f"{source.name} imports {name}"


def test_runtime_imports() -> None:
    code = (
        "import sys, lucid.evidence\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith(('lucid', 'dbus'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out and all(m == "lucid" or m.startswith("lucid.evidence") for m in out), out


def test_public_names_exist() -> None:
    for name in lucid.evidence.__all__:
        assert hasattr(lucid.evidence, name), name
