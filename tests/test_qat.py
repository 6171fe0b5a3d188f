"""The fake quantizer reproduces TFLite int8 arithmetic: hand-computed cases and an integer re-computation."""

from __future__ import annotations

import pytest
import torch

from kws.compress.qat import (
    QatModel,
    activation_qparams,
    fake_quant_activation,
    fake_quant_bias,
    fake_quant_weight,
    quantize_weight_int8,
    round_half_away,
    weight_scales,
)
from kws.config import FrontendConfig, ModelConfig
from kws.models import build_model


def test_round_half_away_from_zero():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, -2.51])
    assert round_half_away(x).tolist() == [1.0, 2.0, 3.0, -1.0, -2.0, 0.0, -3.0]


def test_per_channel_symmetric_weights_by_hand():
    w = torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]])
    # channel 0: scale 1/127; 0.5*127 = 63.5 -> 64, -1 -> -127, 0.25*127 = 31.75 -> 32
    # channel 1: all zero -> scale 1 (anything represents zeros exactly)
    assert weight_scales(w).tolist() == pytest.approx([1 / 127, 1.0])
    q, _ = quantize_weight_int8(w)
    assert q.tolist() == [[64, -127, 32], [0, 0, 0]]
    assert fake_quant_weight(w).flatten().tolist() == pytest.approx([64 / 127, -1.0, 32 / 127, 0, 0, 0])


def test_activation_qparams_by_hand():
    # [-1, 3]: scale 4/255; zero point round(-128 + 1/(4/255)) = round(-64.25) = -64
    scale, zp = activation_qparams(-1.0, 3.0)
    assert scale == pytest.approx(4 / 255) and zp == -64
    # a range that excludes 0 is widened to include it (0.0 must be exact for padding and ReLU)
    assert activation_qparams(0.5, 2.0) == (pytest.approx(2 / 255), -128)
    assert activation_qparams(0.0, 0.0) == (1.0, 0)


def test_fake_quant_activation_by_hand_and_its_gradient():
    scale, zp = 4 / 255, -64
    x = torch.tensor([0.0, 1.0, 3.1, -2.0], requires_grad=True)
    y = fake_quant_activation(x, scale, zp)
    # 1.0/scale = 63.75 -> 64 -> q = 0 -> (0 + 64) * scale; 3.1 clamps at 127; -2.0 clamps at -128
    expected = [0.0, 64 * scale, (127 + 64) * scale, (-128 + 64) * scale]
    assert y.tolist() == pytest.approx(expected)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]  # straight through inside the range, zero where clamped


def test_int32_bias():
    # scale = 0.1 * (1/127); 0.1 / scale = 127 exactly -> 127 * scale = 0.1
    assert fake_quant_bias(torch.tensor([0.1]), 0.1, torch.tensor([1 / 127])).item() == pytest.approx(0.1)
    # 0.1004 is not on the grid: it snaps to the nearest multiple of the scale
    snapped = fake_quant_bias(torch.tensor([0.1004]), 0.1, torch.tensor([1 / 127])).item()
    assert snapped == pytest.approx(round(0.1004 / (0.1 / 127)) * 0.1 / 127)


def test_tiny_conv_conv_layer_matches_integer_arithmetic():
    """The simulated conv+ReLU output equals an int8/int32 re-computation with a float requantization."""
    torch.manual_seed(3)
    frontend = FrontendConfig()
    model = build_model(ModelConfig(dropout=0.0), frontend, 4)
    qat = QatModel(model, frontend.quant_scale, frontend.quant_zero_point)
    x_q = torch.randint(-128, 128, (16, 49, 40))
    x = (x_q.float() - frontend.quant_zero_point) * frontend.quant_scale
    qat.train()
    qat(x)  # observe ranges once
    qat.freeze_ranges()
    qat.eval()
    # Run the conv unit through QuantOps directly to see its int8 output.
    from kws.compress.qat import QuantOps

    ops = QuantOps(qat.observers, frontend.quant_scale, frontend.quant_zero_point, observe=False)
    with torch.no_grad():
        y = ops.conv(model.conv, ops.input(x).unsqueeze(1), relu=True, name="conv")
    out_scale, out_zp = qat.observers["conv"].qparams()
    y_q = torch.round(y / out_scale) + out_zp  # exact: y is on the output grid

    # Integer reference: int8 weights, int32 bias, int32 accumulate, float requantize, round half away.
    w_q, w_s = quantize_weight_int8(model.conv.conv.weight)
    b_q = round_half_away(model.conv.conv.bias.detach() / (frontend.quant_scale * w_s)).to(torch.int64)
    centred = torch.nn.functional.pad((x_q - frontend.quant_zero_point).unsqueeze(1).to(torch.float64), model.conv.pad)
    acc = torch.nn.functional.conv2d(centred, w_q.to(torch.float64), stride=2)  # exact integers in float64
    acc = acc + b_q.reshape(1, -1, 1, 1)
    real = acc * (frontend.quant_scale * w_s.to(torch.float64)).reshape(1, -1, 1, 1)
    ref_q = torch.clamp(round_half_away(torch.relu(real) / out_scale) + out_zp, -128, 127)
    equal = (ref_q == y_q.to(torch.float64)).float().mean().item()
    # float32 vs float64 requantization may flip a value that sits on a rounding tie: allow 0.1 %, 1 LSB.
    assert equal >= 0.999
    assert (ref_q - y_q.to(torch.float64)).abs().max().item() <= 1
