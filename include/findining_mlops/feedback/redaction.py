"""Feedback text made safe to analyze: refused when it is not text, cut at a stated limit,
and with personal data (e-mail addresses, card-like numbers, phone numbers) replaced by
placeholders before it leaves for a model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from findining_mlops.errors import FindiningError

MAX_CHARS = 4000  # about a page; longer feedback is cut here and flagged as truncated
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 13-19 digits in groups (a payment card's length), then phone numbers: +852 and
# other international numbers, or Hong Kong's 8 digits (optionally as 4 + 4)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_PHONE = re.compile(r"(?<![\d+])(?:\+\d{1,3}[ -]?)?(?:\(\d{1,4}\)[ -]?)?\d{3,4}[ -]?\d{4}(?!\d)")
# C0 control characters other than tab and newlines: what binary data decoded as text shows
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PLACEHOLDERS = (("email", _EMAIL, "[EMAIL]"), ("card", _CARD, "[CARD]"), ("phone", _PHONE, "[PHONE]"))


class InvalidFeedbackError(FindiningError):
    """Input that is not feedback text: empty, whitespace only, or binary."""


@dataclass(frozen=True)
class PreparedText:
    text: str
    truncated: bool = False
    original_chars: int = 0
    redactions: dict[str, int] = field(default_factory=dict)  # kind -> how many were replaced


def redact(text: str) -> tuple[str, dict[str, int]]:
    counts = {}
    for kind, pattern, placeholder in PLACEHOLDERS:
        text, n = pattern.subn(placeholder, text)
        if n:
            counts[kind] = n
    return text, counts


def prepare(text: object, max_chars: int = MAX_CHARS) -> PreparedText:
    """The text to analyze, or InvalidFeedbackError saying why there is none."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidFeedbackError(f"feedback must be UTF-8 text; got bytes that are not ({exc.reason} at "
                                       f"byte {exc.start})") from exc
    if not isinstance(text, str):
        raise InvalidFeedbackError(f"feedback must be text, not {type(text).__name__}")
    if not text.strip():
        raise InvalidFeedbackError("feedback is empty (or only whitespace): there is nothing to analyze")
    if _CONTROL.search(text):
        raise InvalidFeedbackError("feedback contains control characters (binary data?); send plain text")
    stripped = text.strip()
    cut = stripped[:max_chars]
    redacted, counts = redact(cut)
    return PreparedText(redacted, truncated=len(stripped) > max_chars, original_chars=len(stripped),
                        redactions=counts)
