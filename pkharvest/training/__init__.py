"""Training loop, early stopping, evaluation metrics."""
