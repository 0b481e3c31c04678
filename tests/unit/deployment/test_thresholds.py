"""The canary thresholds' bounds, owned by ``CanaryThresholds``: no override can switch an
alarm off, whether it comes through the model_deployment form (``thresholds_schema``) or is
built in code, and the form's schema is the dataclass's own."""

from __future__ import annotations

from dataclasses import asdict, fields

import jsonschema
import pytest

from findining_mlops.deployment.verdict import CanaryThresholds, thresholds_schema
from findining_mlops.errors import DataValidationError

REFUSED = [
    ({"max_error_rate": 1}, "max_error_rate = 1 is above its maximum 0.5"),
    ({"max_error_rate": -0.1}, "max_error_rate = -0.1 is below its minimum 0"),
    ({"max_model_latency_ms": -5}, "max_model_latency_ms = -5 must be above 0"),
    ({"max_model_latency_ms": 0}, "max_model_latency_ms = 0 must be above 0"),
    ({"max_model_latency_ms": 120_000}, "max_model_latency_ms = 120000 is above its maximum 60000"),
    ({"max_prediction_shift": 0}, "max_prediction_shift = 0 must be above 0"),
    ({"max_prediction_shift": 1}, "max_prediction_shift = 1 is above its maximum 0.4"),
    ({"min_requests": 0}, "min_requests = 0 is below its minimum 1"),
    ({"min_requests": 2.5}, "min_requests = 2.5 is not a whole number"),
    ({"min_prediction_samples": 0}, "min_prediction_samples = 0 is below its minimum 1"),
    ({"max_error_rate": "0.05"}, "max_error_rate = '0.05' is not a number"),
    ({"min_requests": True}, "min_requests = True is not a whole number"),
    ({"max_error_rate": float("nan")}, "max_error_rate = nan"),
]


@pytest.mark.parametrize("overrides, message", REFUSED, ids=[m for _, m in REFUSED])
def test_an_out_of_bounds_threshold_is_refused_by_name_by_the_dataclass_and_the_schema(overrides, message):
    with pytest.raises(DataValidationError, match=message.replace(".", r"\.")):
        CanaryThresholds.from_overrides(overrides)
    # no JSON-schema comparison fails on NaN; a DAG run's stored conf holds it as null, which the schema refuses
    if "nan" not in message:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(overrides, thresholds_schema())


def test_an_unknown_threshold_is_refused_not_ignored():
    with pytest.raises(DataValidationError, match="unknown canary threshold.s. max_eror_rate; known: max_model"):
        CanaryThresholds.from_overrides({"max_eror_rate": 0.01})
    with pytest.raises(jsonschema.ValidationError, match="max_eror_rate"):
        jsonschema.validate({"max_eror_rate": 0.01}, thresholds_schema())


def test_the_seeds_defaults_and_strict_overrides_are_within_bounds():
    seed = CanaryThresholds.from_overrides({})
    assert seed == CanaryThresholds()
    jsonschema.validate(asdict(seed), thresholds_schema())
    strict = {"max_model_latency_ms": 300, "max_error_rate": 0.0, "max_prediction_shift": 0.01, "min_requests": 1,
              "min_prediction_samples": 30}
    jsonschema.validate(strict, thresholds_schema())
    assert CanaryThresholds.from_overrides(strict).max_error_rate == 0.0


def test_the_schema_is_built_from_the_dataclass():
    schema = thresholds_schema()
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == [threshold.name for threshold in fields(CanaryThresholds)]
    for threshold in fields(CanaryThresholds):
        prop = schema["properties"][threshold.name]
        assert prop["default"] == threshold.default
        assert prop["type"] == ("integer" if threshold.type == "int" else "number")
        assert prop["description"] and "maximum" in prop
