"""What an analyser returns for one piece of feedback: an analysis that meets the schema,
or a failure with its reason — never a failed answer stored as an analysis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from findining_mlops.feedback.redaction import InvalidFeedbackError, PreparedText, prepare

ANALYSED, FAILED, REFUSED = "analysed", "failed", "refused"


@dataclass(frozen=True)
class FeedbackResult:
    feedback_id: str | None
    status: str  # analysed | failed (the analyser could not) | refused (not feedback text)
    analyser: str
    analysis: dict | None = None
    error: str | None = None
    truncated: bool = False
    redactions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class Analyser(Protocol):
    name: str

    def analyse_prepared(self, prepared: PreparedText, feedback_id: str | None) -> FeedbackResult: ...


def analyse(analyser: Analyser, text: object, feedback_id: str | None = None) -> FeedbackResult:
    """Prepares ``text`` (refusal, truncation, redaction) and has ``analyser`` analyse it."""
    try:
        prepared = prepare(text)
    except InvalidFeedbackError as exc:
        return FeedbackResult(feedback_id, REFUSED, analyser.name, error=str(exc))
    return analyser.analyse_prepared(prepared, feedback_id)
