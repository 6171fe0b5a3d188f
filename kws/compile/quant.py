"""TFLite Micro's Prepare-time quantization arithmetic, reproduced in Python at compile time.

    from kws.compile.quant import quantize_multiplier, conv_multipliers, activation_range
    m, shift = quantize_multiplier(0.0123)          # 0.0123 == m * 2**(shift - 31)

Every number here must equal what TFLM computes in its kernels' Prepare from the float32 scales stored in
the flatbuffer (tensorflow/lite/kernels/internal/quantization_util.cc, kernel_util.cc, micro/kernels/*_common.cc):
the same float32-vs-float64 steps in the same order, TfLiteRound (half away from zero), frexp. A test checks
MultiplyByQuantizedMultiplier's Python twin (`mbqm`) against the C kernels.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127

# ActivationFunctionType (schema.fbs)
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def round_half_away(x: float) -> int:
    """std::round / TfLiteRound: halves go away from zero (Python's round() goes to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier (double precision, frexp): real ~= m * 2**(shift - 31), m in [2**30, 2**31)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q = round_half_away(fraction * float(1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:  # TFLM flushes multipliers below 2**-31 to zero
        return 0, 0
    return int(q), int(shift)


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: requires 0 < real < 1; shift <= 0."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real} outside (0, 1)")
    return quantize_multiplier(real)


def f32(x: float) -> float:
    """The float32 value of x, as a Python float (a C++ `float` variable)."""
    return float(np.float32(x))


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams (CONV_2D, DEPTHWISE_CONV_2D, per-channel FULLY_CONNECTED):
    double(in) * double(filter[c]) / double(out), per output channel; a single scale is broadcast."""
    mults, shifts = [], []
    for c in range(channels):
        scale = f32(filter_scales[c] if len(filter_scales) > 1 else filter_scales[0])
        m, s = quantize_multiplier(f32(input_scale) * scale / f32(output_scale))
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def fc_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler (per-tensor FULLY_CONNECTED): the input*filter product is a float32
    multiplication in TFLM, widened to double only afterwards."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / f32(output_scale))


def _quantize(scale: float, zero_point: int, value: float) -> int:
    # kernel_util.cc Quantize(): TfLiteRound(float(f) / scale) in float32.
    q = np.float32(value) / np.float32(scale)
    return int(zero_point) + round_half_away(float(q))


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output: (act_min, act_max). ValueError for TANH etc."""
    if activation == ACT_NONE:
        return INT8_MIN, INT8_MAX
    if activation == ACT_RELU:
        return max(INT8_MIN, _quantize(scale, zero_point, 0.0)), INT8_MAX
    if activation == ACT_RELU6:
        return max(INT8_MIN, _quantize(scale, zero_point, 0.0)), min(INT8_MAX, _quantize(scale, zero_point, 6.0))
    if activation == ACT_RELU_N1_TO_1:
        return max(INT8_MIN, _quantize(scale, zero_point, -1.0)), min(INT8_MAX, _quantize(scale, zero_point, 1.0))
    raise ValueError(f"fused activation {ACTIVATION_NAMES.get(activation, activation)} is not supported")


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """CalculateSoftmaxParams for int8: (input_multiplier, input_left_shift, diff_min) from PreprocessSoftmaxScaling
    (kScaledDiffIntegerBits = 5, double-rounding build) and CalculateInputRadius."""
    integer_bits = 5
    real = min(f32(beta) * f32(input_scale) * float(1 << (31 - integer_bits)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ValueError(f"softmax input multiplier {real} is not above 1 (TFLM requires it)")
    mult, left_shift = quantize_multiplier(real)
    radius = math.floor(1.0 * ((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << left_shift))
    return mult, left_shift, int(-1.0 * radius)


def add_params(scale1: float, scale2: float, out_scale: float) -> dict[str, int]:
    """CalculateOpDataAdd for int8 (left_shift 20): three SmallerThanOneExp multipliers."""
    left_shift = 20
    twice_max = 2.0 * f32(max(np.float32(scale1), np.float32(scale2)))
    m1, s1 = quantize_multiplier_smaller_than_one_exp(f32(scale1) / twice_max)
    m2, s2 = quantize_multiplier_smaller_than_one_exp(f32(scale2) / twice_max)
    mo, so = quantize_multiplier_smaller_than_one_exp(twice_max / (float(1 << left_shift) * f32(out_scale)))
    return {"left_shift": left_shift, "mult1": m1, "shift1": s1, "mult2": m2, "shift2": s2, "out_mult": mo,
            "out_shift": so}


def mean_multiplier(input_scale: float, output_scale: float, num_elements: int) -> tuple[int, int]:
    """MEAN (reference QuantizedMeanOrSum): QuantizeMultiplier(in/out), then 1/num_elements folded into it
    with an integer division, exactly as the kernel does at run time."""
    mult, shift = quantize_multiplier(f32(input_scale) / f32(output_scale))
    n = int(num_elements)
    extra = min(n.bit_length() - 1, 32, 31 + shift)
    mult = ((mult << extra) // n) if extra >= 0 else ((mult >> -extra) // n)
    return int(mult), shift - extra


# ---------------------------------------------------------------------------- integer twins (for tests)

def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (floor((a*b + 2^30) / 2^31))."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    return (a * b + (1 << 30)) >> 31


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT: round half away from zero of x / 2**exponent."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _wrap32(x: int) -> int:
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def mbqm(x: int, mult: int, shift: int) -> int:
    """TFLM's (double-rounding) MultiplyByQuantizedMultiplier."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rdbpot(srdhm(_wrap32(x * (1 << left)), mult), right)
