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
