"""Canary rollout of a model version on its endpoint: traffic steps, alarms, the verdict, promotion or rollback."""
