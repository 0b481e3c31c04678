"""The guide's payloads kept as test fixtures (tests/fixtures/guide/<action>.json) are the
guide's text, character for character: compared with the seed's guide when a checkout has
it beside the repository (``../shared/seed/``), skipped elsewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "guide"
GUIDE_NAME = "ml-infrastructure-guide.md"
# the payloads the guide passes to `aws lambda invoke --payload '…'`
PAYLOAD = re.compile(r"--payload '(?P<payload>.*?)'", re.DOTALL)


def seed_guide() -> Path | None:
    """``shared/seed/`` beside the repository or beside a folder holding it (a worktree)."""
    candidates = (parent / "shared" / "seed" / GUIDE_NAME for parent in ROOT.parents)
    return next((guide for guide in candidates if guide.is_file()), None)


def test_every_fixture_is_a_payload_with_its_action_as_name():
    fixtures = sorted(FIXTURES.glob("*.json"))
    assert [f.stem for f in fixtures] == ["analyze_test", "create_test", "deploy_model", "trigger_retraining"]
    for fixture in fixtures:
        assert json.loads(fixture.read_text())["action"] == fixture.stem


def test_the_fixtures_are_the_guides_payloads_verbatim():
    guide = seed_guide()
    if guide is None:
        pytest.skip(f"no shared/seed/{GUIDE_NAME} beside the repository")
    payloads = {json.loads(m["payload"])["action"]: m["payload"] for m in PAYLOAD.finditer(guide.read_text())}
    assert payloads == {f.stem: f.read_text() for f in FIXTURES.glob("*.json")}
