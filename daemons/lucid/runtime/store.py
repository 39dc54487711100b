"""Content-addressed ciphertext store on persistent storage.

A sealed chunk is stored at ``<store>/<first two hex>/<leaf hash hex>`` where the name is
its BLAKE3 leaf hash (docs/evidence.md), written to a temporary file, fsynced, renamed and
the directory fsynced — so a name in the store always means complete, durable bytes. A
full disk leaves nothing behind. Only ciphertext is ever written here.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from lucid.runtime.errors import StorageFullError


class ChunkStore:
    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = root
        self._fsync = fsync

    def path(self, hash_hex: str) -> Path:
        return self.root / hash_hex[:2] / hash_hex

    def has(self, hash_hex: str) -> bool:
        return self.path(hash_hex).exists()

    def read(self, hash_hex: str) -> bytes:
        return self.path(hash_hex).read_bytes()

    def put(self, hash_hex: str, data: bytes) -> Path:
        """Store ``data`` under ``hash_hex`` durably (blocking; run it in a thread).

        Raises:
            StorageFullError: no space; the partial file was removed.
            OSError: any other I/O failure.
        """
        final = self.path(hash_hex)
        if final.exists():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{hash_hex}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self._fsync:
                    os.fdatasync(fd)
                # Written once, read rarely: give the pages back rather than grow the
                # page cache with ciphertext (as borg does).
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            if self._fsync:
                dfd = os.open(final.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        except OSError as err:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFullError(f"chunk store {self.root} is full") from err
            raise
        return final
