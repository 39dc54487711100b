"""Audit events other daemons add to a recording (``Recorder1.AddAuditEvent``): what is allowed.

`parse_external_event` checks an event's type and fields before anything is written: the type
is a dotted lower-case name that is none of the recorder's own (``session``, ``encoder``,
``focus``, ``keys``, ``display``), the fields a JSON object of at most `EXTERNAL_FIELDS_MAX`
bytes without the keys the recorder writes itself (`RESERVED_FIELDS`). The size limit leaves
room for metadata and none for content.

This module does not check the session id or who may call, and does not write the event.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lucid.runtime.errors import InvalidArgumentError

EXTERNAL_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
OWN_KINDS = re.compile(r"(session|encoder|focus|keys|display)(\..*)?")
EXTERNAL_FIELDS_MAX = 4096  # bytes of JSON: room for metadata, none for content
RESERVED_FIELDS = frozenset({"t", "type", "producer"})


def parse_external_event(kind: str, fields: str) -> dict[str, Any]:
    """The event's fields as a dict, once ``kind`` and ``fields`` pass the rules above.

    Raises:
        InvalidArgumentError: kind not allowed, or fields not a small JSON object without the
            reserved keys.
    """
    if len(kind) > 64 or not EXTERNAL_KIND.fullmatch(kind) or OWN_KINDS.fullmatch(kind):
        raise InvalidArgumentError(f"audit event type {kind!r} is not allowed")
    if len(fields.encode()) > EXTERNAL_FIELDS_MAX:
        raise InvalidArgumentError(f"audit event fields exceed {EXTERNAL_FIELDS_MAX} bytes")
    try:
        values = json.loads(fields)
    except ValueError as err:
        raise InvalidArgumentError(f"audit event fields are not JSON: {err}") from None
    if not isinstance(values, dict) or RESERVED_FIELDS & values.keys():
        raise InvalidArgumentError(
            f"audit event fields must be a JSON object without {sorted(RESERVED_FIELDS)}"
        )
    return values
