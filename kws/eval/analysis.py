"""Turn per-clip device scores into the numbers a person deploys by: accuracy, confusion matrix, and per
keyword ROC/DET, AUC, EER and the operating point at a target false-accept rate.

    from kws.eval.analysis import analyze_clips
    summary = analyze_clips(labels, truth, scores_int8, target_far=0.01, deploy_threshold=200)

Scores are the board's raw int8 outputs; like the recognizer, the analysis works on `q + 128` (0..255),
so a threshold found here is the threshold the recognizer uses. Pure functions over arrays: the
metric definitions live (and are tested) in kws.eval.metrics.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kws.config import SILENCE_LABEL, UNKNOWN_LABEL
from kws.eval import metrics


def to_uint8_scores(scores_int8: np.ndarray) -> np.ndarray:
    """int8 scores -> 0..255 as the recognizer sees them."""
    return np.asarray(scores_int8, dtype=np.int16) + 128


def keyword_indices(labels: Sequence[str]) -> list[int]:
    """Indices of the real keywords (not silence or unknown)."""
    return [i for i, name in enumerate(labels) if name not in (SILENCE_LABEL, UNKNOWN_LABEL)]


def _thin(curve: dict[str, np.ndarray], max_points: int = 400) -> dict[str, list[float]]:
    """Keep a curve small enough for a JSON report while keeping its ends."""
    n = len(curve["far"])
    keep = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    out = {}
    for key, values in curve.items():
        values = np.asarray(values, dtype=np.float64)[keep]
        out[key] = [float(v) if np.isfinite(v) else 1e9 for v in values]  # JSON has no infinity
    return out


def analyze_clips(labels: Sequence[str], truth: np.ndarray, scores_int8: np.ndarray, *, target_far: float,
                  deploy_threshold: int) -> dict[str, Any]:
    """Accuracy, confusion matrix and per-keyword detection figures for a set of scored clips."""
    truth = np.asarray(truth, dtype=np.int64)
    scores = to_uint8_scores(scores_int8)
    if scores.ndim != 2 or scores.shape != (truth.size, len(labels)):
        raise ValueError(f"scores must be [clips, labels] = [{truth.size}, {len(labels)}], got {scores.shape}")
    predictions = scores.argmax(axis=1)
    cm = metrics.confusion_matrix(truth, predictions, len(labels))
    per_keyword: dict[str, Any] = {}
    for k in keyword_indices(labels):
        positives = scores[truth == k, k]
        negatives = scores[truth != k, k]
        entry: dict[str, Any] = {"positives": int(positives.size), "negatives": int(negatives.size)}
        if positives.size and negatives.size:
            curve = metrics.roc_curve(positives, negatives)
            frr, far = metrics.detection_rates(positives, negatives, deploy_threshold)
            entry.update({
                "auc": metrics.auc(curve["far"], curve["tpr"]),
                "eer": metrics.equal_error_rate(curve["far"], curve["frr"]),
                "operating_point": metrics.operating_point(curve, target_far),
                "at_deploy_threshold": {"threshold": deploy_threshold, "frr": frr, "far": far},
                "curve": _thin(curve),
            })
        per_keyword[labels[k]] = entry
    return {
        "labels": list(labels),
        "clips": int(truth.size),
        "accuracy": metrics.accuracy(truth, predictions),
        "confusion_matrix": cm.tolist(),
        "recall": [float(v) for v in metrics.per_label_recall(cm)],
        "target_far": target_far,
        "per_keyword": per_keyword,
    }


def plot_roc_det(summary: dict[str, Any], path: str, title: str = "") -> str:
    """ROC (linear) and DET (normal-deviate axes) per keyword, operating points marked."""
    from scipy.stats import norm

    from kws.plots import pyplot, save_figure

    plt = pyplot()
    fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(11, 4.4))
    low, high = 5e-4, 0.7  # DET plots show the useful corner; 0 and 1 have infinite probits
    clip = lambda v: np.clip(np.asarray(v, dtype=float), low, high)  # noqa: E731
    for name, entry in summary["per_keyword"].items():
        if "curve" not in entry:
            continue
        far, tpr, frr = (np.asarray(entry["curve"][k]) for k in ("far", "tpr", "frr"))
        line, = ax_roc.plot(far, tpr, label=f"{name} (AUC {entry['auc']:.3f}, EER {entry['eer']:.1%})")
        op = entry["operating_point"]
        ax_roc.plot(op["far"], 1 - op["frr"], "o", color=line.get_color())
        ax_det.plot(norm.ppf(clip(far)), norm.ppf(clip(frr)), color=line.get_color(), label=name)
        ax_det.plot(norm.ppf(clip(op["far"])), norm.ppf(clip(op["frr"])), "o", color=line.get_color())
    ax_roc.set_xlabel("false accept rate (clips)")
    ax_roc.set_ylabel("true accept rate")
    ax_roc.set_title("ROC (dots: operating point at FAR <= %.2g)" % summary["target_far"])
    ax_roc.grid(alpha=0.3)
    ax_roc.legend(loc="lower right", fontsize=8)
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5])
    labels = ["0.1%", "1%", "5%", "20%", "50%"]
    ax_det.set_xticks(norm.ppf(ticks), labels)
    ax_det.set_yticks(norm.ppf(ticks), labels)
    ax_det.set_xlim(norm.ppf(low) - 0.1, norm.ppf(high))
    ax_det.set_ylim(norm.ppf(low) - 0.1, norm.ppf(high))
    ax_det.set_xlabel("false accept rate")
    ax_det.set_ylabel("false reject rate")
    ax_det.set_title("DET (normal deviate scale)")
    ax_det.grid(alpha=0.3)
    fig.suptitle(title)
    try:
        return str(save_figure(fig, path))
    finally:
        plt.close(fig)


def plot_latency(frontend_us: np.ndarray, inference_us: np.ndarray, path: str, title: str = "") -> str:
    """Histogram of device-timed frontend and inference latency."""
    from kws.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for values, name in ((frontend_us, "frontend (per frame)"), (inference_us, "inference")):
        values = np.asarray(values, dtype=float)
        if values.size:
            summary = metrics.latency_summary(values)
            ax.hist(values / 1000.0, bins=40, alpha=0.6,
                    label=f"{name}: p50 {summary['p50'] / 1000:.2f} ms, p95 {summary['p95'] / 1000:.2f} ms")
    ax.set_xlabel("milliseconds (device clock)")
    ax.set_ylabel("count")
    ax.legend()
    ax.set_title(title)
    try:
        return str(save_figure(fig, path))
    finally:
        plt.close(fig)
