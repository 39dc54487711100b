"""Canonical JSON (RFC 8785) and strict JSON / hex parsing for evidence files.

`canonical_json` is the only way this package turns objects into bytes that get
hashed or signed. `parse_json` is the only way it reads JSON: strict UTF-8, no
duplicate object keys, no NaN / Infinity, optionally "must already be canonical".

This module does not know any Lucid schema; field-by-field validation lives in
`lucid.evidence._fields` and the format modules.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from lucid.evidence.errors import FormatError
from lucid.evidence.limits import json_tokens

__all__ = ["canonical_json", "from_hex", "hex32", "parse_json"]

_HEX = re.compile(r"[0-9a-f]*")


def canonical_json(obj: Any) -> bytes:
    """Serialise `obj` with the JSON Canonicalization Scheme (RFC 8785).

    Args:
        obj: JSON-shaped data: dict with str keys, list, tuple, str, int, float,
            bool or None.

    Raises:
        ValueError: `obj` is not representable (an int beyond +-(2**53 - 1), NaN, a
            non-str key, an unsupported type). This is a bug in the caller.

    Returns:
        The canonical UTF-8 bytes.
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as err:
        raise ValueError(f"cannot canonicalise: {err}") from err
    except TypeError as err:
        raise ValueError(f"cannot canonicalise: {err}") from err


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def parse_json(
    data: bytes, what: str, *, require_canonical: bool = False, max_tokens: int | None = None
) -> Any:
    """Parse untrusted JSON strictly.

    Args:
        data: The raw bytes (must be UTF-8, no byte-order mark).
        what: Name of the file or member, used in error messages (``"manifest.json"``).
        require_canonical: Also insist that `data` is exactly the RFC 8785 form of
            what it parses to, so that no two byte strings carry the same content.
        max_tokens: If given, refuse `data` with more ``{``, ``[`` and ``,`` bytes than
            this before parsing it (see `limits.json_tokens`): it bounds the number of
            values, hence the memory parsing takes.

    Raises:
        FormatError: Not UTF-8, not JSON, a duplicate key, NaN / Infinity, nesting too
            deep, more tokens than `max_tokens`, or (with `require_canonical`) not in
            canonical form.

    Returns:
        The parsed value (dicts, lists, str, int, float, bool, None).
    """
    if max_tokens is not None and (tokens := json_tokens(data)) > max_tokens:
        raise FormatError(
            f"{what}: {tokens} JSON containers and separators, more than the {max_tokens} "
            "the format allows"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FormatError(f"{what}: not UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey as err:
        raise FormatError(f"{what}: duplicate key {err.key!r}") from None
    except json.JSONDecodeError as err:
        raise FormatError(
            f"{what}: not JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None
    except ValueError as err:
        raise FormatError(f"{what}: not JSON ({err})") from None
    except RecursionError:
        raise FormatError(f"{what}: JSON nested too deeply") from None
    if require_canonical:
        try:
            canonical = canonical_json(value)
        except (ValueError, RecursionError):
            raise FormatError(f"{what}: JSON value outside the RFC 8785 domain") from None
        if canonical != data:
            raise FormatError(f"{what}: not in canonical form (RFC 8785)")
    return value


def from_hex(value: Any, field: str, size: int) -> bytes:
    """Decode lowercase hex that must encode exactly `size` bytes.

    Args:
        value: The untrusted value (anything; only a str can pass).
        field: Field path for the error message (``"manifest.chunks[3].hash"``).
        size: Required length in bytes.

    Raises:
        FormatError: Not a str, wrong length, upper-case or non-hex characters.

    Returns:
        The decoded bytes.
    """
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.fullmatch(value):
        raise FormatError(f"{field}: expected {2 * size} lowercase hex digits ({size} bytes)")
    return bytes.fromhex(value)


def hex32(value: Any, field: str) -> bytes:
    """Decode a 32-byte value (hash or public key) written as 64 lowercase hex digits.

    Args:
        value: The untrusted value.
        field: Field path for the error message.

    Raises:
        FormatError: See `from_hex`.

    Returns:
        The 32 decoded bytes.
    """
    return from_hex(value, field, 32)
