"""The evaluation step: the new model (the challenger) and the serving champion on the same holdout, the
snapshot's test channel. A model artifact is untrusted code, so each is loaded and evaluated in a credential-free
child process (``training.check``)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import TypedDict

import pandas as pd

from findining_mlops.config.catalog import ModelSpec
from findining_mlops.errors import RegistryError, TrainingJobFailed
from findining_mlops.models.contract import extract_artifact
from findining_mlops.platform.ports import Platform, TrainingJob
from findining_mlops.registry.variants import champion
from findining_mlops.training.check import ModelCheckFailed, check_model
from findining_mlops.training.snapshot import Snapshot

HOLDOUT_FILE = "holdout.parquet"


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
    """Challenger and champion on the same holdout (the snapshot's test channel), each
    loaded and evaluated in a credential-free child process (``model_check``)."""
    holdout = pd.concat(
        [pd.read_parquet(io.BytesIO(platform.store.read_bytes(k)))
         for k in platform.store.list_keys(snapshot.channels["test"] + "/")],
        ignore_index=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        holdout.to_parquet(workdir / HOLDOUT_FILE, index=False)
        archive = platform.store.download_file(job.model_artifact_key, workdir / "challenger.tar.gz")
        try:
            checked = check_model(spec, extract_artifact(archive, workdir / "challenger"), workdir / HOLDOUT_FILE,
                                  workdir)
        except ModelCheckFailed as exc:
            raise TrainingJobFailed(f"the model of training job {job.name} {exc}") from exc
        return {"holdout_rows": int(len(holdout)), "holdout_days": snapshot.days["test"],
                "challenger": checked["metrics"], "champion": evaluate_champion(platform, spec, workdir)}


def evaluate_champion(platform: Platform, spec: ModelSpec, workdir: Path) -> ChampionFigures | None:
    """The champion's version and figures on ``workdir/holdout.parquet``; None without one."""
    incumbent = champion(platform, spec)
    if incumbent is None:
        return None
    archive = platform.store.download_file(incumbent.artifact_key, workdir / "champion.tar.gz")
    try:
        checked = check_model(spec, extract_artifact(archive, workdir / "champion"), workdir / HOLDOUT_FILE, workdir)
    except ModelCheckFailed as exc:  # not the candidate's fault: nothing can be compared with this champion
        raise RegistryError(f"the champion {spec.name} {incumbent.display} ({incumbent.artifact_uri}) {exc}; "
                            f"no candidate of {spec.name} can be compared with it") from exc
    return {"version": incumbent.version, "display": incumbent.display, "metrics": checked["metrics"]}
