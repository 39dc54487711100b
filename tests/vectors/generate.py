"""Rebuild the conformance vectors: ``.venv/bin/python -m tests.vectors.generate [OUT_DIR]``.

Writes every vector's bundle (``*.lucid``) and trust file (``*.trust.json``) into OUT_DIR
(default: this directory), after deleting the ``*.lucid`` and ``*.trust.json`` files already
there, and the index ``vectors.json`` (tests/vectors/README.md describes it).

Bundles are made by the real library (`_forge`); forgeries are re-signed, re-packed or edited
byte by byte (`_tar`) from genuine ones. What each vector expects is declared beside how it
is made (`_cases`, `_container`); nothing is learnt by running a verifier. The index is the
same on every run; bundle bytes are not (chunk nonces, sealed data keys and ES256 signatures
are drawn by the library), but every verdict is: `test_vectors` checks both.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from tests.vectors import _cases, _container
from tests.vectors._build import Builder, Vector

HERE = Path(__file__).resolve().parent
INDEX = "vectors.json"
INDEX_FORMAT = "lucid.verify-vectors"


def generate(out: Path) -> list[Vector]:
    """Write every vector's files and the index into `out` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("*.lucid"), *out.glob("*.trust.json")]:
        stale.unlink()
    builder = Builder(out)
    for case in (*_cases.ALL, *_container.ALL):
        case(builder)
    names = [v.name for v in builder.vectors]
    if len(set(names)) != len(names):
        raise RuntimeError("two vectors share a name")
    for v in builder.vectors:
        for path in (v.file, *(a for a in v.args if a.endswith(".json"))):
            if not (out / path).is_file():
                raise RuntimeError(f"vector {v.name}: {path} was not written")
    (out / INDEX).write_text(index_text(builder.vectors))
    return builder.vectors


def index_text(vectors: Sequence[Vector]) -> str:
    """The index file: ``{"format", "version", "vectors": [...]}``, one key per line."""
    doc = {"format": INDEX_FORMAT, "version": 1, "vectors": [v.to_dict() for v in vectors]}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=HERE, help="output directory")
    args = parser.parse_args(argv)
    vectors = generate(args.out)
    print(f"wrote {len(vectors)} vectors to {args.out}")


if __name__ == "__main__":
    main()
