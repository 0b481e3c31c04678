"""SageMaker data capture: the JSONL record format, and reading captured requests back.

Both backends write (local) or read (AWS) exactly this format, so monitoring and the canary
bake read the same records everywhere. The keys of the capture files are
``findining_mlops.store.layout``'s (``capture_*``).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from findining_mlops.platform.ports import ArtifactStore
from findining_mlops.store import layout

log = logging.getLogger(__name__)
# what a record that is not SageMaker's format raises while it is parsed or turned into rows
MALFORMED = (ValueError, KeyError, TypeError)


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


# -- reading captured requests back ---------------------------------------------------------------


def day_files(store: ArtifactStore, endpoint: str, day: date) -> list[str]:
    """The capture files of every variant of ``endpoint`` on ``day`` (UTC), in key order, so a day
    reads the same whatever order the store lists it in."""
    return sorted(key for key in store.list_keys(layout.capture_prefix(endpoint))
                  if key.endswith(".jsonl") and layout.capture_day(key) == day)


def window_files(store: ArtifactStore, endpoint: str, variant: str, start: datetime, end: datetime) -> list[str]:
    """The capture files of one variant in the hour folders that overlap [start, end)."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    keys: list[str] = []
    while hour < end:
        keys += [key for key in store.list_keys(layout.capture_hour_prefix(endpoint, variant, hour))
                 if key.endswith(".jsonl")]
        hour += timedelta(hours=1)
    return keys


@dataclass
class CapturedRows:
    """Rows read from capture files, the production variant of each row, and the records behind them."""

    rows: list[dict] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # one per row
    records: int = 0  # records read into rows
    malformed: int = 0  # records that are not SageMaker's format, or that the rows could not be taken from
    per_variant: dict[str, int] = field(default_factory=dict)  # records read, by variant, in variant order


def read_rows(store: ArtifactStore, keys: Iterable[str], rows_of: Callable[[CapturedInference], list[dict]],
              within: tuple[datetime, datetime] | None = None) -> CapturedRows:
    """The rows ``rows_of`` takes from every captured request in ``keys`` (served in [start, end)
    when ``within`` is given). A malformed record is counted and skipped, never raised: how many
    is too many is the reader's call."""
    read = CapturedRows()
    for key in keys:
        variant = layout.capture_variant(key)
        for line in store.read_bytes(key).decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                record = parse_record(line)
                if within is not None and not within[0] <= record.inference_time < within[1]:
                    continue
                rows = rows_of(record)
            except MALFORMED as exc:
                read.malformed += 1
                log.debug("malformed capture record in %s: %s", key, exc)
                continue
            read.rows += rows
            read.variants += [variant] * len(rows)
            read.records += 1
            read.per_variant[variant] = read.per_variant.get(variant, 0) + 1
    read.per_variant = dict(sorted(read.per_variant.items()))
    return read
