"""The stack's side of FINDINING_AB_ENGINE=athena: the events' Glue table describes the parquet batches that
findining_mlops.store.abtest_events writes, where it writes them; the workgroup owns where results go and what a
query may scan; the management role may run exactly the Athena path, on this stack's workgroup and table only."""

from __future__ import annotations

from terraform_stack import blocks, literal, policy_statements, violated_rules

# pyarrow type of abevents.SCHEMA -> the Hive type Athena reads it as
HIVE_TYPES = {"string": "string", "double": "double", "timestamp[us, tz=UTC]": "timestamp"}


def _table() -> dict:
    return blocks("resource")["aws_glue_catalog_table.ab_events"]


def test_the_events_table_has_the_columns_abevents_writes_partitioned_by_test_and_day():
    from findining_mlops.store.abtest_events import SCHEMA

    [storage] = _table()["storage_descriptor"]
    columns = [(literal(c["name"]), literal(c["type"])) for c in storage["columns"]]
    assert columns == [(field.name, HIVE_TYPES[str(field.type)]) for field in SCHEMA]
    assert [(literal(k["name"]), literal(k["type"])) for k in _table()["partition_keys"]] == [
        ("test_id", "string"), ("dt", "string")]
    assert "parquet" in literal(storage["input_format"]).lower()


def test_partition_projection_finds_every_batch_at_the_key_abevents_uses():
    """No crawler and no MSCK REPAIR: the partitions are computed from the query's test id and days."""
    from datetime import date

    from findining_mlops.store.layout import abtest_events_day_prefix

    parameters = literal(_table()["parameters"])
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.test_id.type"] == "injected"  # the query always names its test
    assert parameters["projection.dt.type"] == "date" and parameters["projection.dt.format"] == "yyyy-MM-dd"
    template = parameters["storage.location.template"].replace("$${", "${")  # HCL's escape of a literal ${
    bucket = "s3://${aws_s3_bucket.ml.id}/"
    assert template == bucket + abtest_events_day_prefix("${test_id}", date(2026, 10, 1)).replace("2026-10-01", "${dt}")


def test_the_workgroup_enforces_encrypted_results_under_an_expiring_prefix_and_a_scan_cutoff():
    workgroup = blocks("resource")["aws_athena_workgroup.ab"]
    [configuration] = workgroup["configuration"]
    assert configuration["enforce_workgroup_configuration"] is True
    assert configuration["bytes_scanned_cutoff_per_query"] == "${var.athena_bytes_scanned_cutoff}"
    [results] = configuration["result_configuration"]
    assert literal(results["output_location"]) == "s3://${aws_s3_bucket.ml.id}/${local.athena_results_prefix}"
    [encryption] = results["encryption_configuration"]
    assert literal(encryption["encryption_option"]) == "SSE_KMS"
    assert encryption["kms_key_arn"] == "${aws_kms_key.ml.arn}"
    [lifecycle] = [body for name, body in blocks("resource").items()
                   if name == "aws_s3_bucket_lifecycle_configuration.ml"]
    [rule] = [r for r in lifecycle["rule"] if literal(r["id"]) == "athena-results"]
    assert rule["filter"][0]["prefix"] == "${local.athena_results_prefix}" and rule["expiration"][0]["days"] > 0


def test_the_scan_cutoff_is_at_least_athena_s_minimum_and_whole():
    assert violated_rules("athena_bytes_scanned_cutoff", 10 * 1024 ** 3) == []
    assert violated_rules("athena_bytes_scanned_cutoff", 10 * 1024 ** 2 - 1)
    assert violated_rules("athena_bytes_scanned_cutoff", 20_000_000.5)


def test_the_management_role_runs_queries_in_its_workgroup_and_reads_its_events_table_only():
    statements = {literal(s["sid"]): s for s in policy_statements("ml_management")}
    athena = [s for s in statements.values() if any(a.startswith("athena:") for a in literal(s["actions"]))]
    assert [literal(s["actions"]) for s in athena] == [[
        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
        "athena:StopQueryExecution"]]
    assert athena[0]["resources"] == ["${aws_athena_workgroup.ab.arn}"]
    glue = [s for s in statements.values() if any(a.startswith("glue:") for a in literal(s["actions"]))]
    assert [literal(s["actions"]) for s in glue] == [["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"]]
    assert glue[0]["resources"] == ["${local.glue_catalog_arn}", "${aws_glue_catalog_database.ab.arn}",
                                    "${aws_glue_catalog_table.ab_events.arn}"]


def test_validate_only_reads_the_workgroup_and_the_table_s_definition():
    statements = policy_statements("ml_monitoring")
    found = {action: statement["resources"] for statement in statements for action in literal(statement["actions"])
             if action.startswith(("athena:", "glue:"))}
    assert found == {"athena:GetWorkGroup": ["${aws_athena_workgroup.ab.arn}"],
                     "glue:GetTable": ["${local.glue_catalog_arn}", "${aws_glue_catalog_database.ab.arn}",
                                       "${aws_glue_catalog_table.ab_events.arn}"]}
