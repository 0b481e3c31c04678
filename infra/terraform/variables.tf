# ---- identity and placement ---------------------------------------------------------------

variable "project_prefix" {
  description = "Prefix of every resource name (the seed's). Kept short: role and bucket names append the environment and a suffix."
  type        = string
  default     = "ai-restaurant-recommendation"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.project_prefix))
    error_message = "project_prefix must be 3-28 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Which stack this is; part of every name so environments can share an account."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be one of dev, staging, production."
  }
}

variable "aws_region" {
  description = "Region of the whole stack; SageMaker, MWAA and Bedrock must all run there."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as eu-west-1."
  }
}

variable "tags" {
  description = "Extra tags on every resource (cost allocation, owner)."
  type        = map(string)
  default     = {}
}

variable "model_names" {
  description = "The catalog's models (include/findining_mlops/models.toml): one endpoint, its alarms and dashboard rows each."
  type        = list(string)
  default     = ["recommendation", "sentiment"]

  validation {
    condition     = length(var.model_names) > 0 && alltrue([for m in var.model_names : can(regex("^[a-z][a-z0-9-]{1,30}$", m))])
    error_message = "model_names must be non-empty lowercase names (letters, digits, hyphens)."
  }
}

# ---- network --------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the VPC; each private subnet takes a /20 of it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    # a regex, not split(): HCL evaluates both sides of && even when the left is false
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("/([0-9]|1[0-8])$", var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR of /18 or larger, such as 10.40.0.0/16."
  }
}

variable "s3_endpoint_extra_bucket_arns" {
  description = "Buckets besides the stack's (and ECR's layer bucket) that code in the VPC may read through the S3 gateway endpoint; empty: none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.s3_endpoint_extra_bucket_arns : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", a))])
    error_message = "s3_endpoint_extra_bucket_arns must be bucket ARNs such as arn:aws:s3:::my-bucket (no key)."
  }
}

variable "availability_zone_count" {
  description = "Private subnets, one per availability zone. MWAA needs exactly two."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "availability_zone_count must be 2 or 3."
  }
}

# ---- training and serving -------------------------------------------------------------------

variable "training_instance_type" {
  description = "SageMaker training instance type (FINDINING_TRAINING_INSTANCE_TYPE)."
  type        = string

  validation {
    condition     = can(regex("^ml\\.[a-z0-9-]+\\.[a-z0-9]+$", var.training_instance_type))
    error_message = "training_instance_type must be a SageMaker instance type such as ml.m5.large."
  }
}

variable "training_volume_gb" {
  description = "EBS volume of a training job, GB."
  type        = number
  default     = 30

  validation {
    condition     = var.training_volume_gb >= 1 && var.training_volume_gb <= 16384 && floor(var.training_volume_gb) == var.training_volume_gb
    error_message = "training_volume_gb must be a whole number of GB in 1..16384."
  }
}

variable "training_max_runtime_seconds" {
  description = "StoppingCondition of a training job: SageMaker stops (and bills no more) after this."
  type        = number
  default     = 7200

  validation {
    condition     = var.training_max_runtime_seconds >= 60 && var.training_max_runtime_seconds <= 2419200
    error_message = "training_max_runtime_seconds must be in 60..2419200 (28 days)."
  }
}

variable "endpoint_instance_type" {
  description = "SageMaker instance type of each production variant (FINDINING_ENDPOINT_INSTANCE_TYPE)."
  type        = string

  validation {
    condition     = can(regex("^ml\\.[a-z0-9-]+\\.[a-z0-9]+$", var.endpoint_instance_type))
    error_message = "endpoint_instance_type must be a SageMaker instance type such as ml.t2.medium."
  }
}

variable "endpoint_instance_count" {
  description = "Instances a new variant starts with; auto-scaling moves it between endpoint_min_capacity and endpoint_max_capacity."
  type        = number
  default     = 1

  validation {
    condition     = var.endpoint_instance_count >= 1 && var.endpoint_instance_count <= 100
    error_message = "endpoint_instance_count must be in 1..100."
  }
}

variable "endpoint_min_capacity" {
  description = "Auto-scaling floor per variant."
  type        = number
  default     = 1

  validation {
    condition     = var.endpoint_min_capacity >= 1 && var.endpoint_min_capacity <= 100
    error_message = "endpoint_min_capacity must be in 1..100 (a variant cannot scale to zero instances)."
  }
}

variable "endpoint_max_capacity" {
  description = "Auto-scaling ceiling per variant."
  type        = number
  default     = 2

  validation {
    condition     = var.endpoint_max_capacity >= 1 && var.endpoint_max_capacity <= 100
    error_message = "endpoint_max_capacity must be in 1..100."
  }
}

variable "target_invocations_per_instance" {
  description = "Target of the SageMakerVariantInvocationsPerInstance tracking policy (requests per instance per minute)."
  type        = number
  default     = 1000

  validation {
    condition     = var.target_invocations_per_instance >= 1
    error_message = "target_invocations_per_instance must be at least 1."
  }
}

variable "data_capture_percent" {
  description = "Share of requests SageMaker captures for drift monitoring. Monitoring needs capture: 0 turns drift checks off."
  type        = number
  default     = 100

  validation {
    condition     = var.data_capture_percent >= 1 && var.data_capture_percent <= 100
    error_message = "data_capture_percent must be in 1..100; monitoring reads the captured requests."
  }
}

variable "sklearn_image_account_id" {
  description = "Account of SageMaker's prebuilt scikit-learn images in aws_region (for example 141502667606 in eu-west-1); the execution role may pull only from its sagemaker-scikit-learn repository."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.sklearn_image_account_id))
    error_message = "sklearn_image_account_id must be a 12-digit AWS account id."
  }
}

variable "bedrock_model_ids" {
  description = "Foundation models invoked in aws_region itself (negative-feedback analysis); the first is FINDINING_BEDROCK_MODEL_ID unless an inference profile is set. Enable model access for each in the Bedrock console."
  type        = list(string)
  default     = ["anthropic.claude-3-haiku-20240307-v1:0"]

  validation {
    condition     = length(var.bedrock_model_ids) >= 1 && alltrue([for id in var.bedrock_model_ids : can(regex("^[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", id))])
    error_message = "bedrock_model_ids must hold at least one model id such as anthropic.claude-3-haiku-20240307-v1:0 (an id, not an ARN)."
  }
}

variable "bedrock_inference_profiles" {
  description = "Cross-region inference profiles by id, each with the regions it routes requests to (the Bedrock console lists them); the first by name becomes FINDINING_BEDROCK_MODEL_ID. The roles may invoke the profile and its foundation model in each of those regions."
  type        = map(list(string))
  default     = {}

  validation {
    condition = alltrue([for id, regions in var.bedrock_inference_profiles :
    can(regex("^(us|us-gov|eu|apac|jp|au|ca)\\.[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", id)) && length(regions) >= 1 && alltrue([for region in regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])])
    error_message = "bedrock_inference_profiles must map geographic profile ids such as eu.anthropic.claude-3-haiku-20240307-v1:0 to the regions they route to, such as [\"eu-central-1\", \"eu-west-1\", \"eu-west-3\"]."
  }
}

variable "bedrock_guardrail_id" {
  description = "FINDINING_BEDROCK_GUARDRAIL_ID: a Bedrock guardrail applied to every analysis, or empty for none (set bedrock_guardrail_version with it)."
  type        = string
  default     = ""

  validation {
    condition     = var.bedrock_guardrail_id == "" || can(regex("^[a-z0-9]{12}$", var.bedrock_guardrail_id))
    error_message = "bedrock_guardrail_id must be a guardrail id (12 lowercase letters and digits, not its ARN) or empty."
  }
}

variable "bedrock_guardrail_version" {
  description = "FINDINING_BEDROCK_GUARDRAIL_VERSION: the guardrail's version (DRAFT or a number), empty when no guardrail is set."
  type        = string
  default     = ""

  validation {
    condition     = var.bedrock_guardrail_version == "" || can(regex("^(DRAFT|[1-9][0-9]{0,7})$", var.bedrock_guardrail_version))
    error_message = "bedrock_guardrail_version must be DRAFT or a version number such as 1, or empty."
  }
}

# ---- storage lifecycle ----------------------------------------------------------------------

variable "capture_retention_days" {
  description = "Days data capture is kept (it moves to Standard-IA after 30 days first when kept longer)."
  type        = number
  default     = 90

  validation {
    condition     = var.capture_retention_days >= 7 && var.capture_retention_days <= 3650
    error_message = "capture_retention_days must be in 7..3650: monitoring backfills read the last days' capture."
  }
}

variable "reports_retention_days" {
  description = "Days drift/performance reports and A/B analyses are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.reports_retention_days >= 30 && var.reports_retention_days <= 3650
    error_message = "reports_retention_days must be in 30..3650."
  }
}

variable "model_archive_after_days" {
  description = "Days after which model artifacts and training snapshots move to Glacier Instant Retrieval (still readable at once for a rollback)."
  type        = number
  default     = 90

  validation {
    condition     = var.model_archive_after_days >= 30 && var.model_archive_after_days <= 3650
    error_message = "model_archive_after_days must be in 30..3650 (Glacier IR bills 90 days minimum)."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups the stack creates (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts, such as 30, 90, 365 or 731."
  }
}

variable "athena_bytes_scanned_cutoff" {
  description = "Bytes one Athena query of the A/B analysis may scan before Athena cancels it (the workgroup's cutoff; Athena bills by bytes scanned)."
  type        = number
  default     = 10737418240 # 10 GiB

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760 && floor(var.athena_bytes_scanned_cutoff) == var.athena_bytes_scanned_cutoff
    error_message = "athena_bytes_scanned_cutoff must be a whole number of bytes, at least 10485760 (10 MB, Athena's minimum)."
  }
}

# ---- alerts and monitoring ------------------------------------------------------------------

variable "alert_email_addresses" {
  description = "E-mail addresses subscribed to the alerts topic (each confirms by mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alert_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "alert_email_addresses must be e-mail addresses."
  }
}

variable "alert_sqs_queue_arns" {
  description = "SQS queues subscribed to the alerts topic (chat bridges, ticketing)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alert_sqs_queue_arns : can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", a))])
    error_message = "alert_sqs_queue_arns must be SQS queue ARNs."
  }
}

variable "cpu_alarm_threshold_percent" {
  description = "CPUUtilization of an endpoint above which the alarm fires (SageMaker reports per instance, 100 per vCPU; this is the average per vCPU)."
  type        = number
  default     = 80

  validation {
    condition     = var.cpu_alarm_threshold_percent > 0 && var.cpu_alarm_threshold_percent <= 100
    error_message = "cpu_alarm_threshold_percent must be a percentage in (0, 100]."
  }
}

variable "memory_alarm_threshold_percent" {
  description = "MemoryUtilization of an endpoint above which the alarm fires."
  type        = number
  default     = 80

  validation {
    condition     = var.memory_alarm_threshold_percent > 0 && var.memory_alarm_threshold_percent <= 100
    error_message = "memory_alarm_threshold_percent must be a percentage in (0, 100]."
  }
}

variable "monitoring_trusted_principal_arns" {
  description = "Principals (on-call roles, CI) that may assume the ml-monitoring role; empty means the account's own IAM principals with permission to assume it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.monitoring_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", a))])
    error_message = "monitoring_trusted_principal_arns must be IAM role, user or account-root ARNs."
  }
}

variable "deployer_principal_arns" {
  description = "IAM roles or users that deploy: the only principals that may write MWAA's files (airflow/: DAGs, plugins.zip, requirements, startup script) or replace and delete source bundles (code/). Empty means the principal running `terraform apply` (its role, when it is an assumed-role session)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.deployer_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "deployer_principal_arns must be IAM role or user ARNs (a role, not an assumed-role session)."
  }
}

# ---- orchestration (MWAA) -------------------------------------------------------------------

variable "mwaa_airflow_version" {
  description = "Airflow version of the MWAA environment: the newest Airflow 3 that MWAA offers."
  type        = string
  default     = "3.0.6"

  validation {
    condition     = can(regex("^3\\.[0-9]+\\.[0-9]+$", var.mwaa_airflow_version))
    error_message = "mwaa_airflow_version must be an Airflow 3 version such as 3.0.6: the DAGs use the Airflow 3 SDK."
  }
}

variable "mwaa_environment_class" {
  description = "MWAA environment class (scheduler and worker size)."
  type        = string
  default     = "mw1.small"

  validation {
    condition     = contains(["mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge", "mw1.2xlarge"], var.mwaa_environment_class)
    error_message = "mwaa_environment_class must be one of mw1.micro, mw1.small, mw1.medium, mw1.large, mw1.xlarge, mw1.2xlarge."
  }
}

variable "mwaa_max_workers" {
  description = "Most Celery workers MWAA scales to."
  type        = number
  default     = 2

  validation {
    condition     = var.mwaa_max_workers >= 1 && var.mwaa_max_workers <= 25
    error_message = "mwaa_max_workers must be in 1..25."
  }
}

# ---- the app's answer cache (ElastiCache for Redis) -----------------------------------------

variable "answer_cache_node_type" {
  description = "Node type of the answer cache's two Redis nodes (primary and replica in another zone)."
  type        = string
  default     = "cache.t4g.small"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.answer_cache_node_type))
    error_message = "answer_cache_node_type must be an ElastiCache node type such as cache.t4g.small."
  }
}

variable "answer_cache_client_security_group_ids" {
  description = "Security groups of the app servers whose MLService clients may reach the answer cache on 6379."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.answer_cache_client_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "answer_cache_client_security_group_ids must be security group ids (sg-...)."
  }
}
