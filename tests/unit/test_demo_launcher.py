"""`make demo` / `make airflow`: they empty only what they own, Airflow listens on this machine
only, and a stop signal or a failure half-way leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from devtools import local_airflow
from findining_mlops.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def _demo(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devtools.demo", *argv], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


# -- 14.1: only what the demo owns is emptied ----------------------------------------------
@pytest.mark.parametrize("name", ["AIRFLOW_HOME", "FINDINING_HOME"])
def test_demo_refuses_to_empty_a_state_directory_it_did_not_create(tmp_path, name):
    project = tmp_path / "project"
    project.mkdir()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "airflow.cfg").write_text("someone's own Airflow\n")
    other = "FINDINING_HOME" if name == "AIRFLOW_HOME" else "AIRFLOW_HOME"

    result = _demo("--project-dir", str(project), **{name: str(theirs), other: str(tmp_path / "new")})

    assert result.returncode != 0
    assert f"refusing to empty {name}={theirs}" in result.stderr
    assert f"Unset {name}" in result.stderr
    assert (theirs / "airflow.cfg").read_text() == "someone's own Airflow\n"
    assert sorted(p.name for p in theirs.iterdir()) == ["airflow.cfg"]
    assert not (tmp_path / "new").exists()  # all are checked before any is touched


def test_a_directory_the_demo_created_is_emptied_on_its_next_run(tmp_path):
    default = tmp_path / "project" / ".airflow"
    created = tmp_path / "new" / "home"
    local_airflow.refuse_unless_owned("AIRFLOW_HOME", created, default)
    local_airflow.reset_state_dir(created)
    (created / "airflow.db").write_text("from the last run")

    local_airflow.refuse_unless_owned("AIRFLOW_HOME", created, default)
    local_airflow.reset_state_dir(created)

    assert sorted(p.name for p in created.iterdir()) == [local_airflow.OWNER_MARKER]


def test_the_default_state_directory_in_the_project_is_emptied(tmp_path):
    default = tmp_path / ".findining"
    (default / "store").mkdir(parents=True)  # from a run before the marker existed

    local_airflow.refuse_unless_owned("FINDINING_HOME", default, default)
    local_airflow.reset_state_dir(default)

    assert sorted(p.name for p in default.iterdir()) == [local_airflow.OWNER_MARKER]


def test_an_empty_directory_may_be_used_but_a_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    local_airflow.refuse_unless_owned("FINDINING_HOME", empty, tmp_path / ".findining")

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(ConfigurationError, match="refusing to empty FINDINING_HOME"):
        local_airflow.refuse_unless_owned("FINDINING_HOME", a_file, tmp_path / ".findining")
    assert a_file.read_text() == "keep me"


# -- 15.4: this machine only, unless asked --------------------------------------------------
def test_airflow_is_configured_to_listen_on_loopback_without_log_servers(tmp_path):
    env = local_airflow.airflow_env(tmp_path, 18080)

    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080"
    # the log servers have no address setting and listen on every interface: they are not started
    assert "--skip-serve-logs" in local_airflow.AIRFLOW_COMPONENTS["scheduler"]
    assert "--skip-serve-logs" in local_airflow.AIRFLOW_COMPONENTS["triggerer"]
    assert "standalone" not in {arguments[0] for arguments in local_airflow.AIRFLOW_COMPONENTS.values()}


def test_exposing_the_ui_is_deliberate_and_asks_people_to_log_in(tmp_path):
    env = local_airflow.airflow_env(tmp_path, 18080, host="0.0.0.0")

    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080"  # how this machine reaches it
    assert local_airflow.airflow_env(tmp_path, 18080)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"


# -- 15.5: nothing outlives the command ----------------------------------------------------
# A stand-in for an Airflow component: a child in the component's process group, one in a
# process group of its own (as Airflow's task supervisor makes) and one in a session of its
# own (a sandboxed subprocess), all ignoring SIGTERM; it reports the pids and waits.
COMPONENT = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    child = subprocess.Popen([sys.executable, "-c", stubborn])
    task = subprocess.Popen([sys.executable, "-c", stubborn], process_group=0)
    sandbox = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
    print(os.getpid(), child.pid, task.pid, sandbox.pid, flush=True)
    time.sleep(600)
""")

# The launcher's own code path: signal handling as in `main`, components started and stopped by
# `started`; it prints every pid once the stand-ins are up, then waits, or fails half-way.
LAUNCHER = textwrap.dedent("""
    import json, subprocess, sys, time
    from devtools import local_airflow
    local_airflow.exit_on_stop_signals()
    component = [sys.executable, "-c", sys.argv[1]]
    with local_airflow.started({"a": component, "b": component}, None, subprocess.PIPE) as processes:
        pids = [int(pid) for p in processes.values() for pid in p.stdout.readline().split()]
        print(json.dumps(pids), flush=True)
        if sys.argv[2] == "fail":
            raise RuntimeError("the demo failed half-way")
        time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_survivors(pids: list[int]) -> None:
    """A failing test leaves nothing running either."""
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _launch(mode: str) -> tuple[subprocess.Popen, list[int]]:
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, COMPONENT, mode], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    pids = json.loads(launcher.stdout.readline() or "[]")
    assert len(pids) == 8, launcher.stderr.read()
    return launcher, pids


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_stops_every_process_the_launcher_started(signum):
    launcher, pids = _launch("wait")
    try:
        assert all(_alive(pid) for pid in pids)
        launcher.send_signal(signum)
        assert launcher.wait(timeout=120) == 128 + signum
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        _kill_survivors([launcher.pid, *pids])


def test_a_failure_half_way_stops_every_process_the_launcher_started():
    launcher, pids = _launch("fail")
    try:
        assert launcher.wait(timeout=120) == 1
        assert "the demo failed half-way" in launcher.stderr.read()
        assert [pid for pid in pids if _alive(pid)] == []
    finally:
        _kill_survivors([launcher.pid, *pids])


@pytest.mark.slow
def test_make_airflow_listens_on_loopback_only_and_sigterm_leaves_nothing_running(tmp_path):
    """The real `make airflow`: every listening socket of every process it started is on the
    loopback, and after SIGTERM none of them is left."""
    with socket.socket() as probe:  # a free port for the API server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "FINDINING_HOME": str(tmp_path / "findining")}
    launcher = subprocess.Popen([sys.executable, "-m", "devtools.demo", "--project-dir", str(ROOT),
                                 "--ui-only", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    started: list[psutil.Process] = []
    try:
        line = launcher.stdout.readline()
        assert line.startswith("Airflow UI at"), line + launcher.stdout.read()
        started = psutil.Process(launcher.pid).children(recursive=True)
        listening = {(proc.name(), c.laddr.ip, c.laddr.port) for proc in started
                     for c in _connections(proc) if c.status == psutil.CONN_LISTEN}
        assert any(port == p for _, _, p in listening), listening  # the API server is among them
        assert {ip for _, ip, _ in listening} <= {"127.0.0.1", "::1"}, listening

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=180) == 128 + signal.SIGTERM
        assert [proc.pid for proc in started if _alive(proc.pid)] == []
    finally:
        _kill_survivors([launcher.pid, *(proc.pid for proc in started)])


def _connections(proc: psutil.Process) -> list:
    try:
        return proc.net_connections(kind="inet")
    except psutil.NoSuchProcess:
        return []
