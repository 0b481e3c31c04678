"""
### A/B test: create

Starts an A/B test between two versions of a model on its endpoint — the seed's
`ab-test-manager` `create_test` action as a form.

1. **plan**: resolve each arm's version (its number or its label, e.g. `"1.1.0"`); refuse
   an unknown or non-`Approved` version, a split outside 1–99 %, a metric
   the model does not record, and a second test on a busy endpoint — before anything changes;
2. **start**: take the endpoint's deployment lock (no rollout can change the variants
   during the test), put both versions on it as production variants weighted by the split,
   and record the test in the A/B test store (`abtests/<test-id>/test.json`);
3. **variants_in_service**: wait, without holding a worker slot, until the endpoint serves
   both (SageMaker takes minutes to update an endpoint).

Users are assigned to an arm by a stable hash of (test, user), so each user sees one
version for the whole test (the app client invokes their arm's variant). `ab_test_analysis`
analyses the test every day and concludes it.
"""

from __future__ import annotations

from datetime import date

from airflow.sdk import Param, task

from findining_airflow.authoring import findining_dag, task_platform
from findining_airflow.guide import action_param
from findining_airflow.sensors.endpoints import EndpointSettledSensor, settle_target
from findining_mlops.config.catalog import ab_metric_names, model_names
from findining_mlops.registry.versions import LABEL_PARAM_PATTERN as LABEL

MODELS = model_names()
METRICS = ab_metric_names()
# the form's fields a test request takes as they are (the arms are resolved to registry versions first)
REQUEST_PARAMS = ("test_name", "model_name", "traffic_split", "duration_days", "success_metrics", "guardrail_metrics",
                  "alpha")


@findining_dag(
    "ab_test",
    doc_md=__doc__,
    tags=["findining", "mlops", "ab-test"],
    params={
        "test_name": Param("recommendation_v1_vs_v2", type="string", minLength=1, maxLength=100, pattern=r"\S",
                           description="a name people recognise the test by (not blank)"),
        "model_name": Param(MODELS[0], type="string", enum=MODELS),
        "action": action_param("ab_test"),
        "control_version": Param(1, type=["integer", "string"], minimum=1, pattern=LABEL,
                                 description="the control arm: registry version or its label, e.g. 1 or \"1.0.0\""),
        "treatment_version": Param(2, type=["integer", "string"], minimum=1, pattern=LABEL,
                                   description="the treatment arm: registry version or its label, e.g. 2 or "
                                               "\"1.1.0\""),
        "traffic_split": Param(50, type="integer", minimum=1, maximum=99, description="percent of users in treatment"),
        "duration_days": Param(14, type="integer", minimum=1, maximum=90),
        "success_metrics": Param(["recommendation_accuracy", "user_satisfaction"], type="array", minItems=1,
                                 uniqueItems=True, items={"type": "string", "enum": METRICS},
                                 description="the decision's metrics (Holm-corrected as one family)"),
        "guardrail_metrics": Param([], type="array", uniqueItems=True, items={"type": "string", "enum": METRICS},
                                   description="metrics that must not get worse; a breach stops the test"),
        "alpha": Param(0.05, type="number", exclusiveMinimum=0, maximum=0.2),
        "start_date": Param(None, type=["null", "string"], format="date",
                            description="day 1 of the test (default: the day of the run)"),
    },
)
def ab_test():
    @task(multiple_outputs=False)
    def plan(params: dict, dag_run=None) -> dict:
        from findining_mlops.abtest import lifecycle
        from findining_mlops.registry import versions

        with task_platform() as platform:
            arms = {arm: versions.resolve(platform.registry, params["model_name"], params[arm]).version
                    for arm in ("control_version", "treatment_version")}
            request = lifecycle.TestRequest(**arms, **{k: params[k] for k in REQUEST_PARAMS})
            start_day = date.fromisoformat(params["start_date"]) if params["start_date"] else dag_run.run_after.date()
            test = lifecycle.plan_test(platform, request, lifecycle.test_id_for(request.test_name, dag_run.run_id),
                                       start_day)
        return test.to_dict()

    @task
    def start(planned: dict) -> list[dict]:
        from findining_mlops.abtest import lifecycle
        from findining_mlops.platform.ports import ABTest

        with task_platform() as platform:
            test = lifecycle.start_test(platform, ABTest(**planned), wait=False)
        print(f"A/B test {test.test_id} running on {test.endpoint} from {test.started_at}")
        return [settle_target(test.endpoint, lifecycle.test_variants(platform, test))]

    EndpointSettledSensor(task_id="variants_in_service", targets=start(plan()), timeout=3 * 3600)


ab_test()
