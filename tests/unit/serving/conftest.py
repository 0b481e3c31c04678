"""A small sentiment model fitted in-process (no training job), packed like the training
contract does, for the serving tests."""

from __future__ import annotations

import pytest
from simulation import tarball
from upload_fixtures import sentiment_files

from findining_mlops.serving.server.handlers import inject_faults


@pytest.fixture(scope="session")
def sentiment_archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("serving-model") / "model.tar.gz"
    path.write_bytes(tarball(sentiment_files(rows=300)))
    return path


@pytest.fixture(scope="session")
def failing_sentiment_archive(sentiment_archive):
    """The same model, failing every request (served so only on a fault drill)."""
    path = sentiment_archive.with_name("failing.tar.gz")
    inject_faults(sentiment_archive, path, {"error_rate": 1.0})
    return path
