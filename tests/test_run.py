"""kws.run.Run: run names, artifact paths, missing-stage messages, and the one config rule.

    .venv/bin/python -m pytest tests/test_run.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kws.config import ConfigError, DeployConfig, KwsConfig, load_config, write_resolved_config
from kws.eval.calibrate import write_deploy_overlay
from kws.run import Run, RunError


def test_a_run_name_is_one_plain_folder_name(tmp_path):
    assert Run.named("demo", tmp_path).dir == tmp_path / "demo"
    for bad in ("", ".", "..", "../x", "/abs", "a/b", ".hidden", "with space"):
        with pytest.raises(RunError, match="one plain folder name"):
            Run.named(bad, tmp_path)


def test_paths_are_inside_the_run_folder():
    run = Run.named("r")
    assert run.model_checkpoint("qat") == Path("runs/r/model_qat.pt")
    assert run.export_model == Path("runs/r/export/model_int8.tflite")
    assert run.journal == Path("runs/r/eval/journal.jsonl")
    assert run.stream_summary == Path("runs/r/eval/stream/summary.json")
    with pytest.raises(RunError, match="float, ptq, qat or pruned|float, ptq, qat, pruned"):
        run.model_checkpoint("fp16")


def test_a_missing_stage_names_the_file_where_it_looked_and_the_make_target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Run.named("r")
    with pytest.raises(RunError, match=r"run r has no export output yet: runs/r/export/parity.json is missing "
                                       r"\(looked in .*runs/r\); make it with `make export RUN=r`"):
        run.require("export")


def _run_with_overlay(tmp_path: Path) -> Run:
    run = Run.at(tmp_path / "r")
    write_resolved_config(load_config(None, ["training.batch_size=50"]), run.dir)
    write_deploy_overlay(run, DeployConfig(detection_threshold=180, average_window_ms=750, suppression_ms=900))
    return run


def test_the_overlay_applies_whether_or_not_config_is_given(tmp_path):
    # The bug this fixes: with --config, kws ignored deploy.toml while kws export applied it.
    run = _run_with_overlay(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text("[training]\nbatch_size = 70\n")
    for config in (run.config(), run.config(other)):
        assert (config.deploy.detection_threshold, config.deploy.average_window_ms) == (180, 750)
    assert run.config().training.batch_size == 50
    assert run.config(other).training.batch_size == 70


def test_set_wins_over_the_overlay_and_base_config_leaves_it_out(tmp_path):
    run = _run_with_overlay(tmp_path)
    assert run.config(None, ["deploy.detection_threshold=99"]).deploy.detection_threshold == 99
    assert run.base_config().deploy == KwsConfig().deploy
    assert run.base_config().training.batch_size == 50


def test_an_overlay_may_not_change_the_board_or_other_sections(tmp_path):
    run = _run_with_overlay(tmp_path)
    run.deploy_overlay.write_text("[deploy]\nboard = 'host'\ndetection_threshold = 150\n")
    assert run.config().deploy.board == "nano33ble" and run.config().deploy.detection_threshold == 150
    run.deploy_overlay.write_text("[training]\nbatch_size = 1\n")
    with pytest.raises(ConfigError, match=r"deploy.toml may only hold a \[deploy\] section"):
        run.config()


def test_a_bad_overlay_value_names_the_files(tmp_path):
    run = _run_with_overlay(tmp_path)
    run.deploy_overlay.write_text("[deploy]\ndetection_threshold = 300\n")
    with pytest.raises(ConfigError, match=r"deploy.detection_threshold must be in 0..255.*config.toml \+ .*deploy"):
        run.config()
