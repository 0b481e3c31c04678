"""Per-variant CloudWatch alarms, created with each endpoint config: the seed's canary
guardrails as alarms on what SageMaker records in ``AWS/SageMaker``. They page on-call
through the alerts topic and show in the console; the bake itself judges the same metrics
over its own window (``findining_mlops.deployment.canary``) through the metrics port."""

from __future__ import annotations

from findining_mlops.platform.aws.clients import AwsClients

NAMESPACE = "AWS/SageMaker"
LATENCY_THRESHOLD_US = 5_000_000  # ModelLatency is in microseconds: 5 s
ERROR_RATE_THRESHOLD = 0.05
PERIOD_S = 60


def alarm_names(endpoint: str, variant: str) -> list[str]:
    return [f"{endpoint}-{variant}-ModelLatency", f"{endpoint}-{variant}-Invocation5XXErrorRate"]


def put_variant_alarms(clients: AwsClients, endpoint: str, variant: str, topic_arn: str) -> list[str]:
    """Creates or updates (PutMetricAlarm is an upsert) the two alarms of one variant."""
    latency, errors = alarm_names(endpoint, variant)
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    common = {"AlarmActions": [topic_arn], "EvaluationPeriods": 1, "TreatMissingData": "notBreaching",
              "ComparisonOperator": "GreaterThanThreshold"}
    cw = clients.cloudwatch
    cw.put_metric_alarm(
        AlarmName=latency, AlarmDescription=f"average ModelLatency of {variant} on {endpoint} over 5 s",
        Namespace=NAMESPACE, MetricName="ModelLatency", Dimensions=dimensions, Statistic="Average",
        Period=PERIOD_S, Threshold=LATENCY_THRESHOLD_US, Unit="Microseconds", **common)

    def metric(query_id: str, name: str) -> dict:
        return {"Id": query_id, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dimensions},
            "Period": PERIOD_S, "Stat": "Sum"}}

    cw.put_metric_alarm(
        AlarmName=errors, AlarmDescription=f"Invocation5XXErrors / Invocations of {variant} on {endpoint} over 5 %",
        Metrics=[metric("errors", "Invocation5XXErrors"), metric("invocations", "Invocations"),
                 {"Id": "rate", "Expression": "errors / invocations", "Label": "5XX error rate", "ReturnData": True}],
        Threshold=ERROR_RATE_THRESHOLD, **common)
    return [latency, errors]


def delete_variant_alarms(clients: AwsClients, endpoint: str, variants: list[str]) -> None:
    names = [name for variant in variants for name in alarm_names(endpoint, variant)]
    if names:
        clients.cloudwatch.delete_alarms(AlarmNames=names)


def alarmed_variants(clients: AwsClients, endpoint: str) -> set[str]:
    """The variants of ``endpoint`` that have a latency alarm, by its dimensions (a name
    prefix alone would also match an endpoint whose name extends this one)."""
    variants, kwargs = set(), {"AlarmNamePrefix": f"{endpoint}-", "AlarmTypes": ["MetricAlarm"]}
    while True:
        page = clients.cloudwatch.describe_alarms(**kwargs)
        for alarm in page["MetricAlarms"]:
            dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            if dimensions.get("EndpointName") == endpoint and "VariantName" in dimensions:
                variants.add(dimensions["VariantName"])
        if not page.get("NextToken"):
            return variants
        kwargs["NextToken"] = page["NextToken"]


def alarm_states(clients: AwsClients, endpoint: str, variant: str) -> dict[str, str]:
    """Alarm name -> OK | ALARM | INSUFFICIENT_DATA (DescribeAlarms)."""
    response = clients.cloudwatch.describe_alarms(AlarmNames=alarm_names(endpoint, variant))
    return {a["AlarmName"]: a["StateValue"] for a in response["MetricAlarms"]}
