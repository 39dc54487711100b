"""Allocator settings for daemons that handle chunk-sized (8–16 MiB) buffers."""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD = -1  # glibc mallopt() parameters (malloc.h)
_M_MMAP_THRESHOLD = -3


def keep_chunk_buffers() -> bool:
    """Make glibc keep freed chunk-sized buffers for reuse instead of unmapping them.

    Every chunk allocates a few chunk-sized buffers (PyNaCl's output, the nonce-prefixed
    copy, compressed data). By default glibc serves those with fresh mmap()s, and the page
    faults on fresh pages cost as much as the encryption itself (measured: seal + hash of
    16 MiB went from 550 to 1070 MB/s). Costs a few chunk buffers of RSS per process.

    Returns:
        Whether glibc took the settings (False on other C libraries).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(
            libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 128 << 20)
        )
    except (OSError, AttributeError):
        return False
