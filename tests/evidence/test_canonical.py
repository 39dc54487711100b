"""Canonical JSON (RFC 8785) and strict parsing."""

from __future__ import annotations

import pytest

from lucid.evidence.canonical import canonical_json, from_hex, hex32, parse_json
from lucid.evidence.errors import FormatError


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )
    assert canonical_json({"\u20ac": 1, "\r": 2, "1": 3}) == '{"\\r":2,"1":3,"€":1}'.encode()


def test_canonical_json_rejects_unrepresentable() -> None:
    with pytest.raises(ValueError):
        canonical_json({"n": 2**60})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(ValueError):
        canonical_json({"x": object()})


def test_parse_json_ok() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x"]}', "t.json") == {"a": [1, 2.5, "x"]}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{", "not JSON"),
        (b"", "not JSON"),
        (b'{"a": NaN}', "not JSON"),
        (b'{"a": Infinity}', "not JSON"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
        (b"1" * 5000, "not JSON"),
    ],
)
def test_parse_json_rejects(data: bytes, fragment: str) -> None:
    with pytest.raises(FormatError, match=r"^t.json: ") as err:
        parse_json(data, "t.json")
    assert fragment in str(err.value)


def test_parse_json_require_canonical() -> None:
    assert parse_json(b'{"a":1,"b":2}', "c.json", require_canonical=True) == {"a": 1, "b": 2}
    with pytest.raises(FormatError, match=r"c.json: not in canonical form"):
        parse_json(b'{"b":2,"a":1}', "c.json", require_canonical=True)
    with pytest.raises(FormatError, match=r"c.json: not in canonical form"):
        parse_json(b'{"a": 1}', "c.json", require_canonical=True)
    with pytest.raises(FormatError, match=r"c.json: JSON value outside"):
        parse_json(b'{"a":9007199254740993}', "c.json", require_canonical=True)


def test_hex_helpers() -> None:
    assert hex32("ab" * 32, "f") == b"\xab" * 32
    assert from_hex("00ff", "f", 2) == b"\x00\xff"
    for bad in ["AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32, 5, None, " " + "a" * 63]:
        with pytest.raises(FormatError, match=r"^manifest.x: expected 64 lowercase hex"):
            hex32(bad, "manifest.x")
