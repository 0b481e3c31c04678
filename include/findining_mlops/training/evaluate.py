"""The evaluation step: the new model (the challenger) and the serving champion on the same holdout, the
snapshot's test channel. A model artifact is untrusted code, so each is loaded and evaluated where such code is
contained (``platform.checks``: the sandbox locally, a SageMaker processing job on AWS), never in this process."""

from __future__ import annotations

from typing import TypedDict

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import ModelCheckFailed, RegistryError, TrainingJobFailed
from findining_mlops.platform.ports import ModelCheckTask, Platform, TrainingJob
from findining_mlops.registry.variants import champion
from findining_mlops.training.check import MODEL_CHECK_TIME_LIMIT_S, check_name
from findining_mlops.training.snapshot import Snapshot


class ChampionFigures(TypedDict):
    """The serving champion and its figures on the candidate's holdout."""

    version: int
    display: str  # ``v3 (1.1.0)``
    metrics: dict


class Evaluation(TypedDict):
    """A candidate and the champion on the same holdout: what the quality gate judges and the lineage keeps."""

    holdout_rows: int
    holdout_days: list[str]  # ISO dates
    challenger: dict  # the candidate's metrics
    champion: ChampionFigures | None


def evaluate_candidates(platform: Platform, spec: ModelSpec, job: TrainingJob, snapshot: Snapshot) -> Evaluation:
    """Challenger and champion on the same holdout (the snapshot's test channel), each checked
    where untrusted code is contained (``platform.checks``)."""
    holdout_prefix = snapshot.channels["test"]
    task = ModelCheckTask(check_name(spec.name, "challenger", job.model_artifact_key or "", holdout_prefix),
                          spec.package, job.model_artifact_key or "", None, holdout_prefix)
    try:
        checked = platform.checks.run(task, MODEL_CHECK_TIME_LIMIT_S)
    except ModelCheckFailed as exc:
        raise TrainingJobFailed(f"the model of training job {job.name} {exc}") from exc
    return {"holdout_rows": snapshot.rows["test"], "holdout_days": snapshot.days["test"],
            "challenger": checked["metrics"], "champion": evaluate_champion(platform, spec, holdout_prefix)}


def evaluate_champion(platform: Platform, spec: ModelSpec, holdout_prefix: str) -> ChampionFigures | None:
    """The champion's version and figures on the holdout under ``holdout_prefix``; None without one."""
    incumbent = champion(platform, spec)
    if incumbent is None:
        return None
    task = ModelCheckTask(check_name(spec.name, "champion", incumbent.artifact_key, holdout_prefix),
                          spec.package, incumbent.artifact_key, None, holdout_prefix)
    try:
        checked = platform.checks.run(task, MODEL_CHECK_TIME_LIMIT_S)
    except ModelCheckFailed as exc:  # not the candidate's fault: nothing can be compared with this champion
        raise RegistryError(f"the champion {spec.name} {incumbent.display} ({incumbent.artifact_uri}) {exc}; "
                            f"no candidate of {spec.name} can be compared with it") from exc
    return {"version": incumbent.version, "display": incumbent.display, "metrics": checked["metrics"]}
