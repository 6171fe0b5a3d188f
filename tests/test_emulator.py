"""The emulated board: identity over HELLO/INFO, scores bit-exact with TFLite's reference kernels on real clips
(fed as FEATURES and as AUDIO), the link's resends and errors, `kws monitor` and `kws emulate` end to end.

    .venv/bin/python -m pytest tests/test_emulator.py -q

The model is tests/tiny_export.py's (conftest `tiny_export`); the clips are real Speech Commands test
clips (conftest `sc_real_dev`). Every emulator is stopped and every port closed by a context manager.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import sigint_ignored

from kws.config import load_config
from kws.device import protocol as P
from kws.device.emulator import Emulator, EmulatorProcess
from kws.device.link import BoardLink, LinkTimeout, PortError, PortPermissionError

REPO = Path(__file__).resolve().parents[1]
CLIPS_PER_LABEL = 3


@pytest.fixture(scope="module")
def clips(sc_real_dev) -> tuple[list[str], np.ndarray]:
    """(names, int16 [n, 16000]): the first clips of every label folder of the real test set, padded to 1 s."""
    from kws.data.audio import fit_length, load_audio, to_int16

    names, audio = [], []
    for folder in sorted(p for p in sc_real_dev.iterdir() if p.is_dir()):
        for wav in sorted(folder.glob("*.wav"))[:CLIPS_PER_LABEL]:
            names.append(f"{folder.name}/{wav.name}")
            audio.append(to_int16(fit_length(load_audio(wav, 16000)[0], 16000)))
    assert len({n.split("/")[0] for n in names}) == 12, "all twelve labels, _silence_ and _unknown_ included"
    return names, np.stack(audio)


@pytest.fixture(scope="module")
def reference_features(tiny_export, clips) -> np.ndarray:
    """int8 [n, 49, 40]: kws.frontend's reference features of the clips (the definition)."""
    from kws.frontend import reference_features_int8

    cfg = load_config(tiny_export / "config.toml").frontend
    return np.stack([reference_features_int8(a, cfg) for a in clips[1]])


def reference_scores(tiny_export: Path, features: np.ndarray) -> np.ndarray:
    """tf.lite.Interpreter with OpResolverType.BUILTIN_REF (export/tflm_check.py), one clip at a time."""
    from export.tflm_check import reference_outputs

    return reference_outputs((tiny_export / "export" / "model_int8.tflite").read_bytes(), features)


def tflm_scores(tiny_export: Path, features: np.ndarray) -> np.ndarray:
    """The tflite-micro interpreter called directly (export/tflm_check.py) in the export's arena."""
    from export.tflm_check import tflm_outputs

    arena = json.loads((tiny_export / "export" / "parity.json").read_text())["arena"]["size"]
    return tflm_outputs((tiny_export / "export" / "model_int8.tflite").read_bytes(), features, arena)


@pytest.fixture
def board(tiny_export, core_build_dir):
    with Emulator(tiny_export, build_dir=core_build_dir, record_inputs=True) as emulator:
        yield emulator


# ------------------------------------------------------------------------------------------ identity

def test_hello_is_answered_with_the_exports_identity(board, tiny_export):
    config = load_config(tiny_export / "config.toml")
    model = (tiny_export / "export" / "model_int8.tflite").read_bytes()
    parity = json.loads((tiny_export / "export" / "parity.json").read_text())
    with BoardLink.open(board.port) as link:
        info = link.hello()
    assert info.model_sha256 == hashlib.sha256(model).hexdigest() == parity["model_sha256"]
    assert info.labels == config.data.labels() == ("_silence_", "_unknown_", "yes", "no")
    assert info.arena_bytes == parity["arena"]["size"]
    assert info.frontend_hash == config.frontend.spec_hash()
    assert (info.board, info.backend, info.firmware_version) == ("host", "tflite-micro-py", "0.1.0")
    assert (info.input_scale, info.input_zero_point) == (np.float32(0.1), 10)
    assert (info.output_scale, info.output_zero_point) == (1 / 256, -128)
    deploy = config.deploy
    assert (info.params.average_window_ms, info.params.detection_threshold, info.params.suppression_ms,
            info.params.minimum_count) == (deploy.average_window_ms, deploy.detection_threshold,
                                           deploy.suppression_ms, deploy.minimum_count)


def test_text_mode_info_and_a_board_left_in_binary_mode_both_handshake(board):
    with BoardLink.open(board.port) as link:
        link.send_raw(b"\r\ninfo\r\n")
        text = link.read_text(0.5)
        assert "firmware 0.1.0 board host protocol 1" in text and "labels _silence_,_unknown_,yes,no" in text
        link.hello()
        link._binary = False  # a crashed host: the port closes without BYE, the board stays in binary mode
    assert board.stats()["link_frames"] >= 1
    with BoardLink.open(board.port) as link:
        assert link.hello().board == "host"  # HELLO works in binary mode too (stale output is skipped)


# ------------------------------------------------------------------------------------------ parity

def test_features_fed_to_the_board_score_exactly_as_the_reference_kernels(board, tiny_export, reference_features):
    expected = reference_scores(tiny_export, reference_features)
    got = []
    with BoardLink.open(board.port) as link:
        link.hello()
        for q in reference_features:
            result = link.reset()
            result.merge(link.feed_features(q))
            assert len(result.scores) == 1 and result.count == 49
            got.append(result.scores[0].scores)
    got = np.array(got, dtype=np.int8)
    # Bit for bit, no tolerance: the emulated board is TFLM (always), and on these clips TFLM equals
    # TFLite's reference kernels. (Not on every clip: over all 2,748 clips of sc-real-dev, 5 differ by 1 LSB
    # in the per-channel FULLY_CONNECTED output between tflite-micro and BUILTIN_REF, for this model.)
    np.testing.assert_array_equal(got, tflm_scores(tiny_export, reference_features))
    np.testing.assert_array_equal(got, expected)
    assert len({tuple(row) for row in got}) > len(got) // 2, "scores vary from clip to clip"
    np.testing.assert_array_equal(np.stack(board.inputs), reference_features)


def test_audio_scores_match_the_reference_on_the_boards_own_features_and_on_the_reference_features(
        board, tiny_export, clips, reference_features):
    names, audio = clips
    got, timings = [], []
    with BoardLink.open(board.port) as link:
        link.hello()
        for pcm in audio:
            result = link.run_clip(pcm)
            assert len(result.scores) == 1 and result.count == pcm.size  # one inference per 1 s clip
            got.append(result.scores[0].scores)
            timings.append(result.timings[0])
    got = np.array(got, dtype=np.int8)
    board_features = np.stack(board.inputs)
    # The board's model, on the features the board itself computed (the C frontend): bit for bit.
    np.testing.assert_array_equal(got, reference_scores(tiny_export, board_features))
    # The C frontend vs the float64 definition on these clips, and the scores that follow from it.
    equal = float(np.mean(board_features == reference_features))
    print(f"\nemulator AUDIO parity on {len(names)} real clips: features {equal:.6%} equal int8 for int8, "
          f"scores equal to BUILTIN_REF on reference features for "
          f"{np.mean(np.all(got == reference_scores(tiny_export, reference_features), axis=1)):.0%} of clips")
    assert equal >= 0.999  # the C frontend's documented parity (firmware/core/README.md): >= 99.9 %, here 100 %
    np.testing.assert_array_equal(got, reference_scores(tiny_export, reference_features))
    assert all(t.frames == 49 and t.frontend_us > 0 for t in timings)


# ------------------------------------------------------------------------------------------ the link

def test_a_corrupted_chunk_is_resent_after_nak_and_a_lost_one_after_the_timeout(board, clips, tiny_export):
    pcm = clips[1][0]
    hits = {"corrupt": 0, "drop": 0}

    def tamper(frame: bytes, attempt: int) -> bytes:
        seq = int.from_bytes(frame[3:5], "little")
        if frame[2] == P.MsgType.AUDIO and attempt == 0 and seq == 4:
            hits["corrupt"] += 1
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])  # bad CRC: NAK(BAD_CRC), resent
        if frame[2] == P.MsgType.AUDIO and attempt == 0 and seq == 9:
            hits["drop"] += 1
            return b""  # lost on the way: no answer, resent after the timeout
        return frame

    with BoardLink.open(board.port, timeout=0.3, tamper=tamper) as link:
        link.hello()
        result = link.run_clip(pcm)
        stats = link.stats
    assert hits == {"corrupt": 1, "drop": 1}
    assert result.resends == 2 and stats.naks == 1 and stats.timeouts == 1 and stats.lost_board_frames == 0
    assert result.count == pcm.size and len(result.scores) == 1  # every sample processed exactly once
    from kws.frontend import reference_features_int8

    expected = reference_scores(tiny_export, reference_features_int8(pcm, load_config(tiny_export / "config.toml")
                                                                     .frontend)[None])
    assert result.scores[0].scores == tuple(expected[0])


def test_link_errors_name_the_port_and_the_fix(tmp_path, monkeypatch):
    with pytest.raises(PortError, match=r"/dev/ttyKWS-missing does not exist: is the board plugged in"):
        BoardLink.open("/dev/ttyKWS-missing")
    import serial

    def denied(*args, **kwargs):
        raise serial.SerialException(errno.EACCES, "could not open port /dev/ttyACM0: [Errno 13] Permission denied")

    monkeypatch.setattr(serial, "Serial", denied)
    monkeypatch.setattr(os.path, "exists", lambda path: True)
    with pytest.raises(PortPermissionError, match=r"no permission to open /dev/ttyACM0: .*dialout"):
        BoardLink.open("/dev/ttyACM0")


def test_a_silent_port_times_out_naming_what_was_awaited():
    master, slave = os.openpty()  # a serial line with nothing behind it
    try:
        os.write(master, b"some boot noise\r\n")
        with BoardLink.open(os.ttyname(slave), timeout=0.2, retries=1) as link:
            with pytest.raises(LinkTimeout, match=r"no INFO in answer to HELLO after 2 attempts of 0.2 s"):
                link.hello()
    finally:
        os.close(master)
        os.close(slave)


# ------------------------------------------------------------------------------------------ monitor, emulate

def yes_clips(sc_real_dev: Path, n: int = 6) -> list[Path]:
    return sorted((sc_real_dev / "yes").glob("*.wav"))[:n]


def test_kws_monitor_prints_detections_from_the_emulator(tiny_export, core_build_dir, sc_real_dev):
    from kws.device.emulator import load_mic

    mic = load_mic(yes_clips(sc_real_dev))
    with Emulator(tiny_export, build_dir=core_build_dir, mic=mic, loop_mic=True, realtime=True) as board:
        run = subprocess.run([sys.executable, "-m", "kws", "monitor", "--port", board.port, "--count", "2",
                              "--duration", "40"], capture_output=True, text=True, timeout=90, cwd=REPO)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any("firmware 0.1.0 board host" in line for line in lines)  # the identity (typed `info`)
    detections = [line for line in lines if " DETECT " in line]
    assert len(detections) == 2
    for line in detections:  # "12:04:31.207  DETECT yes        score=231  device_t=12.340s"
        fields = line.split()
        assert fields[1] == "DETECT" and fields[2] in ("yes", "no") and fields[3].startswith("score=")
        assert fields[4].startswith("device_t=") and float(fields[4][9:-1]) > 0
    assert board.led_events and board.led_events[0][0] is True


def test_binary_monitor_listens_to_the_microphone_and_restores_the_parameters(tiny_export, core_build_dir,
                                                                              sc_real_dev):
    from kws.device.emulator import load_mic
    from kws.device.monitor import Monitor

    mic = load_mic(yes_clips(sc_real_dev))
    out = io.StringIO()
    with Emulator(tiny_export, build_dir=core_build_dir, mic=mic, loop_mic=True, realtime=True) as board:
        with BoardLink.open(board.port) as link:
            before = link.hello().params
            assert Monitor(link, out=out, count=1, duration=40).run_binary() == 0
            assert link.hello().params == before  # LIVE_AUDIO is off again: AUDIO frames work for the next user
    detections = [line for line in out.getvalue().splitlines() if " DETECT " in line]
    assert len(detections) == 1 and "inference=" in detections[0]


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["plain", "started-with-sigint-ignored"])
def test_kws_emulate_prints_the_port_and_stops_on_ctrl_c(tiny_export, ignore_sigint):
    # Started with SIGINT ignored, as a script's background job is: `kws emulate` still hears Ctrl-C.
    process = EmulatorProcess("tiny", cwd=tiny_export.parent.parent)
    with sigint_ignored(ignore_sigint):
        process.start()
    try:
        assert process.port.startswith("/dev/")
        with BoardLink.open(process.port) as link:
            info = link.hello()
    finally:
        process.stop()  # Ctrl-C; SIGKILL only after 15 s
    assert info.labels == ("_silence_", "_unknown_", "yes", "no")
    assert process.process.returncode == 0, process.stderr
    assert "emulated board on" in process.stderr and "emulated board stopped" in process.stderr


def test_device_modules_import_neither_tensorflow_nor_tflite_micro_nor_pyserial_at_import():
    code = ("import sys, kws.device.link, kws.device.emulator, kws.device.flash, kws.device.monitor, "
            "kws.device.artifacts\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'tflite_micro', 'serial', "
            "'export'))\nassert not bad, bad\nprint('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr

