# dev: smallest sizes, one instance per variant, short retention. Cost: see docs/aws.md "Sizing and cost".
environment              = "dev"
aws_region               = "eu-west-1"
sklearn_image_account_id = "141502667606" # SageMaker's scikit-learn images in eu-west-1

training_instance_type       = "ml.m5.large"
training_max_runtime_seconds = 3600
endpoint_instance_type       = "ml.t2.medium"
endpoint_instance_count      = 1
endpoint_min_capacity        = 1
endpoint_max_capacity        = 1
data_capture_percent         = 100

# negative-feedback analysis: Claude 3 Haiku in the region itself, no guardrail
bedrock_model_ids = ["anthropic.claude-3-haiku-20240307-v1:0"]

capture_retention_days   = 14
reports_retention_days   = 30
model_archive_after_days = 30
log_retention_days       = 30

mwaa_environment_class = "mw1.micro"
mwaa_max_workers       = 1
