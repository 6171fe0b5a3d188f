"""Plots a person would rather look at than read: training curves and confusion matrices (PNG).

    from kws.plots import plot_training_curves
    plot_training_curves(history, "runs/demo/training_curves.png")

matplotlib is imported inside each function with the Agg backend (no display, no side effects at
import); every PNG is written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    from kws.fsutil import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return Path(path)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> Path:
    """Loss and accuracy (train window and validation) against the step."""
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = [h["step"] for h in history]
    ax_loss.plot(steps, [h["train_loss"] for h in history], marker=".", label="train loss")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    ax_acc.plot(steps, [h["train_accuracy"] for h in history], marker=".", label="train (last 50 batches)")
    ax_acc.plot(steps, [h["val_accuracy"] for h in history], marker="o", label="validation")
    if history:
        best = max(history, key=lambda h: h["val_accuracy"])
        ax_acc.axvline(best["step"], color="grey", linestyle=":", label=f"best {best['val_accuracy']:.1%}")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def plot_confusion_matrix(cm: np.ndarray, labels: Sequence[str], path: str | os.PathLike[str], title: str = "") -> Path:
    """Counts with row-normalised colour (recall per true label)."""
    plt = pyplot()
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    size = 1.0 + 0.6 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (t, p), count in np.ndenumerate(cm):
        ax.text(p, t, str(count), ha="center", va="center", color="white" if share[t, p] > 0.5 else "black")
    fig.colorbar(image, ax=ax, label="share of true label")
    ax.set_title(title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
