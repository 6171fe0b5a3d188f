"""Predictions and accuracy of a PyTorch model on precomputed features (evaluation mode, batched).

    from kws.inference import evaluate_accuracy, predict
    accuracy = evaluate_accuracy(model, data.test_features, data.test_labels)
"""

from __future__ import annotations

import torch

from kws.eval.metrics import accuracy
from kws.prepared_data import EVAL_BATCH


@torch.no_grad()
def predict(model: torch.nn.Module, features: torch.Tensor, batch: int = EVAL_BATCH) -> torch.Tensor:
    """Argmax predictions in eval mode."""
    model.eval()
    device = next(model.parameters(), features).device  # a model trained on a GPU predicts there
    out = [model(features[i:i + batch].to(device)).argmax(dim=1).cpu() for i in range(0, features.shape[0], batch)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


def evaluate_accuracy(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy on precomputed features (NaN for an empty split)."""
    return accuracy(labels.numpy(), predict(model, features).numpy())
