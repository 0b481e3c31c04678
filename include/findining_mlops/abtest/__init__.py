"""A/B tests of model versions on one endpoint.

- ``lifecycle``: plan, start, assign users to arms, analyze a day, finish (the DAGs' steps);
- ``events``: the outcomes the app records, as day-partitioned parquet batches on the store;
- ``queries``: the one SQL source reducing events to per-arm moments (DuckDB, or Athena as Trino);
- ``engine``: runs that SQL, from scratch or incrementally by day;
- ``stats``: the statistics on those moments (Welch / z-test, SRM, Holm, mSPRT, CUPED).
"""
