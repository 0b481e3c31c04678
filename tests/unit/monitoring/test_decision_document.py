"""decision.json is written byte for byte as the monitoring runs it wrote before: the examples are
days of a simulated drift history (tests/integration/test_monitoring_scenarios.py) and of a
data-quality finding, each with the analysis it was decided from and the earlier decisions it read."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from findining_mlops.config.catalog import get_model
from findining_mlops.monitoring import analysis
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.store.json import dumps
from findining_mlops.store.layout import monitoring_report_key

EXAMPLES = json.loads((Path(__file__).parent / "decision_examples.json").read_text())


@dataclass
class Registry:
    """The live version's lineage: its newest training day is all a decision reads of it."""

    trained_until: str | None

    def get(self, model_name: str, version: int):
        days = [self.trained_until] if self.trained_until else []
        return SimpleNamespace(lineage={"data_snapshot": {"days": {"test": days}}})


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["title"] for e in EXAMPLES])
def test_the_decision_document_keeps_its_bytes(example, tmp_path):
    store = LocalArtifactStore(tmp_path)
    model = example["model"]
    for day, earlier in example["earlier"].items():
        store.write_bytes(monitoring_report_key(model, date.fromisoformat(day), "decision.json"), dumps(earlier))
    platform = SimpleNamespace(store=store, registry=Registry(example["trained_until"]))
    spec = replace(get_model(model), monitoring=example["policy"])
    day = date.fromisoformat(example["day"])

    returned = analysis.decide(platform, spec, day, example["analysis"])

    written = store.read_bytes(monitoring_report_key(model, day, "decision.json")).decode()
    assert written == example["expected"]
    assert returned == json.loads(example["expected"])
