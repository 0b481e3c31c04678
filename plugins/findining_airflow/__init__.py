"""Airflow layer of Find Dining MLOps: operators, triggers and notifiers that call the
domain library (``findining_mlops``) and its platform ports.

Nothing heavy is imported here: DAG files import this package at parse time.
"""
