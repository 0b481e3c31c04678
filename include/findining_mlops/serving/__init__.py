"""Serving under load: SageMaker-container model servers (``server``), their supervisor
(``pool``), the client's resilience (``resilience``), fallbacks (``fallback``) and the
version-aware answer cache (``cache``)."""
