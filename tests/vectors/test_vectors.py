"""The conformance vectors through the real CLI: ``python -m lucid.cli verify -q FILE ARGS...``
in the vectors directory, for every row of ``vectors.json``; and the generator rebuilds
vectors with the same index and the same verdicts (so neither can rot)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.vectors.generate import HERE, INDEX, INDEX_FORMAT, generate, index_text

LUCID = [sys.executable, "-m", "lucid.cli", "verify", "-q"]
ROOT = re.compile(r"root [0-9a-f]{64}")


def load_index(directory: Path) -> list[dict[str, Any]]:
    doc = json.loads((directory / INDEX).read_text())
    assert doc["format"] == INDEX_FORMAT and doc["version"] == 1
    vectors: list[dict[str, Any]] = doc["vectors"]
    return vectors


def verify(directory: Path, vector: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LUCID, vector["file"], *vector["args"]],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def verdict_problems(vector: dict[str, Any], proc: subprocess.CompletedProcess[str]) -> list[str]:
    """What differs between `proc` and what `vector` expects (empty: it conforms)."""
    name, file = vector["name"], vector["file"]
    out = [] if proc.returncode == vector["exit"] else [f"exit {proc.returncode}"]
    err = proc.stderr.splitlines()
    if "Traceback" in proc.stderr or len(err) > 1:
        out.append(f"stderr is not one line: {proc.stderr!r}")
    if vector["exit"] == 0:
        lines = proc.stdout.splitlines()
        ok = ROOT.sub("root <root>", lines[0]) if lines else ""
        if not (
            ok.startswith(f"OK {file}: session ") and ok.endswith(f"<root>{vector['ok_suffix']}")
        ):
            out.append(f"OK line {lines[:1]}")
        if lines[1:] != vector["stdout"]:
            out.append(f"stdout {lines[1:]}")
    elif vector["exit"] == 1:
        head, _, rest = (err[0] if err else "").partition(": ")
        item = rest.partition(": ")[0]
        if head != f"FAILED {file}" or item != vector["item"] or proc.stdout:
            out.append(f"FAILED line {err[:1]} (stdout {proc.stdout!r})")
    elif not (err and err[0].startswith("lucid: ") and vector["stderr"] in err[0]):
        out.append(f"stderr {err[:1]}")
    return [f"{name}: {p}" for p in out]


def verify_all(
    directory: Path, vectors: list[dict[str, Any]]
) -> list[subprocess.CompletedProcess[str]]:
    """`verify` for each vector, four at a time (each is a fresh interpreter)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda v: verify(directory, v), vectors))


def check_all(directory: Path, vectors: list[dict[str, Any]]) -> list[str]:
    procs = verify_all(directory, vectors)
    return [p for v, proc in zip(vectors, procs, strict=True) for p in verdict_problems(v, proc)]


VECTORS = load_index(HERE)


def _ids() -> Iterator[str]:
    return (v["name"] for v in VECTORS)


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every committed vector through the CLI, once for the module."""
    return {v["name"]: proc for v, proc in zip(VECTORS, verify_all(HERE, VECTORS), strict=True)}


@pytest.mark.parametrize("vector", VECTORS, ids=list(_ids()))
def test_vector(
    vector: dict[str, Any], results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    assert verdict_problems(vector, results[vector["name"]]) == []


def test_index_lists_every_file() -> None:
    """Every committed bundle and trust file is used by some vector, and only those."""
    used = {v["file"] for v in VECTORS} | {
        a for v in VECTORS for a in v["args"] if a.endswith(".trust.json")
    }
    present = {p.name for p in HERE.iterdir() if p.name.endswith((".lucid", ".trust.json"))}
    assert used == present


def test_generator_rebuilds_the_same_index_and_verdicts(tmp_path: Path) -> None:
    vectors = generate(tmp_path)
    assert (tmp_path / INDEX).read_text() == (HERE / INDEX).read_text()
    assert index_text(vectors) == (HERE / INDEX).read_text()
    assert check_all(tmp_path, load_index(tmp_path)) == []


def _proc(status: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], status, out, err)


def test_the_checker_catches_wrong_verdicts() -> None:
    """What a non-conforming verifier would answer is reported, not passed."""
    resigned = next(v for v in VECTORS if v["name"] == "resigned-drop-audit")
    failed = f"FAILED {resigned['file']}: {resigned['item']}: approves another device\n"
    assert verdict_problems(resigned, _proc(1, err=failed)) == []
    for wrong in (
        _proc(0, out=f"OK {resigned['file']}: session s-vector\n"),
        _proc(1, err=f"FAILED {resigned['file']}: manifest.signature: no\n"),
        _proc(1, err="Traceback (most recent call last):\n" + failed),
        _proc(2, err=failed),
    ):
        assert verdict_problems(resigned, wrong) != []
    good = next(v for v in VECTORS if v["name"] == "good")
    ok = f"OK {good['file']}: session s-vector, 3 chunks, 656 bytes, root {'ab' * 32}"
    assert verdict_problems(good, _proc(0, out="\n".join([ok, *good["stdout"]]))) == []
    assert verdict_problems(good, _proc(0, out="\n".join([ok, *good["stdout"][:-1]]))) != []
    assert verdict_problems(good, _proc(0, out="\n".join([ok + " (x)", *good["stdout"]]))) != []
    gnu = next(v for v in VECTORS if v["name"] == "tar-gnu-format")
    assert verdict_problems(gnu, _proc(2, err=f"lucid: x ({gnu['stderr']})\n")) == []
    assert verdict_problems(gnu, _proc(2, err="lucid: header checksum is wrong\n")) != []
