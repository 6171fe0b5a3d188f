"""`kws eval --stream` and `kws calibrate` against the emulated board: a 75 s labelled stream of real test-set
keywords over real background noise, the board's detections equal to the Python recognizer's replay of the
board's own scores, and a calibration whose deploy.toml the run config sees and the board then reproduces.

    .venv/bin/python -m pytest tests/test_stream_eval.py -q -s      # -s prints the measured figures

Keywords come from conftest `sc_real_dev` (test-set layout), noise from `sc_mini`'s _background_noise_, the
model from tests/tiny_export.py. The emulated board is stopped by its context manager.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kws.config import load_config, replace
from kws.device.emulator import Emulator
from kws.eval.options import EvalOptions
from kws.eval.stream import StreamOptions, build_stream, evaluate_stream, load_labelled_wav, speech_extent, unwrap_u32
from kws.recognizer import RecognizerConfig, detections
from kws.run import Run

MINUTES = 1.25
TARGET_FA_PER_HOUR = 1000.0  # the tiny model is random: a target it can meet with some detections left


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_export):
    root = tmp_path_factory.mktemp("stream_eval")
    shutil.copytree(tiny_export, root / "runs" / "tiny")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # data caches and `kws calibrate`'s runs/ are relative to the current directory
        yield root / "runs" / "tiny"


@pytest.fixture(scope="module")
def board(run_dir, core_build_dir):
    with Emulator(run_dir, build_dir=core_build_dir) as emulator:
        yield emulator


def stream_options(sc_mini: Path) -> StreamOptions:
    return StreamOptions(minutes=MINUTES, snr_db=(10.0,), seed=3, noise_dir=str(sc_mini / "_background_noise_"))


def eval_options(board, sc_real_dev: Path) -> EvalOptions:
    return EvalOptions(port=board.port, data_dir=str(sc_real_dev), progress=False)


@pytest.fixture(scope="module")
def first_stream(run_dir, board, sc_real_dev, sc_mini):
    summary = evaluate_stream(run_dir, eval_options(board, sc_real_dev), stream_options(sc_mini))
    out = run_dir / "eval" / "stream"
    return summary, {name: (out / name).read_bytes() for name in ("scores.npz", "events.json", "detections.json")}


def test_speech_extent_finds_the_word_inside_the_clip():
    rng = np.random.default_rng(0)
    clip = rng.normal(0, 1e-4, 16000)
    clip[5000:9000] += 0.3 * np.sin(np.arange(4000) * 0.2)
    first, end = speech_extent(clip, 16000)
    assert 5000 - 160 < first <= 5000 and 9000 <= end < 9000 + 160  # to the 10 ms frame around each edge
    assert speech_extent(np.zeros(16000), 16000) is None


def test_the_stream_is_reproducible_and_its_events_are_where_the_words_are(run_dir, sc_real_dev, sc_mini):
    config = load_config(run_dir / "config.toml")
    data = replace(config.data, data_dir=str(sc_real_dev))
    a = build_stream(data, config.frontend, stream_options(sc_mini), progress=False)
    b = build_stream(data, config.frontend, stream_options(sc_mini), progress=False)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.events == b.events and a.duration_s == MINUTES * 60
    starts = [e["start_s"] for e in a.events + a.distractors]
    assert len(a.events) >= 10 and len(a.distractors) >= 1
    assert all(e["label"] in ("yes", "no") for e in a.events)
    assert all(d["label"] not in ("yes", "no") for d in a.distractors)
    spans = sorted((e["start_s"], e["end_s"]) for e in a.events + a.distractors)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), "words never overlap"
    assert min(starts) >= 1.0 and max(e["end_s"] for e in a.events) < a.duration_s
    # The SNR asked for, unless a loud word had to be turned down to stay below full scale.
    assert all(e["snr_db"] <= 10.0 + 1e-6 for e in a.events) and np.median([e["snr_db"] for e in a.events]) == 10.0
    # Inside an event there is speech: louder than the noise around the stream.
    audio = a.audio.astype(np.float64)
    noise_rms = np.sqrt(np.mean(audio[: int(0.9 * 16000)] ** 2))
    for e in a.events[:5]:
        word = audio[int(e["start_s"] * 16000):int(e["end_s"] * 16000)]
        assert np.sqrt(np.mean(word ** 2)) > 2 * noise_rms


def test_stream_eval_writes_its_files_and_the_board_decides_as_the_python_recognizer(run_dir, first_stream):
    summary, files = first_stream
    out = run_dir / "eval" / "stream"
    for name in ("scores.npz", "events.json", "detections.json", "summary.json", "stream.wav"):
        assert (out / name).is_file(), name
    data = np.load(out / "scores.npz")
    t_us, scores = data["t_us"], data["scores"]
    assert t_us.dtype == np.int64 and scores.dtype == np.int8 and scores.shape == (t_us.size, 4)
    # One inference per 20 ms stride once the first second is in, stamped with audio time.
    assert t_us[0] == 992_000 and np.all(np.diff(t_us) == 20_000)
    frames = (int(MINUTES * 60 * 16000) - 512) // 320 + 1
    assert t_us.size == frames - 49 + 1  # the first inference needs 49 frames, then one per frame
    config = load_config(run_dir / "config.toml")
    recognizer = RecognizerConfig.from_deploy(config.deploy)
    assert summary["recognizer"]["detection_threshold"] == config.deploy.detection_threshold
    # The board's detections == kws.recognizer replayed over the board's own scores, every field.
    device = json.loads((out / "detections.json").read_text())
    replay = detections(recognizer, config.data.labels(), zip(t_us.tolist(), scores.tolist()))
    assert [(d["inference"], d["time_us"], d["label_index"], d["score"]) for d in device] == \
        [(i, t, label, score) for i, t, label, score in replay]
    assert summary["replay_matches_device"] is True and summary["device_detections"] == len(device) > 0
    m = summary["metrics"]
    events = json.loads((out / "events.json").read_text())["events"]
    assert m["events"] == len(events) == summary["events"]
    assert m["detections"] == len(device)
    matched = sum(d["event"] is not None for d in device)
    assert m["false_reject_rate"] == pytest.approx(1 - matched / len(events))
    assert summary["duration_s"] == MINUTES * 60 and summary["snr_db"] == 10.0 and summary["board"] == "emulated"
    print(f"\nstream {summary['duration_s']:.0f} s, {len(events)} keywords, {summary['distractors']} distractors: "
          f"{len(device)} detections, {m['false_accepts_per_hour']:.0f} FA/h, FRR {m['false_reject_rate']:.1%}, "
          f"mean delay {m['mean_delay_s'] * 1000:.0f} ms; device == replay")


def test_a_users_wav_and_label_csv_give_the_same_events(run_dir, first_stream, tmp_path):
    out = run_dir / "eval" / "stream"
    events = json.loads((out / "events.json").read_text())
    lines = ["start_s,end_s,label"] + [f"{e['start_s']},{e['end_s']},{e['label']}"
                                       for e in events["events"] + events["distractors"]]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    stream = load_labelled_wav(out / "stream.wav", tmp_path / "labels.csv", ("yes", "no"), 16000)
    assert stream.event_tuples() == [(e["start_s"], e["end_s"], e["label"]) for e in events["events"]]
    assert len(stream.distractors) == len(events["distractors"])
    assert stream.audio.size == int(MINUTES * 60 * 16000)


def test_calibrate_writes_deploy_toml_and_the_board_reproduces_the_chosen_figures(run_dir, board, sc_real_dev,
                                                                                  sc_mini, first_stream, capsys):
    from kws.cli import main

    before = Run.at(run_dir).config().deploy
    assert main(["calibrate", "--run", "tiny", "--target-fa-per-hour", str(TARGET_FA_PER_HOUR)]) == 0
    printed = capsys.readouterr().out
    calibration = json.loads((run_dir / "eval" / "calibration.json").read_text())
    chosen = calibration["chosen"]
    assert "chosen over" in printed and f"threshold > {chosen['detection_threshold']}" in printed
    assert calibration["target_met"] is True and calibration["target_fa_per_hour"] == TARGET_FA_PER_HOUR
    assert chosen["false_accepts_per_hour"] <= TARGET_FA_PER_HOUR and chosen["detections"] > 0
    assert len(calibration["sweep"]) == 4 * 31 * 4 and (run_dir / "eval" / "calibration.png").stat().st_size > 0
    assert (run_dir / "deploy.toml").is_file()
    after = Run.at(run_dir).config().deploy
    assert (after.average_window_ms, after.detection_threshold, after.suppression_ms) == \
        (chosen["average_window_ms"], chosen["detection_threshold"], chosen["suppression_ms"])
    assert after.minimum_count == before.minimum_count and after != before
    # ...and the generated C the emulator and `make flash` use carries it (no re-export needed).
    from kws.device.artifacts import ExportedModel

    deployed = ExportedModel.load(run_dir).recognizer
    assert (deployed.average_window_ms, deployed.detection_threshold, deployed.suppression_ms) == \
        (chosen["average_window_ms"], chosen["detection_threshold"], chosen["suppression_ms"])
    # The next stream evaluation sends the calibrated parameters; on the same stream the board's own recognizer
    # then gives exactly the figures the sweep predicted for them.
    summary = evaluate_stream(run_dir, eval_options(board, sc_real_dev), stream_options(sc_mini))
    assert (summary["recognizer"]["average_window_ms"], summary["recognizer"]["detection_threshold"],
            summary["recognizer"]["suppression_ms"]) == \
        (chosen["average_window_ms"], chosen["detection_threshold"], chosen["suppression_ms"])
    assert summary["replay_matches_device"] is True
    for key in ("detections", "false_accepts", "false_accepts_per_hour", "false_reject_rate"):
        assert summary["metrics"][key] == pytest.approx(chosen[key]), key
    data = np.load(run_dir / "eval" / "stream" / "scores.npz")
    np.testing.assert_array_equal(data["scores"], np.load(__import__("io").BytesIO(first_stream[1]["scores.npz"]))
                                  ["scores"])  # the scores do not depend on the recognizer
    print(f"\ncalibration (target {TARGET_FA_PER_HOUR:g} FA/h): window {chosen['average_window_ms']} ms, threshold > "
          f"{chosen['detection_threshold']}, suppression {chosen['suppression_ms']} ms -> "
          f"{chosen['false_accepts_per_hour']:.0f} FA/h, FRR {chosen['false_reject_rate']:.1%}; the board agrees")


def test_unwrap_u32_crosses_the_wrap():
    t = [2**32 - 40_000, 2**32 - 20_000, 0, 20_000]
    np.testing.assert_array_equal(unwrap_u32(t), [2**32 - 40_000, 2**32 - 20_000, 2**32, 2**32 + 20_000])
