"""Integration fixtures: a small model catalog per test."""

from __future__ import annotations

import pytest
from simulation import write_catalog


@pytest.fixture
def use_catalog(tmp_path, monkeypatch):
    """``use_catalog(sentiment={...})`` makes the pipeline (and DAG forms) see only these models."""

    def use(**models: dict):
        path = write_catalog(tmp_path / "models.toml", models)
        monkeypatch.setenv("FINDINING_MODELS_CONFIG", str(path))
        return path

    return use
