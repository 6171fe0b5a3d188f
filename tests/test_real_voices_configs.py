"""The real-voices configs (issue 13) load, and train what docs/real-speech-experiments.md says they do.

    .venv/bin/python -m pytest tests/test_real_voices_configs.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kws.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "kws" / "configs"


@pytest.mark.parametrize("name, model, keywords", [
    ("real_voices", "tiny_conv", ("yes", "no")), ("dscnn_real_voices", "ds_cnn", ("yes", "no")),
    ("updown_real_voices", "tiny_conv", ("up", "down")), ("demo", "tiny_conv", ("yes", "no")),
])
def test_real_voices_configs_load_with_the_recipe(name, model, keywords):
    config = load_config(CONFIGS / f"{name}.toml")
    assert config.model.name == model
    assert config.data.wanted_words == keywords == config.synth.keywords
    assert config.data.data_dir == config.synth.out_dir  # the set it synthesises is the one it trains on
    assert not set(config.synth.keywords) & set(config.synth.unknown_words)
    assert config.synth.flite_speakers == 0.5 and config.synth.min_formant_factor < 1 < config.synth.max_formant_factor
    assert config.data.speed_perturbation > 0 and config.data.reverb_probability > 0
    assert config.data.channel_probability > 0 and config.data.unknown_percentage == 50


def test_dscnn_and_tiny_conv_real_voices_share_their_data():
    tiny, dscnn = (load_config(CONFIGS / f"{n}.toml") for n in ("real_voices", "dscnn_real_voices"))
    assert tiny.synth == dscnn.synth and tiny.data == dscnn.data and tiny.training == dscnn.training
