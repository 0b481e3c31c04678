"""
### Model deployment (canary with automatic rollback)

Puts a registered version behind the model's endpoint — the seed's
`model-version-manager` `deploy_model` action as a DAG.

1. **plan**: resolve the version — its number or its label, e.g. `"1.1.0"` (default: the
   latest `Approved`) — refuse an unknown or
   `Rejected` version, an invalid split or ramp, and a second deployment to the same
   endpoint (one rollout at a time per endpoint) — all before the endpoint changes;
2. **start**: the champion keeps `100 − c` %, the challenger gets `c` % (production
   variants with weights);
3. **bake**: a sensor watches the challenger's alarms for `bake_minutes` per ramp step —
   model latency over 5 s, 5XX error rate over 5 %, and its prediction distribution
   against the champion's — and ramps through `ramp` (e.g. 10 → 50 → 100). A step that
   cannot get the traffic its alarms need within `insufficient_data_minutes` (the form,
   else the model's `deployment` setting in `models.toml`, else 60 minutes or twice the
   bake time) rolls back;
4. **finish**: promote (challenger at 100 %, old variant retired, recorded in the
   registry) or roll back (challenger removed, recorded with the reason, alert; a version
   an alarm caught is `Rejected`);
5. **close**, whatever happened: a rollout that did not finish (a task failed, the bake
   timed out, the run or a task was marked failed) gets its champion back at 100 %, the
   reason in the deployment history and an alert; then the endpoint's deployment lock is
   released.

Triggered by `model_retraining` after an approved registration, by
`model_artifact_watch`, or by hand from the UI form.
"""

from __future__ import annotations

from airflow.sdk import Param, task

from findining_airflow.authoring import findining_dag, model_task
from findining_airflow.guide import action_param
from findining_airflow.notifications import canary_rolled_back
from findining_airflow.sensors.canary import CanaryBakeSensor
from findining_mlops.config.catalog import get_model, model_names
from findining_mlops.deployment.bake_time import BAKE_TIMEOUT, longest_bake_minutes
from findining_mlops.deployment.verdict import thresholds_schema
from findining_mlops.registry.versions import LABEL_PARAM_PATTERN as LABEL

MODELS = model_names()


@findining_dag(
    "model_deployment",
    doc_md=__doc__,
    tags=["findining", "mlops", "deployment"],
    render_template_as_native_obj=True,
    params={
        "model_name": Param(MODELS[0], type="string", enum=MODELS),
        "action": action_param("model_deployment"),
        "version": Param(None, type=["null", "integer", "string"], minimum=1, pattern=LABEL,
                         description="registry version or its label, e.g. 3 or \"1.1.0\" (default: the latest "
                                     "Approved)"),
        "strategy": Param("canary", type="string", enum=["canary", "all_at_once"]),
        "canary_percent": Param(10, type="integer", minimum=1, maximum=50,
                                description="the challenger's share of traffic in the first step"),
        "ramp": Param([10, 50, 100], type="array", items={"type": "integer", "minimum": 1, "maximum": 100},
                      minItems=1,
                      description="traffic percent per step, increasing, first = canary_percent, last = 100"),
        "bake_minutes": Param(
            10.0, type="number", minimum=0, maximum=longest_bake_minutes(1),
            description="bake time per step (0: no bake, e.g. for the winner of an A/B test); all steps' bake must "
                        f"end within the bake's {BAKE_TIMEOUT.total_seconds() / 3600:g} h timeout"),
        "insufficient_data_minutes": Param(
            None, type=["null", "number"], exclusiveMinimum=0, maximum=1440,
            description="how long a step may lack the traffic its alarms need before the rollout rolls back "
                        "(default: the model's deployment setting, else 60 or twice bake_minutes)"),
        "thresholds": Param({}, description="overrides of the canary alarm thresholds, each bounded so that none "
                                            "can switch its alarm off", **thresholds_schema()),
    },
)
def model_deployment():
    @task(multiple_outputs=False)
    def plan(params: dict, dag_run=None) -> dict:
        from findining_mlops.deployment import rollout as deployment
        from findining_mlops.errors import EndpointError
        from findining_mlops.registry import versions

        with model_task(params["model_name"]) as (platform, spec):
            version = params["version"]
            if version is not None:
                version = versions.resolve(platform.registry, spec.name, version).version
            rollout_id = dag_run.run_id.replace(":", "-")
            # a re-run of this DAG run resumes its own rollout instead of planning a new one
            rollout = deployment.load(platform, spec.endpoint_name, rollout_id) or deployment.plan(
                platform, spec, version, params["strategy"], params["canary_percent"], params["ramp"],
                params["bake_minutes"], rollout_id, params["insufficient_data_minutes"])
            holder = platform.endpoints.acquire_deployment_lock(spec.endpoint_name, dag_run.run_id)
            if holder is not None:
                raise EndpointError(f"{spec.endpoint_name} is being deployed by run {holder}; one rollout at a time — "
                                    "wait for it to finish, then trigger again")
        return rollout.to_dict()

    @task(multiple_outputs=False)
    def start(rollout: dict) -> dict:
        from findining_airflow.runtime import platform
        from findining_mlops.deployment import rollout as deployment

        return deployment.start(platform(), deployment.Rollout.from_dict(rollout)).to_dict()

    @task(multiple_outputs=False)
    def finish(baked: dict, dag_run=None) -> dict:
        from findining_airflow.runtime import platform
        from findining_mlops.deployment import rollout as deployment

        result = deployment.finish(platform(), deployment.Rollout.from_dict(baked), dag_run.run_id)
        if result["outcome"] == deployment.ROLLBACK:
            canary_rolled_back(baked["model"], baked["challenger"], result["note"])
        print(result)
        return result

    @task
    def close(planned: dict, params: dict, dag_run=None, ti=None) -> None:
        """A teardown: a rollout that ``finish`` did not end is ended here, with the
        champion back at 100 % — never left half rolled out with nobody owning it."""
        from findining_airflow.runtime import platform
        from findining_mlops.deployment import rollout as deployment
        from findining_mlops.deployment.verdict import abort_cause

        saved = deployment.load(platform(), planned["endpoint"], planned["rollout_id"])
        rollout = saved or deployment.Rollout.from_dict(planned)  # no state: start never ran
        if not rollout.finished:
            states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
            result = deployment.abort(platform(), rollout, abort_cause(states, ti.task_id), dag_run.run_id)
            canary_rolled_back(rollout.model, rollout.challenger, result["note"])
        # only this run's own lock: a refused second run must not free the first one's
        platform().endpoints.release_deployment_lock(get_model(params["model_name"]).endpoint_name, dag_run.run_id)

    planned = plan()
    bake = CanaryBakeSensor(task_id="bake", model_name="{{ params.model_name }}", rollout=start(planned),
                            thresholds="{{ params.thresholds }}")
    # a teardown: runs once the lock was taken, whatever happens after, and never decides the run's state
    finish(bake.output) >> close(planned).as_teardown(setups=planned)


model_deployment()
