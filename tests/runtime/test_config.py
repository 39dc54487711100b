from __future__ import annotations

from pathlib import Path

import pytest

from lucid.runtime.config import Config, dump_config, load_config
from lucid.runtime.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = load_config(environ={"LUCID_CONFIG_DIR_UNUSED": str(tmp_path)})
    assert cfg.chunker.chunk_bytes == 16 * 1024 * 1024
    assert cfg.chunker.flush_seconds <= 10


def test_file_then_env_override(tmp_path: Path) -> None:
    f = tmp_path / "lucid.toml"
    f.write_text("[chunker]\nchunk_bytes = 9000000\n[recorder]\nfps = 10\n")
    cfg = load_config(f, environ={"LUCID__RECORDER__FPS": "12"})
    assert cfg.chunker.chunk_bytes == 9_000_000 and cfg.recorder.fps == 12


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("[chunker]\nchunk_byte = 1\n", {}, "chunker.chunk_byte: unknown key"),
        ("[nope]\nx = 1\n", {}, "nope: unknown key"),
        ("[recorder]\nfps = 'fast'\n", {}, "recorder.fps: expected int"),
        ("[recorder\n", {}, "lucid.toml"),
        ("", {"LUCID__RECORDER__FPS": "x"}, "recorder.fps"),
        ("", {"LUCID__RECORDER": "1"}, "LUCID__<SECTION>__<KEY>"),
    ],
)
def test_bad_config_names_the_key(
    tmp_path: Path, text: str, env: dict[str, str], needle: str
) -> None:
    f = tmp_path / "lucid.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("<", "<")):
        load_config(f, environ=env)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml", environ={})


def test_dump_round_trips(tmp_path: Path) -> None:
    cfg = Config()
    f = tmp_path / "lucid.toml"
    f.write_text(dump_config(cfg))
    assert load_config(f, environ={}) == cfg
