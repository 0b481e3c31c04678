# FINDINING_AB_ENGINE=athena (plugins/findining_airflow/athena.py): the A/B events' Glue table over the parquet
# batches of findining_mlops.abtest.outcomes (abtests/<test-id>/events/dt=YYYY-MM-DD/part-<batch>.parquet) and the
# workgroup the analysis runs in. The events are encrypted by the bucket's default (SSE-KMS, the stack's key),
# the results by the workgroup. The Data Catalog's own encryption setting is one per account and region, shared
# by every environment of the account, so it is not this per-environment stack's to own.

locals {
  # Glue names: lowercase letters, digits and underscores (FINDINING_ATHENA_DATABASE's check)
  glue_database_name    = replace(local.name, "-", "_")
  glue_catalog_arn      = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
  athena_results_prefix = "athena-results/"
}

resource "aws_glue_catalog_database" "ab" {
  name        = local.glue_database_name
  description = "${local.name}: the A/B test events, for Athena"
}

resource "aws_glue_catalog_table" "ab_events" {
  name          = "ab_test_events"
  database_name = aws_glue_catalog_database.ab.name
  description   = "A/B outcome events, one parquet file per batch and day (findining_mlops.abtest.outcomes)"
  table_type    = "EXTERNAL_TABLE"

  # Partition projection: Athena computes a query's partitions from its test id and days, so a new test or day
  # needs no crawler and no MSCK REPAIR TABLE.
  parameters = {
    EXTERNAL                      = "TRUE"
    classification                = "parquet"
    "projection.enabled"          = "true"
    "projection.test_id.type"     = "injected" # every query names its test (WHERE test_id = '...')
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "NOW-3YEARS,NOW" # days outside it are never read; tests run for weeks
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "s3://${aws_s3_bucket.ml.id}/abtests/$${test_id}/events/dt=$${dt}/"
  }

  partition_keys {
    name = "test_id"
    type = "string"
  }
  partition_keys {
    name = "dt"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.ml.id}/abtests/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    # findining_mlops.abtest.outcomes.SCHEMA, in its order
    columns {
      name = "event_id"
      type = "string"
    }
    columns {
      name = "user_id"
      type = "string"
    }
    columns {
      name = "variant"
      type = "string"
    }
    columns {
      name = "metric_name"
      type = "string"
    }
    columns {
      name = "metric_value"
      type = "double"
    }
    columns {
      name = "timestamp"
      type = "timestamp"
    }
    columns {
      name    = "context"
      type    = "string"
      comment = "JSON"
    }
  }
}

resource "aws_athena_workgroup" "ab" {
  name        = "${local.name}-ab"
  description = "${local.name}: the A/B analysis; owns the result location, its encryption and the scan cutoff"

  configuration {
    # the code passes no result configuration: these settings hold for every query, whoever runs it
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${aws_s3_bucket.ml.id}/${local.athena_results_prefix}"
      expected_bucket_owner = local.account_id
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.ml.arn
      }
    }
  }
}
