"""What an analyzer returns for one piece of feedback: an analysis that meets the schema,
or a failure with its reason — never a failed answer stored as an analysis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, TypedDict, cast

from findining_mlops.feedback.redaction import InvalidFeedbackError, PreparedText, prepare
from findining_mlops.feedback.schema import Analysis

ANALYZED, FAILED, REFUSED = "analyzed", "failed", "refused"


class FeedbackRecord(TypedDict):
    """A result as the CLI prints it and the digest stores it: every field of ``FeedbackResult``."""

    feedback_id: str | None
    status: str
    analyzer: str
    analysis: Analysis | None
    error: str | None
    truncated: bool
    redactions: dict[str, int]


@dataclass(frozen=True)
class FeedbackResult:
    feedback_id: str | None
    status: str  # analyzed | failed (the analyzer could not) | refused (not feedback text)
    analyzer: str
    analysis: Analysis | None = None
    error: str | None = None
    truncated: bool = False
    redactions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> FeedbackRecord:
        return cast(FeedbackRecord, asdict(self))


class Analyzer(Protocol):
    name: str

    def analyze_prepared(self, prepared: PreparedText, feedback_id: str | None) -> FeedbackResult: ...


def analyze(analyzer: Analyzer, text: object, feedback_id: str | None = None) -> FeedbackResult:
    """Prepares ``text`` (refusal, truncation, redaction) and has ``analyzer`` analyze it."""
    try:
        prepared = prepare(text)
    except InvalidFeedbackError as exc:
        return FeedbackResult(feedback_id, REFUSED, analyzer.name, error=str(exc))
    return analyzer.analyze_prepared(prepared, feedback_id)
