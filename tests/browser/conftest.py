"""A real Airflow (the demo's launcher) on a free port with throw-away state, and Chromium
driven by Playwright. Skipped, with how to install it, where the browser is missing."""

from __future__ import annotations

import os
import socket
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("FINDINING_CHROMIUM", "/usr/bin/chromium"))
# Playwright cannot download its own browser here: Debian's Chromium, headless, with nothing
# that reaches the network on its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# the small store the monitoring run reads: both datasets from START, sentiment trained on all
# but the last day, whose app traffic is then replayed against its endpoint
START = date(2026, 10, 1)
DATA_DAYS = 15  # the sentiment model trains on 14 days
MONITORED_DAY = START + timedelta(days=DATA_DAYS - 1)
PROJECT_DAGS = ["ab_test", "ab_test_analysis", "model_artifact_watch", "model_deployment", "model_monitoring",
                "model_retraining"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def airflow(tmp_path_factory):
    """The demo's Airflow with the project's DAGs and plugins on a small store; yields its REST
    client."""
    from findining_mlops.tools import airflow_client, demo

    state = tmp_path_factory.mktemp("browser-airflow")
    _small_store(state / "findining")
    env = demo.airflow_env(ROOT, _free_port())
    env.update(AIRFLOW_HOME=str(state / "airflow"), FINDINING_HOME=str(state / "findining"), FINDINING_BACKEND="local")
    with demo.running_airflow(env, state / "airflow.log") as (client, _processes):
        airflow_client.wait_for_dags(client, PROJECT_DAGS)
        yield client


def _small_store(home: Path) -> None:
    from simulation import bootstrap

    from findining_mlops.catalog import get_model
    from findining_mlops.data.synthetic import generate
    from findining_mlops.platform.local import local_platform
    from findining_mlops.tools.traffic import replay_day

    platform = local_platform(home, seed=11)
    generate(platform.store, START, DATA_DAYS, seed=3, requests_per_day=150, reviews_per_day=150)
    sentiment = get_model("sentiment")
    bootstrap(platform, sentiment, MONITORED_DAY - timedelta(days=1), "browser-bootstrap-sentiment")
    replay_day(platform, sentiment, MONITORED_DAY)
    platform.endpoints.flush()


@pytest.fixture(scope="session")
def browser():
    """Chromium, or a skip that says how to install it (before any Airflow is started)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: `apt-get install -y chromium` "
                    "(`make test` installs it when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, airflow, request, tmp_path_factory):
    """A page on the Airflow UI; its screenshots go to the test's output folder, and a failing
    test's message carries the page's console errors."""
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    # FINDINING_BROWSER_SCREENSHOTS keeps them somewhere lasting (the README's come from there)
    lasting = os.environ.get("FINDINING_BROWSER_SCREENSHOTS")
    page.shots = Path(lasting) / request.node.name if lasting else tmp_path_factory.mktemp(request.node.name[:40])
    page.shots.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test's report carries the page's console errors and where its
    screenshots are."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        screenshot(page, "failure")
        errors = "\n".join(page.console_errors) or "(none)"
        report.sections.append(("browser", f"screenshots: {page.shots}\nconsole errors:\n{errors}"))


def screenshot(page, step: str) -> None:
    """Saves the page as ``<test output folder>/<step>.png``, kept whether the test passes or not."""
    page.screenshot(path=str(page.shots / f"{step}.png"), full_page=True)
