"""The real-speech benchmark's numbers: hand-computed on a small case, and the whole sc-real-dev folder under
both mappings for the tiny exported run (structure and consistency, not accuracy: its weights are random).

    .venv/bin/python -m pytest tests/test_real_speech.py -q
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from kws.eval.real_speech import describe_folder, evaluate_folder, summarize
from kws.run import Run

LABELS = ["_silence_", "_unknown_", "yes", "no"]


def test_summary_by_hand():
    truth = np.array([2, 2, 2, 3, 3, 1, 1, 0])
    words = ["yes", "yes", "yes", "no", "no", "up", "go", "_silence_"]
    predicted = np.array([2, 2, 3, 3, 2, 2, 3, 0])  # one yes missed (as no), one no missed (as yes), up->yes, go->no
    scores = np.full((8, 4), -128, np.int8)
    scores[np.arange(8), predicted] = 100
    s = summarize(LABELS, truth, scores, words)
    assert s["accuracy"] == pytest.approx(4 / 8)
    yes, no = s["per_keyword"]["yes"], s["per_keyword"]["no"]
    assert yes["false_reject_rate"] == pytest.approx(1 / 3)    # 1 of 3 yes clips
    assert yes["false_accept_rate"] == pytest.approx(2 / 5)    # a no and an up, of 5 other clips
    assert no["false_reject_rate"] == pytest.approx(1 / 2) and no["false_accept_rate"] == pytest.approx(2 / 6)
    assert yes["fired_by"] == {"no": 1, "up": 1} and no["fired_by"] == {"yes": 1, "go": 1}


@pytest.mark.shared_data
def test_the_whole_real_folder_under_both_mappings(tiny_export, sc_real_dev, tmp_path, monkeypatch):
    shutil.copytree(tiny_export, tmp_path / "runs" / "tiny", ignore=shutil.ignore_patterns("saved_model"))
    monkeypatch.chdir(tmp_path)
    run = Run.named("tiny")
    result = evaluate_folder(run, sc_real_dev)
    a, b = result["mappings"]["a"], result["mappings"]["b"]
    assert (a["clips"], b["clips"]) == (890, 2748) and result["data"] == "real recorded speech"
    assert b["mapping"]["up"] == "_unknown_" and "up" not in a["mapping"]
    for m in (a, b):
        cm = np.array(m["confusion_matrix"])
        assert cm.sum() == m["clips"] and np.trace(cm) / cm.sum() == pytest.approx(m["accuracy"])
        for k, word in ((2, "yes"), (3, "no")):
            assert m["per_keyword"][word]["false_reject_rate"] == pytest.approx(1 - cm[k, k] / cm[k].sum())
            fired = sum(m["per_keyword"][word]["fired_by"].values())
            assert fired == cm[:, k].sum() - cm[k, k]
    assert json.loads(run.real_speech.read_text())["mappings"]["b"]["clips"] == 2748
    text = "\n".join(describe_folder(result))
    assert "(a) labelled: accuracy" in text
    assert text.count("bias headroom (biases chosen on these clips") == 2  # one per mapping
    assert a["bias_headroom"]["accuracy"] == pytest.approx(a["accuracy"])  # the same argmax, before any bias
    assert a["bias_headroom"]["best"]["accuracy"] >= a["accuracy"]


@pytest.mark.shared_data
def test_the_report_names_the_data_behind_every_accuracy(tiny_export, sc_real_dev, tmp_path, monkeypatch):
    from kws.eval.report import build_report, missing_sections

    shutil.copytree(tiny_export, tmp_path / "runs" / "tiny", ignore=shutil.ignore_patterns("saved_model"))
    monkeypatch.chdir(tmp_path)
    run = Run.named("tiny")
    paths = build_report(run.config(), run)
    report = json.loads(paths["json"].read_text())
    real_title = next(t for t in report["sections"] if t.startswith("Real speech"))
    assert report["sections"][real_title].startswith("optional, not filled: make bench-real")
    assert real_title not in missing_sections(paths["json"])  # a machine without real audio still passes --strict
    evaluate_folder(run, sc_real_dev)
    md = build_report(run.config(), run)["md"].read_text()
    assert "| TFLite Micro int8 on real speech, mapping (a) labelled |" in md
    assert f"{sc_real_dev.resolve()}, all 890 clips (real recorded speech)" in md
    assert "| (b) all | 2,748 |" in md
    assert "(a) bias headroom (biases chosen on these clips: a diagnostic, not a setting)" in md
