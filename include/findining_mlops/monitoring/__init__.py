"""Daily model monitoring: captured inferences against ground truth, drift, performance, the retrain decision."""
