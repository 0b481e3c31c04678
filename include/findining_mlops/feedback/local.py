"""The local analyzer: the live versions of the aspect and sentiment models, an extractive
summary and replies from templates — real models, no canned answers.

Clauses of the feedback are scored one by one, so each aspect's evidence is the clause
that says it, and the summary is the clause that complains most clearly.
"""

from __future__ import annotations

import re

import numpy as np

from findining_mlops.config.catalog import get_model
from findining_mlops.data.feedback import ASPECTS
from findining_mlops.errors import FindiningError
from findining_mlops.feedback.redaction import PreparedText
from findining_mlops.feedback.results import ANALYZED, FAILED, FeedbackResult
from findining_mlops.feedback.schema import ATTENTION_ASPECTS, SCHEMA_VERSION, Analysis, AspectFinding, schema_errors
from findining_mlops.models.aspects.features import THRESHOLD
from findining_mlops.platform.ports import Platform
from findining_mlops.serving.server.served_model import ServedModel, served_version

ASPECT_MODEL, SENTIMENT_MODEL = "aspects", "sentiment"
_CLAUSE = re.compile(r"[^,，.。!！?？;；\n]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
# words that make a complaint a person's business today, beyond hygiene
ATTENTION_WORDS = {
    "safety": re.compile(r"food poisoning|allerg|injur|burn(?:t|ed) my|choking|食物中毒|敏感|受傷|燙親", re.I),
    "discrimination": re.compile(r"racis|discriminat|歧視|睇唔起", re.I),
}
HIGH_SEVERITY = 0.9  # an aspect this certain spoilt the visit (severity 2); hygiene and safety are 3
REPLIES = {
    "en": {
        "food_quality": "we are sorry the food was not up to standard; our chef is looking at it",
        "service": "we are sorry our team did not look after you properly",
        "price_value": "thank you for telling us about the price; we are reviewing the charges",
        "hygiene": "hygiene comes first for us: we are inspecting the restaurant today",
        "wait_time": "we are sorry you had to wait so long",
        "ambience": "thank you for telling us about the room; we are fixing it",
        "delivery": "we are sorry about your delivery and are following it up with our courier",
        "other": "thank you for letting us know; we are looking into it",
    },
    "yue": {
        "food_quality": "對唔住食物質素未達標，廚師會即刻跟進",
        "service": "對唔住我哋同事招呼唔周",
        "price_value": "多謝你話我哋知價錢嘅問題，我哋會檢討收費",
        "hygiene": "衞生係我哋嘅首要責任，今日會即刻檢查餐廳",
        "wait_time": "對唔住要你等咗咁耐",
        "ambience": "多謝你嘅意見，我哋會改善環境",
        "delivery": "對唔住外賣出咗問題，我哋會同外賣員跟進",
        "other": "多謝你話我哋知，我哋會跟進",
    },
}
GREETING = {"en": ("Thank you for your feedback: ", ". Please contact us so we can make it right."),
            "yue": ("多謝你嘅意見：", "。歡迎聯絡我哋，等我哋可以補救。")}
PRAISE_REPLY = {"en": "Thank you for your kind words; we hope to see you again soon.",
                "yue": "多謝你嘅支持，期待再見到你！"}


def live_model(platform: Platform, name: str) -> tuple[ServedModel, int]:
    """``name``'s live version (the one serving most traffic), asked through its own sandboxed
    model server, and its number: the model is never loaded in this process."""
    from findining_mlops.registry.variants import champion

    live = champion(platform, get_model(name))
    if live is None:
        raise FindiningError(f"feedback analysis needs a {name} model, and none is approved; "
                             f"run model_retraining with model_name={name} first")
    return served_version(platform, live), live.version


def language_of(text: str) -> str:
    return "yue" if len(_CJK.findall(text)) > len(_LATIN.findall(text)) else "en"


def clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.findall(text) if c.strip()] or [text.strip()]


class LocalAnalyzer:
    """Analyses with the models' live versions (the version serving most traffic on each
    endpoint), each asked through its own sandboxed model server, not through the endpoint:
    nothing is captured, so the digest's reads do not show up as app traffic in the models'
    monitoring."""

    def __init__(self, aspect_model, sentiment_model, versions: dict[str, int]):
        self.aspect_model = aspect_model
        self.sentiment_model = sentiment_model
        self.name = f"local:aspects v{versions[ASPECT_MODEL]}+sentiment v{versions[SENTIMENT_MODEL]}"

    @classmethod
    def from_platform(cls, platform: Platform) -> LocalAnalyzer:
        (aspects, aspect_version), (sentiment, sentiment_version) = (live_model(platform, name)
                                                                     for name in (ASPECT_MODEL, SENTIMENT_MODEL))
        return cls(aspects, sentiment, {ASPECT_MODEL: aspect_version, SENTIMENT_MODEL: sentiment_version})

    def analyze_prepared(self, prepared: PreparedText, feedback_id: str | None) -> FeedbackResult:
        analysis = self.analysis(prepared.text)
        problems = schema_errors(analysis)
        if problems:  # a bug here, not bad input: fail loudly in the record rather than store it
            return FeedbackResult(feedback_id, FAILED, self.name, error="; ".join(problems),
                                  truncated=prepared.truncated, redactions=prepared.redactions)
        return FeedbackResult(feedback_id, ANALYZED, self.name, analysis, truncated=prepared.truncated,
                              redactions=prepared.redactions)

    def analysis(self, text: str) -> Analysis:
        language = language_of(text)
        parts = clauses(text)
        per_clause = self.aspect_model.predict_proba(parts)
        # an aspect counts when the whole text or any one clause says it: in a long complaint
        # about several things, each one's share of the whole text can fall below the threshold
        whole = np.maximum(self.aspect_model.predict_proba([text])[0], per_clause.max(axis=0))
        sentiment = str(self.sentiment_model.predict([text])[0])
        attention = sorted({reason for reason, words in ATTENTION_WORDS.items() if words.search(text)})
        aspects: list[AspectFinding] = []
        for j in sorted(range(len(ASPECTS)), key=lambda j: -whole[j]):
            if whole[j] < THRESHOLD:
                break
            aspect = ASPECTS[j]
            evidence = parts[int(per_clause[:, j].argmax())]
            severity = 3 if aspect in ATTENTION_ASPECTS or "safety" in attention else \
                2 if whole[j] >= HIGH_SEVERITY else 1
            aspects.append({"aspect": aspect, "severity": severity, "evidence": [evidence[:300]]})
        if aspects and sentiment == "positive":
            sentiment = "neutral"  # praise with a complaint in it is mixed, not positive
        if any(a["aspect"] in ATTENTION_ASPECTS for a in aspects):
            attention = sorted(set(attention) | {"hygiene"})
        # the summary is the clause the model is surest complains about something
        summary = parts[int(per_clause.max(axis=1).argmax())] if aspects else parts[0]
        return {
            "schema_version": SCHEMA_VERSION,
            "language": language,
            "sentiment": sentiment,
            "aspects": aspects,
            "summary": summary[:400],
            "suggested_reply": reply(language, [a["aspect"] for a in aspects]),
            "needs_attention": bool(attention),
            "attention_reasons": attention,
        }


def reply(language: str, aspects: list[str]) -> str:
    if not aspects:
        return PRAISE_REPLY[language]
    opening, closing = GREETING[language]
    sep = "；" if language == "yue" else "; "
    return opening + sep.join(REPLIES[language][a] for a in aspects[:3]) + closing
