"""Per-clip device scores -> accuracy, per-keyword ROC/EER/operating point, on a hand-made case."""

from __future__ import annotations

import numpy as np
import pytest

from kws.eval.analysis import analyze_clips, keyword_indices, plot_latency, plot_roc_det, to_uint8_scores

LABELS = ("_silence_", "_unknown_", "yes", "no")


def _scores(rows):
    # rows given as 0..255 scores; the board sends int8 = value - 128
    return np.asarray(rows, dtype=np.int16) - 128


def test_analysis_by_hand(tmp_path):
    truth = np.array([2, 2, 3, 0, 1])
    scores = _scores([
        [0, 10, 250, 5],    # yes, confident
        [0, 100, 150, 5],   # yes, weak: argmax right, below threshold 200
        [0, 10, 30, 220],   # no
        [240, 0, 5, 10],    # silence
        [10, 180, 210, 0],  # unknown, but 'yes' scores 210 > 180 -> misclassified, and a false accept at 200
    ])
    summary = analyze_clips(LABELS, truth, scores, target_far=0.0, deploy_threshold=200)
    assert summary["accuracy"] == pytest.approx(4 / 5)
    assert summary["confusion_matrix"][1] == [0, 0, 1, 0]
    yes = summary["per_keyword"]["yes"]
    # yes positives: 250, 150; negatives: 30, 5, 210
    assert yes["at_deploy_threshold"] == {"threshold": 200, "frr": 0.5, "far": pytest.approx(1 / 3)}
    # FAR 0 allows thresholds above 210: 250 keeps one positive -> FRR 0.5
    assert yes["operating_point"] == {"threshold": 250.0, "far": 0.0, "frr": 0.5}
    # AUC = P(pos > neg): 250 beats 3, 150 beats 2 of {30, 5, 210} -> 5/6
    assert yes["auc"] == pytest.approx(5 / 6)
    assert set(summary["per_keyword"]) == {"yes", "no"}
    assert keyword_indices(LABELS) == [2, 3]
    assert to_uint8_scores(np.array([-128, 127])).tolist() == [0, 255]
    assert plot_roc_det(summary, str(tmp_path / "roc.png"))
    assert plot_latency(np.array([100, 120]), np.array([5000, 5100, 5300]), str(tmp_path / "lat.png"))
    assert (tmp_path / "roc.png").stat().st_size > 1000


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="scores must be"):
        analyze_clips(LABELS, np.array([0, 1]), np.zeros((2, 3)), target_far=0.01, deploy_threshold=200)
