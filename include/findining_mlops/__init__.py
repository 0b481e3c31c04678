"""Find Dining (搵食) MLOps: the domain library behind the Airflow pipeline.

Plain, typed Python with no Airflow imports, so DAGs, plugins, the CLI, tests and the
SageMaker training container all share one implementation.
"""

__version__ = "0.1.0"
