"""Fixtures for lucid.evidence tests: a freshly recorded and bundled sample session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.evidence.helpers import Sample, make_sample


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return make_sample(tmp_path)


@pytest.fixture
def sample_factory(tmp_path: Path) -> Callable[..., Sample]:
    return lambda *a, **kw: make_sample(tmp_path, *a, **kw)
