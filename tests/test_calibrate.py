"""Recognizer calibration: the fast sweep equals the full recognizer, the choice rule, the overlay."""

from __future__ import annotations

import numpy as np
import pytest

from kws.config import DeployConfig, KwsConfig, write_resolved_config
from kws.eval.calibrate import choose, decision_trace, detect_from_trace, sweep, write_deploy_overlay
from kws.recognizer import RecognizerConfig, detections, keyword_mask
from kws.run import Run

LABELS = ("_silence_", "_unknown_", "yes", "no")


def _stream(seed: int, steps: int = 1500):
    """Noisy scores with a few keyword bursts, one result every 20 ms."""
    rng = np.random.default_rng(seed)
    t_us = np.arange(steps, dtype=np.int64) * 20_000 + 5_000
    scores = rng.integers(-128, -60, size=(steps, len(LABELS)))
    scores[:, 0] = rng.integers(0, 100, size=steps)  # silence dominates
    events = []
    for start in range(100, steps - 60, 180):
        label = 2 + (start // 180) % 2
        width = int(rng.integers(20, 50))
        level = int(rng.integers(40, 127))
        scores[start:start + width, label] = level
        scores[start:start + width, 0] = -100
        events.append((t_us[start] / 1e6, t_us[start + width] / 1e6, LABELS[label]))
    return t_us, scores.astype(np.int64), events


@pytest.mark.parametrize("window, threshold, suppression", [(500, 150, 500), (1000, 140, 1500), (750, 120, 0)])
def test_fast_path_equals_the_full_recognizer(window, threshold, suppression):
    t_us, scores, _ = _stream(1)
    full = detections(RecognizerConfig(average_window_ms=window, suppression_ms=suppression, minimum_count=3,
                                       detection_threshold=threshold), LABELS, zip(t_us.tolist(), scores.tolist()))
    trace = decision_trace(window, 3, LABELS, t_us, scores)
    fast = detect_from_trace(trace, keyword_mask(LABELS), threshold, suppression)
    assert fast == [index for index, _, _, _ in full]
    assert len(fast) > 0


def test_choice_rule_by_hand():
    rows = [
        {"average_window_ms": 1000, "detection_threshold": 150, "suppression_ms": 1000,
         "false_accepts_per_hour": 3.0, "false_reject_rate": 0.0},
        {"average_window_ms": 1000, "detection_threshold": 200, "suppression_ms": 1000,
         "false_accepts_per_hour": 1.0, "false_reject_rate": 0.1},
        {"average_window_ms": 500, "detection_threshold": 220, "suppression_ms": 1000,
         "false_accepts_per_hour": 0.0, "false_reject_rate": 0.1},
        {"average_window_ms": 500, "detection_threshold": 240, "suppression_ms": 1000,
         "false_accepts_per_hour": 0.0, "false_reject_rate": 0.4},
    ]
    chosen, met = choose(rows, 1.0)
    # FRR 0.1 twice within target: the one with fewer false accepts wins
    assert met and chosen["detection_threshold"] == 220
    chosen, met = choose(rows, -1.0)  # impossible target: the fewest false accepts, then lowest FRR
    assert not met and chosen["detection_threshold"] == 220


def test_sweep_finds_a_working_setting():
    t_us, scores, events = _stream(2)
    duration = (t_us[-1] - t_us[0]) / 1e6
    rows = sweep(LABELS, t_us, scores, events, duration, minimum_count=3, tolerance_s=1.0,
                 windows_ms=(500, 1000), thresholds=(100, 150, 200), suppressions_ms=(1000,))
    assert len(rows) == 6
    chosen, met = choose(rows, target_fa_per_hour=1.0)
    assert met and chosen["false_reject_rate"] < 0.5


def test_overlay_is_applied_on_top_of_the_run_config(tmp_path):
    write_resolved_config(KwsConfig(), tmp_path)
    write_deploy_overlay(tmp_path, DeployConfig(detection_threshold=180, average_window_ms=750, suppression_ms=900))
    config = Run.at(tmp_path).config()
    assert (config.deploy.detection_threshold, config.deploy.average_window_ms, config.deploy.suppression_ms) == \
        (180, 750, 900)
    assert config.training == KwsConfig().training
