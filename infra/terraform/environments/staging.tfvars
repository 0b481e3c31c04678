# staging: production's shape at its smallest, to rehearse rollouts.
environment              = "staging"
aws_region               = "eu-west-1"
sklearn_image_account_id = "141502667606"
vpc_cidr                 = "10.41.0.0/16"

training_instance_type  = "ml.m5.large"
endpoint_instance_type  = "ml.m5.large"
endpoint_instance_count = 1
endpoint_min_capacity   = 1
endpoint_max_capacity   = 2
data_capture_percent    = 100

# negative-feedback analysis through the EU cross-region inference profile (the regions it routes
# to, as the Bedrock console lists them); a guardrail: bedrock_guardrail_id + bedrock_guardrail_version
bedrock_model_ids = ["anthropic.claude-3-haiku-20240307-v1:0"]
bedrock_inference_profiles = {
  "eu.anthropic.claude-3-haiku-20240307-v1:0" = ["eu-central-1", "eu-west-1", "eu-west-3"]
}

capture_retention_days   = 30
reports_retention_days   = 90
model_archive_after_days = 60
log_retention_days       = 90

mwaa_environment_class = "mw1.small"
mwaa_max_workers       = 2
