"""The model side of serving: SageMaker-container model servers, their handlers, pool and preloading."""
