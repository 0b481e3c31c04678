"""Runtime settings, read from the environment so no DAG is edited to switch backends.

Airflow Variables reach the same names through Airflow's ``AIRFLOW_VAR_*`` convention
in the plugin layer; this module stays free of Airflow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from findining_mlops.errors import ConfigurationError

BACKENDS = ("local", "aws")


@dataclass(frozen=True)
class Settings:
    backend: str
    home: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        backend = env.get("FINDINING_BACKEND", "local").strip().lower()
        if backend not in BACKENDS:
            raise ConfigurationError(
                f"FINDINING_BACKEND={backend!r} is not a backend; use one of {', '.join(BACKENDS)}"
            )
        home = Path(env.get("FINDINING_HOME", ".findining")).expanduser().resolve()
        return cls(backend=backend, home=home)
