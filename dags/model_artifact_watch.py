"""
### Model artifact watch

Deploys a model tarball that a person uploaded — the seed's guide:
`aws s3 cp recommendation-model-1.1.0.tar.gz s3://bucket/models/recommendation/1.1.0/model.tar.gz`.
An upload is a `models/<model>/<label>/model.tar.gz` that the pipeline did not write (the
registry's own copies sit in integer version folders).

Every 5 minutes, a poll:

1. **find** uploads not registered yet, known by key and the store's ETag (read from the
   listing: an object seen before is not downloaded again; new bytes at the same key are
   checked again);
2. **validate** each (mapped), like a retrained version: in a child process with a time
   limit and none of the worker's credentials, it unpacks, loads with the model's serving
   handlers, answers a smoke request from the synthetic world with a response of the right
   shape, and is evaluated with the champion on the newest labelled days; then the
   model's quality gate judges (the code `model_retraining` uses). A corrupt,
   incompatible, hanging or crashing tarball, one holding `fault-injection.json`, or one
   for a model the catalog does not know, is rejected with an alert naming it, and
   recorded under `uploads/rejected/` so later polls do not alert again; the other
   uploads go on;
3. **register** each checked upload as the gate decided — `Approved`, or `Rejected` with
   the gate's reason and an alert — with the upload's key, ETag and hash, the gate's
   checks and the champion's figures as lineage, and store the drift baseline when the
   tarball has `reference.parquet`;
4. **deploy** the approved: a model without an endpoint gets one serving the version at
   100 %; otherwise a canary through `model_deployment` (run id
   `upload__<model>__v<version>`, with the model's deployment defaults). Of several
   approved uploads of one model in a poll, the highest label is deployed; the others are
   only registered.

A poll, because it works the same on every backend. On AWS, the push alternative is an
S3 `ObjectCreated` notification on `models/` to an SQS queue watched by an Airflow
`AssetWatcher`, with this DAG scheduled on that Asset; the tasks stay the same.
"""

from __future__ import annotations

from airflow.sdk import task

from findining_airflow.authoring import deploy_handed_over, deployment_requests, findining_dag, run_ref, task_platform
from findining_airflow.notifications import upload_registered_rejected, upload_rejected


@findining_dag(
    "model_artifact_watch",
    schedule="*/5 * * * *",
    max_active_runs=1,
    doc_md=__doc__,
    tags=["findining", "mlops", "deployment"],
)
def model_artifact_watch():
    @task
    def find_uploads() -> list[dict]:
        from findining_mlops.training import uploads

        with task_platform() as platform:
            found = uploads.find_uploads(platform)
        print(f"{len(found)} new upload(s):", *(u.key for u in found))
        return [u.to_dict() for u in found]

    @task(map_index_template="{{ upload.key }}")
    def validate(upload: dict) -> dict | None:
        """A rejected upload alerts and yields None; it does not fail the others."""
        from findining_airflow.runtime import platform
        from findining_mlops.errors import DataValidationError
        from findining_mlops.training import uploads

        try:
            return uploads.validate_upload(platform(), uploads.Upload(**upload))
        except DataValidationError as exc:
            record = uploads.reject_upload(platform(), uploads.Upload(**upload), str(exc))
            upload_rejected(upload["key"], str(exc), platform().store.uri(record))
            return None

    @task
    def register(validations: list, dag_run=None) -> list[dict]:
        from findining_mlops.platform.ports import APPROVED
        from findining_mlops.training import uploads

        versions = []
        with task_platform() as platform:
            for validation in filter(None, validations):  # in find order: the highest label of a model last
                key = validation["upload"]["key"]
                version = uploads.register_upload(platform, uploads.Upload(**validation["upload"]), validation,
                                                  run_ref(dag_run))
                print(f"{key} is {version.model_name} {version.display} ({version.status}): {version.reason}")
                if version.status != APPROVED:
                    upload_registered_rejected(key, version)
                versions.append(version.to_dict())
        return versions

    @task
    def hand_over(versions: list[dict], ti=None) -> list[dict]:
        """The newest approved upload of each model: an endpoint of its own, or a canary by
        model_deployment."""
        return deployment_requests(versions, "upload", ti)

    handed_over = hand_over(register(validate.expand(upload=find_uploads())))
    deploy_handed_over(handed_over)


model_artifact_watch()
