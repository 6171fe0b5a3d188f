"""A pure-Python model of the device's recognizer (firmware/core/kws_recognizer.c), step for step.

    from kws.recognizer import Recognizer, RecognizerConfig
    rec = Recognizer(RecognizerConfig.from_deploy(config.deploy), labels=("_silence_", "_unknown_", "yes", "no"))
    for t_us, scores in stream:                 # raw int8 model outputs, uint32 microsecond times
        r = rec.process(scores, t_us)
        if r.detected:
            print(labels[r.label], r.score)

It is the reference the C code is tested against (tests/test_recognizer.py: identical results on
recorded and generated score streams, incl. across the 2^32 us wrap) and what on-host calibration
and evaluation use to predict what the board will report. The semantics (kws_recognizer.h has the
same list):
 1. if the queue is not empty and (now - newest) mod 2^32 > window_us, empty it (gap or clock going
    backwards);
 2. push (now, s + 128 per label), dropping the oldest first when max_results are queued;
 3. drop results with (now - t) mod 2^32 > window_us;
 4. end a running suppression once (now - last detection) mod 2^32 > suppression_us;
 5. no decision (label -1, score 0) with fewer than minimum_count results, or with a span
    (now - oldest) below window_us // 4 unless the queue is full (a long window at a fast cadence
    could otherwise never decide);
 6. avg = sum // count per label; top = first maximum;
 7. detected when top is a keyword (name not starting with '_'), avg > threshold and no suppression
    is running; a detection starts suppression of every label for suppression_ms.
Differences from TFLM's RecognizeCommands: wrap-safe uint32 us time instead of int32 ms, a backwards
clock restarts instead of erroring, the full queue drops its oldest (not the newest) result,
_silence_/_unknown_ are never detected, and suppression covers every label, not only a repeat.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Sequence

from kws.config import REC_MAX_MS, REC_MAX_RESULTS, ConfigError, RecognizerSettings

MAX_RESULTS = REC_MAX_RESULTS
"""KWS_REC_MAX_RESULTS: results the C queue holds."""
MAX_MS = REC_MAX_MS
"""KWS_REC_MAX_MS: longest window or suppression the C code accepts (keeps intervals below 2^31 us)."""
MAX_LABELS = 40
"""KWS_MAX_LABELS of kws_model.h."""
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class RecognizerConfig(RecognizerSettings):
    """kws_recognizer_config: the recognizer settings plus the queue capacity of the firmware build."""

    max_results: int = MAX_RESULTS
    """Queue capacity; must equal the firmware's KWS_REC_MAX_RESULTS to predict it exactly."""

    @classmethod
    def from_deploy(cls, deploy: RecognizerSettings) -> "RecognizerConfig":
        """The recognizer of a run's deploy section (or of any RecognizerSettings)."""
        return cls(**dataclasses.asdict(deploy.recognizer_settings()))

    def validate(self) -> None:
        """Raise ConfigError where the C recognizer would refuse the value (kws_recognizer_check_config)."""
        if not 1 <= self.max_results <= 0xFFFF:
            raise ConfigError(f"recognizer max_results must be in 1..65535, got {self.max_results}")
        self.check_recognizer("recognizer ", self.max_results)


@dataclass(frozen=True)
class Recognition:
    """kws_recognition: the result of one process() call."""

    label: int
    """Top label of the average, -1 without a decision."""
    score: int
    """Its average score 0..255 (0 without a decision)."""
    detected: bool
    """A new detection."""
    count: int
    """Results in the averaging window."""


def keyword_mask(labels: Sequence[str]) -> tuple[bool, ...]:
    """Which labels may be detected: those whose name does not start with '_'."""
    return tuple(not label.startswith("_") for label in labels)


class Recognizer:
    """The C recognizer's state machine over Python ints (see the module docstring)."""

    def __init__(self, config: RecognizerConfig, labels: Sequence[str] | int,
                 keywords: Sequence[bool] | None = None) -> None:
        config.validate()
        if isinstance(labels, int):
            num_labels = labels
            mask = tuple(keywords) if keywords is not None else (True,) * num_labels
        else:
            num_labels = len(labels)
            mask = tuple(keywords) if keywords is not None else keyword_mask(labels)
        if not 1 <= num_labels <= MAX_LABELS:
            raise ConfigError(f"the recognizer handles 1..{MAX_LABELS} labels, got {num_labels}")
        if len(mask) != num_labels:
            raise ConfigError(f"keywords has {len(mask)} entries for {num_labels} labels")
        self.config = config
        self.num_labels = num_labels
        self.keywords = tuple(bool(k) for k in mask)
        self._queue: deque[tuple[int, tuple[int, ...]]] = deque()
        self._sums = [0] * num_labels
        self._suppressing = False
        self._last_detection_us = 0

    def reset(self) -> None:
        """Forget every result and any running suppression (kws_recognizer_reset)."""
        self._queue.clear()
        self._sums = [0] * self.num_labels
        self._suppressing = False
        self._last_detection_us = 0

    def _drop_oldest(self) -> None:
        _, scores = self._queue.popleft()
        for i, s in enumerate(scores):
            self._sums[i] -= s

    def process(self, scores: Sequence[int], now_us: int) -> Recognition:
        """One inference's raw int8 scores (num_labels of them) at uint32 time now_us."""
        if len(scores) != self.num_labels:
            raise ValueError(f"expected {self.num_labels} scores, got {len(scores)}")
        now = int(now_us) & _U32
        window_us = self.config.average_window_ms * 1000
        suppression_us = self.config.suppression_ms * 1000
        shifted = tuple(int(s) + 128 for s in scores)
        if any(not 0 <= s <= 255 for s in shifted):
            raise ValueError(f"scores must be int8, got {list(scores)}")

        # 1. gap longer than the window, or a clock that went backwards
        if self._queue and (now - self._queue[-1][0]) & _U32 > window_us:
            self._queue.clear()
            self._sums = [0] * self.num_labels
        # 2. push, oldest out first when full
        if len(self._queue) == self.config.max_results:
            self._drop_oldest()
        self._queue.append((now, shifted))
        for i, s in enumerate(shifted):
            self._sums[i] += s
        # 3. prune
        while (now - self._queue[0][0]) & _U32 > window_us:
            self._drop_oldest()
        count = len(self._queue)
        # 4. end of suppression
        if self._suppressing and (now - self._last_detection_us) & _U32 > suppression_us:
            self._suppressing = False
        # 5. enough evidence?
        span = (now - self._queue[0][0]) & _U32
        if count < self.config.minimum_count or (span < window_us // 4 and count < self.config.max_results):
            return Recognition(-1, 0, False, count)
        # 6. average, first maximum
        averages = [s // count for s in self._sums]
        top = max(range(self.num_labels), key=lambda i: (averages[i], -i))
        score = averages[top]
        # 7. detection
        detected = self.keywords[top] and score > self.config.detection_threshold and not self._suppressing
        if detected:
            self._suppressing = True
            self._last_detection_us = now
        return Recognition(top, score, detected, count)


def replay(config: RecognizerConfig, labels: Sequence[str] | int, stream: Iterable[tuple[int, Sequence[int]]],
           keywords: Sequence[bool] | None = None) -> list[Recognition]:
    """Every result of a fresh recognizer over (now_us, scores) pairs."""
    rec = Recognizer(config, labels, keywords)
    return [rec.process(scores, t) for t, scores in stream]


def detections(config: RecognizerConfig, labels: Sequence[str] | int, stream: Iterable[tuple[int, Sequence[int]]],
               keywords: Sequence[bool] | None = None) -> list[tuple[int, int, int, int]]:
    """(index in the stream, now_us, label, score) of every detection."""
    rec = Recognizer(config, labels, keywords)
    out = []
    for index, (t, scores) in enumerate(stream):
        r = rec.process(scores, t)
        if r.detected:
            out.append((index, int(t) & _U32, r.label, r.score))
    return out
