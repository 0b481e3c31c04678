"""The platform for the running task, configured from Airflow Variables or the environment.

``findining_backend`` / ``findining_home`` Variables win over ``FINDINING_BACKEND`` /
``FINDINING_HOME``, so an operator switches backends in the UI, never in a DAG.
"""

from __future__ import annotations

import os
from functools import lru_cache

VARIABLES = {"findining_backend": "FINDINING_BACKEND", "findining_home": "FINDINING_HOME",
             "findining_deployment_defaults": "FINDINING_DEPLOYMENT_DEFAULTS"}


def _settings_env() -> dict[str, str]:
    env = dict(os.environ)
    try:
        from airflow.sdk import Variable

        for variable, name in VARIABLES.items():
            value = Variable.get(variable, default=None)
            if value:
                env[name] = value
    except Exception:  # outside a task (CLI, tests) there is no Variable store to ask
        pass
    return env


@lru_cache(maxsize=4)
def _platform_for(backend: str, home: str):
    from findining_mlops.platform import get_platform
    from findining_mlops.settings import Settings

    return get_platform(Settings.from_env({"FINDINING_BACKEND": backend, "FINDINING_HOME": home}))


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


def platform():
    """The configured platform; a bad setting fails here, at the first task, by name."""
    from findining_mlops.settings import Settings

    settings = Settings.from_env(_settings_env())
    return _platform_for(settings.backend, str(settings.home))
