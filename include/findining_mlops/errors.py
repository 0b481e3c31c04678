"""Errors a person can act on: each message names the thing that is wrong."""


class FindiningError(Exception):
    """Base class for every error the pipeline raises on purpose."""


class ConfigurationError(FindiningError):
    """A setting is missing or malformed."""


class UnknownModelError(FindiningError):
    """A model name that the model catalog does not define."""


class MissingPartitionError(FindiningError):
    """A data partition the run needs is not in the store."""


class DataValidationError(FindiningError):
    """Input data does not honour its contract."""


class TrainingJobFailed(FindiningError):
    """A training job ended in the `Failed` state."""


class ImmutableArtifactError(FindiningError):
    """An attempt to overwrite an artifact that is never overwritten."""


class RegistryError(FindiningError):
    """A model registry operation that cannot be carried out."""


class EndpointError(FindiningError):
    """An endpoint operation that cannot be carried out."""


class ABTestError(FindiningError):
    """An A/B test request the A/B test store refuses (busy endpoint, unknown test)."""


class ModelCheckFailed(FindiningError):
    """A model failed its check (``training.check``); the message says how: a verdict on the model."""


class SandboxUnavailable(FindiningError):
    """Untrusted code cannot be run here with the isolation this process requires."""


class ArchiveRefused(FindiningError):
    """A model.tar.gz the sandbox would not unpack (unsafe or unreadable): the message says why."""
