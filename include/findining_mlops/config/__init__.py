"""Configuration: the model catalog (``models.toml``), runtime settings, and Terraform outputs turned into settings."""
