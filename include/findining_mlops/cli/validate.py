"""``findining-mlops validate``: is a deployed environment what the pipeline needs?

The seed's ``validate-ml-deployment.sh`` as read-only API calls (the ml-monitoring role is
enough): bucket reachable and encrypted with the stack's key, alerts topic reachable and
encrypted, the four roles present, the two tables active, the Athena workgroup enforcing its
result location and the A/B events' Glue table partitioned as the analysis queries it, the dashboard
and the stack's alarms present, the Airflow (MWAA) environment available, running as the management role
with the startup script that carries the settings, and each endpoint ``InService`` with
every variant serving an approved, registered model version. One line per check; any failure makes the exit status
non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from findining_mlops.config.catalog import all_models, endpoint_name, model_package_group, resource_prefix
from findining_mlops.config.settings import AwsSettings
from findining_mlops.config.terraform import read_outputs, settings_from_outputs
from findining_mlops.platform.ports import version_name

# outputs read here beyond the settings (infra/terraform/outputs.tf)
VALIDATE_OUTPUTS = ("role_arns", "dashboard_name", "alarm_names", "endpoint_names", "mwaa_environment_name")
# the Glue table's partition keys, in the order of the key layout abtests/<test-id>/events/dt=<day>/
EVENT_PARTITION_KEYS = ("test_id", "dt")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(outputs: Mapping[str, object], session, *, endpoints: bool = True) -> list[Check]:
    """Every check, in order; an AWS error fails its own check only."""
    env = settings_from_outputs(outputs)
    settings, prefix = AwsSettings.from_env(env), resource_prefix(env)
    missing = [name for name in VALIDATE_OUTPUTS if name not in outputs]
    if missing:
        return [Check("terraform outputs", False,
                      f"missing {', '.join(missing)}: apply this repository's infra/terraform")]
    client = _clients(session, settings.region)
    checks: list[tuple[str, Callable[[], str]]] = [
        (f"bucket {settings.bucket} reachable and encrypted", lambda: _bucket(client, settings)),
        ("alerts topic reachable and encrypted", lambda: _topic(client, settings)),
    ]
    checks += [(f"role {seed_name} present", lambda arn=arn: _role(client, arn))
               for seed_name, arn in sorted(dict(outputs["role_arns"]).items())]
    checks += [(f"table {table} active", lambda table=table: _table(client, table))
               for table in (settings.state_table, settings.abtests_table)]
    checks += [(f"Athena workgroup {settings.athena_workgroup} enforces its configuration",
                lambda: _workgroup(client, settings.athena_workgroup)),
               (f"Glue table {settings.athena_database}.{settings.athena_events_table} present",
                lambda: _events_table(client, settings.athena_database, settings.athena_events_table))]
    checks += [(f"dashboard {outputs['dashboard_name']} present",
                lambda: _dashboard(client, str(outputs["dashboard_name"]))),
               ("stack alarms present", lambda: _alarms(client, list(outputs["alarm_names"]))),
               (f"Airflow environment {outputs['mwaa_environment_name']} available",
                lambda: _airflow(client, str(outputs["mwaa_environment_name"]), dict(outputs["role_arns"])))]
    if endpoints:
        checks += [(f"endpoint {name} serves registered versions", lambda name=name: _endpoint(client, name, prefix))
                   for name in outputs["endpoint_names"]]
    results = []
    for name, check in checks:
        try:
            results.append(Check(name, True, check()))
        except _Failed as exc:
            results.append(Check(name, False, str(exc)))
        except (ClientError, BotoCoreError) as exc:
            results.append(Check(name, False, _aws_error(exc)))
    return results


class _Failed(Exception):
    """A check found something other than what the pipeline needs."""


def _clients(session, region: str):
    cache: dict[str, object] = {}

    def client(service: str):
        if service not in cache:
            cache[service] = session.client(service, region_name=region)
        return cache[service]
    return client


def _aws_error(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', str(exc))}"


def _bucket(client, settings: AwsSettings) -> str:
    s3 = client("s3")
    s3.head_bucket(Bucket=settings.bucket)
    rules = s3.get_bucket_encryption(Bucket=settings.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    if default["SSEAlgorithm"] != "aws:kms":
        raise _Failed(f"default encryption is {default['SSEAlgorithm']}, not aws:kms with the stack's key")
    if settings.kms_key_arn and default.get("KMSMasterKeyID") != settings.kms_key_arn:
        raise _Failed(f"encrypted with {default.get('KMSMasterKeyID')}, not the stack's key {settings.kms_key_arn}")
    return "SSE-KMS"


def _topic(client, settings: AwsSettings) -> str:
    attributes = client("sns").get_topic_attributes(TopicArn=settings.alerts_topic_arn)["Attributes"]
    if not attributes.get("KmsMasterKeyId"):
        raise _Failed(f"{settings.alerts_topic_arn} is not encrypted (no KmsMasterKeyId)")
    return f"{attributes.get('SubscriptionsConfirmed', '0')} confirmed subscription(s)"


def _role(client, arn: str) -> str:
    client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])
    return arn


def _table(client, table: str) -> str:
    status = client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"]
    if status != "ACTIVE":
        raise _Failed(f"{table} is {status}")
    return status


def _workgroup(client, name: str) -> str:
    """The Athena engine passes no result location: the workgroup must enforce one (and its encryption)."""
    workgroup = client("athena").get_work_group(WorkGroup=name)["WorkGroup"]
    if workgroup["State"] != "ENABLED":
        raise _Failed(f"{name} is {workgroup['State']}: the A/B analysis cannot run queries in it")
    configuration = workgroup.get("Configuration", {})
    location = configuration.get("ResultConfiguration", {}).get("OutputLocation")
    if not configuration.get("EnforceWorkGroupConfiguration") or not location:
        raise _Failed(f"{name} does not enforce a result location; apply infra/terraform's athena.tf, whose "
                      "workgroup sets it and its encryption for every query")
    return f"results to {location}"


def _events_table(client, database: str, table: str) -> str:
    described = client("glue").get_table(DatabaseName=database, Name=table)["Table"]
    keys = [key["Name"] for key in described.get("PartitionKeys", [])]
    if keys != list(EVENT_PARTITION_KEYS):
        raise _Failed(f"partitioned by {keys or 'nothing'}, not {', '.join(EVENT_PARTITION_KEYS)}: the analysis "
                      "reads one test's days by these keys")
    return f"partitioned by {', '.join(keys)}"


def _dashboard(client, name: str) -> str:
    client("cloudwatch").get_dashboard(DashboardName=name)
    return "present"


def _alarms(client, names: list[str]) -> str:
    found = {a["AlarmName"] for a in client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]}
    if set(names) - found:
        raise _Failed(f"missing {', '.join(sorted(set(names) - found))}")
    return f"{len(found)} alarm(s)"


def _airflow(client, name: str, roles: Mapping[str, str]) -> str:
    environment = client("mwaa").get_environment(Name=name)["Environment"]
    if environment["Status"] != "AVAILABLE":
        error = environment.get("LastUpdate", {}).get("Error", {}).get("ErrorMessage", "")
        raise _Failed(f"{name} is {environment['Status']}" + (f": {error}" if error else ""))
    role = roles.get("ml-management-role")
    if role and environment.get("ExecutionRoleArn") != role:
        raise _Failed(f"runs as {environment.get('ExecutionRoleArn')}, not the stack's ml-management-role {role}")
    if not environment.get("StartupScriptS3Path"):
        raise _Failed("no startup script: the settings of `findining-mlops configure` never reach the tasks "
                      "(docs/aws.md, Steps: aws mwaa update-environment --startup-script-s3-path airflow/startup.sh)")
    return (f"AVAILABLE, Airflow {environment.get('AirflowVersion', '?')}, "
            f"startup script {environment['StartupScriptS3Path']}")


def _endpoint(client, name: str, prefix: str) -> str:
    """``prefix``: the environment's (Terraform's ``resource_prefix``), not this process's."""
    models = {endpoint_name(model, prefix): model for model in all_models()}
    if name not in models:
        raise _Failed(f"no model of the catalog serves on {name}")
    sm = client("sagemaker")
    try:
        endpoint = sm.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        raise _Failed(f"not found ({_aws_error(exc)}); the first model_retraining run creates it") from exc
    if endpoint["EndpointStatus"] != "InService":
        raise _Failed(f"{name} is {endpoint['EndpointStatus']}: {endpoint.get('FailureReason', '')}".rstrip(": "))
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    approved = {}
    for page in sm.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=model_package_group(models[name], prefix)):
        for summary in page["ModelPackageSummaryList"]:
            package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if package["ModelApprovalStatus"] == "Approved":
                label = package.get("CustomerMetadataProperties", {}).get("VersionLabel", "")
                for container in package["InferenceSpecification"]["Containers"]:
                    approved[container["ModelDataUrl"]] = version_name(package["ModelPackageVersion"], label)
    served = []
    for variant in config["ProductionVariants"]:
        artifact = sm.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
        if artifact not in approved:
            raise _Failed(f"variant {variant['VariantName']} serves {artifact}, "
                          "which no approved model package registers")
        served.append(f"{variant['VariantName']}={approved[artifact]}")
    return "InService: " + ", ".join(served)


def render_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{c.name:<{width}}  {'PASS' if c.ok else 'FAIL':<6}  {c.detail}" for c in checks]
    failed = [c for c in checks if not c.ok]
    lines.append(f"{len(checks) - len(failed)} of {len(checks)} checks passed"
                 + (f"; failed: {', '.join(c.name for c in failed)}" if failed else ""))
    return "\n".join(lines)


def cmd_validate(args) -> int:
    import boto3

    checks = run_checks(read_outputs(args.terraform_output), boto3.Session(profile_name=args.profile),
                        endpoints=not args.before_first_deployment)
    print(render_table(checks), file=sys.stdout)
    return 0 if all(c.ok for c in checks) else 1


def add_command(commands) -> None:
    validate = commands.add_parser("validate", help="check a deployed environment; exit 1 when any check fails")
    validate.add_argument("--terraform-output", type=Path, required=True, metavar="FILE",
                          help="the JSON of `terraform output -json` in infra/terraform")
    validate.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    validate.add_argument("--before-first-deployment", action="store_true",
                          help="skip the endpoint checks: no model_retraining run has created the endpoints yet")
    validate.set_defaults(func=cmd_validate)
