# A VPC with private subnets only: no internet gateway, no NAT. Training jobs, endpoints and
# MWAA reach AWS through VPC endpoints; nothing can download from the internet, so the
# training/serving code ships in the job's source bundle (docs/aws.md "No internet").

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints answer the services' public names
  tags                 = { Name = "${local.name}-vpc" }
}

# The default security group of the VPC allows nothing.
resource "aws_default_security_group" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_flow_log" "main" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/${local.name}/vpc-flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.ml.arn
}

data "aws_iam_policy_document" "flow_logs_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_trust.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_subnet" "private" {
  count             = var.availability_zone_count
  vpc_id            = aws_vpc.main.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 20 - tonumber(split("/", var.vpc_cidr)[1]), count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]
  tags              = { Name = "${local.name}-private-${count.index}" }
}

# No route to 0.0.0.0/0: only the gateway endpoints' prefix lists.
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${local.name}-private" }
}

resource "aws_route_table_association" "private" {
  count          = var.availability_zone_count
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# ---- security groups: SageMaker jobs/endpoints and MWAA talk to the endpoints over 443 ------

resource "aws_security_group" "sagemaker" {
  name        = "${local.name}-sagemaker"
  description = "SageMaker training jobs and endpoints: HTTPS to the VPC endpoints and S3/DynamoDB, nothing inbound"
  vpc_id      = aws_vpc.main.id

  egress {
    description     = "HTTPS to the interface endpoints"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.vpc_endpoints.id]
  }
  egress {
    description     = "HTTPS to S3 and DynamoDB through their gateway endpoints"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [aws_vpc_endpoint.gateway["s3"].prefix_list_id, aws_vpc_endpoint.gateway["dynamodb"].prefix_list_id]
  }
}

resource "aws_security_group" "mwaa" {
  name        = "${local.name}-mwaa"
  description = "MWAA scheduler, workers and web server: each other, and HTTPS to AWS through the VPC endpoints"
  vpc_id      = aws_vpc.main.id

  ingress {
    description = "MWAA components talk to each other (Celery, metadata database, web server)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }
  egress {
    description = "MWAA components talk to each other"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }
  egress {
    description     = "HTTPS to the interface endpoints"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.vpc_endpoints.id]
  }
  egress {
    description     = "HTTPS to S3 and DynamoDB through their gateway endpoints"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [aws_vpc_endpoint.gateway["s3"].prefix_list_id, aws_vpc_endpoint.gateway["dynamodb"].prefix_list_id]
  }
}

resource "aws_security_group" "vpc_endpoints" {
  name        = "${local.name}-vpc-endpoints"
  description = "Interface endpoints: HTTPS from the VPC only"
  vpc_id      = aws_vpc.main.id

  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  egress {
    description = "Answers to the VPC only"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [var.vpc_cidr]
  }
}

# ---- VPC endpoints ----------------------------------------------------------------------------

resource "aws_vpc_endpoint" "gateway" {
  for_each          = toset(["s3", "dynamodb"])
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  policy            = each.key == "s3" ? data.aws_iam_policy_document.s3_endpoint.json : data.aws_iam_policy_document.account_endpoint.json
  tags              = { Name = "${local.name}-${each.key}" }
}

# S3 from inside the VPC reaches the stack's bucket only, so code in a job, an endpoint or a task
# cannot copy data to a bucket of its own. ECR serves image layers from an AWS-owned bucket of the
# region (prod-<region>-starport-layer-bucket) through pre-signed URLs; anything else a service of
# the VPC needs from S3 goes in var.s3_endpoint_extra_bucket_arns (docs/aws.md "Network").
data "aws_iam_policy_document" "s3_endpoint" {
  statement {
    sid       = "TheStacksBucketByTheAccountsPrincipals"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.ml.arn, "${aws_s3_bucket.ml.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "EcrImageLayers"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::prod-${local.region}-starport-layer-bucket/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
  dynamic "statement" {
    for_each = length(var.s3_endpoint_extra_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ExtraBuckets"
      actions   = ["s3:GetObject", "s3:ListBucket"]
      resources = concat(var.s3_endpoint_extra_bucket_arns, [for arn in var.s3_endpoint_extra_bucket_arns : "${arn}/*"])
      principals {
        type        = "*"
        identifiers = ["*"]
      }
    }
  }
}

# The other endpoints answer the account's own principals only: a credential of another account
# used from inside the VPC gets nowhere. MWAA's own endpoints (airflow.*) keep the default policy:
# MWAA's service principals, not the account's, call them.
data "aws_iam_policy_document" "account_endpoint" {
  #checkov:skip=CKV_AWS_49: a VPC endpoint policy, not a grant: it narrows by principal; what each principal may do is its own IAM policy's
  #checkov:skip=CKV_AWS_1: a VPC endpoint policy, not a grant: it narrows by principal; what each principal may do is its own IAM policy's
  statement {
    sid       = "TheAccountsPrincipalsOnly"
    actions   = ["*"]
    resources = ["*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  # what training, serving and Airflow call; MWAA's own (airflow.api, airflow.env, airflow.ops)
  # and SQS for its Celery queue, ECR for the SageMaker images, KMS for the key
  interface_endpoints = toset([
    "sagemaker.api", "sagemaker.runtime", "sts", "monitoring", "logs", "sns", "bedrock-runtime",
    "ecr.api", "ecr.dkr", "kms", "sqs", "airflow.api", "airflow.env", "airflow.ops",
  ])
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  policy              = startswith(each.key, "airflow.") ? null : data.aws_iam_policy_document.account_endpoint.json
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.vpc_endpoints.id]
  tags                = { Name = "${local.name}-${each.key}" }
}
