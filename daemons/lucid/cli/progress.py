"""Progress bars on stderr, shown only on a terminal (tqdm's ``disable=None``)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def byte_bar(total: int, desc: str, quiet: bool = False) -> tqdm[None]:
    """A bytes progress bar for work that may take more than a second."""
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc=desc,
        file=sys.stderr,
        leave=False,
        disable=True if quiet else None,
    )
