"""Reading SageMaker data capture back: which files a day or a bake window reads, and how the
records in them become rows, with malformed records counted rather than raised."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from findining_mlops.data import capture
from findining_mlops.platform.local.store import LocalArtifactStore
from findining_mlops.store.layout import capture_key

ENDPOINT = "ai-restaurant-recommendation-sentiment-endpoint"
NOON = datetime(2026, 10, 5, 12, tzinfo=UTC)


def record(inference_id: str, when: datetime, label: str = "positive") -> str:
    request = json.dumps({"text": "好味"}).encode()
    response = json.dumps({"label": label}).encode()
    return json.dumps(capture.capture_record(request, "application/json", response, "application/json",
                                             inference_id, when))


def write(store, variant: str, when: datetime, lines: list[str], file_id: str = "f") -> str:
    key = capture_key(ENDPOINT, variant, when, file_id)
    store.write_bytes(key, ("\n".join(lines) + "\n").encode())
    return key


def rows_of(inference: capture.CapturedInference) -> list[dict]:
    return [{"inference_id": inference.inference_id, "prediction": inference.response["label"]}]


def test_a_day_reads_the_capture_files_of_every_variant_of_that_day_in_key_order(tmp_path):
    store = LocalArtifactStore(tmp_path)
    v2 = write(store, "sentiment-v2", NOON, [record("b", NOON)])
    v1_late = write(store, "sentiment-v1", NOON + timedelta(hours=11), [record("c", NOON)])
    v1 = write(store, "sentiment-v1", NOON, [record("a", NOON)])
    write(store, "sentiment-v1", NOON + timedelta(days=1), [record("d", NOON)])  # the next day
    store.write_bytes(capture_key(ENDPOINT, "sentiment-v1", NOON, "notes").replace(".jsonl", ".txt"), b"x")

    assert capture.day_files(store, ENDPOINT, date(2026, 10, 5)) == sorted([v1, v1_late, v2])


def test_rows_name_their_variant_and_malformed_records_are_counted_not_raised(tmp_path):
    store = LocalArtifactStore(tmp_path)
    keys = [write(store, "sentiment-v1", NOON, [record("a", NOON), "", "{not json", record("b", NOON)]),
            write(store, "sentiment-v2", NOON, [record("c", NOON), json.dumps({"eventMetadata": {}})])]

    read = capture.read_rows(store, keys, rows_of)

    assert [r["inference_id"] for r in read.rows] == ["a", "b", "c"]
    assert read.variants == ["sentiment-v1", "sentiment-v1", "sentiment-v2"]
    assert (read.records, read.malformed) == (3, 2)  # the blank line is no record
    assert read.per_variant == {"sentiment-v1": 2, "sentiment-v2": 1}


def test_a_record_the_rows_cannot_be_taken_from_is_malformed(tmp_path):
    store = LocalArtifactStore(tmp_path)
    key = write(store, "sentiment-v1", NOON, [record("a", NOON), record("b", NOON)])

    def strict(inference):
        if inference.inference_id == "b":
            raise KeyError("label")
        return rows_of(inference)

    read = capture.read_rows(store, [key], strict)
    assert (read.records, read.malformed, len(read.rows)) == (1, 1, 1)


def test_a_bake_window_reads_the_hours_it_overlaps_and_only_the_requests_inside_it(tmp_path):
    store = LocalArtifactStore(tmp_path)
    start, end = NOON + timedelta(minutes=30), NOON + timedelta(hours=1, minutes=30)
    before = write(store, "sentiment-v2", NOON - timedelta(hours=1), [record("early", NOON - timedelta(hours=1))])
    first = write(store, "sentiment-v2", NOON, [record("too-soon", NOON), record("in", start)])
    second = write(store, "sentiment-v2", NOON + timedelta(hours=1), [record("also-in", end - timedelta(seconds=1)),
                                                                     record("too-late", end)])
    write(store, "sentiment-v1", NOON, [record("champion", start)])

    files = capture.window_files(store, ENDPOINT, "sentiment-v2", start, end)
    assert files == [first, second] and before not in files
    read = capture.read_rows(store, files, rows_of, within=(start, end))
    assert [r["inference_id"] for r in read.rows] == ["in", "also-in"]
    assert (read.records, read.malformed) == (2, 0)
