"""SageMaker data capture: the JSONL record format and the S3 key layout.

Both backends write (local) or read (AWS) exactly this format, so monitoring code reads
the same records everywhere.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime


def capture_key(endpoint: str, variant: str, when: datetime, file_id: str) -> str:
    """``datacapture/<endpoint>/<variant>/YYYY/MM/DD/HH/<file>.jsonl`` as SageMaker lays it out."""
    when = when.astimezone(UTC)
    return f"datacapture/{endpoint}/{variant}/{when:%Y/%m/%d/%H}/{file_id}.jsonl"


def day_prefix(endpoint: str, variant: str, day: datetime) -> str:
    return f"datacapture/{endpoint}/{variant}/{day:%Y/%m/%d}/"


def _payload(data: bytes, content_type: str, mode: str) -> dict:
    try:
        text = data.decode("utf-8")
        encoding = "JSON" if "json" in content_type else "CSV"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode("ascii"), "BASE64"
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def capture_record(request: bytes, request_type: str, response: bytes, response_type: str,
                   inference_id: str, when: datetime) -> dict:
    return {
        "captureData": {
            "endpointInput": _payload(request, request_type, "INPUT"),
            "endpointOutput": _payload(response, response_type, "OUTPUT"),
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceId": inference_id,
            "inferenceTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        "eventVersion": "0",
    }


@dataclass(frozen=True)
class CapturedInference:
    inference_id: str
    inference_time: datetime
    request: dict
    response: dict


def _decode(payload: dict) -> dict:
    data = payload["data"]
    if payload.get("encoding") == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    return json.loads(data)


def parse_record(line: str) -> CapturedInference:
    """One JSONL line back to its request and response; raises ValueError/KeyError if malformed."""
    record = json.loads(line)
    meta = record["eventMetadata"]
    data = record["captureData"]
    when = datetime.fromisoformat(meta["inferenceTime"])
    return CapturedInference(
        inference_id=meta.get("inferenceId") or meta["eventId"],
        inference_time=when,
        request=_decode(data["endpointInput"]),
        response=_decode(data["endpointOutput"]),
    )
