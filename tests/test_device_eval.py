"""`kws eval` against the emulated board on real clips: parity with TFLite's reference kernels (features feed)
and with the host pipeline (audio feed), the journal (resume after SIGKILL, torn lines, refusals), a stalled
board, and a line that drops, flips and duplicates bytes and resets the board mid-run.

    .venv/bin/python -m pytest tests/test_device_eval.py -q -s      # -s prints the measured figures

The model is tests/tiny_export.py's (conftest `tiny_export`), the clips the real Speech Commands test set
(conftest `sc_real_dev`, its own layout: everything is the 'testing' split). Every emulator, proxy and
subprocess is stopped by a context manager or a finally.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from board_harness import RestartableEmulator

from kws.data.clip_selection import select_clips
from kws.device.emulator import Emulator
from kws.device.faultproxy import FaultProxy, Faults
from kws.device.session import BoardStopped, IdentityMismatch, check_identity
from kws.eval.device_eval import evaluate_clips
from kws.eval.errors import DeviceEvalError
from kws.eval.journal import read_journal
from kws.eval.options import EvalOptions

REPO = Path(__file__).resolve().parents[1]
CLIPS = 20
# Summary entries that legitimately differ between two runs of the same clips: wall-clock latency of the
# host CPU, and how many resends/retries the line needed.
RUN_VARIANT = ("latency", "link", "attempts")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_export):
    """A folder with runs/tiny (a copy of the tiny export) as the current directory (data caches go there)."""
    root = tmp_path_factory.mktemp("device_eval")
    shutil.copytree(tiny_export, root / "runs" / "tiny")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        yield root


@pytest.fixture(scope="module")
def run_dir(workdir) -> Path:
    return workdir / "runs" / "tiny"


@pytest.fixture(scope="module")
def board(run_dir, core_build_dir):
    with Emulator(run_dir, build_dir=core_build_dir, record_inputs=True) as emulator:
        yield emulator


def options(sc_real_dev: Path, **changes) -> EvalOptions:
    base = dict(data_dir=str(sc_real_dev), limit=CLIPS, restart=True, progress=False)
    base.update(changes)
    return EvalOptions(**base)


def model_bytes(run_dir: Path) -> bytes:
    return (run_dir / "export" / "model_int8.tflite").read_bytes()


def builtin_ref(run_dir: Path, features: np.ndarray) -> np.ndarray:
    from export.tflm_check import reference_outputs

    return reference_outputs(model_bytes(run_dir), features)


def comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in RUN_VARIANT}


@pytest.fixture(scope="module")
def clean_audio(board, run_dir, sc_real_dev):
    """The clean audio-feed evaluation of CLIPS clips (the reference of the fault and parity tests)."""
    board.inputs.clear()
    result = evaluate_clips(run_dir, options(sc_real_dev, port=board.port))
    written = dict(np.load(run_dir / "eval" / "scores.npz"))  # later tests overwrite eval/: keep what this wrote
    summary = json.loads((run_dir / "eval" / "summary.json").read_text())
    return result, np.stack(board.inputs), written, summary


# ------------------------------------------------------------------------------------------ parity

def test_features_feed_scores_equal_the_reference_kernels_bit_for_bit(board, run_dir, sc_real_dev, clean_audio):
    board.inputs.clear()
    result = evaluate_clips(run_dir, options(sc_real_dev, port=board.port, feed="features"))
    sent = np.stack(board.inputs)
    clips = select_clips(_data(run_dir, sc_real_dev), _frontend(run_dir), "testing", CLIPS, progress=False)
    host = np.stack([clips.features(k) for k in range(len(clips))])
    np.testing.assert_array_equal(sent, host)  # the board's model saw exactly the reference features
    # Bit for bit, no tolerance: the emulated board runs TFLM, which equals the reference kernels on these clips.
    np.testing.assert_array_equal(result.scores, builtin_ref(run_dir, sent))
    assert set(result.truth.tolist()) == {0, 1, 2, 3}, "silence, unknown, yes and no are all among the clips"
    summary = json.loads((run_dir / "eval" / "summary.json").read_text())
    assert summary["feed"] == "features" and summary["board"] == "emulated" and summary["clips"] == CLIPS
    assert summary["latency"]["frontend"]["count"] == 0  # FEATURES skip the board's frontend
    assert summary["latency"]["inference"]["count"] == CLIPS
    # The features feed is the audio feed minus the C frontend: on these clips the scores agree as well.
    np.testing.assert_array_equal(result.scores, clean_audio[0].scores)


def _frontend(run_dir: Path):
    from kws.config import load_config

    return load_config(run_dir / "config.toml").frontend


def _data(run_dir: Path, sc_real_dev: Path):
    from kws.config import load_config, replace

    return replace(load_config(run_dir / "config.toml").data, data_dir=str(sc_real_dev))


def test_audio_feed_gives_the_host_pipelines_predictions(run_dir, sc_real_dev, clean_audio):
    result, board_features, written, written_summary = clean_audio
    clips = select_clips(_data(run_dir, sc_real_dev), _frontend(run_dir), "testing", CLIPS, progress=False)
    host_features = np.stack([clips.features(k) for k in range(len(clips))])
    host_scores = builtin_ref(run_dir, host_features)
    # The board's own model on the board's own features (C frontend): bit for bit.
    np.testing.assert_array_equal(result.scores, builtin_ref(run_dir, board_features))
    # Against the host pipeline (float64 reference frontend -> BUILTIN_REF): the same prediction for every
    # clip, no tolerance. Scores may differ where the C float32 frontend rounds a feature to the other int8
    # neighbour (firmware/core/README.md allows 0.1 % of values, 1 apart); on these clips none does.
    np.testing.assert_array_equal(result.scores.astype(int).argmax(1), host_scores.astype(int).argmax(1))
    same_rows = float(np.mean(np.all(result.scores == host_scores, axis=1)))
    equal_features = float(np.mean(board_features == host_features))
    summary = result.summary
    host_accuracy = float(np.mean(host_scores.astype(int).argmax(1) == result.truth))
    lat = summary["latency"]
    print(f"\n{CLIPS} real clips, audio feed: device accuracy {summary['accuracy']:.2%}, host {host_accuracy:.2%}; "
          f"features equal {equal_features:.4%}, score rows equal {same_rows:.0%}; emulator latency: frontend per "
          f"frame p50 {lat['frontend']['p50']:.0f} us p95 {lat['frontend']['p95']:.0f} us, inference p50 "
          f"{lat['inference']['p50']:.0f} us p95 {lat['inference']['p95']:.0f} us")
    assert summary["accuracy"] == pytest.approx(host_accuracy)
    assert same_rows >= 0.95
    # What kws report reads.
    assert written["scores"].dtype == np.int8 and written["scores"].shape == (CLIPS, 4)
    np.testing.assert_array_equal(written["scores"], result.scores)
    assert written["frontend_us"].size == CLIPS and written["inference_us"].size == CLIPS
    for key in ("accuracy", "confusion_matrix", "per_keyword", "target_far", "labels", "board", "feed", "data_dir"):
        assert key in written_summary
    assert written_summary["feed"] == "audio" and written_summary["accuracy"] == summary["accuracy"]
    assert summary["target_far"] == 0.01 and lat["frontend"]["count"] == CLIPS


def test_identity_mismatch_and_a_foreign_journal_are_clear_errors(board, run_dir, sc_real_dev, clean_audio):
    from dataclasses import replace

    from kws.device.artifacts import ExportedModel
    from kws.device.link import BoardLink

    exported = ExportedModel.load(run_dir)
    with BoardLink.open(board.port) as link:
        info = link.hello()
    check_identity(info, exported, board.port, feed="audio")
    with pytest.raises(IdentityMismatch, match=r"runs model 0000000000000000\.\.\., but .*model_int8.tflite is "
                                              r".*kws flash --run tiny.*--emulate"):
        check_identity(replace(info, model_sha256="0" * 64), exported, board.port, feed="audio")
    # A journal of an audio evaluation is not resumed for another feed (or model, board, clip list).
    evaluate_clips(run_dir, options(sc_real_dev, port=board.port))
    with pytest.raises(DeviceEvalError, match=r"journal.jsonl was made for another evaluation \(feed: journal "
                                              r"\"audio\" vs now \"features\".*--restart"):
        evaluate_clips(run_dir, options(sc_real_dev, port=board.port, feed="features", restart=False))


# ------------------------------------------------------------------------------------------ resume

def test_resume_after_sigkill_gives_identical_totals(workdir, run_dir, board, sc_real_dev):
    total = 200
    resumed = workdir / "runs" / "tiny_resume"
    shutil.copytree(run_dir / "export", resumed / "export")
    shutil.copy(run_dir / "config.toml", resumed / "config.toml")
    journal = resumed / "eval" / "journal.jsonl"
    command = [sys.executable, "-m", "kws", "eval", "--run", "tiny_resume", "--emulate", "--data", str(sc_real_dev),
               "--limit", str(total), "--quiet"]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = 0
        while process.poll() is None and time.monotonic() - started < 60:
            lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
            if lines >= 31:  # the header and at least 30 clips
                break
            time.sleep(0.003)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "killed while evaluating"
    _, done, _ = read_journal(journal)
    assert 30 <= len(done) < total
    assert not (resumed / "eval" / "summary.json").exists()

    rerun = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"audio feed; {total - len(done)} evaluated now, {len(done)} from the journal)" in rerun.stdout

    # The uninterrupted run of the same clips, in-process on the shared emulated board.
    straight = evaluate_clips(run_dir, options(sc_real_dev, port=board.port, limit=total))
    got = np.load(resumed / "eval" / "scores.npz")
    np.testing.assert_array_equal(got["truth"], straight.truth)
    np.testing.assert_array_equal(got["scores"], straight.scores)
    summary = json.loads((resumed / "eval" / "summary.json").read_text())
    assert comparable(summary) == comparable(json.loads(json.dumps(straight.summary)))
    raw = journal.read_text().splitlines()
    indices = [json.loads(line)["i"] for line in raw[1:]]
    assert sorted(indices) == list(range(total)), "every clip exactly once in the journal"
    print(f"\nresume: killed after {len(done)} of {total} clips, the rerun did the other {total - len(done)}; "
          f"totals and summary identical to an uninterrupted run")

    # A kill in the middle of a line: the torn line is cut off and its clip evaluated again.
    header_and_ten = "\n".join(raw[:11]) + "\n"
    journal.write_text(header_and_ten + raw[11][: len(raw[11]) // 2])
    again = evaluate_clips(resumed, options(sc_real_dev, port=board.port, limit=total, restart=False))
    assert again.evaluated_now == total - 10
    np.testing.assert_array_equal(again.scores, straight.scores)
    lines = journal.read_text().splitlines()
    assert len(lines) == total + 1 and all(line.startswith("{") and line.endswith("}") for line in lines)


# ------------------------------------------------------------------------------------------ a stalled board

def test_a_stalled_board_is_a_timeout_naming_the_clip_and_the_journal_keeps_what_was_done(run_dir, core_build_dir,
                                                                                         sc_real_dev):
    stall_after = 5
    with Emulator(run_dir, build_dir=core_build_dir) as emulator, FaultProxy(emulator.port) as proxy:
        def on_clip(index: int, record: dict) -> None:
            if index == stall_after - 1:
                proxy.stall()  # the board stops answering (nothing is forwarded any more)

        clips = select_clips(_data(run_dir, sc_real_dev), _frontend(run_dir), "testing", CLIPS, progress=False)
        started = time.monotonic()
        with pytest.raises(BoardStopped) as caught:
            evaluate_clips(run_dir, options(sc_real_dev, port=proxy.port, timeout=0.2, retries=1), on_clip=on_clip)
        waited = time.monotonic() - started
    message = str(caught.value)
    assert f"stopped answering during clip {clips.name(stall_after)!r}" in message
    assert "no INFO in answer to HELLO" in message and proxy.port in message
    assert f"journal.jsonl keeps the {stall_after} clips finished before it: rerun the same command to resume" \
        in message
    _, done, _ = read_journal(run_dir / "eval" / "journal.jsonl")
    assert sorted(done) == list(range(stall_after))
    print(f"\nstalled board: {message} (after {waited:.1f} s)")


def test_a_port_that_vanishes_and_comes_back_is_reopened(run_dir, core_build_dir, sc_real_dev, clean_audio, tmp_path):
    # A reset Nano drops off USB and re-enumerates at the same /dev/ttyACM path: here a symlink that is
    # re-pointed at a freshly booted emulated board once the first one is gone.
    port = tmp_path / "ttyKWS0"
    boards = [Emulator(run_dir, build_dir=core_build_dir)]
    try:
        os.symlink(boards[0].start(), port)

        def on_clip(index: int, record: dict) -> None:
            if index == 4:
                boards[0].stop()  # the old port is dead from now on
                boards.append(Emulator(run_dir, build_dir=core_build_dir))
                fresh = tmp_path / "fresh"
                os.symlink(boards[-1].start(), fresh)
                os.replace(fresh, port)

        result = evaluate_clips(run_dir, options(sc_real_dev, port=str(port), timeout=0.3), on_clip=on_clip)
    finally:
        for board in boards:
            board.stop()
    np.testing.assert_array_equal(result.scores, clean_audio[0].scores)
    assert result.summary["link"]["reconnects"] == 1 and result.summary["link"]["clip_retries"] == 1


# ------------------------------------------------------------------------------------------ faults

def test_drops_flips_duplicates_and_a_reset_give_the_clean_runs_results(run_dir, core_build_dir, sc_real_dev,
                                                                        clean_audio):
    clean = clean_audio[0]
    damaged = {"scores": 0}

    def damage_first_scores(data: bytes, direction: str) -> bytes:
        # Deterministic on top of the random faults: flip a bit in the first two SCORES frames from the board,
        # so a clip whose result was lost on the line is certainly seen and run again.
        at = data.find(b"\xa5\x5a\x84")
        if direction == "down" and 0 <= at and at + 10 <= len(data) and damaged["scores"] < 2:
            damaged["scores"] += 1
            return data[:at + 9] + bytes([data[at + 9] ^ 0x10]) + data[at + 10:]
        return data

    faults = Faults(drop=0.01, corrupt=0.01, duplicate=0.01)  # per transfer (kws.device.faultproxy says why)
    with RestartableEmulator(run_dir, build_dir=core_build_dir) as emulator, \
            FaultProxy(emulator.port, faults, seed=5, restart=emulator.restart, reset_after_bytes=300_000,
                       injector=damage_first_scores) as proxy:
        started = time.monotonic()
        faulty = evaluate_clips(run_dir, options(sc_real_dev, port=proxy.port, timeout=0.2))
        seconds = time.monotonic() - started
        stats = proxy.stats()
        proxy.check()
    np.testing.assert_array_equal(faulty.truth, clean.truth)
    np.testing.assert_array_equal(faulty.scores, clean.scores)  # per clip, bit for bit
    assert comparable(faulty.summary) == comparable(clean.summary)
    link = faulty.summary["link"]
    assert stats.resets == 1 == emulator.restarts and link["board_resets"] >= 1
    assert damaged["scores"] == 2 and link["damaged_results"] >= 2
    assert stats.total("dropped") > 0 and stats.total("corrupted") > 0 and stats.total("duplicated") > 0
    _, done, _ = read_journal(run_dir / "eval" / "journal.jsonl")
    assert sorted(done) == list(range(CLIPS))
    print(f"\nfault injection, {CLIPS} clips in {seconds:.1f} s: {stats.up.transfers + stats.down.transfers} "
          f"transfers, {stats.total('dropped')} bytes dropped, {stats.total('corrupted')} corrupted, "
          f"{stats.total('duplicated')} duplicated (host->board {stats.up.dropped}/{stats.up.corrupted}/"
          f"{stats.up.duplicated}, board->host {stats.down.dropped}/{stats.down.corrupted}/{stats.down.duplicated}), "
          f"{stats.resets} board reset; link: {link['link_resends']} resends ({link['link_naks']} after NAK, "
          f"{link['link_timeouts']} after a timeout), {link['link_lost_board_frames']} board frames lost, "
          f"{link['damaged_results']} damaged results and {link['board_resets']} reset handled by running "
          f"{link['clip_retries']} clips again; results identical to the clean run")


def test_the_fault_injector_counts_what_it_does():
    from kws.device.faultproxy import DirectionStats, inject

    data = bytes(range(256)) * 400  # 102,400 bytes
    stats = DirectionStats()
    out = inject(data, Faults(0.01, 0.01, 0.01, per="byte"), np.random.default_rng(1), stats)
    assert len(out) == len(data) - stats.dropped + stats.duplicated
    for count in (stats.dropped, stats.corrupted, stats.duplicated):
        assert 850 < count < 1200  # 1 % of 102,400, give or take 5 standard deviations
    stats = DirectionStats()
    rng = np.random.default_rng(2)
    outs = [inject(data[:300], Faults(0.01, 0.01, 0.01), rng, stats) for _ in range(3000)]
    changed = sum(o != data[:300] for o in outs)
    assert changed == stats.dropped + stats.corrupted + stats.duplicated and 60 < changed < 130  # 3 % of 3,000
    assert inject(data, Faults(), rng, DirectionStats()) == data


def test_device_eval_modules_import_nothing_heavy():
    code = ("import sys, kws.eval.device_eval, kws.eval.stream, kws.device.faultproxy\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'tflite_micro', 'serial', "
            "'export', 'torch'))\nassert not bad, bad\nprint('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
