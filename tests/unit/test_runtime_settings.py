"""The task's settings: Variables over the environment, and a Variable that cannot be read
fails the task instead of quietly running it on another backend."""

from __future__ import annotations

import pytest

from findining_airflow import runtime


def test_outside_a_task_the_environment_decides(monkeypatch, tmp_path):
    """The CLI and tests have no task context: the Task SDK answers a Variable read with its
    default there (it raises nothing), so the environment's settings stand."""
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    monkeypatch.setenv("FINDINING_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_VAR_FINDINING_BACKEND", raising=False)

    settings = runtime.settings()

    assert settings.backend == "local"


def test_a_variable_set_in_the_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    monkeypatch.setenv("FINDINING_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("AIRFLOW_VAR_FINDINING_HOME", str(tmp_path / "from-variable"))

    assert runtime._settings_env()["FINDINING_HOME"] == str(tmp_path / "from-variable")


@pytest.mark.parametrize("failure", [
    PermissionError("the Execution API denied access to variable findining_backend"),
    ConnectionError("secrets backend unreachable"),
])
def test_a_variable_that_cannot_be_read_fails_the_task_with_the_reason(monkeypatch, tmp_path, failure):
    from airflow.sdk import Variable

    def unreadable(key, default=None):
        raise failure

    monkeypatch.setattr(Variable, "get", staticmethod(unreadable))
    monkeypatch.setenv("FINDINING_BACKEND", "local")
    monkeypatch.setenv("FINDINING_HOME", str(tmp_path))

    with pytest.raises(runtime.VariableReadError) as raised:
        runtime.settings()
    assert "findining_backend" in str(raised.value)
    assert str(failure) in str(raised.value)
    assert raised.value.__cause__ is failure
