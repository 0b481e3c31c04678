"""Bedrock batch inference for a day's feedback: the JSONL input in Bedrock's record
format, and the analyses read back from the job's output.

A batch job (``CreateModelInvocationJob``) costs half as much as on-demand calls and is
not throttled per call, but Bedrock refuses a job with fewer than ``BATCH_MINIMUM_RECORDS``
records, so smaller days go through Converse. The model input is the model's native
request (Anthropic's Messages API), with the analysis schema as a forced tool, the same
prompt and the same redaction as the Converse path. An answer that breaks the schema is
recorded as failed with the reason (the job cannot be asked again per record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TypedDict

import pandas as pd

from findining_mlops.config.settings import BedrockSettings
from findining_mlops.errors import ConfigurationError
from findining_mlops.feedback.bedrock import SYSTEM_PROMPT, TOOL_NAME, user_message
from findining_mlops.feedback.redaction import InvalidFeedbackError, prepare
from findining_mlops.feedback.results import ANALYZED, FAILED, REFUSED, FeedbackResult
from findining_mlops.feedback.schema import analysis_schema, schema_errors
from findining_mlops.platform.ports import ArtifactStore
from findining_mlops.store.json import read_json
from findining_mlops.store.layout import feedback_batch_prefix

BATCH_MINIMUM_RECORDS = 100  # Bedrock's minimum per batch inference job
JOB_DONE = {"Completed", "PartiallyCompleted"}  # PartiallyCompleted: some records carry an error
JOB_FAILED = {"Failed", "Stopped", "Expired"}
ANTHROPIC_VERSION = "bedrock-2023-05-31"


class BatchJob(TypedDict):
    """A prepared batch job: its name, input file and output folder URIs and how many records it holds."""

    job_name: str
    input_uri: str
    output_uri: str
    records: int


@dataclass(frozen=True)
class BatchInput:
    """What goes to the job, and what was refused before it (empty or binary feedback)."""

    jsonl: bytes
    records: int
    refused: list[FeedbackResult]
    prepared: dict[str, dict]  # record id -> {"truncated", "redactions"}, to carry into the results


def job_name(day: date, stamp: str) -> str:
    """One job per run of a day (``stamp``: when the run prepared it): Bedrock keeps job
    names unique, so a re-run of the day submits a job of its own."""
    return f"findining-feedback-{day:%Y%m%d}-{stamp}"


def model_input(text: str, settings: BedrockSettings) -> dict:
    """The native Anthropic Messages request: batch jobs take the model's own format."""
    if "anthropic." not in settings.model_id:
        raise ConfigurationError(f"batch inference is written for Anthropic models; FINDINING_BEDROCK_MODEL_ID is "
                                 f"{settings.model_id!r}. Use an anthropic.* model id or inference profile")
    message = user_message(text)
    return {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": settings.max_tokens,
        "temperature": 0.0,
        "system": SYSTEM_PROMPT,
        "messages": [{"role": "user", "content": [{"type": "text", "text": message["content"][0]["text"]}]}],
        "tools": [{"name": TOOL_NAME, "description": "Records the analysis of one piece of feedback.",
                   "input_schema": analysis_schema()}],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
    }


def batch_input(items: list[tuple[str, object]], settings: BedrockSettings, analyzer_name: str) -> BatchInput:
    """``items`` are (feedback id, text); one JSONL record per valid text."""
    lines, refused, prepared = [], [], {}
    for record_id, text in items:
        try:
            ready = prepare(text)
        except InvalidFeedbackError as exc:
            refused.append(FeedbackResult(record_id, REFUSED, analyzer_name, error=str(exc)))
            continue
        prepared[record_id] = {"truncated": ready.truncated, "redactions": ready.redactions}
        lines.append(json.dumps({"recordId": record_id, "modelInput": model_input(ready.text, settings)},
                                ensure_ascii=False))
    return BatchInput(("\n".join(lines) + "\n").encode() if lines else b"", len(lines), refused, prepared)


def write_batch_input(store: ArtifactStore, day: date, job: str, batch: BatchInput) -> tuple[str, str]:
    """Writes the input; returns the job's input file URI and output folder URI."""
    key = feedback_batch_prefix(day, job) + "input/records.jsonl"
    store.write_bytes(key, batch.jsonl)
    return store.uri(key), store.uri(feedback_batch_prefix(day, job) + "output/")


def read_batch_output(store: ArtifactStore, day: date, job: str, batch_prepared: dict[str, dict],
                      analyzer_name: str) -> list[FeedbackResult]:
    """Every record of the job's ``*.jsonl.out`` files as a result: the tool call's input when
    it meets the schema, else a failure naming what went wrong."""
    results, outputs = [], store.list_keys(feedback_batch_prefix(day, job) + "output/")
    for key in sorted(k for k in outputs if k.endswith(".jsonl.out")):
        for line in store.read_bytes(key).decode("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                extra = batch_prepared.get(record["recordId"], {})
                results.append(_result(record, analyzer_name, extra.get("truncated", False),
                                       extra.get("redactions", {})))
    return results


def prepare_batch(store: ArtifactStore, day: date, rows: pd.DataFrame, settings: BedrockSettings,
                  stamp: str) -> BatchJob:
    """Writes the job's input and what collecting it needs later (``plan.json``: the
    redaction facts, refusals and restaurants); returns the job's name and URIs."""
    analyzer_name = f"bedrock-batch:{settings.model_id}"
    job = job_name(day, stamp)
    batch = batch_input(list(zip(rows["inference_id"], rows["text"], strict=False)), settings, analyzer_name)
    input_uri, output_uri = write_batch_input(store, day, job, batch)
    plan = {"analyzer": analyzer_name, "prepared": batch.prepared, "refused": [r.to_dict() for r in batch.refused],
            "restaurants": dict(zip(rows["inference_id"], rows["restaurant_id"], strict=False))}
    store.write_bytes(feedback_batch_prefix(day, job) + "plan.json", json.dumps(plan, ensure_ascii=False).encode())
    return {"job_name": job, "input_uri": input_uri, "output_uri": output_uri, "records": batch.records}


def submit_batch_job(bedrock, job: dict, role_arn: str, model_id: str) -> str:
    """Starts the job (``bedrock``: a boto3 ``bedrock`` client); the job name is also the
    idempotency token, so a retried submission returns the same job. Returns its ARN."""
    return bedrock.create_model_invocation_job(
        jobName=job["job_name"], clientRequestToken=job["job_name"], roleArn=role_arn, modelId=model_id,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": job["input_uri"], "s3InputFormat": "JSONL"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": job["output_uri"]}},
    )["jobArn"]


def batch_job_status(bedrock, job_arn: str) -> tuple[str, str]:
    """``(status, message)`` of the job."""
    job = bedrock.get_model_invocation_job(jobIdentifier=job_arn)
    return job["status"], job.get("message", "")


def collect_batch(store: ArtifactStore, day: date, job: str) -> tuple[list[FeedbackResult], dict[str, str]]:
    """The finished job's results (and the refusals before it), with each feedback's restaurant."""
    plan = read_json(store, feedback_batch_prefix(day, job) + "plan.json")
    results = read_batch_output(store, day, job, plan["prepared"], plan["analyzer"])
    return results + [FeedbackResult(**r) for r in plan["refused"]], plan["restaurants"]


def _result(record: dict, analyzer_name: str, truncated: bool, redactions: dict) -> FeedbackResult:
    def failed(reason: str) -> FeedbackResult:
        return FeedbackResult(record["recordId"], FAILED, analyzer_name, None, reason, truncated, redactions)

    if "error" in record:
        error = record["error"]
        return failed(f"batch record failed: {error.get('errorCode')} {error.get('errorMessage', '')}".strip())
    output = record.get("modelOutput", {})
    calls = [block for block in output.get("content", []) if block.get("type") == "tool_use"
             and block.get("name") == TOOL_NAME]
    if not calls:
        return failed(f"no {TOOL_NAME} tool call in the answer (stop reason {output.get('stop_reason')!r})")
    problems = schema_errors(calls[0].get("input"))
    if problems:
        return failed("the model's answer broke the schema: " + "; ".join(problems[:5]))
    return FeedbackResult(record["recordId"], ANALYZED, analyzer_name, calls[0]["input"], None, truncated, redactions)
