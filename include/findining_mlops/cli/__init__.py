"""``findining-mlops``: the pipeline's operations outside Airflow."""
