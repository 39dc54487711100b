"""Sealing throughput of a recorded H.264 stream against restic and borg.

Figures (all from one run, on the same file, read from the page cache):

* ``seal_vs_restic``: our throughput / ``restic backup`` throughput.
* ``seal_vs_borg``: our throughput / ``borg create --compression zstd,3`` throughput.
* ``seal_mb_s``, ``restic_mb_s``, ``borg_mb_s``: the absolute figures (MB = 10^6 bytes).

Throughput is file bytes / wall seconds, best of ``ROUNDS`` for each tool. Our path is
what the daemons do to a video stream: 16 MiB chunks, ``compress_chunk`` (zstd level 1
or store, by sampling), XChaCha20-Poly1305 (``seal_chunk``), BLAKE3 leaf hash, and a
content-addressed, fsynced write to a store on disk, by two worker processes that each
read their own chunks. See bench/README.md for the fairness choices.

The H.264 input is a recording of busy Xvfb desktops (x11grab + libx264 with the
recorder's settings: superfast, zerolatency, crf 23, 2 s GOP, 1 s fMP4 fragments; but
30 fps instead of 15 to fill the file sooner), made once and cached under ``<workdir>/``.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from lucid.chunker.compress import CompressionLevels, compress_chunk
from lucid.evidence.crypto import seal_chunk
from lucid.evidence.tree import leaf_hash
from lucid.runtime.memory import keep_chunk_buffers
from lucid.runtime.store import ChunkStore

CHUNK_SIZE = 16 * 1024 * 1024  # bytes, as the chunker cuts video streams
WORKERS = 2  # the machine's cores; each worker reads its own chunks
ROUNDS = 3  # best of
MIN_INPUT_BYTES = 300_000_000  # the figure is defined on >= 300 MB of H.264
INPUT_NAME = "desktop-h264.v2.mp4"  # bump the version when the recording changes
DESKTOPS = 3  # Xvfb desktops recorded at once, to fill the file ~3x faster than real time
RECORD_TIMEOUT = 1800.0  # seconds
BORG_ENCRYPTION = "repokey"  # HMAC-SHA256 + AES-CTR; see bench/README.md

Figure = tuple[str, float, str]


# --- the sealing path ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedChunk:
    """What sealing one chunk reports back (all the encryptor records about it)."""

    index: int
    leaf_hash: bytes
    size: int  # sealed bytes written to the store
    plain_size: int  # plaintext bytes read from the stream
    compression: str  # "zstd" or "none"


_buffer = bytearray()  # per process: reused across chunks, grown on demand


def _read_range(path: Path, offset: int, length: int) -> memoryview:
    global _buffer
    if len(_buffer) < length:
        _buffer = bytearray(length)
    view = memoryview(_buffer)[:length]
    filled = 0
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while filled < length:
            n = f.readinto(view[filled:])
            if not n:
                break
            filled += n
    return view[:filled]


def seal_file_range(
    path: Path,
    offset: int,
    length: int,
    key: bytes,
    session: str,
    stream: str,
    index: int,
    store_dir: Path,
    levels: CompressionLevels | None = None,
) -> SealedChunk:
    """Read one video chunk from a file, compress, seal, hash and store it.

    Safe to run in any process: it opens ``path`` itself and ships back only the small
    result, never the chunk (FACTS: moving 16 MiB buffers between processes does not
    scale).

    Args:
        path: the stream's bytes (a file; the spool's chunk or segment in the daemon).
        offset: where the chunk starts in ``path``.
        length: chunk length; less is read at the end of the file.
        key: the session's 32-byte data key.
        session: session name (bound into the AEAD's associated data).
        stream: stream name (ditto).
        index: chunk index within the stream (ditto).
        store_dir: content-addressed store; the chunk lands at ``<hh>/<leafhash-hex>``.
        levels: compression policy; defaults to ``CompressionLevels()``.

    Returns:
        The chunk's index, leaf hash, sealed size, plaintext size and compression.
    """
    plain = _read_range(path, offset, length)
    packed = compress_chunk(plain, "video", levels)
    sealed = seal_chunk(key, session, stream, index, packed.data)
    leaf = leaf_hash(sealed)
    ChunkStore(store_dir).put(leaf.hex(), sealed)
    return SealedChunk(index, leaf, len(sealed), packed.plain_size, packed.compression)


def seal_file(
    path: Path,
    store_dir: Path,
    key: bytes | None = None,
    workers: int = WORKERS,
    levels: CompressionLevels | None = None,
) -> list[SealedChunk]:
    """Seal a whole file as one video stream ("bench", "video.0") with worker processes.

    Args:
        path: the stream's bytes.
        store_dir: the content-addressed store to write into.
        key: the 32-byte data key (default: a fresh random one).
        workers: worker processes, each reading its own chunks.
        levels: compression policy (default: ``CompressionLevels()``).

    Returns:
        One result per chunk, in chunk order.
    """
    size = path.stat().st_size
    if key is None:
        key = secrets.token_bytes(32)
    offsets = range(0, size, CHUNK_SIZE)
    ctx = multiprocessing.get_context("fork")  # the bench's own modules are already loaded
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=keep_chunk_buffers
    ) as pool:
        jobs = [
            pool.submit(
                seal_file_range,
                path,
                offset,
                CHUNK_SIZE,
                key,
                "bench",
                "video.0",
                index,
                store_dir,
                levels,
            )
            for index, offset in enumerate(offsets)
        ]
        return [job.result() for job in jobs]


# --- the input ----------------------------------------------------------------------

# Runs on each desktop: pointer moves (xeyes follows), a licence text pages down,
# xedit gets typed into, a calculator window wanders, two x11perf loops draw text,
# scroll and copy windows. Busy but desktop-like: ~3 Mbit/s at crf 23 (FACTS: ~2.4).
_DESKTOP_SCRIPT = r"""
xclock -update 1 -geometry 200x200+1700+20 &
xeyes -geometry 200x150+1700+240 &
xload -update 1 -geometry 300x150+1600+420 &
xlogo -geometry 150x150+1750+600 &
xcalc -geometry +1400+700 &
xmore -geometry 700x900+20+20 /usr/share/common-licenses/GPL-3 &
xedit -geometry 650x500+740+20 &
xconsole -geometry 650x350+740+560 &
while :; do x11perf -time 2 -repeat 1 -ftext -f9text -tr10text -scroll500 -oddtilerect100; done &
while :; do x11perf -time 2 -repeat 1 -f8text -polytext -copywinwin500 -tr24text; done &
sleep 1
i=0
while :; do
    i=$((i + 1))
    xdotool mousemove $((100 + i * 37 % 1700)) $((100 + i * 53 % 900))
    xdotool search --name xmore windowactivate key --delay 50 Next Next
    xdotool search --class xedit windowactivate type --delay 20 \
        "line $i: the quick brown fox jumps over the lazy dog $(date +%s.%N)
"
    for w in $(xdotool search --class xcalc); do
        xdotool windowmove "$w" $((1000 + i * 41 % 600)) $((600 + i * 29 % 300))
    done
    sleep 0.2
done
"""


@contextmanager
def _xvfb() -> Iterator[str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip().decode()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait()


@contextmanager
def _process_group(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def record_desktops(out: Path, min_bytes: int, desktops: int = DESKTOPS) -> None:
    """Record busy Xvfb desktops into one H.264 fMP4 byte stream of >= ``min_bytes``.

    Each desktop is recorded at once into its own part (until the part reaches its
    share of the size) and the parts are concatenated: every byte is distinct, so
    deduplicating tools gain nothing from repeats.
    """
    part_bytes = -(-min_bytes // desktops) + 1_000_000
    parts = [out.with_name(f"{out.name}.part{i}") for i in range(desktops)]
    with ExitStack() as stack:
        encoders = []
        for part in parts:
            display = stack.enter_context(_xvfb())
            env = os.environ | {"DISPLAY": display}
            stack.enter_context(_process_group(["bash", "-c", _DESKTOP_SCRIPT], env))
            ffmpeg = [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                "-f", "x11grab", "-framerate", "30", "-video_size", "1920x1080", "-i", display,
                "-c:v", "libx264", "-preset", "superfast", "-tune", "zerolatency",
                "-crf", "23", "-g", "60", "-pix_fmt", "yuv420p", "-fs", str(part_bytes),
                "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
                "-frag_duration", "1000000", str(part),
            ]  # fmt: skip
            encoders.append(stack.enter_context(_process_group(ffmpeg, env)))
        deadline = time.monotonic() + RECORD_TIMEOUT
        for encoder in encoders:
            rc = encoder.wait(timeout=max(1.0, deadline - time.monotonic()))
            if rc != 0:
                raise RuntimeError(f"ffmpeg x11grab exited {rc}")
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as sink:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, sink, CHUNK_SIZE)
            part.unlink()
    os.replace(tmp, out)


def ensure_input(workdir: Path, min_bytes: int = MIN_INPUT_BYTES) -> Path:
    """Return the cached H.264 recording, making it first if it is missing or short."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / INPUT_NAME
    if not path.exists() or path.stat().st_size < min_bytes:
        print(f"bench: recording {min_bytes / 1e6:.0f} MB of desktop H.264 into {path} "
              f"(once, a few minutes)", file=sys.stderr)  # fmt: skip
        record_desktops(path, min_bytes)
    return path


# --- the peers ----------------------------------------------------------------------


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else "no output"
        raise RuntimeError(f"{argv[0]} {argv[1]} exited {done.returncode}: {last}")


def _restic(path: Path, scratch: Path) -> tuple[float, Path]:
    repo = scratch / "restic-repo"
    env = os.environ | {"RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo)}
    _run(["restic", "init", "--quiet"], env)
    start = time.perf_counter()
    _run(["restic", "backup", "--quiet", "--no-cache", "--host", "bench", str(path)], env)
    return time.perf_counter() - start, repo


def _borg(path: Path, scratch: Path) -> tuple[float, Path]:
    repo = scratch / "borg-repo"
    env = os.environ | {
        "BORG_PASSPHRASE": "bench",
        "BORG_BASE_DIR": str(scratch / "borg-home"),  # fresh cache and keys per run
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
    }
    _run(["borg", "init", f"--encryption={BORG_ENCRYPTION}", str(repo)], env)
    start = time.perf_counter()
    _run(["borg", "create", "--compression", "zstd,3", f"{repo}::bench", str(path)], env)
    return time.perf_counter() - start, repo


def _ours(path: Path, scratch: Path) -> tuple[float, Path]:
    # A process of its own, like the peers: interpreter start and imports count too.
    store = scratch / "store"
    start = time.perf_counter()
    _run([sys.executable, __file__, str(path), str(store)], dict(os.environ))
    return time.perf_counter() - start, store


def _warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK_SIZE)
        while f.readinto(buf):
            pass


def bench_seal(workdir: Path) -> list[Figure]:
    """Measure the seal figures (see the module docstring)."""
    path = ensure_input(workdir)
    size = path.stat().st_size
    tools = {"seal": _ours, "restic": _restic, "borg": _borg}
    best = dict.fromkeys(tools, float("inf"))
    stored = dict.fromkeys(tools, 0)
    for _ in range(ROUNDS):
        for name, run in tools.items():
            # Every tool reads from the page cache; borg drops what it read from it.
            _warm(path)
            with tempfile.TemporaryDirectory(dir=workdir, prefix=f"run-{name}-") as scratch:
                seconds, repo = run(path, Path(scratch))
                best[name] = min(best[name], seconds)
                stored[name] = _tree_bytes(repo)
    mb_s = {name: size / seconds / 1e6 for name, seconds in best.items()}
    return [
        ("seal_vs_restic", mb_s["seal"] / mb_s["restic"], "≥ 3.0"),
        ("seal_vs_borg", mb_s["seal"] / mb_s["borg"], "≥ 2.5"),
        ("seal_mb_s", mb_s["seal"], ""),
        ("restic_mb_s", mb_s["restic"], ""),
        ("borg_mb_s", mb_s["borg"], ""),
        ("seal_input_mb", size / 1e6, ""),
        ("seal_stored_mb", stored["seal"] / 1e6, ""),
        ("restic_stored_mb", stored["restic"] / 1e6, ""),
        ("borg_stored_mb", stored["borg"] / 1e6, ""),
    ]


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str]) -> int:
    """``python bench/seal.py FILE STORE_DIR``: seal FILE as one video stream."""
    if len(argv) != 2:
        print("usage: seal.py FILE STORE_DIR", file=sys.stderr)
        return 2
    path = Path(argv[0])
    chunks = seal_file(path, Path(argv[1]))
    if sum(c.plain_size for c in chunks) != path.stat().st_size:
        print("seal.py: sealed chunks do not add up to the file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
