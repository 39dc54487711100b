"""Sealed sessions: list, details, manifest, evidence download and a verify result.

Bundles come from merkle's ExportBundle, which writes into a file descriptor: admin-ui
hands it an anonymous temporary file in its own state dir (merkle truncates and seeks, so
a pipe will not do), then streams that file to the browser and lets it vanish. Verifying
runs `lucid.evidence.verdict.judge` on the same kind of export against the device's own
trust file (walletd's identity, gatekeeper's approvers: `api_device.trust_file`):
the page shows what ``lucid verify FILE --trust TRUST.json`` says about the file it would
download, in the same words.

Playback: the encryptor decrypts one stream of the session into a pipe admin-ui made
(``OpenStream``) and admin-ui relays it to the browser with the stream's media type from
the signed manifest. The data key stays in the encryptor, plaintext only passes through
memory, and a stream that breaks half way is cut off (its Content-Length is not met) so
the browser cannot take a prefix for the whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
from typing import IO, Any

from aiohttp import web

from lucid.admin_ui.api_device import trust_file
from lucid.admin_ui.deps import LOGIN_KEY, Deps, deps_of
from lucid.admin_ui.jsonio import Invalid, ok
from lucid.evidence.errors import EvidenceError, VerificationError
from lucid.evidence.trust import TrustRoots
from lucid.evidence.verdict import failure_message, judge
from lucid.merkle.client import SealInfo
from lucid.runtime.errors import NotFoundError
from lucid.runtime.ids import check_session

log = logging.getLogger("lucid.admin_ui.history")

READ_SIZE = 256 * 1024
STREAM_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HIDDEN = frozenset({"manifest"})  # merkle's file path: nothing for a browser


def _public(info: SealInfo) -> dict[str, object]:
    return {k: v for k, v in info.items() if k not in _HIDDEN}


def _session(request: web.Request) -> str:
    return check_session(request.match_info["session"])


async def list_history(request: web.Request) -> web.Response:
    deps = deps_of(request)
    return ok([_public(s) for s in await deps.peers.merkle.list_sessions()])


async def get_history(request: web.Request) -> web.Response:
    deps = deps_of(request)
    return ok(_public(await deps.peers.merkle.get_session(_session(request))))


async def manifest(request: web.Request) -> web.Response:
    deps = deps_of(request)
    data = await deps.peers.merkle.get_manifest(_session(request))
    return web.Response(body=data, content_type="application/json")


async def _export(deps: Deps, session: str) -> tuple[IO[bytes], int]:
    """Export the bundle into a temporary file; the caller closes (and so deletes) it."""
    fh: IO[bytes] = await asyncio.to_thread(
        tempfile.NamedTemporaryFile, "w+b", dir=deps.tmp_dir, suffix=".lucid"
    )
    try:
        size = await deps.peers.merkle.export_bundle(session, fh.fileno())
    except BaseException:
        fh.close()
        raise
    return fh, size


async def bundle(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    session = _session(request)
    fh, size = await _export(deps, session)
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{session}.lucid"',
                "Content-Length": str(size),
            }
        )
        await response.prepare(request)
        await asyncio.to_thread(fh.seek, 0)
        while chunk := await asyncio.to_thread(fh.read, READ_SIZE):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(fh.close)


def _media_type(manifest: bytes, stream: str) -> str:
    """The stream's media type as the signed manifest declares it."""
    doc = json.loads(manifest)
    body = doc.get("manifest", doc) if isinstance(doc, dict) else {}
    for s in body.get("streams", []) if isinstance(body, dict) else []:
        if isinstance(s, dict) and s.get("name") == stream:
            return str(s.get("media_type") or "application/octet-stream")
    raise NotFoundError(f"the manifest has no stream {stream!r}")


async def play(request: web.Request) -> web.StreamResponse:
    """One decrypted stream of a sealed session (fMP4 video or JSON-lines audit)."""
    deps = deps_of(request)
    session = _session(request)
    stream = request.match_info["stream"]
    if not STREAM_NAME.fullmatch(stream):
        raise Invalid("a stream name is 1-64 of A-Z a-z 0-9 . _ -")
    media_type = _media_type(await deps.peers.merkle.get_manifest(session), stream)
    read_end, write_end = os.pipe()
    try:
        try:
            size = await deps.peers.encryptor.open_stream(session, stream, write_end)
        finally:
            os.close(write_end)  # the encryptor holds its own copy; EOF comes when it is done
        log.info("playback: %s %s for %s", session, stream, request[LOGIN_KEY].account)
        response = web.StreamResponse(
            headers={
                "Content-Type": media_type,
                "Content-Length": str(size),
                "Cache-Control": "no-store",
                "Content-Disposition": "inline",
            }
        )
        await response.prepare(request)
        sent = 0
        while sent < size:
            part = await asyncio.to_thread(os.read, read_end, READ_SIZE)
            if not part:
                break
            await response.write(part)
            sent += len(part)
        if sent != size:
            log.error("playback of %s %s broke after %d of %d bytes", session, stream, sent, size)
            # drop the connection: a short body under a Content-Length is a visible failure
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
    finally:
        os.close(read_end)


async def verify(request: web.Request) -> web.Response:
    """``lucid verify FILE --trust TRUST.json`` on the bundle the page would download, with
    the device's own trust file: ``{"ok": true, ..., "summary", "lines"}`` (the OK line
    after ``OK <file>:`` and the lines under it) or ``{"ok": false, "item", "message"}``
    (the FAILED line's item and message)."""
    deps = deps_of(request)
    session = _session(request)
    roots = TrustRoots.build(await trust_file(deps))
    fh, _size = await _export(deps, session)
    try:
        result: dict[str, Any]
        try:
            verdict = await asyncio.to_thread(judge, fh.name, roots)
        except VerificationError as err:
            result = {"ok": False, "item": err.item, "message": failure_message(err)}
        except EvidenceError as err:
            result = {"ok": False, "item": "format", "message": str(err)}
        else:
            report = verdict.report
            result = {
                "ok": True,
                "session": report.session,
                "chunks": report.chunk_count,
                "bytes": report.total_bytes,
                "root": report.tree_root.hex(),
                "device": report.device_ed25519.hex(),
                "complete": report.complete,
                "started_at": report.started_at,
                "ended_at": report.ended_at,
                "approvals": report.approvals,
                "unverified": list(report.unverified_members),
                "summary": verdict.summary,
                "lines": verdict.lines,
            }
    finally:
        await asyncio.to_thread(fh.close)
    return ok(result)
