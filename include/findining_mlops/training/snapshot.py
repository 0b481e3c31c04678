"""The first step of a retraining: the training window copied into the job's channels.

The snapshot lives under the training job's prefix (``store.layout.training_job_prefix``) with a manifest, so a
retried step finds the finished snapshot instead of copying again, and the registered version's lineage names the
exact data it learned from (the fingerprint of the channel files).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypedDict

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import DataValidationError
from findining_mlops.platform.ports import Platform
from findining_mlops.store.json import read_json_if_exists
from findining_mlops.store.layout import training_job_prefix
from findining_mlops.store.partitions import read_partition, require_partitions

log = logging.getLogger(__name__)
CHANNELS = ("train", "validation", "test")


class SnapshotRecord(TypedDict):
    """A snapshot as its manifest (``snapshot.json``) and the training task's XCom hold it."""

    job_name: str
    channels: dict[str, str]  # channel -> store prefix
    days: dict[str, list[str]]  # channel -> ISO days
    rows: dict[str, int]
    fingerprint: str


@dataclass(frozen=True)
class Snapshot:
    job_name: str
    channels: dict[str, str]
    days: dict[str, list[str]]
    rows: dict[str, int]
    fingerprint: str

    def to_dict(self) -> SnapshotRecord:
        return {"job_name": self.job_name, "channels": self.channels, "days": self.days, "rows": self.rows,
                "fingerprint": self.fingerprint}


def snapshot_training_data(platform: Platform, spec: ModelSpec, job_name: str, end_day: date,
                           window_days: int | None = None) -> Snapshot:
    """Copy the training window into the job's channels: oldest days train, then
    validation, and the newest ``holdout_days`` are the test set (a time split, as in
    production). Reuses a finished snapshot of the same job."""
    prefix = training_job_prefix(spec.name, job_name)
    manifest_key = f"{prefix}/snapshot.json"
    finished = read_json_if_exists(platform.store, manifest_key)
    if finished is not None:
        return Snapshot(**finished)
    window = window_days or spec.training_window_days
    if window < spec.holdout_days + spec.validation_days + 1:
        raise DataValidationError(
            f"training window of {window} days is too short for {spec.validation_days} validation and "
            f"{spec.holdout_days} holdout day(s)"
        )
    days = [end_day - timedelta(days=offset) for offset in range(window - 1, -1, -1)]
    split = {
        "train": days[: window - spec.holdout_days - spec.validation_days],
        "validation": days[window - spec.holdout_days - spec.validation_days: window - spec.holdout_days],
        "test": days[window - spec.holdout_days:],
    }
    require_partitions(platform, spec.dataset, days)
    # read everything before writing anything: a bad day leaves no half snapshot
    frames = {channel: pd.concat([read_partition(platform, spec.dataset, d) for d in channel_days], ignore_index=True)
              for channel, channel_days in split.items()}
    digest = hashlib.sha256()
    channels = {}
    for channel, frame in frames.items():
        payload = _parquet(frame)
        digest.update(payload)
        platform.store.write_bytes(f"{prefix}/{channel}/part-0.parquet", payload)
        channels[channel] = f"{prefix}/{channel}"
        log.info("snapshot %s: %d rows from %s..%s", channel, len(frame), split[channel][0], split[channel][-1])
    snapshot = Snapshot(
        job_name=job_name,
        channels=channels,
        days={c: [d.isoformat() for d in split[c]] for c in CHANNELS},
        rows={c: int(len(frames[c])) for c in CHANNELS},
        fingerprint=digest.hexdigest(),
    )
    platform.store.write_bytes(manifest_key, json.dumps(snapshot.to_dict(), indent=2).encode())
    return snapshot


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()
