"""The DynamoDB tables of the aws backend and the conditional-write lock they provide.

- state table (``pk``, ``sk``): deployment locks, registry locks, deployment history,
  the running A/B test of each endpoint;
- A/B tests (``test_id``); their metric events are parquet on S3 (``findining_mlops.store.abtest_events``).

Terraform creates them (docs/aws.md); ``create_tables`` does the same for tests and
first-time set-ups."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from findining_mlops.config.settings import AwsSettings
from findining_mlops.platform.aws.clients import AwsClients, error_code


def key_schemas(settings: AwsSettings) -> dict[str, list[tuple[str, str]]]:
    """Table name -> [(attribute, HASH|RANGE)], all string keys."""
    return {
        settings.state_table: [("pk", "HASH"), ("sk", "RANGE")],
        settings.abtests_table: [("test_id", "HASH")],
    }


def create_tables(clients: AwsClients, settings: AwsSettings) -> None:
    """On-demand tables with the backend's key schemas; existing tables are left alone."""
    client = clients.dynamodb.meta.client
    for name, keys in key_schemas(settings).items():
        try:
            client.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
                **({"SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": settings.kms_key_arn}}
                   if settings.kms_key_arn else {}),
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Lock:
    """A named lock in the state table, taken with a conditional PutItem: the holder may take
    it again (a retried task), anybody else is told who holds it. ``ttl_s`` lets a lock left
    by a crashed holder expire; 0 keeps it until released."""

    def __init__(self, clients: AwsClients, table: str, name: str):
        self.table = clients.dynamodb.Table(table)
        self.key = {"pk": f"lock#{name}", "sk": "lock"}

    def acquire(self, owner: str, ttl_s: int = 0) -> str | None:
        now = time.time()
        item = {**self.key, "owner": owner, "acquired_at": now_iso(), "expires": int(now + ttl_s) if ttl_s else 0}
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #o = :owner OR (#e > :zero AND #e < :now)",
                ExpressionAttributeNames={"#o": "owner", "#e": "expires"},
                ExpressionAttributeValues={":owner": owner, ":zero": 0, ":now": int(now)},
            )
            return None
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        holder = self.table.get_item(Key=self.key, ConsistentRead=True).get("Item")
        return holder["owner"] if holder else self.acquire(owner, ttl_s)  # released meanwhile: try again

    def release(self, owner: str) -> None:
        try:
            self.table.delete_item(Key=self.key, ConditionExpression="#o = :owner",
                                   ExpressionAttributeNames={"#o": "owner"},
                                   ExpressionAttributeValues={":owner": owner})
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # not held by owner: nothing to release
                raise
