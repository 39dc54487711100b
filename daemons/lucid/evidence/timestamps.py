"""RFC 3339 UTC timestamps as manifests write them (``2026-11-22T02:15:30.123Z``).

This module does not read clocks and does not accept offsets other than ``Z``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from lucid.evidence.errors import FormatError

__all__ = ["parse_timestamp", "utc_timestamp"]

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def utc_timestamp(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with milliseconds (``...T02:15:30.123Z``).

    Raises:
        ValueError: `moment` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(value: Any, path: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (RFC 3339, UTC, 1-9 fraction digits).

    Raises:
        FormatError: Any other shape, or not a real date and time.

    Returns:
        An aware UTC datetime (fraction truncated to microseconds).
    """
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise FormatError(f"{path}: expected an RFC 3339 UTC time like 2026-11-22T02:15:30.123Z")
    try:
        moment = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise FormatError(f"{path}: {value!r} is not a real date and time") from None
    fraction = value[20:-1] if value[19] == "." else ""
    return moment.replace(microsecond=int((fraction + "000000")[:6]))
