"""Put CPython's recursion limit back after py_ecc raised it.

Importing web3 or eth-account imports py_ecc, which calls ``sys.setrecursionlimit(100_000)``
for the whole process. With that limit, deep recursion (a deeply nested JSON reply from an
endpoint, an attacker's nested document) overflows the C stack and crashes CPython instead
of raising RecursionError, which the parsers turn into a named error. Every process (or
test) that imports web3 / eth-account calls `reset_recursion_limit` once those imports are
done. Importing this module changes nothing by itself; it does not import py_ecc.
"""

from __future__ import annotations

import sys

DEFAULT_RECURSION_LIMIT = 1000  # CPython's default


def reset_recursion_limit() -> None:
    """Set the process's recursion limit to CPython's default (`DEFAULT_RECURSION_LIMIT`)."""
    sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT)
