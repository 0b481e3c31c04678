"""The stack against the code: every AWS setting the code reads is an output and every output
is used; the dashboard and alarms name metrics that are really published; thresholds are
the code's; names carry the environment."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from terraform_stack import STACK, blocks, literal

README = Path(__file__).resolve().parents[2] / "README.md"
# Metrics SageMaker itself publishes (AWS docs, "Monitor Amazon SageMaker AI with Amazon CloudWatch")
SAGEMAKER_PUBLISHES = {
    "AWS/SageMaker": {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "InvocationsPerInstance",
                      "ModelLatency", "OverheadLatency"},
    "/aws/sagemaker/Endpoints": {"CPUUtilization", "MemoryUtilization", "DiskUtilization"},
}
# outputs no code reads yet, each with why it is an output anyway
NOT_YET_READ: dict[str, str] = {}


def _stack_settings() -> dict[str, tuple[str, str | None]]:
    """Every setting the code reads that the stack provides: AWS and Bedrock settings, resource names."""
    from findining_mlops.config.settings import AWS_SETTINGS, BEDROCK_SETTINGS, NAME_SETTINGS

    return {**AWS_SETTINGS, **NAME_SETTINGS, **BEDROCK_SETTINGS}


def test_every_aws_setting_the_code_reads_is_an_output():
    outputs = blocks("output")
    wanted = {output for output, _ in _stack_settings().values() if output}
    assert wanted - outputs.keys() == set()


def test_every_output_is_used_by_the_settings_validate_or_the_readme():
    from findining_mlops.cli.validate import VALIDATE_OUTPUTS

    readme = "".join(page.read_text() for page in [README, *sorted(README.parent.glob("docs/*.md"))])
    used = {output for output, _ in _stack_settings().values() if output} | set(VALIDATE_OUTPUTS) | set(NOT_YET_READ)
    used |= {name for name in blocks("output") if f"terraform output -raw {name}" in readme}
    assert set(blocks("output")) - used == set()
    assert set(NOT_YET_READ) <= set(blocks("output"))


def test_each_output_says_which_setting_it_feeds():
    outputs = blocks("output")
    for name, (output, _) in _stack_settings().items():
        if output:
            assert literal(outputs[output]["description"]).startswith(name), output


def _metrics_in_monitoring_tf() -> list[tuple[str, str]]:
    """(namespace, metric) of every Metrics Insights query of the stack's alarms and dashboard:
    literal queries, the endpoint widgets' rows and the pipeline widgets' loop."""
    text = (STACK / "monitoring.tf").read_text()
    found = [(namespace, metric) for metric, namespace in
             re.findall(r'SELECT \w+\((\w+)\) FROM SCHEMA\(\\"([^"\\]+)\\"', text)]
    found += [(namespace, metric) for metric, namespace in re.findall(r'metric = "(\w+)", namespace = "([^"]+)"', text)]
    loop = re.search(r'for metric in \[([^\]]+)\]', text).group(1)
    pipeline_namespace = re.search(r'SELECT MAX\(\$\{metric\}\) FROM SCHEMA\(\\"([^"\\]+)', text).group(1)
    found += [(pipeline_namespace, metric) for metric in re.findall(r'"(\w+)"', loop)]
    return found


def _published_by_the_code(home: Path) -> dict[str, set[str]]:
    """Namespace -> metric names that monitoring.publish_metrics puts, for every catalog
    model, recorded on the local platform's metrics port."""
    from dataclasses import replace

    from findining_mlops.config.catalog import all_models
    from findining_mlops.monitoring import analysis as monitoring
    from findining_mlops.platform.local import local_platform

    published: dict[str, set[str]] = {}

    class Recorder:
        def put(self, namespace, data):
            published.setdefault(namespace, set()).update(d.name for d in data)

    platform = replace(local_platform(home), metrics=Recorder())
    judged = {"drift_share": 0.1, "drifted_columns": ["a"], "rows": 10, "performance": 0.7, "performance_drop": 0.01}
    summary = {"live_version": 1, "malformed": 0, "per_version": {1: judged}}
    for spec in all_models().values():
        monitoring.publish_metrics(platform, spec, date(2026, 10, 1), summary)
    return published


def test_dashboard_and_alarms_name_metrics_that_are_published(tmp_path):
    from findining_mlops.deployment.canary import ERRORS, LATENCY, SAGEMAKER_NAMESPACE
    from findining_mlops.monitoring.analysis import METRICS_NAMESPACE

    code = _published_by_the_code(tmp_path)
    assert METRICS_NAMESPACE in code, "monitoring.publish_metrics published nothing"
    expanded = _metrics_in_monitoring_tf()
    assert expanded, "no metric found in monitoring.tf"
    namespaces = set()
    for namespace, metric in expanded:
        namespaces.add(namespace)
        known = code.get(namespace, set()) | SAGEMAKER_PUBLISHES.get(namespace, set())
        assert metric in known, f"{namespace} {metric}: neither the code nor SageMaker publishes it"
    assert {METRICS_NAMESPACE, SAGEMAKER_NAMESPACE, "/aws/sagemaker/Endpoints"} <= namespaces
    for metric in (LATENCY, ERRORS, "Invocations"):
        assert (SAGEMAKER_NAMESPACE, metric) in expanded, metric
    # the IAM condition on PutMetricData names the namespace the code publishes to
    assert f'pipeline_metrics_namespace = "{METRICS_NAMESPACE}"' in (STACK / "monitoring.tf").read_text()


def test_alarm_thresholds_are_the_code_s():
    from findining_mlops.platform.aws.alarms import LATENCY_THRESHOLD_US

    text = (STACK / "monitoring.tf").read_text()
    assert re.search(rf"latency_threshold_us\s*=\s*{LATENCY_THRESHOLD_US}\b", text)


def test_names_carry_the_environment():
    """Tables, topic, dashboard, roles, bucket: dev, staging and production can share an account."""
    text = "\n".join(p.read_text() for p in STACK.glob("*.tf"))
    for resource in ("aws_s3_bucket.ml", "aws_sns_topic.alerts", "aws_cloudwatch_dashboard.monitoring",
                     "aws_iam_role.sagemaker_training",
                     "aws_iam_role.sagemaker_serving", "aws_iam_role.ml_management", "aws_iam_role.bedrock_access",
                     "aws_iam_role.ml_monitoring", "aws_mwaa_environment.main", "aws_kms_alias.ml"):
        body = blocks("resource")[resource]
        name = body.get("name") or body.get("bucket") or body.get("dashboard_name")
        assert "local.name" in name or "var.environment" in name or "local.alerts_topic_name" in name \
            or "local.dashboard_name" in name or "local.mwaa_name" in name, (resource, name)
    assert '"${var.project_prefix}-${var.environment}"' in text
    assert 'name = "${local.name}-mlops-state"' in text


def test_the_code_s_resource_names_are_the_environment_s():
    """The names the code gives endpoints, configs, models, package groups and alarms start with
    the output resource_prefix (local.name), which is what the IAM policies and alarms scope to."""
    outputs = blocks("output")
    assert literal(outputs["resource_prefix"]["value"]) == "${local.name}"
    text = "\n".join(p.read_text() for p in STACK.glob("*.tf"))
    for resource in ("model-package-group", "model-package", "model", "endpoint-config", "endpoint"):
        scoped = re.findall(rf':{resource}/([^"*]*)\*', text)
        assert scoped and set(scoped) == {"${local.name}-"}, (resource, scoped)
    assert set(re.findall(r':alarm:([^"*]*)\*', text)) == {"${local.name}-", "TargetTracking-endpoint/${local.name}-"}
    assert '"${local.name}-${model}-endpoint"' in text
