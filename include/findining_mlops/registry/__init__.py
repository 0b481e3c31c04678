"""What the model registry means to the pipeline: version labels, which version serves where, drift baselines."""
