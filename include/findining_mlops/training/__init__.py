"""Retraining and uploaded models, a module per step of the lifecycle: ``snapshot`` (the training window into the
job's channels) -> ``job`` (train, by a name derived from the DAG run) -> ``evaluate`` (challenger and champion on the
same holdout) -> ``gate`` (approve or reject) -> ``register``; ``uploads`` takes a person's artifact through the
same check, gate and registration, ``check`` loads a model only in a sandboxed child process.

Every step is keyed on the training job's name, so a retried step or a re-run finds its own earlier result instead
of doing the work twice."""
