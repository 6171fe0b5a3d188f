"""The KWS firmware on the Cortex-M4 board in real time: a microphone paced by the board's clock and a model
slower than real time. Every poll then runs an inference, yet typed commands and frames are answered, and
the audio the microphone's ring loses is counted and reported (kws_app.h: KWS_APP_POLL_SAMPLES,
kws_app_audio_overrun).

    .venv/bin/python -m pytest -q tests/test_m4_realtime.py

Build defines (firmware/mps2_an386): KWS_M4_MIC=1 (16 kHz synthetic audio captured as SysTick passes, in
a ring of KWS_M4_MIC_RING samples that loses its oldest when the core falls behind) and
KWS_M4_FAKE_MODEL_US (the fake model waits until that much board time has passed). QEMU runs with
-icount shift=4: one instruction is 16 ns, a 62.5 MHz Cortex-M4 at one instruction per cycle.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from m4_support import require_m4

from kws.config import FrontendConfig
from kws.device import m4
from kws.device import protocol as P
from kws.device.link import BoardLink

CFG = FrontendConfig()
MODEL_US = 30_000  # 1.5 times the 20 ms of audio between inferences
RING = 1024        # 64 ms, a PDM driver's DMA ring
ICOUNT_SHIFT = 4
PREFIX = "audio overrun: dropped samples total "


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    require_m4()
    defines = {"KWS_M4_MIC": 1, "KWS_M4_MIC_RING": RING, "KWS_M4_FAKE_MODEL_US": MODEL_US}
    with m4.M4Board(CFG, defines=defines, icount_shift=ICOUNT_SHIFT,
                    build_dir=tmp_path_factory.mktemp("m4_realtime")) as running:
        yield running


def read_until(link: BoardLink, needle: str, timeout: float) -> str:
    """Text the board prints until `needle` has appeared (or `timeout` s pass)."""
    text, deadline = "", time.monotonic() + timeout
    while needle not in text and time.monotonic() < deadline:
        text += link.read_text(0.1)
    return text


def test_text_mode_reports_dropped_audio_and_answers_typed_commands(board):
    """After boot the board listens: the model falls behind, the ring overruns, a LOG line says how much
    audio was lost; "info" typed meanwhile is answered."""
    with BoardLink.open(board.port, timeout=10.0) as link:
        text = read_until(link, PREFIX, 30.0)
        assert f"LOG {PREFIX}" in text, text[-500:]
        link.send_raw(b"info\r\n")
        text = read_until(link, "recognizer window_ms=", 10.0)
        assert "firmware 0.1.0 board mps2-an386 protocol 1" in text, text[-500:]
    board.check()


def collect(link: BoardLink, seconds: float, *, logs: int, scores: int) -> list[P.Message]:
    """Board messages for up to `seconds`, stopping early once there are enough LOG and SCORES frames."""
    got: list[P.Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got += [m for m in link.poll(0.2) if isinstance(m, P.Message)]
        if sum(isinstance(m, P.Log) for m in got) >= logs and sum(isinstance(m, P.Scores) for m in got) >= scores:
            break
    return got


def test_a_binary_session_on_the_live_microphone_stays_responsive(board):
    """HELLO, SET_PARAMS (listen to the microphone), RESET and BYE are answered although every poll runs a
    30 ms inference; TIMING shows the slow model, LOG frames report the lost audio, and stream time
    counts it (SCORES times advance by the ~31 ms of board time per inference, not the 20 ms used)."""
    with BoardLink.open(board.port, timeout=10.0) as link:
        assert link.hello().board == "mps2-an386"
        link.set_params(P.Params(flags=int(P.Flag.LIVE_AUDIO | P.Flag.SCORES | P.Flag.TIMING)))
        link.reset()
        got = collect(link, 30.0, logs=2, scores=100)
        link.bye()
    board.check()
    timings = [m for m in got if isinstance(m, P.Timing)]
    scores = [m for m in got if isinstance(m, P.Scores)]
    logs = [m for m in got if isinstance(m, P.Log)]
    assert len(scores) >= 100 and len(logs) >= 2, [type(m).__name__ for m in got][-20:]
    assert all(MODEL_US <= t.invoke_us < MODEL_US + 200 and t.frames <= 1 for t in timings[1:])
    assert [s.inference for s in scores] == list(range(scores[0].inference, scores[0].inference + len(scores)))
    assert all(m.level == P.LogLevel.WARNING and m.text.startswith(PREFIX) for m in logs)
    totals = [int(m.text[len(PREFIX):]) for m in logs]
    assert totals[0] > 0 and all(b - a >= 16000 for a, b in zip(totals, totals[1:]))
    step = np.diff([s.time_us for s in scores[1:]]).mean()
    assert 28_000 < step < 36_000, step
    print(f"\nM4 realtime: {len(scores)} inferences, {step / 1000:.1f} ms of audio each (20 used, the rest "
          f"lost), overrun reports {totals}")
