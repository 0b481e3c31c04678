"""
### Model retraining

Retrains one model of the catalog and registers the result — the seed's
`model-retraining-trigger` Lambda as a DAG.

1. **snapshot** the training window (`data/<dataset>/dt=…`) into the job's channels
   (`training/<model>/<job>/{train,validation,test}`); a missing day fails the run by name;
2. **train** as a training job named after this DAG run — a retry re-attaches to it;
3. **evaluate** the challenger and the current champion on the same holdout;
4. **gate**: minimum primary metric, and no regression beyond the catalog's margin;
5. **register** the version as `Approved` or `Rejected`, with metrics, reason and lineage;
6. **baseline**: store the drift reference profile computed at training time;
7. **deploy**: a model without an endpoint gets one serving the approved version at 100 %
   (a sensor waits for it to be in service without holding a worker slot);
   otherwise an approved version goes out as a canary through `model_deployment` (the
   model's `deployment` defaults in `models.toml`, overridable with the Airflow Variable
   `findining_deployment_defaults`).

Trigger from the UI form (`model_name`, `reason`) or from `model_monitoring`.
A failed run publishes an alert to the alerts topic.
"""

from __future__ import annotations

from airflow.sdk import Param, task

from findining_airflow.authoring import (
    deploy_handed_over,
    deployment_requests,
    findining_dag,
    model_task,
    run_day,
    run_ref,
)
from findining_airflow.guide import action_param
from findining_airflow.operators.training import TrainingJobOperator
from findining_mlops.config.catalog import model_names

MODELS = model_names()


@findining_dag(
    "model_retraining",
    doc_md=__doc__,
    tags=["findining", "mlops", "training"],
    max_active_runs=len(MODELS),  # every model of the catalog may retrain at once (say, after a bootstrap)
    params={
        "action": action_param("model_retraining"),
        "model_name": Param(MODELS[0], type="string", enum=MODELS, description="the model to retrain"),
        "reason": Param("manual retraining", type="string", minLength=1, maxLength=500, pattern=r"\S",
                        description="why; recorded with the version"),
        "data_end_date": Param(None, type=["null", "string"], format="date",
                               description="last day of the training window (default: the day before the run)"),
        "training_window_days": Param(None, type=["null", "integer"], minimum=4, maximum=365,
                                      description="days of data (default: the model's catalog setting)"),
    },
    render_template_as_native_obj=True,
)
def model_retraining():
    @task(multiple_outputs=False)
    def snapshot(params: dict, dag_run=None) -> dict:
        from findining_mlops.training.job import training_job_name
        from findining_mlops.training.snapshot import snapshot_training_data

        with model_task(params["model_name"]) as (platform, spec):
            end_day = run_day(dag_run, given=params["data_end_date"])
            job_name = training_job_name(spec.name, dag_run.dag_id, dag_run.run_id)
            return snapshot_training_data(platform, spec, job_name, end_day, params["training_window_days"]).to_dict()

    snap = snapshot()
    train = TrainingJobOperator(task_id="train", model_name="{{ params.model_name }}", snapshot=snap)

    @task(multiple_outputs=False)
    def evaluate(job: dict, snap: dict, params: dict) -> dict:
        from findining_mlops.platform.ports import TrainingJob
        from findining_mlops.training.evaluate import evaluate_candidates
        from findining_mlops.training.gate import gated_evaluation
        from findining_mlops.training.snapshot import Snapshot

        with model_task(params["model_name"]) as (platform, spec):
            return gated_evaluation(spec, evaluate_candidates(platform, spec, TrainingJob(**job), Snapshot(**snap)))

    @task(multiple_outputs=False)
    def register(job: dict, snap: dict, evaluation: dict, params: dict, dag_run=None) -> dict:
        from findining_mlops.platform.ports import TrainingJob
        from findining_mlops.registry.baselines import store_baseline
        from findining_mlops.training.register import register_version
        from findining_mlops.training.snapshot import Snapshot

        with model_task(params["model_name"]) as (platform, spec):
            version = register_version(platform, spec, TrainingJob(**job), Snapshot(**snap), evaluation,
                                       evaluation["gate"], params["reason"], run_ref(dag_run))
            baseline = store_baseline(platform, version)
            print(f"registered {version.model_name} {version.display} as {version.status}; baseline {baseline}")
            return version.to_dict()

    @task
    def hand_over(version: dict, ti=None) -> list[dict]:
        """An approved version: an endpoint of its own, or a canary by model_deployment."""
        return deployment_requests([version], "retraining", ti)

    evaluation = evaluate(train.output, snap)
    handed_over = hand_over(register(train.output, snap, evaluation))
    deploy_handed_over(handed_over)


model_retraining()
