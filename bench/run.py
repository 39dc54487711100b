"""Run every benchmark figure and print one line per figure: ``name: value (goal …)``.

Usage: ``python bench/run.py [provider ...]`` (default: all providers, in order).

A provider is a function ``(workdir: Path) -> list[(name, value, goal_text)]`` (or a
``dict`` of name -> value, whose goals come from ``GOALS``) in a module of this folder.
Adding a figure is adding one ``Provider`` line below. A provider that fails prints
``<name>: error: <one line>`` for each figure it owns, the others still run, and the run
exits 1 at the end. A provider whose module is not written yet prints ``skipped``.
Progress and tool chatter go to stderr; stdout carries only the figure lines.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKDIR = REPO / ".bench"  # cached inputs and scratch repos; never committed

Figure = tuple[str, float, str]  # name, value, goal text ("" for a plain reading)

# Goals of figures whose provider returns a bare dict.
GOALS = {
    "encode_vs_ffmpeg": "≥ 0.9",
}


@dataclass(frozen=True)
class Provider:
    """Where a group of figures comes from.

    Attributes:
        key: the name to select it with on the command line.
        module: module in bench/ that defines ``function``.
        function: ``(workdir: Path) -> list[Figure] | dict[str, float]``.
        figures: the figure names it owns (named in its error lines).
    """

    key: str
    module: str
    function: str
    figures: tuple[str, ...]


PROVIDERS = [
    Provider("seal", "seal", "bench_seal", ("seal_vs_restic", "seal_vs_borg")),
    Provider("encode", "encode", "bench_encode_vs_ffmpeg", ("encode_vs_ffmpeg",)),
    Provider(
        "pipeline",
        "pipeline",
        "bench_pipeline",
        ("set_rss_mb", "appliance_rss_mb", "seal_latency_s"),
    ),
    Provider("anchor", "anchor", "bench_anchor", ("anchor_gas_per_session", "anchor_batch_saving")),
    Provider("verify", "verify", "bench_verify", ("verify_gb_s", "verify_rss_mb")),
]


def _as_figures(result: Any) -> list[Figure]:
    if isinstance(result, dict):
        return [(str(name), float(value), GOALS.get(name, "")) for name, value in result.items()]
    return [(str(name), float(value), str(goal)) for name, value, goal in result]


def _format(figure: Figure) -> str:
    name, value, goal = figure
    text = f"{name}: {value:.2f}"
    return f"{text} (goal {goal})" if goal else text


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def run_provider(provider: Provider, workdir: Path, emit: Callable[[str], None]) -> bool:
    """Run one provider and emit its lines. Returns False when it failed."""
    try:
        module = importlib.import_module(provider.module)
    except ModuleNotFoundError as err:
        if err.name != provider.module:
            for name in provider.figures:
                emit(f"{name}: error: {_one_line(err)}")
            return False
        for name in provider.figures:
            emit(f"{name}: skipped: bench/{provider.module}.py is not there yet")
        return True
    try:
        function = getattr(module, provider.function)
        figures = _as_figures(function(workdir))
    except Exception as err:
        for name in provider.figures:
            emit(f"{name}: error: {_one_line(err)}")
        return False
    for figure in figures:
        emit(_format(figure))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    keys = [p.key for p in PROVIDERS]
    parser.add_argument("providers", nargs="*", metavar="PROVIDER",
                        help=f"which to run (default: all of {', '.join(keys)})")  # fmt: skip
    args = parser.parse_args(argv)
    unknown = set(args.providers) - set(keys)
    if unknown:
        parser.error(f"unknown provider(s) {', '.join(sorted(unknown))}; known: {', '.join(keys)}")
    chosen = [p for p in PROVIDERS if not args.providers or p.key in args.providers]
    sys.path[:0] = [str(BENCH_DIR), str(REPO / "daemons")]
    WORKDIR.mkdir(exist_ok=True)
    (WORKDIR / ".gitignore").write_text("*\n")
    ok = True
    for provider in chosen:
        ok &= run_provider(provider, WORKDIR, lambda line: print(line, flush=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
