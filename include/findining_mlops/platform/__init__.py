"""Platform ports and the factory that picks an adapter by configuration.

The ports are named after SageMaker's own concepts so the AWS adapter is a thin mapping
and the local adapter behaves the same way (see ``ports``).
"""

from __future__ import annotations

from findining_mlops.config.settings import Settings
from findining_mlops.errors import ConfigurationError
from findining_mlops.platform.ports import Platform


def get_platform(settings: Settings | None = None) -> Platform:
    """The platform for the configured backend (``FINDINING_BACKEND``)."""
    settings = settings or Settings.from_env()
    if settings.backend == "local":
        from findining_mlops.platform.local import local_platform

        return local_platform(settings.home)
    from findining_mlops.platform.aws import aws_platform

    if settings.aws is None:
        raise ConfigurationError("the aws backend needs its settings (Settings.from_env reads them)")
    return aws_platform(settings.aws)
