"""The index rows (`Vector`), the lines an OK prints, and the `Builder` the cases write
their files through. Used by `generate`; see tests/vectors/README.md for the index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lucid.evidence import SignedManifest, build_proofs, canonical_json, write_bundle
from lucid.evidence.trust import device_fingerprint
from tests.vectors import _forge as fg

DEVICE_NAME = "vector-device"

FP_A = device_fingerprint(fg.public(fg.DEVICE_A))
FP_B = device_fingerprint(fg.public(fg.DEVICE_B))
FP_FORGER = device_fingerprint(fg.public(fg.FORGER))
NOT_ANCHORED = "  not anchored: no anchor.json (anchor not checked)"
NO_POLICY = "  no approval record (recorded without gatekeeper)"


def unpinned(fp: str = FP_A) -> str:
    return f"  signed by device {fp} (not pinned: pass --trust or --device-key)"


def in_trust_file(fp: str = FP_A) -> str:
    return f"  signed by device {DEVICE_NAME} ({fp}) (trusted: in your trust file)"


def pinned(fp: str = FP_A) -> str:
    return f"  signed by device {fp} (trusted: in your pinned key)"


def by_passkey(account: str, status: str) -> str:
    return f"  approved by {account}'s passkey ({status})"


def by_password(account: str, status: str) -> str:
    return f"  approved by {account}'s password (the device's word) ({status})"


def anchored(block: int) -> str:
    return f"  anchored in block {block} of chain 31337 (not checked: no --rpc)"


@dataclass(frozen=True)
class Vector:
    """One row of the index: run ``lucid verify FILE ARGS...`` in the vectors directory."""

    name: str
    file: str
    about: str
    exit: int
    args: tuple[str, ...] = ()
    item: str | None = None  # exit 1: the <item> of "FAILED <file>: <item>: <message>"
    stdout: tuple[str, ...] | None = None  # exit 0: the lines after the OK line
    ok_suffix: str = ""  # exit 0: what the OK line ends with after "root <hex>"
    stderr: str | None = None  # exit 2: a phrase of Lucid's one-line message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "file": self.file,
            "args": list(self.args),
            "exit": self.exit,
            "about": self.about,
        }
        if self.item is not None:
            out["item"] = self.item
        if self.stdout is not None:
            out["stdout"] = list(self.stdout)
            out["ok_suffix"] = self.ok_suffix
        if self.stderr is not None:
            out["stderr"] = self.stderr
        return out


@dataclass
class Builder:
    """Writes vector files into `out` and collects their index rows."""

    out: Path
    vectors: list[Vector] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rec = fg.record(fg.SESSION)
        self.rec2 = fg.record(fg.OTHER_SESSION)
        self.good = fg.sign(fg.manifest(self.rec, policy=fg.approved_by_alice()))
        self.good_bytes = self.bundle("good.lucid", self.good)

    # --- writing ---------------------------------------------------------------------

    def bundle(
        self,
        file: str,
        signed: SignedManifest,
        *,
        store: Mapping[str, bytes] | None = None,
        anchor: bytes | None = None,
    ) -> bytes:
        """Write with the real writer (`write_bundle`); return the bytes."""
        chunks = self.rec.store if store is None else store
        path = self.out / file
        write_bundle(path, signed, build_proofs(signed.manifest), chunks.__getitem__, anchor=anchor)
        return path.read_bytes()

    def packed(self, file: str, members: Sequence[fg.Member], signed: SignedManifest) -> None:
        """Write `members` as the writer would pack them (for what the writer refuses)."""
        (self.out / file).write_bytes(fg.pack(members, fg.mtime_of(signed.manifest)))

    def raw(self, file: str, data: bytes) -> None:
        (self.out / file).write_bytes(data)

    def trust(self, file: str, doc: dict[str, Any]) -> None:
        (self.out / file).write_bytes(canonical_json(doc))

    def ok(
        self, name: str, file: str, about: str, lines: Sequence[str], *args: str, suffix: str = ""
    ) -> None:
        self.vectors.append(
            Vector(name, file, about, 0, args, stdout=tuple(lines), ok_suffix=suffix)
        )

    def fails(self, name: str, file: str, about: str, item: str, *args: str) -> None:
        self.vectors.append(Vector(name, file, about, 1, args, item=item))

    def refused(self, name: str, file: str, about: str, phrase: str, *args: str) -> None:
        self.vectors.append(Vector(name, file, about, 2, args, stderr=phrase))

    def members(self, signed: SignedManifest | None = None) -> list[fg.Member]:
        return fg.members(signed or self.good, self.rec.store)
