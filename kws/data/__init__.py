"""Datasets: Speech Commands download, splits, loaders, the training recipe, and the synthetic set."""
