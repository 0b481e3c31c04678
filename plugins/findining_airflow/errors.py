"""How domain errors fail a task: at once when a retry cannot help."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fail_fast() -> Iterator[None]:
    """Errors that a retry cannot fix (bad input, a failed training job, an unknown model)
    fail the task at once with their message instead of burning retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from findining_mlops.errors import (
        ABTestError,
        ConfigurationError,
        DataValidationError,
        MissingPartitionError,
        RegistryError,
        TrainingJobFailed,
        UnknownModelError,
    )

    try:
        yield
    except (ConfigurationError, DataValidationError, ABTestError, MissingPartitionError, RegistryError,
            TrainingJobFailed, UnknownModelError) as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
