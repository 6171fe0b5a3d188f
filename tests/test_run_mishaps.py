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


HOLD = """
import sys, time
from kws.run import Run
with Run.named(sys.argv[1]).lock("kws eval"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_busy_run_is_refused_at_once_and_a_killed_holder_does_not_block(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    from kws.cli import main

    monkeypatch.chdir(tmp_path)
    Run.named("r").dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "r"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["eval", "--run", "r", "--emulate", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"run r is busy (pid {holder.pid}, kws eval, since " in err and "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the dead holder's lock: the next command gets past it (to the missing export).
    assert main(["eval", "--run", "r", "--emulate", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is busy (" not in err and "export" in err


def test_a_failed_command_on_a_new_run_leaves_no_folder(tmp_path, monkeypatch, capsys):
    from kws.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["quantize", "--run", "fresh", "--quiet"]) == 2
    assert "model_float.pt" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "fresh").exists()


def test_started_in_another_folder_the_error_says_where_it_looked_and_where_the_run_is(tmp_path, monkeypatch,
                                                                                       capsys):
    from kws.cli import main

    project = tmp_path / "project"
    write_resolved_config(load_config(), project / "runs" / "r")
    (project / "runs" / "r" / "export").mkdir()
    sub = project / "firmware"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert main(["eval", "--run", "r", "--emulate", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"looked in {sub / 'runs' / 'r'}" in err and f"{project / 'runs' / 'r'} exists: run kws from {project}" \
        in err, err
