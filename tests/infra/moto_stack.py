"""The resources infra/terraform creates, created in moto the way the stack creates them,
and the ``terraform output -json`` that such an apply would print."""

from __future__ import annotations

import json

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
NAME = "ai-restaurant-recommendation-dev"
ROLE_NAMES = {seed: f"{NAME}-{seed}" for seed in
              ("sagemaker-training-role", "sagemaker-serving-role", "bedrock-access-role", "bedrock-batch-role",
               "ml-management-role",
               "ml-monitoring-role")}
ENDPOINT = f"{NAME}-sentiment-endpoint"
PACKAGE_GROUP = f"{NAME}-sentiment"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


def create_stack(session) -> dict:
    """Bucket, key, topic, roles, tables, the A/B events' Glue table and Athena workgroup, dashboard and alarms;
    returns the outputs."""
    kms = session.client("kms", region_name=REGION)
    key_arn = kms.create_key(Description=f"{NAME}: models")["KeyMetadata"]["Arn"]
    bucket = f"{NAME}-ml-{ACCOUNT}"
    s3 = session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True}]})
    topic = session.client("sns", region_name=REGION).create_topic(
        Name="ai-restaurant-recommendation-ml-alerts-dev", Attributes={"KmsMasterKeyId": key_arn})["TopicArn"]
    iam = session.client("iam")
    roles = {seed: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
             for seed, name in ROLE_NAMES.items()}
    tables = {"state_table_name": (f"{NAME}-mlops-state", ["pk", "sk"]),
              "ab_tests_table_name": (f"{NAME}-ab-tests", ["test_id"])}
    dynamodb = session.client("dynamodb", region_name=REGION)
    for table, keys in tables.values():
        dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": k, "KeyType": t}
                                         for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
                              AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                              SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn})
    glue_database, events_table, workgroup = NAME.replace("-", "_"), "ab_test_events", f"{NAME}-ab"
    glue = session.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": glue_database})
    glue.create_table(DatabaseName=glue_database, TableInput={
        "Name": events_table, "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": "test_id", "Type": "string"}, {"Name": "dt", "Type": "string"}]})
    session.client("athena", region_name=REGION).create_work_group(Name=workgroup, Configuration={
        "EnforceWorkGroupConfiguration": True, "ResultConfiguration": {
            "OutputLocation": f"s3://{bucket}/athena-results/",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": key_arn}}})
    cloudwatch = session.client("cloudwatch", region_name=REGION)
    dashboard = "ai-restaurant-recommendation-ml-monitoring-dev"
    cloudwatch.put_dashboard(DashboardName=dashboard, DashboardBody=json.dumps({"widgets": []}))
    alarms = [f"{NAME}-sentiment-{kind}" for kind in ("latency", "failures", "cpu", "memory")]
    for alarm in alarms:
        cloudwatch.put_metric_alarm(AlarmName=alarm, EvaluationPeriods=3, Threshold=0,
                                    ComparisonOperator="GreaterThanThreshold",
                                    Metrics=[{"Id": "q",
                                              "Expression": "SELECT MAX(ModelLatency) FROM SCHEMA(\"AWS/SageMaker\", "
                                                            "EndpointName, VariantName)",
                                              "Period": 60, "ReturnData": True}], AlarmActions=[topic])
    values = {
        "resource_prefix": NAME, "aws_region": REGION, "bucket": bucket,
        "training_role_arn": roles["sagemaker-training-role"], "serving_role_arn": roles["sagemaker-serving-role"],
        "alerts_topic_arn": topic, "training_instance_type": "ml.m5.large", "training_volume_gb": 30,
        "training_max_runtime_seconds": 3600, "endpoint_instance_type": "ml.t2.medium", "endpoint_instance_count": 1,
        "data_capture_percent": 100, "private_subnet_ids": ["subnet-0a1b2c3d4e5f60718", "subnet-0a1b2c3d4e5f60719"],
        "sagemaker_security_group_ids": ["sg-0a1b2c3d4e5f60718"], "kms_key_arn": key_arn,
        **{output: name for output, (name, _) in tables.items()},
        "role_arns": roles, "dashboard_name": dashboard, "alarm_names": alarms, "endpoint_names": [ENDPOINT],
        "mwaa_environment_name": f"{NAME}-airflow", "athena_database_name": glue_database,
        "ab_events_glue_table_name": events_table, "athena_workgroup_name": workgroup,
        "endpoint_min_capacity": 1, "endpoint_max_capacity": 1, "target_invocations_per_instance": 1000,
        "bedrock_model_id": "eu.anthropic.claude-3-haiku-20240307-v1:0", "bedrock_guardrail_id": "",
        "bedrock_guardrail_version": "", "bedrock_batch_role_arn": roles["bedrock-batch-role"],
    }
    return values


def deploy_registered_version(session, bucket: str, role_arn: str) -> None:
    """What the first model_retraining run leaves: an approved package and an endpoint serving it."""
    sm = session.client("sagemaker", region_name=REGION)
    artifact = f"s3://{bucket}/models/sentiment/1/model.tar.gz"
    image = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    sm.create_model_package_group(ModelPackageGroupName=PACKAGE_GROUP)
    sm.create_model_package(ModelPackageGroupName=PACKAGE_GROUP, ModelApprovalStatus="Approved",
                            CustomerMetadataProperties={"VersionLabel": "1.0.0"},
                            InferenceSpecification={"Containers": [{"Image": image, "ModelDataUrl": artifact}],
                                                    "SupportedContentTypes": ["application/json"],
                                                    "SupportedResponseMIMETypes": ["application/json"]})
    sm.create_model(ModelName=f"{NAME}-sentiment-v1-abc", ExecutionRoleArn=role_arn,
                    PrimaryContainer={"Image": image, "ModelDataUrl": artifact})
    sm.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-abc", ProductionVariants=[{
        "VariantName": "sentiment-v1", "ModelName": f"{NAME}-sentiment-v1-abc", "InitialInstanceCount": 1,
        "InstanceType": "ml.t2.medium", "InitialVariantWeight": 1.0}])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-abc")


def terraform_output_json(values: dict) -> str:
    """As `terraform output -json` prints them."""
    return json.dumps({name: {"sensitive": False, "type": "string", "value": value} for name, value in values.items()})


def mwaa_environment(outputs: dict, **changes) -> dict:
    """GetEnvironment's answer for the stack's environment after the README's update-environment."""
    name = outputs["mwaa_environment_name"]
    return {"Name": name, "Arn": f"arn:aws:airflow:{REGION}:{ACCOUNT}:environment/{name}", "Status": "AVAILABLE",
            "AirflowVersion": "3.0.6", "ExecutionRoleArn": outputs["role_arns"]["ml-management-role"],
            "StartupScriptS3Path": "airflow/startup.sh", **changes}


def answer_mwaa(monkeypatch, environment: dict) -> None:
    """moto has no MWAA: every MWAA client boto3 makes answers GetEnvironment with
    ``environment`` as it is when the client is made (a test may change it), through botocore's
    Stubber, which checks request and answer against the service model; every other client
    is moto's."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.session.Session.client

    def client_with_mwaa_answered(self, service, *args, **kwargs):
        made = client(self, service, *args, **kwargs)
        if service == "mwaa":
            stub = Stubber(made)
            stub.add_response("get_environment", {"Environment": dict(environment)}, {"Name": environment["Name"]})
            stub.activate()
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client_with_mwaa_answered)
