"""Airflow's LocalExecutor with the task libraries imported before its worker processes fork.

Every task runs in a process forked from an executor worker, and a fresh process spends seconds
importing pandas, scikit-learn, DuckDB, Evidently and Airflow's task runner, on a 2-core machine
more than most of the project's tasks take to do their work. The LocalExecutor forks its
workers from the scheduler when it starts, so the libraries imported here are already in
memory in every task process (copy-on-write), as ``gunicorn --preload`` does for web workers.

Only third-party libraries: each task still imports the project's own modules from disk, so
a task always runs the code as it is now, not as it was when the scheduler started.

Used by ``make demo``, ``make airflow`` and the tests (``AIRFLOW__CORE__EXECUTOR=
findining_airflow.executors.PreloadedLocalExecutor``); the Celery workers of the production
topology import the same list (``celery_config``).
"""

from __future__ import annotations

import importlib
import logging
import time

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

# what the project's tasks import: its data and model stack, and what a task process starts with
TASK_LIBRARIES = (
    "airflow.sdk.execution_time.task_runner",
    "airflow.providers.standard.operators.trigger_dagrun",
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "duckdb",
    "scipy.stats",
    "scipy.spatial.distance",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.feature_extraction.text",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.multiclass",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "evidently",
    "evidently.presets",
)


def import_task_libraries(names: tuple[str, ...] = TASK_LIBRARIES) -> list[str]:
    """Imports ``names``; one that fails is logged and left to the task that needs it, which
    then fails with the import error in its own log. Returns the names imported."""
    started = time.monotonic()
    imported = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.warning("not preloading %s for the tasks: %s", name, exc)
        else:
            imported.append(name)
    log.info("preloaded %d task libraries in %.1f s", len(imported), time.monotonic() - started)
    return imported


class PreloadedLocalExecutor(LocalExecutor):
    """LocalExecutor whose workers, and so every task process, start with ``TASK_LIBRARIES``."""

    def start(self) -> None:
        import_task_libraries()
        super().start()
