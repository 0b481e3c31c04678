"""The Bedrock batch path: the day's JSONL input in Bedrock's record format written to S3
(moto), the job submitted and polled (the requests checked by botocore's Stubber against
the real service model: moto has no Bedrock batch inference),
and Bedrock's output format read back."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from aws_stack import BUCKET
from botocore.stub import Stubber

from findining_mlops.config.settings import BedrockSettings
from findining_mlops.feedback.batch import (
    BATCH_MINIMUM_RECORDS,
    batch_input,
    batch_job_status,
    collect_batch,
    job_name,
    prepare_batch,
    submit_batch_job,
    write_batch_input,
)
from findining_mlops.feedback.bedrock import SYSTEM_PROMPT, TOOL_NAME
from findining_mlops.feedback.schema import analysis_schema

DAY = date(2026, 10, 12)
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
SETTINGS = BedrockSettings(model_id=MODEL_ID, region="ap-east-1")
JOB = job_name(DAY, "20261013T010203")
PREFIX = f"feedback/batch/dt=2026-10-12/{JOB}/"
ROLE_ARN = "arn:aws:iam::123456789012:role/ai-restaurant-recommendation-bedrock-batch"
GOOD = {"schema_version": "1.0", "language": "yue", "sentiment": "negative",
        "aspects": [{"aspect": "hygiene", "severity": 3, "evidence": ["見到曱甴"]}], "summary": "見到曱甴。",
        "suggested_reply": "對唔住，今日會即刻檢查餐廳。", "needs_attention": True, "attention_reasons": ["hygiene"]}


def items(count: int) -> list[tuple[str, object]]:
    return [(f"fb-{i:03d}", "見到曱甴，唔會再嚟。電話 9123 4567" if i % 2 else "The waiter was rude.")
            for i in range(count)] + [("fb-empty", "   ")]


def test_the_input_is_one_bedrock_record_per_feedback_in_s3(aws):
    batch = batch_input(items(BATCH_MINIMUM_RECORDS), SETTINGS, "bedrock-batch")
    input_uri, output_uri = write_batch_input(aws.store, DAY, JOB, batch)
    assert input_uri == f"s3://{BUCKET}/{PREFIX}input/records.jsonl"
    assert output_uri == f"s3://{BUCKET}/{PREFIX}output/"
    lines = aws.store.read_bytes(f"{PREFIX}input/records.jsonl").decode().splitlines()
    assert len(lines) == batch.records == BATCH_MINIMUM_RECORDS
    record = json.loads(lines[1])
    assert set(record) == {"recordId", "modelInput"} and record["recordId"] == "fb-001"
    body = record["modelInput"]
    assert body["anthropic_version"] == "bedrock-2023-05-31" and body["system"] == SYSTEM_PROMPT
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert body["tools"][0]["input_schema"] == analysis_schema()
    assert "[PHONE]" in body["messages"][0]["content"][0]["text"] and "9123" not in lines[1]
    assert [r.feedback_id for r in batch.refused] == ["fb-empty"]


def test_the_job_is_submitted_with_a_request_the_service_model_accepts(aws):
    import boto3

    input_uri, output_uri = write_batch_input(aws.store, DAY, JOB,
                                              batch_input(items(BATCH_MINIMUM_RECORDS), SETTINGS, "b"))
    job = {"job_name": JOB, "input_uri": input_uri, "output_uri": output_uri}
    bedrock = boto3.Session(region_name="ap-east-1").client("bedrock")
    job_arn = "arn:aws:bedrock:ap-east-1:123456789012:model-invocation-job/abc123"
    with Stubber(bedrock) as stub:
        stub.add_response("create_model_invocation_job", {"jobArn": job_arn}, {
            "jobName": JOB, "clientRequestToken": JOB, "roleArn": ROLE_ARN, "modelId": MODEL_ID,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_uri}}})
        stub.add_response("get_model_invocation_job", {
            "jobArn": job_arn, "jobName": JOB, "modelId": MODEL_ID, "roleArn": ROLE_ARN, "status": "Completed",
            "submitTime": "2026-10-13T01:02:03Z", "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_uri}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_uri}}}, {"jobIdentifier": job_arn})
        assert submit_batch_job(bedrock, job, ROLE_ARN, MODEL_ID) == job_arn
        assert batch_job_status(bedrock, job_arn) == ("Completed", "")
        stub.assert_no_pending_responses()


def test_the_output_is_read_back_as_analyses_and_failures(aws):
    rows = pd.DataFrame({"inference_id": [i for i, _ in items(4)], "text": [t for _, t in items(4)],
                         "restaurant_id": [f"r{i:04d}" for i in range(5)]})
    job = prepare_batch(aws.store, DAY, rows, SETTINGS, "20261013T010203")
    assert job["job_name"] == JOB and job["records"] == 4
    out = [
        {"recordId": "fb-001", "modelInput": {}, "modelOutput": {
            "content": [{"type": "tool_use", "id": "t1", "name": TOOL_NAME, "input": GOOD}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 900, "output_tokens": 80}}},
        {"recordId": "fb-002", "modelInput": {}, "modelOutput": {
            "content": [{"type": "tool_use", "id": "t2", "name": TOOL_NAME, "input": {**GOOD, "language": "fr"}}],
            "stop_reason": "tool_use"}},
        {"recordId": "fb-003", "modelInput": {}, "modelOutput": {"content": [{"type": "text", "text": "Sure!"}],
                                                                  "stop_reason": "end_turn"}},
        {"recordId": "fb-000", "modelInput": {}, "error": {"errorCode": 400, "errorMessage": "Malformed input"}},
    ]
    aws.store.write_bytes(f"{PREFIX}output/abc123/records.jsonl.out",
                          "\n".join(json.dumps(r, ensure_ascii=False) for r in out).encode())
    aws.store.write_bytes(f"{PREFIX}output/abc123/manifest.json.out", b"{}")
    collected, restaurants = collect_batch(aws.store, DAY, JOB)
    results = {r.feedback_id: r for r in collected}
    assert restaurants["fb-001"] == "r0001"
    assert results["fb-empty"].status == "refused"
    assert results["fb-001"].status == "analyzed" and results["fb-001"].analysis == GOOD
    assert results["fb-001"].redactions == {"phone": 1}
    assert results["fb-002"].status == "failed" and "language" in results["fb-002"].error
    assert results["fb-003"].status == "failed" and "no record_feedback_analysis tool call" in results["fb-003"].error
    assert results["fb-000"].status == "failed" and "Malformed input" in results["fb-000"].error


def test_batch_input_is_refused_for_a_model_it_cannot_speak_to():
    from findining_mlops.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="Anthropic"):
        batch_input(items(1), BedrockSettings(model_id="amazon.nova-lite-v1:0"), "b")
