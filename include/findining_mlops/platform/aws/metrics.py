"""Metrics in CloudWatch: ``PutMetricData`` for the pipeline's own figures (drift,
performance) and ``GetMetricData`` for anything, including what SageMaker records per
production variant in ``AWS/SageMaker`` (the canary alarms read those)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from findining_mlops.platform.aws.clients import AwsClients
from findining_mlops.platform.ports import MetricDatum

log = logging.getLogger(__name__)
PUT_BATCH = 500  # below PutMetricData's 1000 data points and 1 MB per request
PERIOD_S = 60
MAX_AGE = timedelta(days=14)  # CloudWatch refuses older data points


def statistic(name: str) -> str:
    """How a period of ``name`` is summarised. Latencies are averaged; everything else the
    pipeline reads (counts, and daily figures that have one point per period) is summed."""
    return "Average" if name.endswith("Latency") else "Sum"


class CloudWatchMetrics:
    def __init__(self, clients: AwsClients):
        self.clients = clients

    def put(self, namespace: str, data: list[MetricDatum]) -> None:
        oldest = datetime.now(UTC) - MAX_AGE
        fresh = [d for d in data if _utc(d.timestamp) > oldest]
        if len(fresh) < len(data):  # e.g. a backfill of last month: the reports keep these figures
            log.warning("CloudWatch keeps no data older than 14 days: %d of %d point(s) of %s not published",
                        len(data) - len(fresh), len(data), namespace)
        for start in range(0, len(fresh), PUT_BATCH):
            self.clients.cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
                {"MetricName": d.name, "Value": float(d.value), "Unit": d.unit, "Timestamp": _utc(d.timestamp),
                 "Dimensions": [{"Name": k, "Value": str(v)} for k, v in sorted(d.dimensions.items())]}
                for d in fresh[start:start + PUT_BATCH]
            ])

    def query(self, namespace: str, name: str, dimensions: dict[str, str], start: datetime,
              end: datetime) -> list[MetricDatum]:
        """One point per minute that has data, in time order (see ``statistic``); none for an
        empty window (CloudWatch refuses a StartTime that is not before EndTime)."""
        if _utc(start) >= _utc(end):
            return []
        query = {"Id": "m0", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name,
                       "Dimensions": [{"Name": k, "Value": str(v)} for k, v in sorted(dimensions.items())]},
            "Period": PERIOD_S, "Stat": statistic(name)}}
        points: list[MetricDatum] = []
        kwargs = {"MetricDataQueries": [query], "StartTime": _utc(start), "EndTime": _utc(end),
                  "ScanBy": "TimestampAscending"}
        while True:
            response = self.clients.cloudwatch.get_metric_data(**kwargs)
            for result in response["MetricDataResults"]:
                points += [MetricDatum(name, float(v), dict(dimensions), _utc(t))
                           for t, v in zip(result["Timestamps"], result["Values"], strict=False)]
            if not response.get("NextToken"):
                return sorted(points, key=lambda d: d.timestamp)
            kwargs["NextToken"] = response["NextToken"]


def _utc(when: datetime) -> datetime:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
