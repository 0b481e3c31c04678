"""A/B tests of model versions on one endpoint. The events the app records are day-partitioned parquet batches on
the store (``store.abtest_events``), written and read by the A/B test store's adapters.

- ``lifecycle``: plan, start, assign users to arms, analyze a day, finish (the DAGs' steps);
- ``queries``: the one SQL source reducing events to per-arm moments (DuckDB, or Athena as Trino);
- ``engine``: runs that SQL, from scratch or incrementally by day;
- ``analysis``: the analysis of a frame or of parquet files of events (SQL, then statistics), outside Airflow;
- ``stats``: the statistics on those moments (Welch / z-test, SRM, Holm, mSPRT, CUPED).
"""
