"""Recipient key files: round trip, permissions, and one-line errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lucid.evidence.errors import KeyFileError
from lucid.evidence.keyfile import RecipientKey


def test_round_trip_mode_and_repr(tmp_path: Path) -> None:
    key = RecipientKey.generate()
    path = tmp_path / "auditor.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert RecipientKey.load(path) == key
    doc = json.loads(path.read_text())
    assert doc["format"] == "lucid.recipient-key" and doc["version"] == 1
    assert doc["x25519_public"] == key.public.hex()
    assert key.secret.hex() not in repr(key)
    assert [p.name for p in tmp_path.iterdir()] == ["auditor.key"]  # no temp file left


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "auditor.key"
    first = RecipientKey.generate()
    first.save(path)
    with pytest.raises(KeyFileError, match=r"already exists"):
        RecipientKey.generate().save(path)
    assert RecipientKey.load(path) == first
    second = RecipientKey.generate()
    second.save(path, overwrite=True)
    assert RecipientKey.load(path) == second
    assert len(list(tmp_path.iterdir())) == 1


def test_save_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot write key file"):
        RecipientKey.generate().save(tmp_path / "nope" / "auditor.key")


def _doc(key: RecipientKey, **changes: object) -> str:
    doc: dict[str, object] = {
        "format": "lucid.recipient-key",
        "version": 1,
        "x25519_secret": key.secret.hex(),
        "x25519_public": key.public.hex(),
    }
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such key file"),
        ("not json {", "not a key file (not JSON)"),
        ("[1, 2]", "not a Lucid recipient key"),
        ('{"format": "ssh-ed25519"}', "not a Lucid recipient key"),
        ("VERSION", "unsupported recipient key version 2"),
        ("BADHEX", "x25519_secret: expected 64 lowercase hex"),
        ("MISMATCH", "x25519_public does not match x25519_secret"),
    ],
)
def test_load_errors(tmp_path: Path, content: str | None, fragment: str) -> None:
    key = RecipientKey.generate()
    path = tmp_path / "auditor.key"
    if content == "VERSION":
        content = _doc(key, version=2)
    elif content == "BADHEX":
        content = _doc(key, x25519_secret="XYZ")
    elif content == "MISMATCH":
        content = _doc(key, x25519_public=RecipientKey.generate().public.hex())
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeyFileError) as err:
        RecipientKey.load(path)
    message = str(err.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message


def test_load_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot read key file"):
        RecipientKey.load(tmp_path)


def test_save_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # vfat USB sticks cannot hard-link: save falls back to check-then-rename.
    def no_link(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("lucid.evidence.keyfile.os.link", no_link)
    path = tmp_path / "auditor.key"
    key = RecipientKey.generate()
    key.save(path)
    assert RecipientKey.load(path) == key
    with pytest.raises(KeyFileError, match="already exists"):
        RecipientKey.generate().save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["auditor.key"]
