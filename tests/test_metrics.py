"""Metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kws.eval.metrics import accuracy, confusion_matrix, per_label_recall


def test_confusion_matrix_hand_case():
    # true:  0 0 1 1 1 2
    # pred:  0 1 1 1 2 2   -> row 0: [1,1,0], row 1: [0,2,1], row 2: [0,0,1]
    cm = confusion_matrix([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 2, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert accuracy([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 2, 2]) == pytest.approx(4 / 6)
    recall = per_label_recall(cm)
    assert recall.tolist() == pytest.approx([0.5, 2 / 3, 1.0])


def test_empty_and_bad_inputs():
    assert math.isnan(accuracy([], []))
    assert np.isnan(per_label_recall(np.zeros((2, 2)))).all()
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="has 2 labels but"):
        confusion_matrix([0, 1], [0], 3)


# ----------------------------------------------------------------------------- clip level
from kws.eval.metrics import (  # noqa: E402
    auc,
    detection_rates,
    equal_error_rate,
    latency_summary,
    match_detections,
    operating_point,
    roc_curve,
    streaming_metrics,
)

POS = [0.9, 0.8, 0.4]        # three clips of the keyword
NEG = [0.7, 0.3, 0.2, 0.1]   # four other clips


def test_detection_rates_by_hand():
    # threshold 0.5: positive 0.4 rejected (FRR 1/3); negative 0.7 accepted (FAR 1/4)
    assert detection_rates(POS, NEG, 0.5) == (pytest.approx(1 / 3), pytest.approx(1 / 4))
    # ">=": a score equal to the threshold is accepted
    assert detection_rates(POS, NEG, 0.8) == (pytest.approx(1 / 3), 0.0)
    assert detection_rates(POS, NEG, 0.9) == (pytest.approx(2 / 3), 0.0)


def test_roc_auc_eer_by_hand():
    curve = roc_curve(POS, NEG)
    # thresholds: inf, .9, .8, .7, .4, .3, .2, .1
    assert curve["thresholds"][0] == np.inf
    assert curve["tpr"].tolist() == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1, 1])
    assert curve["far"].tolist() == pytest.approx([0, 0, 0, 1 / 4, 1 / 4, 2 / 4, 3 / 4, 1])
    # AUC = P(pos > neg) over the 12 pairs: 0.9 and 0.8 beat all 4; 0.4 beats 3 -> 11/12
    assert auc(curve["far"], curve["tpr"]) == pytest.approx(11 / 12)
    # FAR-FRR: at .8: 0 - 1/3 < 0; at .7: 1/4 - 1/3 < 0; at .4: 1/4 - 0 > 0.
    # Between (far .25, frr 1/3) and (far .25, frr 0): FAR stays 0.25, so EER = 0.25
    assert equal_error_rate(curve["far"], curve["frr"]) == pytest.approx(0.25)


def test_eer_interpolates():
    far = np.array([0.0, 0.2, 0.6])
    frr = np.array([1.0, 0.4, 0.0])
    # diff: -1, -0.2, +0.6 -> t = 0.2 / 0.8 = 0.25 -> far = 0.2 + 0.25 * 0.4 = 0.3
    assert equal_error_rate(far, frr) == pytest.approx(0.3)


def test_operating_point_by_hand():
    curve = roc_curve(POS, NEG)
    # FAR <= 0: best FRR is 1/3 at threshold 0.8 (0.9 gives 2/3)
    assert operating_point(curve, 0.0) == {"threshold": 0.8, "far": 0.0, "frr": pytest.approx(1 / 3)}
    # FAR <= 0.25: threshold 0.4 rejects nothing
    assert operating_point(curve, 0.25) == {"threshold": 0.4, "far": 0.25, "frr": 0.0}


def test_perfect_and_inverted_classifiers():
    perfect = roc_curve([1.0, 0.9], [0.1, 0.0])
    assert auc(perfect["far"], perfect["tpr"]) == 1.0
    assert equal_error_rate(perfect["far"], perfect["frr"]) == 0.0
    inverted = roc_curve([0.0, 0.1], [0.9, 1.0])
    assert auc(inverted["far"], inverted["tpr"]) == 0.0
    with pytest.raises(ValueError, match="at least one positive"):
        roc_curve([], [0.1])


# ----------------------------------------------------------------------------- streaming

def test_streaming_matching_by_hand():
    events = [(1.0, 1.6, "yes"), (5.0, 5.5, "no"), (9.0, 9.4, "yes")]
    detections = [
        (1.9, "yes"),   # within [1.0, 1.6 + 0.5]: matches event 0, delay 0.3
        (2.0, "yes"),   # event 0 already used: false accept
        (5.4, "yes"),   # wrong label: false accept
        (9.5, "yes"),   # matches event 2, delay 0.1
        (30.0, "no"),   # nothing near: false accept
    ]
    result = match_detections(detections, events, tolerance_s=0.5)
    assert [(e, d) for e, d, _ in result["matched"]] == [(0, 0), (2, 3)]
    assert [delay for _, _, delay in result["matched"]] == pytest.approx([0.3, 0.1])
    assert result["false_accepts"] == [1, 2, 4]
    assert result["missed"] == [1]

    # 3 false accepts in a 360 s stream = 30 per hour; FRR = 1/3
    m = streaming_metrics(detections, events, duration_s=360.0, tolerance_s=0.5)
    assert m["false_accepts"] == 3 and m["false_accepts_per_hour"] == pytest.approx(30.0)
    assert m["false_reject_rate"] == pytest.approx(1 / 3)
    assert m["mean_delay_s"] == pytest.approx(0.2) and m["max_delay_s"] == pytest.approx(0.3)
    # with a 1 s suppression the two 'yes' false accepts at 2.0 and 5.4 are 3.4 s apart: still two
    assert streaming_metrics(detections, events, 360.0, 0.5, suppression_s=1.0)["false_accepts"] == 3
    # with 4 s they collapse into one: 2 false accepts -> 20 per hour
    m4 = streaming_metrics(detections, events, 360.0, 0.5, suppression_s=4.0)
    assert m4["false_accepts"] == 2 and m4["false_accepts_per_hour"] == pytest.approx(20.0)


def test_latency_percentiles_nearest_rank():
    # 1..20: p50 = 10th value, p95 = 19th value (ceil(0.95*20) = 19)
    summary = latency_summary(np.arange(1, 21) * 100)
    assert summary == {"count": 20.0, "p50": 1000.0, "p95": 1900.0, "max": 2000.0, "mean": 1050.0}
    assert np.isnan(latency_summary([])["p50"])
