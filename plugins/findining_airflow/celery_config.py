"""Airflow's Celery settings plus the task libraries, named by ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS``.

Celery imports the modules of ``imports`` in a worker's main process before it forks its
pool, so every task process starts with them in memory; see ``executors`` for why, and the
same for the LocalExecutor.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from findining_airflow.executors import TASK_LIBRARIES

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": TASK_LIBRARIES}
