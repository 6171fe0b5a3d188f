"""How much of a model's real-speech error a prior shift could remove: the best top-1 accuracy reachable by
adding one constant per keyword to the log of its score, with the constants chosen on the scored clips
themselves.

    from kws.eval.headroom import bias_headroom
    h = bias_headroom(labels, truth, scores_int8, max_frr=0.08)
    h["best"]["accuracy"], h["best"]["biases"], h["within_frr"]

A diagnostic, not a setting a user could ship: the biases are read off the very clips they are scored on. What
it tells apart is *calibration* (the model ranks the clips well but its decision boundary sits in the wrong place
for these voices: a bias recovers the accuracy) from *ranking* (no bias helps: the features the model learnt
do not separate the real clips). tools/bench_real.py prints it under its table.

The log score of int8 output q is log(q + 128.5): TFLite's int8 softmax output has zero point -128, so q + 128
is the probability in units of its scale (1/256), and the scale's log is common to every label, so it cancels in
the argmax. The half step keeps a probability that quantized to zero finite.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from kws.eval.analysis import keyword_indices

BIAS_GRID = np.round(np.arange(-6.0, 6.0 + 1e-9, 0.125), 3)
"""Candidate biases in natural-log units: +-6 multiplies or divides a keyword's probability by 400, beyond which
an int8 score of 1/256 either always or never wins. The step (0.125, a factor of 1.13) is finer than int8's
probability steps near the decision boundary."""

MAX_KEYWORDS = 2
"""The search is exhaustive over BIAS_GRID per keyword (97 ** keywords combinations): two keywords take about
a second; a ten-keyword model would take centuries, so it is not searched."""


def log_scores(scores_int8: np.ndarray) -> np.ndarray:
    """Log of each int8 score's probability, up to a constant common to all labels (see the module docstring)."""
    return np.log(np.asarray(scores_int8, dtype=np.float64) + 128.5)


def _decisions(logs: np.ndarray, keywords: list[int], biases: Sequence[float]) -> np.ndarray:
    shifted = logs.copy()
    shifted[:, keywords] += np.asarray(biases, dtype=np.float64)
    return shifted.argmax(axis=1)


def _false_reject_rates(truth: np.ndarray, predicted: np.ndarray, keywords: list[int]) -> dict[int, float]:
    """Per keyword index with clips: the share of its clips decided as something else."""
    return {k: float((predicted[truth == k] != k).mean()) for k in keywords if (truth == k).any()}


def _point(labels: Sequence[str], truth: np.ndarray, predicted: np.ndarray, keywords: list[int],
           biases: Sequence[float]) -> dict[str, Any]:
    return {"accuracy": float((predicted == truth).mean()),
            "biases": {labels[k]: float(b) for k, b in zip(keywords, biases)},
            "false_reject_rates": {labels[k]: r for k, r in _false_reject_rates(truth, predicted, keywords).items()}}


def bias_headroom(labels: Sequence[str], truth: np.ndarray, scores_int8: np.ndarray, *,
                  max_frr: float = 0.08) -> dict[str, Any]:
    """The unshifted accuracy, the best accuracy any grid of per-keyword biases reaches ("best"), and the best
    one among the biases that keep every keyword's false rejects <= max_frr ("within_frr", None if no bias
    does; then "lowest_worst_frr" says how close any comes). Ties go to the smallest total shift, so a model
    that needs no bias reports zeros."""
    truth = np.asarray(truth, dtype=np.int64)
    keywords = keyword_indices(labels)
    logs = log_scores(scores_int8)
    if logs.shape != (truth.size, len(labels)):
        raise ValueError(f"scores must be [clips, labels] = [{truth.size}, {len(labels)}], got {logs.shape}")
    result: dict[str, Any] = {"searched": False, "max_frr": max_frr,
                              "accuracy": float((logs.argmax(axis=1) == truth).mean())}
    if not 1 <= len(keywords) <= MAX_KEYWORDS:
        result["why_not"] = f"{len(keywords)} keywords: the exhaustive search takes 1 to {MAX_KEYWORDS}"
        return result
    combos = sorted(itertools.product(BIAS_GRID, repeat=len(keywords)), key=lambda c: (sum(map(abs, c)), c))
    best = within = lowest = None
    for biases in combos:
        predicted = _decisions(logs, keywords, biases)
        accuracy = float((predicted == truth).mean())
        worst = max(_false_reject_rates(truth, predicted, keywords).values(), default=0.0)
        if best is None or accuracy > best[0]:
            best = (accuracy, biases, predicted)
        if worst <= max_frr and (within is None or accuracy > within[0]):
            within = (accuracy, biases, predicted)
        if lowest is None or (worst, -accuracy) < lowest[0]:
            lowest = ((worst, -accuracy), biases, predicted)
    assert best is not None and lowest is not None  # the grid is never empty
    result.update({
        "searched": True,
        "grid": [float(BIAS_GRID[0]), float(BIAS_GRID[-1]), float(BIAS_GRID[1] - BIAS_GRID[0])],
        "best": _point(labels, truth, best[2], keywords, best[1]),
        "within_frr": None if within is None else _point(labels, truth, within[2], keywords, within[1]),
        "lowest_worst_frr": {"worst_frr": lowest[0][0], **_point(labels, truth, lowest[2], keywords, lowest[1])},
    })
    return result


def describe_headroom(h: dict[str, Any]) -> str:
    """One line for a person: what the best biases reach, and whether every keyword's FRR target is reachable."""
    if not h["searched"]:
        return f"bias headroom: not searched ({h['why_not']})"

    def biases(point: dict[str, Any]) -> str:
        return ", ".join(f"{w} {b:+.3g}" for w, b in point["biases"].items())

    line = (f"bias headroom (biases chosen on these clips: a diagnostic, not a setting): accuracy "
            f"{h['accuracy']:.1%} -> at best {h['best']['accuracy']:.1%} ({biases(h['best'])}); ")
    target = f"every keyword's false rejects <= {h['max_frr']:.0%}"
    if h["within_frr"] is None:
        low = h["lowest_worst_frr"]
        return line + (f"{target}: no bias reaches it (lowest worst FRR {low['worst_frr']:.1%}, "
                       f"at {low['accuracy']:.1%})")
    return line + f"{target}: at best {h['within_frr']['accuracy']:.1%} ({biases(h['within_frr'])})"


__all__ = ["BIAS_GRID", "MAX_KEYWORDS", "bias_headroom", "describe_headroom", "log_scores"]
