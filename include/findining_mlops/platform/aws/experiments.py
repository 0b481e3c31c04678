"""A/B tests and their metric events in DynamoDB (the local SQLite store's semantics).

- tests table, by ``test_id``: the test's definition as JSON plus its status;
- events table, by (``test_id``, ``event_id``): each event written with
  ``attribute_not_exists(event_id)``, so a retried write is kept once and counted once;
- "one running test per endpoint" is an item in the state table written in the same
  transaction as the test: DynamoDB refuses the second one atomically."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from findining_mlops.errors import ExperimentError
from findining_mlops.platform.aws.clients import AwsClients, error_code
from findining_mlops.platform.ports import RUNNING, TEST_STATUSES, ABTest, MetricEvent
from findining_mlops.settings import AwsSettings


def _running_key(endpoint: str) -> dict:
    return {"pk": f"abtest#{endpoint}", "sk": "running"}


class DynamoDBExperiments:
    def __init__(self, clients: AwsClients, settings: AwsSettings):
        self.clients = clients
        self.settings = settings

    @property
    def _client(self):
        """The resource's client: plain Python values, typed by boto3 like the Table API."""
        return self.clients.dynamodb.meta.client

    @property
    def _tests(self):
        return self.clients.dynamodb.Table(self.settings.experiments_table)

    @property
    def _events(self):
        return self.clients.dynamodb.Table(self.settings.experiment_events_table)

    def create(self, test: ABTest) -> ABTest:
        existing = self.get(test.test_id)
        if existing:
            return existing
        try:
            self._client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.settings.experiments_table,
                         "Item": {"test_id": test.test_id, "status": test.status, "endpoint": test.endpoint,
                                  "definition": _json(test.to_dict())},
                         "ConditionExpression": "attribute_not_exists(test_id)"}},
                {"Put": {"TableName": self.settings.state_table,
                         "Item": {**_running_key(test.endpoint), "test_id": test.test_id},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            stored = self.get(test.test_id)
            if stored:  # a concurrent create of the same test won
                return stored
            holder = self._client.get_item(TableName=self.settings.state_table, Key=_running_key(test.endpoint),
                                           ConsistentRead=True).get("Item", {}).get("test_id", "another test")
            raise ExperimentError(f"{test.endpoint} already runs A/B test {holder}; one test per endpoint at a time "
                                  "— wait for it to conclude or stop it first") from exc
        return test

    def get(self, test_id: str) -> ABTest | None:
        item = self._tests.get_item(Key={"test_id": test_id}, ConsistentRead=True).get("Item")
        return ABTest(**json.loads(item["definition"])) if item else None

    def list_tests(self, status: str | None = None) -> list[ABTest]:
        kwargs = {"ConsistentRead": True}
        if status:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        items = _pages(self._tests.scan, kwargs)
        return sorted((ABTest(**json.loads(i["definition"])) for i in items), key=lambda t: t.test_id)

    def finish(self, test_id: str, status: str, decision: str, winner: int | None, when: str) -> ABTest:
        if status not in TEST_STATUSES or status == RUNNING:
            raise ExperimentError(f"a test finishes as concluded or stopped, not {status!r}")
        test = self.get(test_id)
        if test is None:
            raise ExperimentError(f"there is no A/B test {test_id!r}")
        if test.status != RUNNING:
            return test
        finished = replace(test, status=status, decision=decision, winner=winner, concluded_at=when)
        try:
            self._client.transact_write_items(TransactItems=[
                {"Update": {"TableName": self.settings.experiments_table, "Key": {"test_id": test_id},
                            "UpdateExpression": "SET #s = :status, #d = :definition",
                            "ConditionExpression": "#s = :running",
                            "ExpressionAttributeNames": {"#s": "status", "#d": "definition"},
                            "ExpressionAttributeValues": {":status": status, ":running": RUNNING,
                                                          ":definition": _json(finished.to_dict())}}},
                {"Delete": {"TableName": self.settings.state_table, "Key": _running_key(test.endpoint),
                            "ConditionExpression": "attribute_not_exists(pk) OR test_id = :test",
                            "ExpressionAttributeValues": {":test": test_id}}},
            ])
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            return self.get(test_id)  # finished by a concurrent attempt
        return finished

    def record(self, events: list[MetricEvent]) -> int:
        new = 0
        for event in events:
            try:
                self._events.put_item(Item={
                    "test_id": event.test_id, "event_id": event.event_id, "user_id": event.user_id,
                    "variant": event.variant, "metric_name": event.metric_name,
                    "metric_value": Decimal(repr(float(event.metric_value))), "ts": _utc(event.timestamp),
                    "context": _json(event.context)}, ConditionExpression="attribute_not_exists(event_id)")
                new += 1
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":  # written by an earlier attempt
                    raise
        return new

    def events(self, test_id: str, until: datetime | None = None) -> list[MetricEvent]:
        kwargs = {"KeyConditionExpression": Key("test_id").eq(test_id), "ConsistentRead": True}
        if until is not None:
            kwargs["FilterExpression"] = Attr("ts").lt(_utc(until))
        items = _pages(self._events.query, kwargs)
        rows = sorted(items, key=lambda i: (i["ts"], i["event_id"]))
        return [MetricEvent(i["event_id"], i["test_id"], i["user_id"], i["variant"], i["metric_name"],
                            float(i["metric_value"]), datetime.fromisoformat(i["ts"]), json.loads(i["context"]))
                for i in rows]


def _pages(call, kwargs: dict) -> list[dict]:
    items = []
    while True:
        page = call(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _utc(when: datetime) -> str:
    """ISO text in UTC with a fixed width, so text order is time order (as the local store)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")
