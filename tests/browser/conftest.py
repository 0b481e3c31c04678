"""A real Airflow (the demo's launcher) on a free port with throw-away state, behind Airflow's
login, and Chromium driven by Playwright. Skipped, with how to install it, where the browser is
missing."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest

from devtools.airflow_client import AirflowClient, wait_for_dags

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("FINDINING_CHROMIUM", "/usr/bin/chromium"))
# Playwright cannot download its own browser here: Debian's Chromium, headless, with nothing
# that reaches the network on its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# the small store the DAGs read: both datasets from START, both app models trained on all but
# the last day, whose app traffic is then replayed against their endpoints
START = date(2026, 10, 1)
DATA_DAYS = 15  # the models train on 14 days
MONITORED_DAY = START + timedelta(days=DATA_DAYS - 1)
LIVE_MODELS = ("recommendation", "sentiment")
PROJECT_DAGS = sorted(path.stem for path in (ROOT / "dags").glob("*.py"))
USER = "engineer"  # Airflow's simple auth manager, with a password only this session knows
VIEWER = "reader"  # a user of the Viewer role: reads reports, not customer feedback or alerts


class LoggedInClient(AirflowClient):
    """The demo's REST client, with a token for the user's name and password (this UI has a login)."""

    def __init__(self, base_url: str, password: str):
        super().__init__(base_url)
        self.password = password

    def token(self) -> str:
        if self._token is None:
            request = urllib.request.Request(
                f"{self.base_url}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                data=json.dumps({"username": USER, "password": self.password}).encode())
            with urllib.request.urlopen(request, timeout=30) as response:
                self._token = json.loads(response.read())["access_token"]
        return self._token


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """The demo's Airflow with the project's DAGs and plugins on a small store, asking people
    to log in; yields its REST client, with the user's ``password`` (and the viewer's
    ``viewer_password``), ``home`` (FINDINING_HOME) and ``env`` (Airflow's environment, for the CLI)."""
    from devtools import local_airflow

    state = tmp_path_factory.mktemp("browser-airflow")
    home = state / "findining"
    password, viewer_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    passwords = state / "passwords.json"
    passwords.write_text(json.dumps({USER: password, VIEWER: viewer_password}))
    env = local_airflow.airflow_env(ROOT, local_airflow.free_port())
    env.update(AIRFLOW_HOME=str(state / "airflow"), FINDINING_HOME=str(home), FINDINING_BACKEND="local",
               AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
               AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:admin,{VIEWER}:viewer",
               AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
               # no scheduled runs of today (the store's days are in the past): only what the tests start
               AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False")
    # the store is built while Airflow starts (no component reads it before a test runs a task)
    with ThreadPoolExecutor(1) as background:
        store = background.submit(_small_store, home)
        with local_airflow.running_airflow(env, state / "airflow.log") as (_client, _processes):
            client = LoggedInClient(env["AIRFLOW__API__BASE_URL"], password)
            client.home, client.env, client.viewer_password = home, env, viewer_password
            wait_for_dags(client, PROJECT_DAGS)
            store.result()
            yield client


def _small_store(home: Path) -> None:
    """Both app models live (v1, trained on the first 14 days), the last day's traffic replayed,
    and a second approved recommendation version to A/B-test against."""
    from simulation import bootstrap

    from devtools.demo import lightweight_version
    from devtools.traffic import replay_day
    from findining_mlops.config.catalog import get_model
    from findining_mlops.data.synthetic import generate
    from findining_mlops.platform.local import local_platform

    platform = local_platform(home, seed=11)
    generate(platform.store, START, DATA_DAYS, seed=3, requests_per_day=150, reviews_per_day=150)
    for model in LIVE_MODELS:
        spec = get_model(model)
        bootstrap(platform, spec, MONITORED_DAY - timedelta(days=1), f"browser-bootstrap-{model}")
        replay_day(platform, spec, MONITORED_DAY)
    lightweight_version(platform, get_model("recommendation"), MONITORED_DAY - timedelta(days=1))
    platform.endpoints.flush()


def cli(airflow, *arguments: str) -> str:
    """``findining-mlops`` on the Airflow's store, as a person would run it; its standard output."""
    result = subprocess.run([sys.executable, "-m", "findining_mlops.cli.main", *arguments], env=airflow.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def browser():
    """Chromium, or a skip that says how to install it (before any Airflow is started)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: `apt-get install -y chromium` "
                    "(`make test` installs it when run as root)")
    from playwright.sync_api import expect, sync_playwright

    # on a busy 2-core machine the UI takes more than expect's default 5 s to load a page's data
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def log_in(page, password: str, user: str = USER) -> None:
    """Airflow's login form: user name and password, then the UI."""
    page.goto("/")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    screenshot(page, "0-login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/" not in url)


@pytest.fixture(scope="module")
def logged_in(browser, airflow, tmp_path_factory):
    """A logged-in browser state (the session cookie), from one login through the form."""
    context = browser.new_context(base_url=airflow.base_url)
    page = context.new_page()
    page.shots = tmp_path_factory.mktemp("login")
    log_in(page, airflow.password)
    state = context.storage_state()
    context.close()
    return state


def new_page(browser, airflow, request, tmp_path_factory, storage_state=None):
    """A page on the Airflow UI; its screenshots go to the test's output folder, and a failing
    test's message carries the page's console errors."""
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1400, "height": 900},
                                  storage_state=storage_state)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    # FINDINING_BROWSER_SCREENSHOTS keeps them somewhere lasting (the README's come from there)
    lasting = os.environ.get("FINDINING_BROWSER_SCREENSHOTS")
    page.shots = Path(lasting) / request.node.name if lasting else tmp_path_factory.mktemp(request.node.name[:40])
    page.shots.mkdir(parents=True, exist_ok=True)
    return page


@pytest.fixture
def page(browser, airflow, logged_in, request, tmp_path_factory):
    """A logged-in page on the Airflow UI."""
    page = new_page(browser, airflow, request, tmp_path_factory, storage_state=logged_in)
    yield page
    page.context.close()


@pytest.fixture
def anonymous_page(browser, airflow, request, tmp_path_factory):
    """A page on the Airflow UI of someone not logged in yet."""
    page = new_page(browser, airflow, request, tmp_path_factory)
    yield page
    page.context.close()


@pytest.fixture
def viewer_page(browser, airflow, request, tmp_path_factory):
    """A page on the Airflow UI of the Viewer, logged in through the form."""
    page = new_page(browser, airflow, request, tmp_path_factory)
    log_in(page, airflow.viewer_password, VIEWER)
    yield page
    page.context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test's report carries the page's console errors and where its
    screenshots are."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    page = funcargs.get("page") or funcargs.get("anonymous_page") or funcargs.get("viewer_page")
    if report.when == "call" and report.failed and page is not None:
        screenshot(page, "failure")
        errors = "\n".join(page.console_errors) or "(none)"
        report.sections.append(("browser", f"screenshots: {page.shots}\nconsole errors:\n{errors}"))


def screenshot(page, step: str) -> None:
    """Saves the page as ``<test output folder>/<step>.png``, kept whether the test passes or not."""
    page.screenshot(path=str(page.shots / f"{step}.png"), full_page=True)
