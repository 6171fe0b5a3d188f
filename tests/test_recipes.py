"""The recipes for people with the real dataset (kws/configs/micro_speech.toml, mlperf_kws.toml) resolve and train
a few steps on a small stand-in in the Speech Commands layout; and a tiny_conv on TFLM's micro frontend exports
to the micro_speech example's input and scores the same on the M4 board and the host board.

    .venv/bin/python -m pytest tests/test_recipes.py -q
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fake_datasets import make_full

from kws.config import load_config
from kws.data.split import which_set
from kws.run import Run

CONFIGS = Path(__file__).resolve().parents[1] / "kws" / "configs"
FEW_STEPS = ["training.steps=[6]", "training.learning_rates=[1e-3]", "training.batch_size=8",
             "training.eval_every=3", "training.checkpoint_every=3", "quantization.calibration_size=8"]


def _stand_in(root: Path, words: tuple[str, ...], lists: bool) -> Path:
    """A tiny full-layout dataset of `words` (+ two other words), with official-style lists when asked."""
    make_full(root, words=words + ("cat", "dog"))
    if lists:
        test, val = [], []
        for wav in sorted(root.glob("*/*.wav")):
            if wav.parent.name.startswith("_"):
                continue
            split = which_set(wav.name, 10, 10)
            (test if split == "testing" else val if split == "validation" else []).append(
                f"{wav.parent.name}/{wav.name}")
        (root / "testing_list.txt").write_text("\n".join(test) + "\n")
        (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    return root


@pytest.mark.parametrize("recipe, model, kind, lists", [
    ("micro_speech.toml", "tiny_conv", "tflm_micro", False),
    ("mlperf_kws.toml", "ds_cnn", "mlperf_mfcc", True),
])
def test_a_recipe_resolves_and_trains_on_a_stand_in(recipe, model, kind, lists, tmp_path):
    from kws.train import train

    config = load_config(CONFIGS / recipe)
    assert (config.model.name, config.frontend.feature_type) == (model, kind)
    assert config.data.data_dir == "data/speech_commands_v0.02"  # where `kws data download` puts it
    data = _stand_in(tmp_path / "sc", tuple(config.data.wanted_words), lists)
    config = load_config(CONFIGS / recipe, [f"data.data_dir={data}", f"data.cache_dir={tmp_path / 'cache'}",
                                            *FEW_STEPS])
    result = train(config, Run.at(tmp_path / "run"), progress=False)
    assert result.best_step >= 0 and (tmp_path / "run" / "model_float.pt").is_file()


def test_micro_speech_tiny_conv_drops_into_the_example_and_scores_the_same_on_both_boards(tiny_synth, tmp_path,
                                                                                          monkeypatch, sc_real_dev):
    from m4_support import require_m4

    from export.pipeline import export_run
    from export.tflite_model import describe
    from kws.eval.device_eval import evaluate_clips
    from kws.eval.options import EvalOptions
    from kws.train import train

    require_m4()
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_synth, tmp_path / "synth")
    config = load_config(CONFIGS / "micro_speech.toml", ["data.data_dir=synth", "data.cache_dir=cache", *FEW_STEPS])
    run = Run.named("micro")
    train(config, run, progress=False)
    export_run(config, run, "float", progress=False)
    info = describe(run.export_model.read_bytes())
    # The micro_speech example checks exactly this input: int8 [1, 1960], scale 0.10171568, zero point -128.
    assert list(info.input.shape) == [1, 1960] and info.input.dtype == "INT8", info.input
    assert np.float32(info.input.scale) == np.float32(0.10171568393707275) and info.input.zero_point == -128
    options = dict(data_dir=str(sc_real_dev), limit=4, restart=True, progress=False, emulate=True, timeout=10.0)
    host = evaluate_clips(run, EvalOptions(board="host", **options)).scores
    m4 = evaluate_clips(run, EvalOptions(board="m4", **options)).scores
    np.testing.assert_array_equal(m4, host)  # the micro frontend in C and the compiled model: same integers
