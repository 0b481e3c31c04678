"""Where a task's reports are: store keys a person may read, and the UI links that reach them.

Pure functions (no Airflow, no platform; keys from ``findining_mlops.store.layout``) so the link and
the view agree and are tested alone.
"""

from __future__ import annotations

import posixpath
import re
from datetime import date
from urllib.parse import quote, urlencode

from findining_mlops.store.layout import (
    ABTESTS_PREFIX,
    REPORTS_PREFIX,
    monitoring_report_prefix,
    monitoring_reports_prefix,
)

# The only store prefixes the reports view serves: never models, data or data capture.
READABLE_PREFIXES = (REPORTS_PREFIX.rstrip("/"), ABTESTS_PREFIX.rstrip("/"))
REPORTS_URL_PREFIX = "/findining"
STATE_PATH = "/state"  # the pipeline's state page, under REPORTS_URL_PREFIX
# run ids of scheduled and backfilled runs carry their logical date (the day a daily DAG checks)
_DATED_RUN_ID = re.compile(r"^(?:scheduled|backfill)__(\d{4}-\d{2}-\d{2})T")


class UnreadableKey(ValueError):
    """A requested path that is not a report (outside the readable prefixes, or escaping them)."""


def readable_key(path: str) -> str:
    """``path`` as a store key under one of ``READABLE_PREFIXES``, or ``UnreadableKey``.

    Refuses anything that could name another key once normalised: ``..`` segments, absolute
    paths, backslashes, NUL and empty segments; a folder keeps its trailing ``/``.
    """
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        raise UnreadableKey(f"not a report path: {path!r}")
    folder = path.endswith("/")
    segments = path.rstrip("/").split("/")
    if any(s in ("", ".", "..") for s in segments) or posixpath.normpath(path.rstrip("/")) != path.rstrip("/"):
        raise UnreadableKey(f"not a report path: {path!r}")
    if segments[0] not in READABLE_PREFIXES:
        raise UnreadableKey(f"only {', '.join(p + '/' for p in READABLE_PREFIXES)} are served, not {path!r}")
    return "/".join(segments) + ("/" if folder or len(segments) == 1 else "")


def run_id_day(run_id: str) -> date | None:
    """The logical day of a scheduled or backfilled run, from its id alone (all a link has);
    ``None`` for other runs."""
    match = _DATED_RUN_ID.match(run_id)
    return date.fromisoformat(match.group(1)) if match else None


def monitoring_folder(model: str, day: date | None) -> str:
    """A model's reports of ``day``, or all its days when unknown."""
    return monitoring_report_prefix(model, day) if day else monitoring_reports_prefix(model)


def view_url(base_url: str, key: str, **query: str) -> str:
    """The reports view's URL of a store key (a folder lists, a file is served)."""
    url = f"{base_url.rstrip('/')}{REPORTS_URL_PREFIX}/files/{quote(readable_key(key))}"
    return f"{url}?{urlencode(query)}" if query else url


def model_url(base_url: str, model: str) -> str:
    """The reports view's page of a model: registry versions and rollout history."""
    return f"{base_url.rstrip('/')}{REPORTS_URL_PREFIX}/models/{quote(model, safe='')}"


def sagemaker_training_job_url(region: str, job_name: str) -> str:
    """The SageMaker console page of a training job."""
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/jobs/{quote(job_name, safe='')}")
