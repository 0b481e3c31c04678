"""Shared fixtures: an isolated FINDINING_HOME per test and small synthetic data."""

from __future__ import annotations

from datetime import date

import pytest

START = date(2026, 10, 1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "findining"
    monkeypatch.setenv("FINDINING_HOME", str(path))
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    return path


@pytest.fixture
def platform(home):
    from findining_mlops.platform.local import local_platform

    return local_platform(home, seed=11)


@pytest.fixture
def small_data(platform):
    """Ten small days of both datasets: enough to train and evaluate in seconds."""
    from findining_mlops.data.synthetic import generate

    generate(platform.store, START, 10, seed=3, requests_per_day=150, reviews_per_day=150)
    return platform
