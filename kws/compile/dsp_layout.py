"""Constant layouts for the Cortex-M4 DSP kernels (filled in with the DSP flavour)."""

from __future__ import annotations

import numpy as np

from kws.compile.graph import Layer

DSP_KINDS = frozenset({"conv", "depthwise", "fc"})


def dsp_arrays(layer: Layer) -> dict[str, np.ndarray]:
    return {}


def scratch_bytes(layer: Layer) -> int:
    return 0
