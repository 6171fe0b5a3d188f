"""The sizes a search varies (model.kernel, model.stride, model.depth) and training.device: they reach the
networks, bad values are refused by name, and checkpoints written before the fields existed still load."""

from __future__ import annotations

import pytest
import torch

from kws.checkpoint import check_compatible
from kws.config import ConfigError, load_config
from kws.models import build_model
from kws.models.summary import summarize


def _model(*overrides: str) -> torch.nn.Module:
    config = load_config(None, list(overrides))
    return build_model(config.model, config.frontend, len(config.data.labels()))


def test_tiny_conv_kernel_and_stride_reach_the_convolution():
    model = _model("model.kernel=[6, 4]", "model.stride=[1, 2]", "model.filters=3")
    conv = model.conv.conv
    assert tuple(conv.kernel_size) == (6, 4) and tuple(conv.stride) == (1, 2) and conv.out_channels == 3
    # SAME: 49 frames at stride 1 stay 49, 40 channels at stride 2 become 20; FC in = 49 * 20 * 3.
    assert model.conv.output_hw == (49, 20) and model.fc.in_features == 49 * 20 * 3
    assert model(torch.zeros(2, 49, 40)).shape == (2, 4)


def test_defaults_are_tensorflows_tiny_conv_and_mlperfs_ds_cnn():
    tiny = summarize(_model(), (49, 40))
    assert tiny.total_params == 16_652 and tiny.total_macs == 336_000
    ds = _model("model.name=ds_cnn", "frontend.feature_type=mfcc", "model.width=64")
    assert len(ds.blocks) == 4
    assert summarize(ds, (49, 10)).total_macs == 2_656_256


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_ds_cnn_depth_is_its_number_of_blocks(depth):
    model = _model("model.name=ds_cnn", f"model.depth={depth}", "model.width=8")
    assert len(model.blocks) == depth
    assert model(torch.zeros(1, 49, 40)).shape == (1, 4)


@pytest.mark.parametrize("override, key", [
    ("model.kernel=[10]", "model.kernel"), ("model.stride=[2, 0]", "model.stride"), ("model.depth=-1", "model.depth"),
    ("model.width=0", "model.width"), ("training.device='tpu'", "training.device")])
def test_bad_sizes_are_refused_by_name(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


def test_a_checkpoint_written_before_the_size_fields_still_fits_the_default_config():
    config = load_config(None)
    old = {"model": {"name": "tiny_conv", "dropout": 0.5, "width": 64, "filters": 8},  # no kernel, stride, depth
           "labels": list(config.data.labels()), "frontend_hash": config.frontend.spec_hash()}
    check_compatible(old, config, "old.pt")  # raises on any difference


def test_training_device_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused_clearly(monkeypatch):
    from kws.errors import KwsError
    from kws.train import training_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("auto") == torch.device("cpu")
    assert training_device("cpu") == torch.device("cpu")
    with pytest.raises(KwsError, match="training.device = 'cuda' but torch sees no GPU"):
        training_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto") == torch.device("cuda")
