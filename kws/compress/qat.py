"""Quantization-aware training that mirrors TFLite's int8 scheme exactly.

    kws quantize --method qat --run demo          # or: make quantize QUANT=qat

The float model's forward is re-interpreted by `QuantOps` (see kws.models.ops):
- weights: per-output-channel symmetric int8 in [-127, 127], scale = max|w_c| / 127 (batch norm folded
  into the convolution first, as the converter does);
- biases: int32 with scale input_scale * weight_scale_c;
- activations: per-tensor asymmetric int8, ranges from an exponential moving average of the observed
  min/max, nudged so 0.0 is exactly representable (zero point = round(-128 - min/scale));
- convolution + ReLU fused: only the ReLU output is quantized;
- the input is fixed to the frontend's int8 scale and zero point (the features arrive already int8);
- average pooling keeps its input's quantization (TFLite requires it).
Rounding is half away from zero, as TFLite's reference kernels round. Gradients pass straight through
the rounding (STE) and are zero where an activation was clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kws.models.ops import FloatOps, conv_parts

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_MAX = 127  # TFLite symmetric int8 weights use [-127, 127] so that -w is representable


def round_half_away(x: torch.Tensor) -> torch.Tensor:
    """Round to nearest, ties away from zero (TFLite's TfLiteRound)."""
    return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return round_half_away(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return _RoundSTE.apply(x)


def weight_scales(weight: torch.Tensor) -> torch.Tensor:
    """Per-output-channel symmetric scales (axis 0). An all-zero channel gets scale 1 (any scale is exact)."""
    max_abs = weight.detach().abs().flatten(1).amax(dim=1)
    return torch.where(max_abs > 0, max_abs / WEIGHT_MAX, torch.ones_like(max_abs))


def fake_quant_weight(weight: torch.Tensor, scales: torch.Tensor | None = None) -> torch.Tensor:
    """Per-channel symmetric int8 fake quantization of a weight tensor (output channels on axis 0)."""
    if scales is None:
        scales = weight_scales(weight)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    s = scales.reshape(shape)
    q = torch.clamp(_round_ste(weight / s), -WEIGHT_MAX, WEIGHT_MAX)
    return q * s


def quantize_weight_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 values, per-channel scales): what the converter writes for this weight."""
    scales = weight_scales(weight)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    q = torch.clamp(round_half_away(weight.detach() / scales.reshape(shape)), -WEIGHT_MAX, WEIGHT_MAX)
    return q.to(torch.int8), scales


def fake_quant_bias(bias: torch.Tensor, input_scale: float, scales: torch.Tensor) -> torch.Tensor:
    """int32 bias fake quantization with scale input_scale * weight_scale_c."""
    s = input_scale * scales
    q = torch.clamp(_round_ste(bias / s), -(2**31), 2**31 - 1)
    return q * s


def activation_qparams(minimum: float, maximum: float) -> tuple[float, int]:
    """(scale, zero_point) of per-tensor asymmetric int8 for a float range, nudged to contain 0.0."""
    minimum = min(float(minimum), 0.0)
    maximum = max(float(maximum), 0.0)
    if maximum == minimum:  # a constant-zero tensor: any scale represents it; pick TFLite's convention
        return 1.0, 0
    scale = (maximum - minimum) / (INT8_MAX - INT8_MIN)
    zero_from_min = INT8_MIN - minimum / scale
    zero_point = int(max(INT8_MIN, min(INT8_MAX, float(round_half_away(torch.tensor(zero_from_min))))))
    return scale, zero_point


class _FakeQuantAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:  # type: ignore[override]
        q = round_half_away(x / scale) + zero_point
        inside = (q >= INT8_MIN) & (q <= INT8_MAX)
        ctx.save_for_backward(inside)
        return (torch.clamp(q, INT8_MIN, INT8_MAX) - zero_point) * scale

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None


def fake_quant_activation(x: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:
    """Per-tensor asymmetric int8 fake quantization (STE inside the range, zero gradient outside)."""
    return _FakeQuantAct.apply(x, scale, zero_point)


class RangeObserver(nn.Module):
    """Min/max of an activation: a moving average (QAT, like TF's MovingAverageQuantize), or the
    absolute min/max over everything seen (PTQ calibration, like the TFLite converter's calibrator)."""

    def __init__(self, decay: float | None = 0.99) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("minimum", torch.tensor(0.0))
        self.register_buffer("maximum", torch.tensor(0.0))
        self.register_buffer("initialised", torch.tensor(False))

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        lo, hi = x.min().to(torch.float32), x.max().to(torch.float32)
        if not bool(self.initialised):
            self.minimum.copy_(lo)
            self.maximum.copy_(hi)
            self.initialised.fill_(True)
        elif self.decay is None:
            self.minimum.copy_(torch.minimum(self.minimum, lo))
            self.maximum.copy_(torch.maximum(self.maximum, hi))
        else:
            self.minimum.mul_(self.decay).add_(lo * (1 - self.decay))
            self.maximum.mul_(self.decay).add_(hi * (1 - self.decay))

    def qparams(self) -> tuple[float, int]:
        return activation_qparams(float(self.minimum), float(self.maximum))


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of the convolution with batch norm (in inference form) folded in."""
    weight = conv.weight
    bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels, device=weight.device)
    if bn is None:
        return weight, bias
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    factor = gamma / std
    return weight * factor.reshape(-1, 1, 1, 1), (bias - bn.running_mean) * factor + beta


@dataclass
class _Flow:
    scale: float
    zero_point: int


class QuantOps(FloatOps):
    """Int8-simulating interpretation of a model's forward (see the module docstring)."""

    def __init__(self, observers: nn.ModuleDict, input_scale: float, input_zero_point: int, observe: bool) -> None:
        self.observers = observers
        self.input_scale = input_scale
        self.input_zero_point = input_zero_point
        self.observe = observe
        self.flow = _Flow(input_scale, input_zero_point)
        self.seen: list[str] = []

    def _act(self, name: str, x: torch.Tensor) -> torch.Tensor:
        key = name.replace(".", "_")
        if key not in self.observers:
            self.observers[key] = RangeObserver()
        observer = self.observers[key]
        if self.observe:
            observer.observe(x)
        scale, zero_point = observer.qparams()
        self.flow = _Flow(scale, zero_point)
        self.seen.append(name)
        return fake_quant_activation(x, scale, zero_point)

    def input(self, x: torch.Tensor) -> torch.Tensor:
        self.flow = _Flow(self.input_scale, self.input_zero_point)
        return fake_quant_activation(x, self.input_scale, self.input_zero_point)

    def conv(self, layer, x, *, bn=None, relu=False, name=""):  # type: ignore[override]
        conv, pad = conv_parts(layer)
        weight, bias = fold_batchnorm(conv, bn)
        scales = weight_scales(weight)
        if any(pad):
            # Padding with 0.0 is padding with the zero point in int8: exact, no requantization.
            x = F.pad(x, pad)
        y = F.conv2d(x, fake_quant_weight(weight, scales), fake_quant_bias(bias, self.flow.scale, scales),
                     conv.stride, 0, conv.dilation, conv.groups)
        if relu:
            y = torch.relu(y)
        return self._act(name, y)

    def linear(self, layer, x, *, name=""):  # type: ignore[override]
        scales = weight_scales(layer.weight)
        bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
        y = F.linear(x, fake_quant_weight(layer.weight, scales), fake_quant_bias(bias, self.flow.scale, scales))
        return self._act(name, y)

    def avgpool(self, layer, x, *, name=""):  # type: ignore[override]
        # TFLite's int8 AVERAGE_POOL_2D keeps the input's scale and zero point.
        y = layer(x)
        return fake_quant_activation(y, self.flow.scale, self.flow.zero_point)


class QatModel(nn.Module):
    """A float model plus activation observers; forward simulates the int8 model."""

    def __init__(self, model: nn.Module, input_scale: float, input_zero_point: int) -> None:
        super().__init__()
        self.model = model
        self.input_scale = float(input_scale)
        self.input_zero_point = int(input_zero_point)
        self.observers = nn.ModuleDict()
        self.observe = True
        # Create the observers now (one per quantized output) so state_dict() has a fixed layout.
        was_training = model.training
        model.eval()
        with torch.no_grad():
            ops = QuantOps(self.observers, self.input_scale, self.input_zero_point, observe=False)
            model(torch.zeros(1, *model.input_shape), ops)
        model.train(was_training)
        self.quantized_outputs = tuple(ops.seen)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        ops = QuantOps(self.observers, self.input_scale, self.input_zero_point,
                       observe=self.observe and self.training)
        return self.model(features, ops)

    def use_minmax(self) -> None:
        """Calibrate with the absolute min/max over all batches (post-training quantization)."""
        self.observe = True
        for observer in self.observers.values():
            observer.decay = None

    def use_moving_average(self, decay: float = 0.99) -> None:
        """Track ranges with a moving average from here on (quantization-aware training)."""
        self.observe = True
        for observer in self.observers.values():
            observer.decay = decay

    def freeze_ranges(self) -> None:
        """Stop updating activation ranges (the last fine-tuning steps and evaluation)."""
        self.observe = False

    def activation_ranges(self) -> dict[str, tuple[float, float]]:
        """Observed (min, max) per quantized output, for the report and the converter."""
        return {key: (float(o.minimum), float(o.maximum)) for key, o in self.observers.items()}
