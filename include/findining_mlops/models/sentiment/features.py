"""Monitoring features of review text, shared by training (reference profile) and monitoring."""

from __future__ import annotations

import re

import pandas as pd

NUMERICAL = ["text_length", "latin_share", "punctuation_count"]
CATEGORICAL = ["language"]
FEATURES = NUMERICAL + CATEGORICAL
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def text_features(texts: pd.Series) -> pd.DataFrame:
    """Cheap, language-agnostic descriptors whose distribution moves when vocabulary does."""
    texts = texts.astype(str)
    latin = texts.str.count(_LATIN)
    cjk = texts.str.count(_CJK)
    return pd.DataFrame(
        {
            "text_length": texts.str.len().astype(float),
            "latin_share": (latin / (latin + cjk).clip(lower=1)).astype(float),
            "punctuation_count": texts.str.count(r"[,，.。!！?？]").astype(float),
            "language": (cjk > latin).map({True: "yue", False: "en"}),
        }
    )


def text_capture_features(rows: pd.DataFrame) -> pd.DataFrame:
    """Captured text requests as feature rows: the text's descriptors, then every other captured field (the
    served prediction, the join key) as it came."""
    return pd.concat([text_features(rows["text"]), rows.drop(columns="text")], axis=1)
