"""The operations a model's forward pass is written in, so one description serves float and int8.

Each model writes its forward once against an `ops` object: `ops.conv(layer, x, bn=..., relu=...)`,
`ops.linear(layer, x)`, `ops.avgpool(layer, x)`. `FloatOps` runs them in float; the quantization-aware
interpretation (kws.compress.qat.QuantOps) folds batch norm, fake-quantizes weights per channel,
quantizes biases to int32 and activations to int8 — the same fused units TFLite executes
(CONV_2D with fused ReLU, FULLY_CONNECTED, AVERAGE_POOL_2D), named by `name`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kws.models.layers import SamePadConv2d


def conv_parts(layer: SamePadConv2d | nn.Conv2d) -> tuple[nn.Conv2d, tuple[int, int, int, int]]:
    """(the nn.Conv2d, its explicit (left, right, top, bottom) padding)."""
    if isinstance(layer, SamePadConv2d):
        return layer.conv, layer.pad
    return layer, (0, 0, 0, 0)


class FloatOps:
    """Plain float execution (training and the float reference)."""

    def input(self, x: torch.Tensor) -> torch.Tensor:
        """The model input (dequantized int8 features)."""
        return x

    def conv(self, layer: SamePadConv2d | nn.Conv2d, x: torch.Tensor, *, bn: nn.BatchNorm2d | None = None,
             relu: bool = False, name: str = "") -> torch.Tensor:
        """Convolution, optional batch norm, optional ReLU: one fused unit on the device."""
        conv, pad = conv_parts(layer)
        if any(pad):
            x = F.pad(x, pad)
        x = conv(x)
        if bn is not None:
            x = bn(x)
        return torch.relu(x) if relu else x

    def linear(self, layer: nn.Linear, x: torch.Tensor, *, name: str = "") -> torch.Tensor:
        """Fully connected layer."""
        return layer(x)

    def avgpool(self, layer: nn.AvgPool2d, x: torch.Tensor, *, name: str = "") -> torch.Tensor:
        """Average pooling (int8 on the device keeps its input's quantization)."""
        return layer(x)


FLOAT_OPS = FloatOps()
