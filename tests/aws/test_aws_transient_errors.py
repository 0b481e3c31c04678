"""Only bad data fails a task for good: a throttled or unreachable AWS service is an error
Airflow retries, and the training trigger rides out a failed poll instead of abandoning a
job that keeps running."""

from __future__ import annotations

from datetime import date

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from aws_stack import BUCKET

DAY = date(2026, 10, 1)
KEY = "data/reviews/dt=2026-10-01/part-0.parquet"


def listing_of(keys: list[str]) -> dict:
    return {"Contents": [{"Key": key, "Size": 1} for key in keys], "IsTruncated": False, "KeyCount": len(keys)}


def test_a_throttled_partition_read_is_retryable_not_bad_data(aws):
    from findining_airflow.errors import fail_fast
    from findining_mlops.errors import DataValidationError
    from findining_mlops.retraining import read_partition

    listing = {"Bucket": BUCKET, "Prefix": "data/reviews/dt=2026-10-01/"}
    with Stubber(aws.store.clients.s3) as s3:  # after botocore's own retries gave up
        for _ in range(2):  # is the partition there; which files
            s3.add_response("list_objects_v2", listing_of([KEY]), listing)
        s3.add_client_error("get_object", service_error_code="SlowDown", service_message="Please reduce your request rate.",
                            http_status_code=503, expected_params={"Bucket": BUCKET, "Key": KEY})
        with pytest.raises(ClientError, match="SlowDown") as raised, fail_fast():
            read_partition(aws, "reviews", DAY)

    assert not isinstance(raised.value, DataValidationError)


def test_a_corrupt_parquet_object_is_bad_data_and_fails_at_once(aws):
    from airflow.sdk.exceptions import AirflowFailException

    from findining_airflow.errors import fail_fast
    from findining_mlops.errors import DataValidationError
    from findining_mlops.retraining import read_partition

    aws.store.write_bytes(KEY, b"PAR1 this is not parquet")

    with pytest.raises(DataValidationError, match=f"s3://{BUCKET}/{KEY} is not readable parquet"):
        read_partition(aws, "reviews", DAY)
    with pytest.raises(AirflowFailException, match="DataValidationError"), fail_fast():
        read_partition(aws, "reviews", DAY)
