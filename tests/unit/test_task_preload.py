"""Task processes start with the heavy libraries already imported: the LocalExecutor's workers
and the Celery workers import them once, before they fork the processes that run the tasks."""

from __future__ import annotations

import importlib
import logging

from airflow.executors.local_executor import LocalExecutor

from findining_airflow import executors


def test_every_library_of_the_list_is_installed():
    for name in executors.TASK_LIBRARIES:
        importlib.import_module(name)


def test_the_list_is_third_party_only_so_tasks_always_run_the_projects_code_as_it_is_on_disk():
    assert not [name for name in executors.TASK_LIBRARIES if name.startswith(("findining_", "dags"))]


def test_a_library_that_fails_to_import_is_logged_and_left_to_the_task(caplog):
    with caplog.at_level(logging.WARNING, logger=executors.__name__):
        assert executors.import_task_libraries(("json", "findining_no_such_library")) == ["json"]
    assert "not preloading findining_no_such_library" in caplog.text


def test_the_local_executor_imports_them_before_it_forks_its_workers(monkeypatch):
    order = []
    monkeypatch.setattr(executors, "import_task_libraries", lambda: order.append("import"))
    monkeypatch.setattr(LocalExecutor, "start", lambda self: order.append("fork workers"))
    executors.PreloadedLocalExecutor(parallelism=2).start()
    assert order == ["import", "fork workers"]


def test_celery_workers_import_the_same_list_on_top_of_airflows_celery_settings():
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from findining_airflow.celery_config import CELERY_CONFIG

    assert CELERY_CONFIG["imports"] == executors.TASK_LIBRARIES
    assert {k: v for k, v in CELERY_CONFIG.items() if k != "imports"} == DEFAULT_CELERY_CONFIG
