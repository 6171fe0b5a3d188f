"""The KWS firmware's stacks on the Cortex-M4 board: sized to the deepest use measured plus a margin
(kws.device.m4.FIRMWARE_STACK_BYTES), checked here on a worst-case session, read from the running board's paint.

    .venv/bin/python -m pytest -q tests/test_m4_stack.py      # -s prints the high-water marks

The worst case: typed commands in text mode, HELLO (INFO), SET_PARAMS, RESET, a clip as AUDIO (frontend and an
inference), FEATURES (inferences, and with the fake model a detection), a frame with a bad CRC (NAK), a false
header, BYE. The high-water mark is what m4_stack_high_water() computes on the board, read by the host through
QEMU (the first test checks the two agree on a program of known depth).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from m4_support import key_values, require_m4

from kws.config import FrontendConfig
from kws.device import m4
from kws.device.link import BoardLink

MARGIN = 1024
"""What the measured worst case must leave free (kws.device.m4.FIRMWARE_STACK_BYTES says why)."""


def worst_case_session(board: m4.M4Board, features: np.ndarray) -> int:
    """Runs kws.device.m4.worst_case_session on `board`; the detections it reported."""
    clip = (np.random.default_rng(0).standard_normal(16000) * 3000).astype(np.int16)
    audio, result = m4.worst_case_session(board.port, clip, features, timeout=10.0)
    assert len(audio.scores) == 1 and len(result.scores) == features.shape[0] - 48
    return len(result.detections)


def check(board: m4.M4Board, what: str, labels: int = 4) -> m4.StackUse:
    use = board.stack_use()
    board.check()
    print(f"\n{what}: thread stack {use.used:,} of {use.reserved:,} B, handler stack {use.handler_used:,} of "
          f"{use.handler_reserved:,} B")
    assert (use.reserved, use.handler_reserved) == (m4.firmware_stack_bytes(labels), m4.FIRMWARE_HANDLER_STACK_BYTES)
    assert 0 < use.used and use.used + MARGIN <= use.reserved
    assert use.handler_used + 256 <= use.handler_reserved
    return use


def test_the_host_reads_the_paint_as_the_board_does(tmp_path):
    require_m4()
    elf = m4.build_elf([m4.BOARD_DIR / "tests" / "stack_depth.c"], defines={"DEPTH": 1000}, out_dir=tmp_path)
    with m4.M4Board(elf=elf) as board, BoardLink.open(board.port, timeout=10.0) as link:
        link.send_raw(b"?")  # the program prints only then: what it wrote before the pty was open would be lost
        deadline, text = time.monotonic() + 10, ""
        while not re.search(r"size=\d+\s*!?\r\n", text) and time.monotonic() < deadline:
            text += link.read_text(0.2)
        on_board = key_values(text)
        use = board.stack_use()
    assert use.used == on_board["high_water"] and use.reserved == on_board["size"] == 16 * 1024  # the ld default
    assert 1000 < use.used < 1200


@pytest.mark.parametrize("labels", [4, 40])
def test_fake_model_worst_case_leaves_the_margin(labels, tmp_path):
    """With 4 labels and with 40 (the stack grows with them: kws_msg holds a slot per label), and the firmware's
    RAM: the recognizer's queue and the transmit buffer grow with the labels too, nothing else does."""
    require_m4()
    frame = np.zeros(40, dtype=np.int8)
    frame[3::5], frame[4::5] = 127, -128  # the fake model scores label 2 at 127 (tests/test_m4_board.py)
    names = ("_silence_", "_unknown_", *(f"word{i}" for i in range(labels - 2)))
    with m4.M4Board(FrontendConfig(), labels=names, build_dir=tmp_path) as board:
        assert worst_case_session(board, np.tile(frame, (49 + 30, 1))) >= 1  # the detection path ran too
        check(board, f"fake model, {labels} labels", labels)
        report = m4.size_report(board.elf)
    print(f"{labels} labels: {report.summary()}")
    assert report.ram_used <= (19 * 1024 if labels == 4 else 23 * 1024)


def test_compiled_model_worst_case_leaves_the_margin(tiny_export: Path, tmp_path):
    require_m4()
    from kws.compile import compile_tflite
    from kws.run import Run

    run = Run.at(tiny_export)
    compile_tflite(run.export_model, tmp_path / "aot")
    features = np.random.default_rng(1).integers(-128, 128, (49 + 4, 40), dtype=np.int8)
    with m4.M4Board(FrontendConfig(), backend="aot", settings_dir=run.generated_dir, aot_dir=tmp_path / "aot",
                    build_dir=tmp_path / "build") as board:
        worst_case_session(board, features)
        check(board, "tiny aot-c model (DSP kernels)")
