"""Classification metrics as pure functions, each tested on hand-computed cases (tests/test_metrics.py).

    from kws.eval.metrics import confusion_matrix, accuracy
    cm = confusion_matrix(y_true, y_pred, num_labels)   # rows: true label, columns: predicted

Wake-word trainers have shipped bugs in exactly this kind of code, so nothing here touches a model,
a file or a random number: arrays in, numbers out.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int) -> np.ndarray:
    """int64 [num_labels, num_labels]; entry [t, p] counts clips of true label t predicted as p."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_labels):
            raise ValueError(f"{name} has labels outside 0..{num_labels - 1}")
    flat = np.bincount(y_true * num_labels + y_pred, minlength=num_labels * num_labels)
    return flat.reshape(num_labels, num_labels)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of clips whose prediction equals the label; NaN for no clips (never a silent 0 or 1)."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if y_true.size == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def per_label_recall(cm: np.ndarray) -> np.ndarray:
    """Recall per true label (diagonal over row sums); NaN for labels with no clips."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / rows, np.nan)
