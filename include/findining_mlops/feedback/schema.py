"""The versioned JSON Schema of a feedback analysis, and its validation."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

from jsonschema import Draft202012Validator

SCHEMA_FILE = Path(__file__).with_name("analysis.schema.json")
SCHEMA_VERSION = "1.0"
ATTENTION_ASPECTS = {"hygiene"}  # an aspect a person looks at the same day, whatever its severity


class AspectFinding(TypedDict):
    aspect: str
    severity: int  # 1 (minor) to 3 (look at it today)
    evidence: list[str]  # the words that say it


class Analysis(TypedDict):
    """An analysis that meets ``analysis.schema.json``: what every analyzer returns and the digest reads."""

    schema_version: str
    language: str
    sentiment: str
    aspects: list[AspectFinding]
    summary: str
    suggested_reply: str
    needs_attention: bool
    attention_reasons: list[str]


@lru_cache(maxsize=1)
def analysis_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(analysis_schema())


def schema_errors(analysis: object) -> list[str]:
    """Every way ``analysis`` breaks the schema, each as ``path: message``; empty when valid."""
    errors = sorted(_validator().iter_errors(analysis), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
