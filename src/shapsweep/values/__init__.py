"""Value functions: what number a model's output on a masked input becomes."""
