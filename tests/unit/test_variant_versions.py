"""A production variant's name says which registry version it serves: the one mapping the
monitoring of past days relies on (data capture is filed under the variant's name)."""

from __future__ import annotations

import pytest

from findining_mlops.errors import DataValidationError
from findining_mlops.platform.ports import ModelVersion
from findining_mlops.registry.variants import variant_name, version_of_variant


@pytest.mark.parametrize("version", [1, 2, 12])
def test_a_variant_name_maps_back_to_its_version(version):
    registered = ModelVersion("sentiment", version, "Approved", "k", "file://k", {}, {}, "2026-10-01")
    assert version_of_variant("sentiment", variant_name(registered)) == version


@pytest.mark.parametrize("variant", ["recommendation-v1", "sentiment-v", "sentiment-vx", "sentiment-v-1", "AllTraffic",
                                     "sentiment-v1-shadow"])
def test_a_variant_not_named_after_a_version_is_refused_by_name(variant):
    with pytest.raises(DataValidationError,
                       match=f"variant '{variant}' of sentiment is not named sentiment-v<version>"):
        version_of_variant("sentiment", variant)
