"""What the text models (sentiment, aspects) share: a request is a text, a batch is a list of
texts, and monitoring profiles cheap, language-agnostic descriptors of the text."""

from __future__ import annotations

import json
import re

import pandas as pd

from findining_mlops.data.capture import CapturedInference
from findining_mlops.models.contract import AppRequest

NUMERICAL = ["text_length", "latin_share", "punctuation_count"]
CATEGORICAL = ["language"]
FEATURES = NUMERICAL + CATEGORICAL
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def text_features(texts: pd.Series) -> pd.DataFrame:
    """Descriptors whose distribution moves when vocabulary does."""
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


def text_input(request_body, request_content_type: str, model_name: str) -> dict:
    """``input_fn`` of the text models: ``{"text": ...}`` or ``{"instances": [{"text": ...}, ...]}``
    as ``{"texts": [...], "batch": bool}``, so a batch answers as a batch."""
    if "json" not in request_content_type:
        raise ValueError(f"unsupported content type {request_content_type!r}; send application/json")
    payload = json.loads(request_body)
    if "instances" in payload:
        return {"texts": [str(item["text"]) for item in payload["instances"]], "batch": True}
    if "text" not in payload:
        raise ValueError(f"{model_name} request needs 'text' (or 'instances': [{{'text': ...}}])")
    return {"texts": [str(payload["text"])], "batch": False}


def text_requests(rows: pd.DataFrame, time_column: str) -> list[AppRequest]:
    """The app sends each row's text on its own, at the row's ``time_column``."""
    return [AppRequest(r.inference_id, getattr(r, time_column), {"text": r.text}) for r in rows.itertuples()]


def captured_text(record: CapturedInference, model_name: str) -> str:
    """The captured request's text; ValueError when the request has no text."""
    text = record.request["text"]
    if not isinstance(text, str):
        raise ValueError(f"captured {model_name} request has no text")
    return text


def text_capture_features(rows: pd.DataFrame) -> pd.DataFrame:
    """Captured text requests as feature rows: the text's descriptors, then every other captured field (the
    served prediction, the join key) as it came."""
    return pd.concat([text_features(rows["text"]), rows.drop(columns="text")], axis=1)


def labelled(captured: pd.DataFrame, truth: pd.DataFrame, label: str) -> tuple[pd.DataFrame, dict]:
    """Captured rows joined with the ``label`` column of the day's ground truth, and how many found theirs."""
    joined = captured.merge(truth[["inference_id", label]], on="inference_id", how="inner")
    return joined, {"labelled_rows": int(len(joined)),
                    "ground_truth_coverage": float(len(joined) / max(len(captured), 1))}
