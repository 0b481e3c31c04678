"""Daily data partitions on the store (``data/<dataset>/dt=YYYY-MM-DD/*.parquet``): finding
them, failing early and by name when a day is missing, and reading one against its contract."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from findining_mlops.data.contracts import SCHEMAS
from findining_mlops.errors import DataValidationError, MissingPartitionError
from findining_mlops.platform.ports import Platform
from findining_mlops.store.layout import partition_prefix


def partition_files(platform: Platform, dataset: str, day: date) -> list[str]:
    return [k for k in platform.store.list_keys(partition_prefix(dataset, day)) if k.endswith(".parquet")]


def require_partitions(platform: Platform, dataset: str, days: list[date]) -> None:
    """Fails naming every missing day, before anything is read or written."""
    missing = [partition_prefix(dataset, d) for d in days if not partition_files(platform, dataset, d)]
    if missing:
        raise MissingPartitionError(
            f"missing data partition(s) {', '.join(missing)} in {platform.store.uri('')}; "
            f"generate or backfill them, or choose another data_end_date"
        )


def read_partition(platform: Platform, dataset: str, day: date) -> pd.DataFrame:
    """One daily partition, checked against its contract. Only what the data itself gets
    wrong is a ``DataValidationError``; a store that cannot be read right now (throttled,
    unreachable) raises its own error, which the task's retries handle."""
    require_partitions(platform, dataset, [day])
    prefix = partition_prefix(dataset, day)
    keys = partition_files(platform, dataset, day)
    tables = []
    for key in keys:
        data = platform.store.read_bytes(key)
        try:
            tables.append(pq.read_table(io.BytesIO(data)))
        except (pa.ArrowException, OSError) as exc:  # parsing bytes in memory: an OSError is a corrupt file
            raise DataValidationError(f"{platform.store.uri(key)} is not readable parquet: {exc}") from exc
    frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    expected = SCHEMAS[dataset]
    missing = [name for name in expected.names if name not in frame.columns]
    if missing:
        raise DataValidationError(f"{platform.store.uri(prefix)} lacks column(s) {', '.join(missing)}")
    return frame
