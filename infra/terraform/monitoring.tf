# Alerts topic, dashboard and the stack's static alarms. The per-variant alarms (latency over
# 5 s, 5XX error rate over 5 %) are created by the DAGs with each endpoint config, because
# variants change with every canary; the alarms here watch each endpoint as a whole with
# Metrics Insights queries, so they never name a variant.

locals {
  alerts_topic_name          = "${var.project_prefix}-ml-alerts-${var.environment}"
  dashboard_name             = "${var.project_prefix}-ml-monitoring-${var.environment}"
  pipeline_metrics_namespace = "FindDining/ModelMonitoring" # findining_mlops.monitoring.METRICS_NAMESPACE
  latency_threshold_us       = 5000000                      # the seed's 5 s; ModelLatency is in microseconds

  # SELECT <stat>(<metric>) FROM SCHEMA("<namespace>", <dimensions>) WHERE EndpointName = '<endpoint>'
  endpoint_queries = {
    for model in var.model_names : model => {
      endpoint = "${local.name}-${model}-endpoint"
      where    = "WHERE EndpointName = '${local.name}-${model}-endpoint'"
    }
  }
}

resource "aws_sns_topic" "alerts" {
  name              = local.alerts_topic_name
  kms_master_key_id = aws_kms_key.ml.arn
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "AccountPublishes"
    actions   = ["sns:Publish", "sns:GetTopicAttributes", "sns:Subscribe"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "AlarmsAndEventsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_email_addresses)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "sqs" {
  for_each  = toset(var.alert_sqs_queue_arns)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "sqs"
  endpoint  = each.value
}

# ---- alarms: each endpoint as a whole --------------------------------------------------------

locals {
  endpoint_alarms = merge([
    for model, q in local.endpoint_queries : {
      "${model}-latency" = {
        description = "slowest variant of ${q.endpoint}: average ModelLatency over 5 s"
        query       = "SELECT MAX(ModelLatency) FROM SCHEMA(\"AWS/SageMaker\", EndpointName, VariantName) ${q.where}"
        threshold   = local.latency_threshold_us
        periods     = 3
      }
      "${model}-failures" = {
        description = "${q.endpoint} answers requests with 5XX errors (endpoint failures)"
        query       = "SELECT SUM(Invocation5XXErrors) FROM SCHEMA(\"AWS/SageMaker\", EndpointName, VariantName) ${q.where}"
        threshold   = 0
        periods     = 3
      }
      "${model}-cpu" = {
        description = "busiest variant of ${q.endpoint}: CPUUtilization over ${var.cpu_alarm_threshold_percent} %"
        query       = "SELECT MAX(CPUUtilization) FROM SCHEMA(\"/aws/sagemaker/Endpoints\", EndpointName, VariantName) ${q.where}"
        threshold   = var.cpu_alarm_threshold_percent
        periods     = 5
      }
      "${model}-memory" = {
        description = "fullest variant of ${q.endpoint}: MemoryUtilization over ${var.memory_alarm_threshold_percent} %"
        query       = "SELECT MAX(MemoryUtilization) FROM SCHEMA(\"/aws/sagemaker/Endpoints\", EndpointName, VariantName) ${q.where}"
        threshold   = var.memory_alarm_threshold_percent
        periods     = 5
      }
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "endpoint" {
  for_each            = local.endpoint_alarms
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  treat_missing_data  = "notBreaching" # no traffic is not a failure
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "q"
    expression  = each.value.query
    period      = 60
    return_data = true
  }
}

# Failed training jobs and endpoints reach on-call the moment SageMaker reports them.
resource "aws_cloudwatch_event_rule" "sagemaker_failures" {
  name        = "${local.name}-sagemaker-failures"
  description = "A training job or an endpoint of ${local.name} failed"
  event_pattern = jsonencode({
    source = ["aws.sagemaker"]
    "$or" = [
      { "detail-type" = ["SageMaker Training Job State Change"], detail = { TrainingJobStatus = ["Failed"], TrainingJobName = [{ prefix = local.training_job_prefix }] } },
      { "detail-type" = ["SageMaker Endpoint State Change"], detail = { EndpointStatus = ["FAILED"], EndpointName = [{ prefix = "${local.name}-" }] } },
    ]
  })
}

resource "aws_cloudwatch_event_target" "sagemaker_failures" {
  rule = aws_cloudwatch_event_rule.sagemaker_failures.name
  arn  = aws_sns_topic.alerts.arn
}

# ---- dashboard ---------------------------------------------------------------------------------

locals {
  endpoint_widgets = flatten([
    for model, q in local.endpoint_queries : [
      for w in [
        { title = "invocations", stat = "SUM", metric = "Invocations", namespace = "AWS/SageMaker" },
        { title = "4XX errors", stat = "SUM", metric = "Invocation4XXErrors", namespace = "AWS/SageMaker" },
        { title = "5XX errors", stat = "SUM", metric = "Invocation5XXErrors", namespace = "AWS/SageMaker" },
        { title = "model latency (µs)", stat = "AVG", metric = "ModelLatency", namespace = "AWS/SageMaker" },
        { title = "CPU utilisation (%)", stat = "MAX", metric = "CPUUtilization", namespace = "/aws/sagemaker/Endpoints" },
        { title = "memory utilisation (%)", stat = "MAX", metric = "MemoryUtilization", namespace = "/aws/sagemaker/Endpoints" },
        ] : {
        type   = "metric"
        width  = 8
        height = 6
        properties = {
          title  = "${model}: ${w.title} per variant"
          region = local.region
          period = 60
          view   = "timeSeries"
          metrics = [[{
            id         = "q"
            label      = ""
            expression = "SELECT ${w.stat}(${w.metric}) FROM SCHEMA(\"${w.namespace}\", EndpointName, VariantName) ${q.where} GROUP BY VariantName"
          }]]
        }
      }
    ]
  ])

  pipeline_widgets = [
    for metric in ["DriftShare", "DriftedColumns", "PerformanceDrop", "CapturedRows", "MalformedRecords"] : {
      type   = "metric"
      width  = 8
      height = 6
      properties = {
        title  = "daily monitoring: ${metric} per model"
        region = local.region
        period = 86400
        view   = "timeSeries"
        metrics = [[{
          id         = "q"
          label      = ""
          expression = "SELECT MAX(${metric}) FROM SCHEMA(\"FindDining/ModelMonitoring\", Model, Version) GROUP BY Model"
        }]]
      }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "monitoring" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = concat(local.endpoint_widgets, local.pipeline_widgets) })
}
