# The image of every Airflow container in docker-compose.yaml: Airflow, the providers and the
# project, with the run-time dependencies only (requirements.txt; the test and dev tools of
# requirements-dev.txt never enter it), pinned by the same constraints.txt as `make setup`,
# so a container runs exactly the versions the tests ran. Dependencies are baked in at build
# time, never installed when a container starts. .dockerignore keeps the build context to
# what is copied below: no .env, secrets, state or dev tools.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins

# curl for the health checks, tini to pass signals on (a Celery worker's warm shutdown)
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 50000 --gid 0 --home-dir /home/airflow airflow \
    && mkdir -p /opt/airflow/logs /opt/airflow/secrets /opt/findining/home \
    && chown -R 50000:0 /opt/airflow /opt/findining

WORKDIR /opt/findining/src
# the pinned set first: this layer is rebuilt only when a pin changes
COPY requirements.txt constraints.txt ./
RUN pip install "pip==26.3" && pip install -r requirements.txt -c constraints.txt

COPY pyproject.toml README.md ./
COPY include include
COPY plugins plugins
RUN pip install --no-deps .
COPY --chown=50000:0 dags /opt/airflow/dags
COPY --chown=50000:0 plugins /opt/airflow/plugins

USER 50000
WORKDIR /opt/airflow
ENTRYPOINT ["tini", "--"]
CMD ["airflow", "version"]
