"""Run status alerts name the run, the task, the error and the model; they never dump the
run's Params, which may carry what an alert must not."""

from __future__ import annotations

from findining_airflow.notifications import run_status_message

SECRET = "fake-token-7a1c55"


def test_an_alert_names_the_model_but_does_not_dump_the_params():
    context = {"dag_id": "model_retraining", "run_id": "manual__1",
               "params": {"model_name": "sentiment", "reason": "drift", "webhook_token": SECRET}}
    subject, message = run_status_message(context, "failed")
    assert "model_retraining failed" in subject
    assert "Run: manual__1" in message and "Model: sentiment" in message
    assert SECRET not in message and "webhook_token" not in message
