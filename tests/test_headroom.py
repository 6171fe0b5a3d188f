"""Bias headroom (kws.eval.headroom) on hand-made int8 scores whose flipping points are worked out by hand.

    .venv/bin/python -m pytest tests/test_headroom.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kws.eval.headroom import bias_headroom, describe_headroom, log_scores

LABELS = ["_silence_", "_unknown_", "yes", "no"]
SILENCE, UNKNOWN, YES, NO = range(4)


def clip(**probabilities: int) -> list[int]:
    """int8 scores from q + 128 per label (each unnamed label gets q = -128, i.e. 0)."""
    index = {"silence": SILENCE, "unknown": UNKNOWN, "yes": YES, "no": NO}
    row = [-128] * 4
    for name, p in probabilities.items():
        row[index[name]] = p - 128
    return row


# log score = log(q + 128.5). Where each clip flips, from the ratio of its two largest scores:
CLIPS = [
    (NO, clip(unknown=100, no=60)),        # missed; a "no" bias > log(100.5 / 60.5) = 0.508 catches it
    (UNKNOWN, clip(unknown=200, no=50)),   # right; a "no" bias > log(200.5 / 50.5) = 1.379 makes it a false accept
    (YES, clip(unknown=100, yes=150)),     # right unless "yes" gets a bias < -log(150.5 / 100.5) = -0.404
    (YES, clip(unknown=100, yes=60)),      # missed; a "yes" bias > 0.508 catches it
    (SILENCE, clip(silence=250)),          # right for any bias on the grid: log(250.5 / 0.5) = 6.22 > 6
]
UNREACHABLE_NO = (NO, clip(unknown=250))  # a "no" that no bias up to +6 can catch: log(250.5 / 0.5) = 6.22


def scored(clips):
    return np.array([t for t, _ in clips]), np.array([s for _, s in clips], dtype=np.int8)


def test_the_log_score_is_the_probability_up_to_a_shared_constant():
    assert log_scores(np.array([-128, 127], dtype=np.int8)) == pytest.approx([math.log(0.5), math.log(255.5)])


def test_the_smallest_biases_that_fix_every_clip():
    truth, scores = scored(CLIPS)
    h = bias_headroom(LABELS, truth, scores)
    assert h["searched"] and h["accuracy"] == pytest.approx(3 / 5)
    # The first grid points past 0.508 for both keywords (and "no" must stay under 1.379): 0.625 each.
    assert h["best"]["accuracy"] == 1.0 and h["best"]["biases"] == {"yes": 0.625, "no": 0.625}
    assert h["best"]["false_reject_rates"] == {"yes": 0.0, "no": 0.0}
    assert h["within_frr"] == h["best"]


def test_a_model_that_needs_no_bias_reports_zeros():
    truth, scores = scored([CLIPS[1], CLIPS[2], CLIPS[4]])
    h = bias_headroom(LABELS, truth, scores)
    assert h["accuracy"] == h["best"]["accuracy"] == 1.0 and h["best"]["biases"] == {"yes": 0.0, "no": 0.0}


def test_an_unreachable_false_reject_target_says_how_close_any_bias_comes():
    truth, scores = scored(CLIPS + [UNREACHABLE_NO])
    h = bias_headroom(LABELS, truth, scores, max_frr=0.08)
    assert h["accuracy"] == pytest.approx(3 / 6) and h["best"]["accuracy"] == pytest.approx(5 / 6)
    assert h["within_frr"] is None  # one of the two "no" clips is always missed: FRR >= 50 %
    low = h["lowest_worst_frr"]
    assert low["worst_frr"] == 0.5 and low["accuracy"] == pytest.approx(5 / 6)
    assert "no bias reaches it (lowest worst FRR 50.0%, at 83.3%)" in describe_headroom(h)
    relaxed = bias_headroom(LABELS, truth, scores, max_frr=0.5)
    assert relaxed["within_frr"]["biases"] == {"yes": 0.625, "no": 0.625}
    assert "false rejects <= 50%: at best 83.3% (yes +0.625, no +0.625)" in describe_headroom(relaxed)


def test_a_bias_that_costs_accuracy_to_meet_the_target():
    # Two "no" clips: one caught by +0.625, the other only past log(200.5 / 30.5) = 1.883, where the unknown
    # clip above (flipping at 1.379) becomes a false accept. Best accuracy keeps the miss; FRR 0 costs the unknown.
    truth, scores = scored(CLIPS + [(NO, clip(unknown=200, no=30))])
    h = bias_headroom(LABELS, truth, scores, max_frr=0.0)
    assert h["best"]["accuracy"] == pytest.approx(5 / 6) and h["best"]["biases"]["no"] == 0.625
    assert h["within_frr"]["accuracy"] == pytest.approx(5 / 6) and h["within_frr"]["biases"]["no"] == 2.0
    assert h["within_frr"]["false_reject_rates"] == {"yes": 0.0, "no": 0.0}


def test_more_keywords_than_the_search_takes_are_not_searched():
    labels = LABELS + ["up", "down", "left"]
    scores = np.full((2, len(labels)), -128, np.int8)
    scores[0, 2] = scores[1, 4] = 100
    h = bias_headroom(labels, np.array([2, 3]), scores)
    assert not h["searched"] and h["accuracy"] == 0.5 and "5 keywords" in h["why_not"]
    assert describe_headroom(h).startswith("bias headroom: not searched (5 keywords")


def test_scores_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        bias_headroom(LABELS, np.array([2, 3]), np.zeros((3, 4), np.int8))
