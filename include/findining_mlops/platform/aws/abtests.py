"""A/B tests in DynamoDB (the local SQLite store's semantics); their metric events are parquet
batches on S3 (``findining_mlops.store.abtest_events``), which Athena and DuckDB scan.

- tests table, by ``test_id``: the test's definition as JSON plus its status;
- "one running test per endpoint" is an item in the state table written in the same
  transaction as the test: DynamoDB refuses the second one atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from findining_mlops.config.settings import AwsSettings
from findining_mlops.errors import ABTestError
from findining_mlops.platform.aws.clients import AwsClients, error_code
from findining_mlops.platform.ports import RUNNING, TEST_STATUSES, ABTest, ArtifactStore, MetricEvent
from findining_mlops.store.abtest_events import read_events, write_batch


def _running_key(endpoint: str) -> dict:
    return {"pk": f"abtest#{endpoint}", "sk": "running"}


class DynamoDBABTests:
    def __init__(self, clients: AwsClients, settings: AwsSettings, store: ArtifactStore):
        self.clients = clients
        self.settings = settings
        self.store = store

    @property
    def _client(self) -> Any:
        """The resource's client: plain Python values, typed by boto3 like the Table API."""
        return self.clients.dynamodb.meta.client

    @property
    def _tests(self) -> Any:
        return self.clients.dynamodb.Table(self.settings.abtests_table)

    def create(self, test: ABTest) -> ABTest:
        existing = self.get(test.test_id)
        if existing:
            return existing
        try:
            self._client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.settings.abtests_table,
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
            raise ABTestError(f"{test.endpoint} already runs A/B test {holder}; one test per endpoint at a time "
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
            raise ABTestError(f"a test finishes as concluded or stopped, not {status!r}")
        test = self.get(test_id)
        if test is None:
            raise ABTestError(f"there is no A/B test {test_id!r}")
        if test.status != RUNNING:
            return test
        finished = replace(test, status=status, decision=decision, winner=winner, concluded_at=when)
        try:
            self._client.transact_write_items(TransactItems=[
                {"Update": {"TableName": self.settings.abtests_table, "Key": {"test_id": test_id},
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
            return self.get(test_id) or finished  # finished by a concurrent attempt
        return finished

    def record(self, events: list[MetricEvent], batch_id: str | None = None) -> int:
        return write_batch(self.store, events, batch_id)

    def events(self, test_id: str, until: datetime | None = None) -> list[MetricEvent]:
        return read_events(self.store, test_id, until)


def _pages(call: Callable[..., dict], kwargs: dict) -> list[dict]:
    items = []
    while True:
        page = call(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)

