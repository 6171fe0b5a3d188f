"""What a new user does to a run folder (issue: crashes, a blocked copy, a lost journal): a finished run
trained again, a copied project, a run that is busy, leftovers of killed processes.

    .venv/bin/python -m pytest tests/test_run_mishaps.py -q
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kws.config import load_config, write_resolved_config
from kws.run import Run

TINY = ["training.batch_size=16", "training.steps=[20]", "training.learning_rates=[1e-3]",
        "training.eval_every=10", "training.checkpoint_every=10", "quantization.calibration_size=16"]


@pytest.fixture(scope="module")
def project(tiny_synth, tmp_path_factory) -> Path:
    """A project folder with the tiny synthetic set under data/ (a relative data_dir) and one trained run."""
    from kws.train import train

    root = tmp_path_factory.mktemp("project")
    shutil.copytree(tiny_synth, root / "data" / "synth")
    config = load_config(None, TINY + ["data.data_dir=data/synth", "data.cache_dir=runs/cache"])
    import os

    old = Path.cwd()
    os.chdir(root)
    try:
        train(config, Run.named("r"), progress=False)
    finally:
        os.chdir(old)
    return root


def test_training_a_finished_run_again_keeps_its_figures_and_the_report_builds(project, monkeypatch):
    from kws.eval.report import build_report
    from kws.train import train

    monkeypatch.chdir(project)
    run = Run.named("r")
    before = json.loads(run.metrics.read_text())["throughput_clips_per_s"]
    assert isinstance(before, float) and before > 0
    train(run.config(), run, progress=False)  # nothing left to train
    after = json.loads(run.metrics.read_text())
    assert after["throughput_clips_per_s"] == before
    after["throughput_clips_per_s"] = None  # a run written by an older kws: the report must still build
    run.metrics.write_text(json.dumps(after))
    paths = build_report(run.config(), run)
    assert "training throughput not measured" in paths["md"].read_text()


def test_a_copied_project_quantizes_and_old_absolute_calibration_paths_still_match(project, tmp_path,
                                                                                    monkeypatch):
    from kws.compress.quantize import quantize

    copy = tmp_path / "elsewhere"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("cache"))
    monkeypatch.chdir(copy)
    run = Run.named("r")
    recorded = json.loads(run.calibration_clips.read_text())
    assert all(not Path(e["path"]).is_absolute() for e in recorded["examples"]), "paths are dataset-relative"
    result = quantize(run.config(), run, "ptq", progress=False)
    assert result.checkpoint.exists()
    # A calibration.json written before paths were relative holds the old absolute paths.
    for example in recorded["examples"]:
        if example["path"]:
            example["path"] = str(project / "data" / "synth" / example["path"])
    run.calibration_clips.write_text(json.dumps(recorded))
    quantize(run.config(), run, "ptq", progress=False)


def test_a_changed_dataset_is_named_as_such(project, tmp_path, monkeypatch):
    from kws.compress.quantize import quantize
    from kws.errors import KwsError

    copy = tmp_path / "changed"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("cache"))
    monkeypatch.chdir(copy)
    run = Run.named("r")
    recorded = json.loads(run.calibration_clips.read_text())
    first = next(e for e in recorded["examples"] if e["path"])
    first["path"] = "yes/not_the_same_nohash_0.wav"
    run.calibration_clips.write_text(json.dumps(recorded))
    with pytest.raises(KwsError, match=r"was 'yes/not_the_same_nohash_0.wav' but the dataset in .* now has "
                                       r"'[a-z_]+/[^']+\.wav' there: the clip list changed"):
        quantize(run.config(), run, "ptq", progress=False)


def test_write_resolved_config_is_unchanged_by_the_relative_paths(tmp_path):
    config = load_config(None, ["data.data_dir=data/synth"])
    assert load_config(write_resolved_config(config, tmp_path)) == config
