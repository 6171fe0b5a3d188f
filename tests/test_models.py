"""The model registry: tiny_conv matches TensorFlow's geometry and counts; DS-CNN runs; summaries add up."""

from __future__ import annotations

import pytest
import torch

from kws.config import ConfigError, FrontendConfig, ModelConfig, replace
from kws.models import MODEL_NAMES, build_model, tiny_model_config
from kws.models.layers import same_padding
from kws.models.summary import summarize


def test_tf_same_padding_puts_the_extra_row_after():
    # 49 frames, kernel 10, stride 2 -> 25 outputs need 9 rows of padding: 4 before, 5 after (TF SAME).
    assert same_padding(49, 10, 2) == (4, 5)
    assert same_padding(40, 8, 2) == (3, 3)
    assert same_padding(25, 3, 1) == (1, 1)


def test_tiny_conv_matches_the_published_figures():
    model = build_model(ModelConfig(), FrontendConfig(), num_labels=4)
    summary = summarize(model, (49, 40))
    conv = summary.layers[0]
    assert conv.output_shape == (8, 25, 20)
    # 10*8*8 + 8 = 648 conv parameters; 25*20*8*4 + 4 = 16,004 FC parameters.
    assert summary.total_params == 16_652
    # 25*20*8 outputs x 80 taps + 4,000 x 4 = 336,000 MACs (TF micro_speech's ~336k).
    assert summary.total_macs == 336_000


def test_tiny_conv_flattens_in_hwc_order():
    # A TF tiny_conv FC weight row i belongs to NHWC position i: feed a one-hot conv output and check.
    model = build_model(ModelConfig(dropout=0.0), FrontendConfig(), num_labels=4).eval()
    captured = {}
    model.fc.register_forward_hook(lambda m, i, o: captured.setdefault("x", i[0]))
    torch.manual_seed(0)
    features = torch.randn(1, 49, 40)
    model(features)
    conv = torch.relu(model.conv(features.unsqueeze(1)))  # [1, 8, 25, 20]
    expected = conv[0].permute(1, 2, 0).reshape(-1)      # h, w, c
    assert torch.equal(captured["x"][0], expected)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_runs_and_learns_one_batch(name):
    torch.manual_seed(0)
    frontend = FrontendConfig()
    # Dropout off: this checks the gradients flow, not regularisation.
    model = build_model(replace(tiny_model_config(name), dropout=0.0), frontend, num_labels=4)
    x = torch.randn(8, frontend.num_frames, frontend.num_features)
    y = torch.arange(8) % 4
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert model(x).shape == (8, 4)
    assert losses[-1] < losses[0] * 0.5


def test_ds_cnn_on_mfcc():
    frontend = FrontendConfig(feature_type="mfcc", n_mfcc=10)
    model = build_model(ModelConfig(name="ds_cnn"), frontend, num_labels=12)
    summary = summarize(model, (49, 10))
    assert model.eval()(torch.zeros(2, 49, 10)).shape == (2, 12)
    # 64-channel DS-CNN: conv 10x4x64 + 4 x (3x3x64 + 64x64) + 9 batch norms x (64 scale + 64 shift) + FC 64x12+12
    assert summary.total_params == 2560 + 4 * (576 + 4096) + 9 * 128 + 64 * 12 + 12
    assert 2_500_000 < summary.total_macs < 3_000_000  # MLPerf Tiny quotes ~2.7M MACs


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ConfigError, match="not a registered model.*tiny_conv"):
        build_model(ModelConfig(name="resnet"), FrontendConfig(), 4)


def test_kws_models_cli(capsys):
    from kws.cli import main

    assert main(["models", "tiny_conv"]) == 0
    out = capsys.readouterr().out
    assert "16,652" in out and "336,000" in out


def test_registry_holds_exactly_the_light_list_of_names():
    from kws.model_names import MODEL_NAMES as LIGHT_NAMES

    assert MODEL_NAMES == LIGHT_NAMES
    for name in LIGHT_NAMES:
        assert tiny_model_config(name).name == name


@pytest.mark.parametrize("how", ["set", "config"])
def test_kws_models_lists_the_configured_model_only(how, tmp_path, capsys):
    from kws.cli import main

    if how == "set":
        argv = ["models", "--set", "model.name=ds_cnn"]
    else:
        (tmp_path / "c.toml").write_text('[model]\nname = "ds_cnn"\n')
        argv = ["models", "--config", str(tmp_path / "c.toml")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ds_cnn on" in out and "tiny_conv on" not in out


def test_kws_models_lists_all_without_a_configured_name(tmp_path, capsys):
    from kws.cli import main

    (tmp_path / "c.toml").write_text("[model]\ndropout = 0.3\n")
    assert main(["models", "--config", str(tmp_path / "c.toml")]) == 0
    out = capsys.readouterr().out
    assert all(f"{name} on" in out for name in MODEL_NAMES)
    # An explicit positional name still wins over the configured one.
    assert main(["models", "tiny_conv", "--set", "model.name=ds_cnn"]) == 0
    out = capsys.readouterr().out
    assert "tiny_conv on" in out and "ds_cnn on" not in out


def test_kws_models_refuses_an_unregistered_configured_name(capsys):
    from kws.cli import main

    assert main(["models", "--set", "model.name=resnet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "model.name='resnet' is not a registered model" in lines[0]
