"""Turn a complete session into a signed manifest plus inclusion proofs.

Inputs come through ``Sources`` (the recorder's session facts, the encryptor's sealed-chunk
list, walletd's recipients, identity and signature); the output is written under
``<state>/merkle/sessions/<session>/`` as ``manifest.json`` and ``proofs.json`` (atomic,
fsynced) and recorded in the database. Sealing the same session twice is a no-op. This
module does not talk to the bus and does not hold any private key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from lucid.evidence.build import build_manifest
from lucid.evidence.errors import EvidenceError
from lucid.evidence.manifest import (
    ChunkEntry,
    DeviceKeys,
    Encoder,
    Recipient,
    StreamInfo,
)
from lucid.evidence.proofs import build_proofs
from lucid.evidence.signed import SignedManifest, signing_message
from lucid.runtime import spool
from lucid.runtime.errors import LucidError

if TYPE_CHECKING:  # the payload shape only; the bus library is not imported at run time
    from lucid.encryptor.client import ProducerInfo

MIGRATIONS = [
    """
    CREATE TABLE sessions (
        session TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('sealed', 'failed')),
        root TEXT NOT NULL DEFAULT '',
        chunks INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        complete INTEGER NOT NULL DEFAULT 1,
        sealed_at REAL NOT NULL,
        message TEXT NOT NULL DEFAULT ''
    );
    """,
]


class SealError(LucidError):
    """A session cannot be sealed (message says why)."""


@dataclass(frozen=True)
class Sources:
    session_info: Callable[[str], Awaitable[ProducerInfo]]
    chunks: Callable[[str], Awaitable[list[tuple[str, int, str, int, int, str]]]]
    recipients: Callable[[str], Awaitable[list[tuple[str, str]]]]
    identity: Callable[[], Awaitable[dict[str, str]]]
    sign: Callable[[bytes], Awaitable[bytes]]
    #: gatekeeper's manifest ``policy`` field (JSON) for sessions recorded under a grant.
    session_policy: Callable[[str], Awaitable[str]] | None = None


def _stream_order(name: str) -> tuple[int, int, str]:
    """Video parts first, then audit parts, each by part number."""
    kind, _, part = name.partition(".")
    return (0 if kind == "video" else 1, int(part) if part.isdigit() else 0, name)


def _stream_info(name: str, count: int) -> StreamInfo:
    if name.startswith("video"):
        return StreamInfo(name=name, kind="video", media_type="video/mp4", chunks=count)
    return StreamInfo(name=name, kind="audit", media_type="application/x-ndjson", chunks=count)


class ManifestSealer:
    def __init__(self, db: aiosqlite.Connection, out_dir: Path, sources: Sources) -> None:
        self._db = db
        self._out = out_dir
        self._src = sources

    def session_dir(self, session: str) -> Path:
        return self._out / session

    async def state(self, session: str) -> dict[str, Any] | None:
        async with self._db.execute(
            "SELECT session, state, root, chunks, bytes, complete, sealed_at, message "
            "FROM sessions WHERE session=?",
            (session,),
        ) as cur:
            row = await cur.fetchone()
        return dict(row) if row else None

    async def list(self) -> list[dict[str, Any]]:
        async with self._db.execute(
            "SELECT session, state, root, chunks, bytes, complete, sealed_at, message "
            "FROM sessions ORDER BY sealed_at"
        ) as cur:
            return [dict(r) async for r in cur]

    async def seal(self, session: str) -> str:
        """Seal ``session``; returns the tree root (hex).

        Raises:
            SealError: nothing to seal (no chunks) or the inputs are inconsistent.
            BusError: a source daemon failed or is down (retry later).
        """
        try:
            return await self._seal(session)
        except EvidenceError as err:  # inconsistent inputs: fail this session, not the daemon
            raise SealError(f"session {session} cannot be sealed: {err}") from err

    async def _seal(self, session: str) -> str:
        """The body of `seal`."""
        existing = await self.state(session)
        if existing and existing["state"] == "sealed":
            return str(existing["root"])
        info = await self._src.session_info(session)
        missing = [k for k in ("started_at", "ended_at") if not info.get(k)]
        if missing:
            raise SealError(f"session {session}: its producer recorded no {', '.join(missing)}")
        rows = await self._src.chunks(session)
        if not rows:
            raise SealError(f"session {session} has no sealed chunks; nothing to seal")
        counts: dict[str, int] = {}
        entries = []
        for stream, index, digest, size, plain_size, compression in rows:
            counts[stream] = counts.get(stream, 0) + 1
            entries.append(
                ChunkEntry(
                    stream=stream,
                    index=index,
                    hash=bytes.fromhex(digest),
                    size=size,
                    plain_size=plain_size,
                    compression=compression,  # type: ignore[arg-type]  # "zstd" | "none" from the encryptor
                )
            )
        streams = [_stream_info(n, counts[n]) for n in sorted(counts, key=_stream_order)]
        identity = await self._src.identity()
        recipients = [
            Recipient(x25519=bytes.fromhex(r), sealed_key=bytes.fromhex(s))
            for r, s in await self._src.recipients(session)
        ]
        manifest = build_manifest(
            session=session,
            device=DeviceKeys(
                ed25519=bytes.fromhex(identity["ed25519"]), x25519=bytes.fromhex(identity["x25519"])
            ),
            started_at=info["started_at"],
            ended_at=info["ended_at"],
            encoder=Encoder(
                name=info.get("encoder", "") or "none",
                settings=json.loads(info.get("encoder_settings") or "{}"),
            ),
            streams=streams,
            chunks=entries,
            recipients=recipients,
            complete=info.get("complete", "false") == "true",
            policy=await self._policy(session, info),
        )
        signature = await self._src.sign(signing_message(manifest))
        signed = SignedManifest(
            manifest=manifest, public_key=manifest.device.ed25519, signature=signature
        )
        signed.verify_signature()  # a wrong key or signature never gets stored
        proofs = build_proofs(manifest)
        out = self.session_dir(session)
        out.mkdir(parents=True, exist_ok=True)
        spool.atomic_write(out / "proofs.json", proofs.to_bytes(), fsync=True)
        spool.atomic_write(out / "manifest.json", signed.to_bytes(), fsync=True)
        root = manifest.tree_root.hex()
        await self._db.execute(
            "INSERT OR REPLACE INTO sessions(session, state, root, chunks, bytes, complete, "
            "sealed_at) VALUES (?, 'sealed', ?, ?, ?, ?, ?)",
            (session, root, len(entries), manifest.total_size, int(manifest.complete), time.time()),
        )
        return root

    async def _policy(self, session: str, info: ProducerInfo) -> dict[str, Any] | None:
        """The approval evidence of a gated session; None for ungated producers."""
        if info.get("grant", "none") == "none":
            return None
        if info["grant"] != "gatekeeper" or self._src.session_policy is None:
            raise SealError(
                f"session {session} was recorded under {info['grant']!r}, "
                "which this merkle cannot fetch approvals from"
            )
        policy = json.loads(await self._src.session_policy(session))
        if not isinstance(policy, dict):
            raise SealError(f"gatekeeper returned no policy object for {session}")
        return policy

    async def mark_failed(self, session: str, message: str) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO sessions(session, state, sealed_at, message) "
            "VALUES (?, 'failed', ?, ?)",
            (session, time.time(), message),
        )
