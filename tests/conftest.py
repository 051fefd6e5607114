"""Shared fixtures: the real data root (../shared/data beside the checkout) and quiet progress bars."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    env = os.environ.get("FTGEO_DATA_ROOT")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data", REPO / "shared" / "data"]:
        if (cand / "README.md").is_file():
            return cand
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder with the real datasets; in CI it must exist, elsewhere its absence skips the test."""
    root = _data_root()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no data root: expected ../shared/data beside the checkout or FTGEO_DATA_ROOT")
        pytest.skip("no data root (../shared/data or FTGEO_DATA_ROOT)")
    return root


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("FTGEO_NO_PROGRESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
