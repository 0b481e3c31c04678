"""Every key and prefix of the artifact store: the one place the layout is written down.

The same keys live under a local folder and in an S3 bucket. A task writes only under its own
day or job name, so a retry or a backfill rewrites the same keys and never duplicates; nothing
else in the code formats a store path, so a reader of this module sees the whole layout::

    data/<dataset>/dt=YYYY-MM-DD/part-*.parquet                ground truth, one partition a day
    data/<table>/<table>.parquet                               reference tables (restaurants, users)
    datacapture/<endpoint>/<variant>/YYYY/MM/DD/HH/*.jsonl     SageMaker data capture
    models/<model>/<version>/model.tar.gz                      the seed's layout; never overwritten
    training/<model>/<job>/...                                 a training job's data snapshot and output
    code/<model>/<sha256>/sourcedir.tar.gz                     a model's SageMaker source bundle (AWS)
    baselines/<model>/<version>/...                            a version's drift reference profile
    registry/<model>/<version>/*.json                          a registered version's documents (AWS)
    registry/<model>/registrations/<sha256>.json               which version a registration created (AWS)
    reports/<model>/dt=YYYY-MM-DD/...                          the daily monitoring reports and decision
    reports/feedback/dt=YYYY-MM-DD/...                         the negative-feedback digest
    reports/alerts/dt=YYYY-MM-DD/<time>-<id>.json              the published alerts (AWS)
    reports/demo/summary.html                                  the demo's summary page
    feedback/batch/dt=YYYY-MM-DD/<job>/...                     a Bedrock batch-inference job
    abtests/<test>/test.json                                   an A/B test's definition
    abtests/<test>/events/dt=YYYY-MM-DD/part-<batch>.parquet   the A/B events, one file a batch
    abtests/<test>/users/dt=YYYY-MM-DD/running.arrow           the per-user running table
    abtests/<test>/dt=YYYY-MM-DD/{analysis.json,report.html}   a day's analysis
    deployments/<endpoint>/<rollout>/state.json                a canary rollout's state
    uploads/rejected/<model>/<version>/<etag>.json             why an uploaded artifact was refused
    drills/<model>/v<version>-<faults>/model.tar.gz            the demo's rollback drill: a version with faults
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime


def _dt(day: date) -> str:
    """A day's partition folder, Hive-style, so Athena and DuckDB prune by ``dt``."""
    return f"dt={day.isoformat()}/"


# -- ground truth ---------------------------------------------------------------------------------


def dataset_prefix(dataset: str) -> str:
    return f"data/{dataset}/"


def partition_prefix(dataset: str, day: date) -> str:
    return f"{dataset_prefix(dataset)}{_dt(day)}"


def partition_key(dataset: str, day: date) -> str:
    """The one file a generated day's partition is written as."""
    return partition_prefix(dataset, day) + "part-0.parquet"


def partition_day(key: str) -> date | None:
    """The day of a key under ``…/dt=YYYY-MM-DD/``, or None for a key of no day."""
    found = re.search(r"/dt=(\d{4}-\d{2}-\d{2})/", key)
    return date.fromisoformat(found.group(1)) if found else None


def table_key(table: str) -> str:
    """A reference table of the synthetic world (``restaurants``, ``users``)."""
    return f"{dataset_prefix(table)}{table}.parquet"


# -- data capture (SageMaker's layout) ------------------------------------------------------------


def capture_prefix(endpoint: str) -> str:
    return f"datacapture/{endpoint}/"


def capture_day_prefix(endpoint: str, variant: str, day: date | datetime) -> str:
    return f"{capture_prefix(endpoint)}{variant}/{day:%Y/%m/%d}/"


def capture_hour_prefix(endpoint: str, variant: str, hour: datetime) -> str:
    return f"{capture_day_prefix(endpoint, variant, hour)}{hour:%H}/"


def capture_key(endpoint: str, variant: str, when: datetime, file_id: str) -> str:
    """``datacapture/<endpoint>/<variant>/YYYY/MM/DD/HH/<file>.jsonl`` as SageMaker lays it out (UTC)."""
    return f"{capture_hour_prefix(endpoint, variant, when.astimezone(UTC))}{file_id}.jsonl"


def capture_variant(key: str) -> str:
    """The production variant whose requests a capture file holds."""
    return key.split("/")[2]


def capture_day(key: str) -> date:
    """The UTC day a capture file's requests were served on."""
    year, month, day = key.split("/")[3:6]
    return date(int(year), int(month), int(day))


# -- models, training and the registry ------------------------------------------------------------

MODELS_PREFIX = "models/"
_MODEL_ARTIFACT = re.compile(r"models/(?P<model>[^/]+)/(?P<version>[^/]+)/model\.tar\.gz")


def model_artifact_key(model_name: str, version: int | str) -> str:
    """The seed's layout: ``models/<model>/<version>/model.tar.gz``, where version is a number or a label."""
    return f"{MODELS_PREFIX}{model_name}/{version}/model.tar.gz"


def model_artifact_of(key: str) -> tuple[str, str] | None:
    """(model, version) of a ``models/<model>/<version>/model.tar.gz`` key; None for any other key."""
    found = _MODEL_ARTIFACT.fullmatch(key)
    return (found["model"], found["version"]) if found else None


def training_prefix(model_name: str) -> str:
    """The output path of a model's training jobs (SageMaker's ``S3OutputPath``)."""
    return f"training/{model_name}"


def training_job_prefix(model_name: str, job_name: str) -> str:
    """A training job's data snapshot: ``train/``, ``validation/``, ``test/`` and its manifest."""
    return f"{training_prefix(model_name)}/{job_name}"


def training_output_key(output_prefix: str, job_name: str) -> str:
    """Where SageMaker writes a job's model: ``<S3OutputPath>/<job>/output/model.tar.gz``."""
    return f"{output_prefix.rstrip('/')}/{job_name}/output/model.tar.gz"


def source_bundle_key(model_name: str, bundle: bytes) -> str:
    """A model's ``sourcedir.tar.gz`` for SageMaker's script mode, named by its content: the same code is one key,
    uploaded once, and a training job or endpoint keeps the exact code it started with."""
    return f"code/{model_name}/{hashlib.sha256(bundle).hexdigest()[:16]}/sourcedir.tar.gz"


def model_check_prefix(check_name: str) -> str:
    """A model check's inputs and result (``ModelCheckTask``): ``holdout/``, ``model.tar.gz``, ``result.json``."""
    return f"checks/{check_name}"


def model_check_key(check_name: str, file_name: str) -> str:
    return f"{model_check_prefix(check_name)}/{file_name}"


def baseline_prefix(model_name: str, version: int) -> str:
    return f"baselines/{model_name}/{version}"


def baseline_key(model_name: str, version: int, file_name: str) -> str:
    return f"{baseline_prefix(model_name, version)}/{file_name}"


def registry_documents_prefix(model_name: str, version: int | str) -> str:
    """Where a registered version's metrics, lineage and label live (beside SageMaker's registry)."""
    return f"registry/{model_name}/{version}"


def registry_document_key(model_name: str, version: int | str, file_name: str) -> str:
    """One of a registered version's documents: ``metrics.json``, ``lineage.json``, ``version.json``."""
    return f"{registry_documents_prefix(model_name, version)}/{file_name}"


def registration_key(model_name: str, idempotency_key: str) -> str:
    """Where a registration records the version it creates (hashed: idempotency keys may hold any text)."""
    return f"registry/{model_name}/registrations/{hashlib.sha256(idempotency_key.encode()).hexdigest()}.json"


def upload_rejection_key(model_name: str, version: str, etag: str) -> str:
    return f"uploads/rejected/{model_name}/{version}/{etag}.json"


# -- reports --------------------------------------------------------------------------------------

REPORTS_PREFIX = "reports/"
ALERTS_PREFIX = f"{REPORTS_PREFIX}alerts/"
DEMO_SUMMARY_KEY = f"{REPORTS_PREFIX}demo/summary.html"


def monitoring_reports_prefix(model_name: str) -> str:
    return f"{REPORTS_PREFIX}{model_name}/"


def monitoring_report_prefix(model_name: str, day: date) -> str:
    """A model's monitoring day: ``drift.html``, ``drift.json``, ``performance.json``, ``decision.json`` …"""
    return f"{monitoring_reports_prefix(model_name)}{_dt(day)}"


def monitoring_report_key(model_name: str, day: date, file_name: str) -> str:
    return monitoring_report_prefix(model_name, day) + file_name


def alerts_day_prefix(day: date) -> str:
    return f"{ALERTS_PREFIX}{_dt(day)}"


def alert_key(timestamp: datetime, message_id: str) -> str:
    """``reports/alerts/dt=<day>/<time>-<message id>.json``: a day's keys list in publishing order."""
    return f"{alerts_day_prefix(timestamp.date())}{timestamp:%H%M%S%f}-{message_id}.json"


def feedback_digest_prefix(day: date) -> str:
    return f"{REPORTS_PREFIX}feedback/{_dt(day)}"


def feedback_batch_prefix(day: date, job: str) -> str:
    return f"feedback/batch/{_dt(day)}{job}/"


# -- A/B tests ------------------------------------------------------------------------------------

ABTESTS_PREFIX = "abtests/"


def abtest_prefix(test_id: str) -> str:
    return f"{ABTESTS_PREFIX}{test_id}/"


def abtest_definition_key(test_id: str) -> str:
    return f"{abtest_prefix(test_id)}test.json"


def abtest_events_prefix(test_id: str) -> str:
    return f"{abtest_prefix(test_id)}events/"


def abtest_events_day_prefix(test_id: str, day: date) -> str:
    return f"{abtest_events_prefix(test_id)}{_dt(day)}"


def abtest_event_batch_key(test_id: str, day: date, batch_id: str) -> str:
    return f"{abtest_events_day_prefix(test_id, day)}part-{batch_id}.parquet"


def abtest_running_users_key(test_id: str, day: date) -> str:
    """The per-user running table after day D's events are folded in."""
    return f"{abtest_prefix(test_id)}users/{_dt(day)}running.arrow"


def abtest_running_users_prefix(test_id: str) -> str:
    """Every day's per-user running table of a test."""
    return f"{abtest_prefix(test_id)}users/"


def abtest_day_prefix(test_id: str, day: date) -> str:
    """A day's analysis of a test: ``analysis.json`` and ``report.html``."""
    return f"{abtest_prefix(test_id)}{_dt(day)}"


# -- deployments ----------------------------------------------------------------------------------


def rollout_state_key(endpoint: str, rollout_id: str) -> str:
    return f"deployments/{endpoint}/{rollout_id}/state.json"


# -- the demo's drills ----------------------------------------------------------------------------


def drill_artifact_key(model_name: str, version: int, faults: list[str]) -> str:
    """A copy of a version that misbehaves on purpose (``faults``), for the demo's rollback drill."""
    return f"drills/{model_name}/v{version}-{'-'.join(sorted(faults))}/model.tar.gz"
