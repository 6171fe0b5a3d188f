"""The recognizer: hand-computed cases, the C code (firmware/core/kws_recognizer.c) against its Python
model (kws/recognizer.py) on generated and device-recorded score streams, and the 2^32 us wrap.

    .venv/bin/python -m pytest tests/test_recognizer.py -q
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import SANITIZER_ENV

from kws.config import ConfigError, DeployConfig
from kws.recognizer import MAX_RESULTS, Recognition, Recognizer, RecognizerConfig, detections, replay

WRAP = 1 << 32
LABELS = ("_silence_", "_unknown_", "yes", "no")
DEFAULT = RecognizerConfig()


def c_replay(exe: Path, config: RecognizerConfig, keywords: tuple[bool, ...],
             stream: list[tuple[int, list[int]]]) -> list[Recognition]:
    lines = "".join(f"{t & 0xFFFFFFFF} {' '.join(map(str, s))}\n" for t, s in stream)
    mask = "".join("1" if k else "0" for k in keywords)
    run = subprocess.run([str(exe), str(config.average_window_ms), str(config.suppression_ms),
                          str(config.minimum_count), str(config.detection_threshold), mask],
                         input=lines.encode(), capture_output=True, env={**os.environ, **SANITIZER_ENV}, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    out = []
    for line in run.stdout.decode().splitlines():
        label, score, detected, count = map(int, line.split())
        out.append(Recognition(label, score, bool(detected), count))
    return out


@pytest.fixture(scope="module")
def replay_exe(c_build) -> Path:
    return c_build("recognizer_replay", sanitize="auto")


def both(replay_exe: Path, config: RecognizerConfig, stream, labels=LABELS) -> list[Recognition]:
    """Python and C results; asserts they are identical and returns them."""
    keywords = tuple(not label.startswith("_") for label in labels)
    python = replay(config, labels, stream)
    c = c_replay(replay_exe, config, keywords, stream)
    assert python == c
    return python


def q(score_0_255: int) -> int:
    """Raw int8 for a 0..255 score."""
    return score_0_255 - 128


def frame(yes: int = 0, no: int = 0, silence: int = 0, unknown: int = 0) -> list[int]:
    return [q(silence), q(unknown), q(yes), q(no)]


MS = 1000


# ----------------------------------------------------------------------------------- hand-computed

def test_minimum_count_and_quarter_window_then_detection_and_suppression(replay_exe):
    stream = [(t * 100 * MS, frame(yes=255)) for t in range(6)]
    r = both(replay_exe, DEFAULT, stream)
    # t=0, 100: fewer than 3 results; t=200: 3 results but span 200 ms < 1000 ms / 4
    assert [x.label for x in r[:3]] == [-1, -1, -1] and [x.count for x in r[:3]] == [1, 2, 3]
    assert r[3] == Recognition(2, 255, True, 4)          # t=300 ms: span 300 >= 250: detection
    assert r[4] == Recognition(2, 255, False, 5)         # suppressed for 1500 ms
    assert r[5] == Recognition(2, 255, False, 6)


def test_average_is_an_integer_floor_and_threshold_is_strict(replay_exe):
    config = RecognizerConfig(minimum_count=1, suppression_ms=0)
    # yes: 255, 0, 0, 1 -> sums 255, 255, 255, 256 over 1..4 results -> 255, 127, 85, 64
    stream = [(0, frame(yes=255)), (300 * MS, frame(yes=0)), (600 * MS, frame(yes=0)), (900 * MS, frame(yes=1))]
    r = both(replay_exe, config, stream)
    assert r[0].label == -1  # span 0 < 250 ms
    assert [(x.label, x.score) for x in r[1:]] == [(2, 127), (2, 85), (2, 64)]
    at_threshold = [(t * 100 * MS, frame(yes=200)) for t in range(4)]
    assert not any(x.detected for x in both(replay_exe, config, at_threshold))
    above = [(t * 100 * MS, frame(yes=201)) for t in range(4)]
    assert [x.detected for x in both(replay_exe, config, above)] == [False, False, False, True]


def test_ties_go_to_the_lower_label(replay_exe):
    stream = [(t * 100 * MS, frame(yes=230, no=230)) for t in range(4)]
    assert both(replay_exe, DEFAULT, stream)[-1] == Recognition(2, 230, True, 4)


def test_a_result_exactly_one_window_old_stays(replay_exe):
    config = RecognizerConfig(average_window_ms=1000, minimum_count=1, detection_threshold=255)
    stream = [(0, frame(yes=100)), (1000 * MS, frame(yes=0)), (1000 * MS + 1, frame(yes=0))]
    r = both(replay_exe, config, stream)
    assert r[1].count == 2 and r[1].score == 50      # age exactly 1,000,000 us: kept
    assert r[2].count == 2                           # age 1,000,001 us: dropped


def test_suppression_covers_every_label_and_ends(replay_exe):
    config = RecognizerConfig(average_window_ms=100, minimum_count=1, suppression_ms=1500)
    stream = [(0, frame(yes=250)), (30 * MS, frame(yes=250))]
    stream += [(t * MS, frame(no=250)) for t in range(1000, 1531, 10)] + [(1531 * MS, frame(no=250))]
    r = both(replay_exe, config, stream)
    hits = [i for i, x in enumerate(r) if x.detected]
    # "yes" at 30 ms; "no" is on top from 1,010 ms on but suppressed through 1,530 ms (exactly
    # 1,500 ms later); detected at 1,531 ms.
    assert hits == [1, len(stream) - 1]
    assert r[-2].label == 3 and r[-2].score == 250 and r[-1].label == 3


def test_silence_and_unknown_are_never_detected(replay_exe):
    stream = [(t * 100 * MS, frame(silence=255)) for t in range(8)]
    stream += [(t * 100 * MS, frame(unknown=255)) for t in range(8, 40)]
    r = both(replay_exe, DEFAULT, stream)
    assert not any(x.detected for x in r)
    assert r[-1].label == 1 and r[-1].score == 255


def test_a_gap_longer_than_the_window_restarts_the_average(replay_exe):
    config = RecognizerConfig(minimum_count=2)
    stream = [(t * 100 * MS, frame(no=250)) for t in range(5)]
    stream += [(1500 * MS, frame(yes=250)), (1800 * MS, frame(yes=250))]
    r = both(replay_exe, config, stream)
    assert r[5] == Recognition(-1, 0, False, 1)       # the old results are gone, one is too few
    assert r[6].label == 2 and r[6].count == 2


def test_a_clock_going_backwards_restarts_instead_of_freezing(replay_exe):
    config = RecognizerConfig(minimum_count=1, suppression_ms=1500)
    stream = [(10_000 * MS + t * 100 * MS, frame(yes=250)) for t in range(4)]
    stream += [(5_000 * MS + t * 100 * MS, frame(yes=250)) for t in range(4)]
    r = both(replay_exe, config, stream)
    assert r[3].detected
    assert r[4].count == 1                             # queue restarted at the backwards step
    assert r[7].detected                               # and suppression ended: it did not freeze


def test_the_queue_holds_at_most_max_results(replay_exe):
    config = RecognizerConfig(average_window_ms=600_000, minimum_count=MAX_RESULTS, detection_threshold=255)
    stream = [(t * 20 * MS, frame(yes=t % 256)) for t in range(200)]
    r = both(replay_exe, config, stream)
    assert max(x.count for x in r) == MAX_RESULTS
    assert r[MAX_RESULTS - 2].label == -1 and r[MAX_RESULTS - 1].label != -1
    # the last 64 results, oldest dropped first: scores 136..199 -> mean 167 (floor)
    assert r[-1].score == sum(range(136, 200)) // 64


def test_config_validation_matches_the_c_limits():
    RecognizerConfig.from_deploy(DeployConfig()).validate()
    assert RecognizerConfig.from_deploy(DeployConfig()) == RecognizerConfig()
    for bad in (dict(average_window_ms=600_001), dict(suppression_ms=-1), dict(detection_threshold=256),
                dict(minimum_count=MAX_RESULTS + 1)):
        with pytest.raises(ConfigError):
            Recognizer(RecognizerConfig(**bad), LABELS)
    with pytest.raises(ConfigError, match="labels"):
        Recognizer(DEFAULT, 41)
    with pytest.raises(ValueError, match="int8"):
        Recognizer(DEFAULT, LABELS).process([0, 0, 0, 200], 0)


# ------------------------------------------------------------------------------ generated streams

def generated_stream(seed: int, n: int, start_us: int = 0) -> list[tuple[int, list[int]]]:
    """Posteriors that drift and burst like a real model's, at a 20 ms cadence with jitter, repeats,
    occasional long gaps and backwards steps."""
    rng = np.random.default_rng(seed)
    t = start_us
    logits = np.zeros(4)
    stream = []
    for i in range(n):
        logits = 0.85 * logits + rng.normal(0, 0.9, 4)
        if rng.random() < 0.02:
            logits[rng.integers(0, 4)] += rng.uniform(4, 9)  # a "word"
        p = np.exp(logits - logits.max())
        p /= p.sum()
        scores = np.clip(np.round(p * 256) - 128, -128, 127).astype(int).tolist()
        stream.append((t & 0xFFFFFFFF, scores))
        step = rng.choice([20_000, 20_000, 20_000, 19_999, 20_001, 0, 300_000, 1_200_000, -40_000],
                          p=[0.5, 0.15, 0.15, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01])
        t += int(step)
    return stream


@pytest.mark.parametrize("config", [
    DEFAULT,
    RecognizerConfig(average_window_ms=500, suppression_ms=300, minimum_count=1, detection_threshold=150),
    RecognizerConfig(average_window_ms=0, suppression_ms=0, minimum_count=0, detection_threshold=0),
    RecognizerConfig(average_window_ms=3000, suppression_ms=2000, minimum_count=10, detection_threshold=120),
], ids=["tflm-defaults", "eager", "no-window", "long-window"])
def test_c_and_python_agree_on_generated_streams(config, replay_exe):
    for seed in range(3):
        stream = generated_stream(seed, 4000, start_us=seed * 1_234_567)
        r = both(replay_exe, config, stream)
        assert sum(x.label >= 0 for x in r) > 0


# ------------------------------------------------------------------------------------------ wrap

def test_a_stream_across_the_2_32_us_wrap_detects_exactly_as_one_that_does_not(replay_exe):
    base = generated_stream(11, 6000)  # 2 minutes at 20 ms (no gaps: shift the times only)
    times = [i * 20_000 for i in range(len(base))]
    plain = [(t, s) for t, (_, s) in zip(times, base)]
    start = WRAP - 60_000_000  # one minute before the wrap at ~71.6 minutes
    wrapped = [((start + t) & 0xFFFFFFFF, s) for t, s in plain]
    assert wrapped[0][0] > wrapped[-1][0], "the stream must cross the wrap"
    config = RecognizerConfig(minimum_count=3, detection_threshold=120)
    r_plain = both(replay_exe, config, plain)
    r_wrapped = both(replay_exe, config, wrapped)
    assert r_plain == r_wrapped
    hits = [i for i, x in enumerate(r_plain) if x.detected]
    assert any(i < 3000 for i in hits) and any(i > 3000 for i in hits), "detections on both sides of the wrap"


@pytest.mark.parametrize("detect_before_wrap_ms", [1, 200, 1499])
def test_suppression_runs_across_the_wrap_for_exactly_its_length(replay_exe, detect_before_wrap_ms):
    """A detection just before the 2^32 us wrap: "yes" stays on top every 10 ms through the wrap, and the
    next detection comes exactly when 1,500 ms have passed (the first result more than 1,500 ms after
    the last detection), on the far side of the wrap; not at the wrap (a signed or widened difference
    would end the suppression there) and not never (a comparison of raw times would block it for 71.6
    minutes)."""
    config = RecognizerConfig(average_window_ms=100, minimum_count=1, suppression_ms=1500)
    plain = [(0, frame(yes=250)), (30 * MS, frame(yes=250))]    # detected at 30 ms (span 30 >= 100 / 4)
    plain += [(t * 10 * MS, frame(yes=250)) for t in range(4, 300)]
    shift = WRAP - 30 * MS - detect_before_wrap_ms * MS       # the detection lands this long before the wrap
    wrapped = [((t + shift) & 0xFFFFFFFF, s) for t, s in plain]
    r_plain, r_wrapped = both(replay_exe, config, plain), both(replay_exe, config, wrapped)
    assert r_plain == r_wrapped
    hits = [i for i, x in enumerate(r_wrapped) if x.detected]
    assert [plain[i][0] for i in hits[:2]] == [30 * MS, 1540 * MS]  # 1,510 ms later: the first result past 1,500
    assert wrapped[hits[1]][0] < wrapped[hits[0]][0], "the suppression must cross the wrap"


def test_detections_keep_coming_over_several_wraps(replay_exe):
    """3.6 hours at one inference per 100 ms (three wraps of the us clock, and past where a signed
    32-bit microsecond clock would go negative): a keyword every 10 s is detected every time."""
    period = 100  # results per keyword
    n = 130_000
    stream = []
    for i in range(n):
        yes = 250 if i % period < 8 else 0
        stream.append(((i * 100_000) & 0xFFFFFFFF, frame(yes=yes, silence=255 - yes)))
    config = RecognizerConfig(average_window_ms=500, minimum_count=2, detection_threshold=200, suppression_ms=1500)
    keywords = (False, False, True, True)
    c = c_replay(replay_exe, config, keywords, stream)
    hits = [i for i, x in enumerate(c) if x.detected]
    assert len(hits) == n // period
    # The first burst has no silence before it in the window, so it is detected sooner.
    assert hits[0] == 2 and all(h % period == 4 for h in hits[1:])
    assert detections(config, LABELS, stream[:30_000]) == [(i, stream[i][0], 2, c[i].score) for i in hits if i < 30_000]


# --------------------------------------------------------------------------- recorded on the device

def test_detections_of_the_device_equal_the_python_replay_of_its_scores(real_clips_1s, c_build):
    """The app on a fake board (echo model: scores = first values of the newest feature frame) runs on
    real speech; the SCORES it reports, replayed through kws.recognizer, give exactly its DETECTIONs."""
    from kws.device import protocol as P

    exe = c_build("app_pipe", sanitize="auto")
    labels = ("k0", "k1", "k2", "k3")  # all keywords: any top label may be detected
    params = P.Params(average_window_ms=600, suppression_ms=800, minimum_count=3, detection_threshold=60)
    messages = [P.Hello(), P.SetParams(params), P.Reset(stream_time_us=WRAP - 4_000_000)]
    stream = real_clips_1s.ravel()
    messages += [P.Audio.from_samples(stream[i:i + 777]) for i in range(0, stream.size, 777)]
    run = subprocess.run([str(exe), "--labels", ",".join(labels)], input=P.encode_messages(messages),
                         capture_output=True, env={**os.environ, **SANITIZER_ENV}, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    out = P.decode_stream(run.stdout)
    scores = [m for m in out if isinstance(m, P.Scores)]
    device = [(m.inference, m.time_us, m.label, m.score) for m in out if isinstance(m, P.Detection)]
    assert len(scores) == 1 + (stream.size - 512) // 320 - 48
    assert sum(b.time_us < a.time_us for a, b in zip(scores, scores[1:])) == 1, "must cross the wrap once"
    config = RecognizerConfig(params.average_window_ms, params.suppression_ms, params.minimum_count,
                              params.detection_threshold)
    python = detections(config, labels, [(m.time_us, list(m.scores)) for m in scores])
    assert len(device) >= 2, "the recorded stream should contain detections"
    assert [(scores[i].inference, t, label, score) for i, t, label, score in python] == device


@pytest.fixture(scope="module")
def real_clips_1s(sc_real_dev: Path) -> np.ndarray:
    """Eight real clips (int16, 1 s each) of different words."""
    from kws.data.audio import fit_length, load_audio, to_int16

    clips = []
    for word in ("yes", "no", "up", "down", "left", "right", "on", "off"):
        path = sorted((sc_real_dev / word).glob("*.wav"))[0]
        clips.append(to_int16(fit_length(load_audio(path, 16000)[0], 16000)))
    return np.stack(clips)
