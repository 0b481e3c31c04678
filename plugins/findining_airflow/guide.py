"""The seed guide's Lambda payloads as DAG confs.

The guide invokes Lambda functions with an ``"action"`` in the payload (``deploy_model``,
``create_test``, ``analyze_test``, ``trigger_retraining``); here each action is a DAG, and
a payload copied from the guide is a valid conf of its DAG. Each DAG accepts its own action
only: another one is refused by the form's validation, whose message prints the Param's
schema — with the map below in its ``$comment`` (a JSON Schema annotation that validation
ignores), naming the DAG that runs the action.
"""

from __future__ import annotations

from airflow.sdk import Param

# the guide's action -> the DAG that does it
GUIDE_ACTIONS = {
    "deploy_model": "model_deployment",
    "create_test": "ab_test",
    "analyze_test": "ab_test_analysis",
    "trigger_retraining": "model_retraining",
}


def action_param(dag_id: str) -> Param:
    """The optional ``action`` of the guide's payload that ``dag_id`` runs."""
    (action,) = [a for a, d in GUIDE_ACTIONS.items() if d == dag_id]
    elsewhere = ", ".join(f"{a} → trigger {d}" for a, d in GUIDE_ACTIONS.items() if d != dag_id)
    return Param(None, type=["null", "string"], enum=[None, action],
                 description=f"the guide's payload key: this DAG runs {action!r} only ({elsewhere})",
                 **{"$comment": f"{dag_id} runs the guide's {action!r}; {elsewhere}"})
