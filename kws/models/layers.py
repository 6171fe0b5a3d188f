"""Small building blocks shared by the models: TensorFlow-style SAME padding done explicitly.

PyTorch's `padding='same'` refuses strides > 1, and symmetric padding gives the wrong output size
for TF's SAME with an even total (TF puts the extra row/column at the bottom/right). Padding
explicitly keeps TF's exact geometry, so TF weights map one to one and the int8 graph matches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TF's SAME for one dimension."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SamePadConv2d(nn.Module):
    """Conv2d with TensorFlow SAME padding for a fixed input size (NCHW)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], stride: tuple[int, int],
                 input_hw: tuple[int, int], groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        top, bottom = same_padding(input_hw[0], kernel[0], stride[0])
        left, right = same_padding(input_hw[1], kernel[1], stride[1])
        self.pad = (left, right, top, bottom)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=0, groups=groups, bias=bias)
        self.output_hw = (math.ceil(input_hw[0] / stride[0]), math.ceil(input_hw[1] / stride[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self.conv(x)
