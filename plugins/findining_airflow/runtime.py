"""The platform for the running task, configured from Airflow Variables or the environment.

Each setting ``FINDINING_X`` may also be the Airflow Variable ``findining_x`` (e.g.
``findining_backend``, ``findining_bucket``, ``findining_training_role_arn``); the Variable
wins, so an operator switches backends in the UI, never in a DAG.
"""

from __future__ import annotations

import os
from functools import cached_property, lru_cache

from findining_mlops.config.settings import AWS_SETTINGS, COMMON_SETTINGS

# Variable name -> env var name: the same setting, lower-cased
VARIABLES = {name.lower(): name for name in (*COMMON_SETTINGS, "FINDINING_DEPLOYMENT_DEFAULTS",
                                             "FINDINING_ALERT_ON_SUCCESS")}
AWS_VARIABLES = {name.lower(): name for name in AWS_SETTINGS}


class VariableReadError(RuntimeError):
    """An Airflow Variable could not be read; the task stops rather than run on the environment's
    settings (e.g. the local backend instead of aws). Not a fail-fast error: a retry may succeed."""


def _settings_env() -> dict[str, str]:
    """The environment with the ``findining_*`` Variables laid over it.

    Outside a task (the CLI, tests) the Task SDK answers from ``AIRFLOW_VAR_*`` and any configured
    secrets backend and returns the default for the rest, so there is nothing to excuse: an
    exception is always a failure to read the configuration (access denied, a broken secrets
    backend) and fails the task with its reason.
    """
    from airflow.sdk import Variable

    env = dict(os.environ)

    def read(variables: dict[str, str]) -> None:
        for variable, name in variables.items():
            try:
                value = Variable.get(variable, default=None)
            except Exception as exc:
                raise VariableReadError(f"could not read the Airflow Variable {variable!r} ({type(exc).__name__}: "
                                        f"{exc}); the task stops instead of falling back to the environment's "
                                        f"{name}") from exc
            if value:
                env[name] = value

    read(VARIABLES)
    if env.get("FINDINING_BACKEND", "").strip().lower() == "aws":  # only then are they read at all
        read(AWS_VARIABLES)
    return env


@lru_cache(maxsize=4)
def _platform_for(settings):
    """One platform (and its AWS clients) per distinct configuration and process. On ``aws``
    it acts with the Airflow connection ``FINDINING_AWS_CONN_ID``, resolved by the provider's
    hook the way its own operators resolve it (keys, assumed role, profile, botocore config)."""
    if settings.backend != "aws":
        from findining_mlops.platform import get_platform

        return get_platform(settings)
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from findining_mlops.platform.aws import aws_platform

    hook = AwsBaseHook(aws_conn_id=settings.aws.conn_id, region_name=settings.aws.region)
    return aws_platform(settings.aws, hook.get_session(region_name=settings.aws.region), hook.config)


def settings():
    """The validated settings; a bad one fails here, at the first task, by name."""
    from findining_mlops.config.settings import Settings

    return Settings.from_env(_settings_env())


def deployment_defaults(spec) -> dict:
    """The model's automatic-deployment settings: ``models.toml``, then the Variable
    ``findining_deployment_defaults`` (JSON; e.g. a short bake for a demo)."""
    import json

    overrides = _settings_env().get("FINDINING_DEPLOYMENT_DEFAULTS") or "{}"
    try:
        return {**spec.deployment, **json.loads(overrides)}
    except json.JSONDecodeError as exc:
        from findining_mlops.errors import ConfigurationError

        raise ConfigurationError(f"findining_deployment_defaults is not JSON: {exc}") from exc


def alert_on_success(dag_id: str) -> bool:
    """Whether a successful run of ``dag_id`` is announced (``FINDINING_ALERT_ON_SUCCESS``)."""
    wanted = {name.strip() for name in _settings_env().get("FINDINING_ALERT_ON_SUCCESS", "").split(",")}
    return "all" in wanted or dag_id in wanted


def platform():
    """The configured platform; a bad setting fails here, at the first task, by name."""
    return _platform_for(settings())


class PlatformMixin:
    """For operators and sensors: ``self.platform``, the configured platform, read once per task
    instance (when the task runs, never when the DAG is parsed)."""

    @cached_property
    def platform(self):
        return platform()
