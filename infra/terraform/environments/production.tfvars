# production: two instances per variant across availability zones, scaling with traffic.
environment              = "production"
aws_region               = "eu-west-1"
sklearn_image_account_id = "141502667606"
vpc_cidr                 = "10.42.0.0/16"
availability_zone_count  = 3

training_instance_type          = "ml.m5.xlarge"
endpoint_instance_type          = "ml.c5.xlarge"
endpoint_instance_count         = 2
endpoint_min_capacity           = 2
endpoint_max_capacity           = 8
target_invocations_per_instance = 3000
data_capture_percent            = 20 # 10M requests a day: a fifth is plenty for drift statistics

# negative-feedback analysis through the EU cross-region inference profile (the regions it routes
# to, as the Bedrock console lists them); a guardrail: bedrock_guardrail_id + bedrock_guardrail_version
bedrock_model_ids = ["anthropic.claude-3-haiku-20240307-v1:0"]
bedrock_inference_profiles = {
  "eu.anthropic.claude-3-haiku-20240307-v1:0" = ["eu-central-1", "eu-west-1", "eu-west-3"]
}

capture_retention_days   = 90
reports_retention_days   = 730
model_archive_after_days = 90
log_retention_days       = 365

alert_email_addresses = []

mwaa_environment_class = "mw1.medium"
mwaa_max_workers       = 5
