"""Constant layouts for the Cortex-M4 DSP kernels (firmware/kernels/kws_dsp.h and the *_dsp.c files).

    from kws.compile.dsp_layout import dsp_arrays, scratch_bytes
    arrays = dsp_arrays(layer)      # {} when the portable kernel must run the layer, else {"dsp_weights": int32}

One int32 stream per layer, read front to back by the kernels: for each group of 4 output channels (conv,
fully connected, one input channel of a depthwise multiplier > 1) or block of 4 channels (depthwise
multiplier 1): 4 biases, the weights, then 4 requantization records {m, half + offset * 2^e, smask, e}.

Why each transformation keeps TFLM's result exact:
- Bias folding: TFLM computes acc = bias + sum (x + in_off) * (w + w_off). With w' = w + w_off and
  b' = bias + in_off * sum(w') the kernels compute b' + sum x * w', the same integer, provided every tap
  TFLM skips (padding) reads x = -in_off (the zero point): im2col and the depthwise kernels do.
- Scaling: weights and bias are multiplied by f = 2^(1 + L) (L = the channel's left shift, 0 for the usual
  right shifts), so SMMULR(f * acc, m) = floor((acc * 2^L * m + 2^30) / 2^31) = SRDHM(acc * 2^L, m): the
  exact first rounding.
- The second rounding, RoundingDivideByPOT(r, e), is (r + half + (sign(r) & smask)) >> e with
  (half, smask) = (2^(e-1), -1), or (0, 0) when e = 0; adding out_offset * 2^e before the shift adds
  exactly out_offset after it (a multiple of 2^e passes through the floor).
- The layer is left to the portable kernel if any |f * w'| > 32767 or a sum could reach 2^31: the
  accumulator bound f * (|b'| + 128 * sum |w'|), and |r| + |half + offset * 2^e| with |r| <= bound * m / 2^32 + 1.
SMLAD order: a group of 4 consecutive values v0..v3 is stored as the int16 sequence v0, v2, v1, v3, so the
words are (v0, v2) and (v1, v3): what SXTB16 and SXTB16-ROR-8 make of 4 input bytes.
"""

from __future__ import annotations

import numpy as np

from kws.compile.graph import Layer

DSP_KINDS = frozenset({"conv", "depthwise", "fc"})
DW_MAX_TAPS = 49
"""Largest depthwise window (k_h * k_w) the multiplier-1 DSP kernel takes (its tap table is on the stack)."""
EXPAND_MAX_INPUTS = 1024
"""A conv vector up to this long is sign-extended to int16 once per pixel (scratch 2 bytes per input) when
at least three groups of 4 output channels reuse it: the inner loop then skips the SXTB16 unpacking."""
_INT16_MAX = 32767
_LIMIT = 1 << 31


def _ceil4(n: int) -> int:
    return -(-n // 4) * 4


def _words(int16_values: np.ndarray) -> np.ndarray:
    """int16 pairs -> int32 words (little endian: the first value in the low half)."""
    v = np.asarray(int16_values, np.int64).reshape(-1, 2) & 0xFFFF
    return (v[:, 0] | (v[:, 1] << 16)).astype(np.uint32).view(np.int32)


def _smlad_order(values: np.ndarray) -> np.ndarray:
    """[..., 4k] -> [..., 4k] with each group of 4 as v0, v2, v1, v3."""
    shape = values.shape
    grouped = values.reshape(*shape[:-1], shape[-1] // 4, 4)
    return grouped[..., [0, 2, 1, 3]].reshape(shape)


def _channel_terms(w: np.ndarray, bias: np.ndarray, in_offset: int, out_offset: int, mult: np.ndarray,
                   shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per output channel (rows of w): scaled weights, scaled folded bias, requant records; None when a
    bound fails. w: [channels, K] with any weights offset already added."""
    w = w.astype(np.int64)
    scale = np.array([1 << (1 + max(0, int(s))) for s in shift], np.int64)
    folded = bias.astype(np.int64) + in_offset * w.sum(axis=1)
    bound = scale * (np.abs(folded) + 128 * np.abs(w).sum(axis=1))
    scaled = w * scale[:, None]
    if np.abs(scaled).max(initial=0) > _INT16_MAX or bound.max(initial=0) >= _LIMIT:
        return None
    rq = np.zeros((len(w), 4), np.int64)
    for c, (m, s) in enumerate(zip(mult, shift)):
        e = max(0, -int(s))
        half = ((1 << (e - 1)) if e else 0) + out_offset * (1 << e)
        if int(bound[c]) * int(m) // (1 << 32) + 1 + abs(half) >= _LIMIT:
            return None
        rq[c] = (int(m), half, -1 if e else 0, e)
    return scaled, folded * scale, rq


def _matrix_stream(w: np.ndarray, bias: np.ndarray, in_offset: int, out_offset: int, mult: np.ndarray,
                   shift: np.ndarray) -> np.ndarray | None:
    """Weights [n_out, K] -> per group of 4 outputs: 4 biases, K4/4 chunks of 8 words, 4 x 4 record words."""
    n_out, k = w.shape
    terms = _channel_terms(w, bias, in_offset, out_offset, mult, shift)
    if terms is None:
        return None
    scaled, folded, rq = terms
    n4, k4 = _ceil4(n_out), _ceil4(k)
    wpad = np.zeros((n4, k4), np.int64)
    wpad[:n_out, :k] = scaled
    bpad = np.zeros(n4, np.int64)
    bpad[:n_out] = folded
    rqpad = np.zeros((n4, 4), np.int64)
    rqpad[:n_out] = rq
    # chunks: [group][chunk][output in group][4 values in SMLAD order] -> 8 words per (group, chunk)
    chunks = _words(_smlad_order(wpad).reshape(n4 // 4, 4, k4 // 4, 4).transpose(0, 2, 1, 3)).reshape(n4 // 4, -1)
    parts = [np.concatenate([bpad[4 * g:4 * g + 4], chunks[g], rqpad[4 * g:4 * g + 4].reshape(-1)])
             for g in range(n4 // 4)]
    return np.concatenate(parts).astype(np.int64).astype(np.int32)


def _bias(layer: Layer, n: int) -> np.ndarray:
    return layer.consts["bias"].astype(np.int64) if "bias" in layer.consts else np.zeros(n, np.int64)


def _depthwise_stream(layer: Layer) -> np.ndarray | None:
    p = layer.params
    taps, out_c, mult = p["k_h"] * p["k_w"], p["out_c"], p["depth_mult"]
    w = layer.consts["weights"].reshape(taps, out_c).astype(np.int64).T      # [out channel][tap]
    bias = _bias(layer, out_c)
    if mult > 1:
        # Each input channel is a small convolution with `mult` outputs over its own window (im2col of one
        # channel), laid out like a conv layer, one after the other.
        parts = []
        for c in range(p["in_c"]):
            rows = slice(c * mult, (c + 1) * mult)
            part = _matrix_stream(w[rows], bias[rows], p["in_offset"], p["out_offset"], layer.consts["mult"][rows],
                                  layer.consts["shift"][rows])
            if part is None:
                return None
            parts.append(part)
        return np.concatenate(parts)
    if taps > DW_MAX_TAPS:
        return None
    terms = _channel_terms(w, bias, p["in_offset"], p["out_offset"], layer.consts["mult"], layer.consts["shift"])
    if terms is None:
        return None
    scaled, folded, rq = terms
    c4 = _ceil4(out_c)
    wpad = np.zeros((c4, taps), np.int64)
    wpad[:out_c] = scaled
    bpad = np.zeros(c4, np.int64)
    bpad[:out_c] = folded
    rqpad = np.zeros((c4, 4), np.int64)
    rqpad[:out_c] = rq
    parts = []
    for b in range(c4 // 4):
        block = wpad[4 * b:4 * b + 4].T                                           # [tap][4 channels]
        parts.append(np.concatenate([bpad[4 * b:4 * b + 4], _words(_smlad_order(block)).reshape(-1),
                                     rqpad[4 * b:4 * b + 4].reshape(-1)]))
    return np.concatenate(parts).astype(np.int64).astype(np.int32)


def dsp_arrays(layer: Layer) -> dict[str, np.ndarray]:
    """The DSP kernels' constants for `layer`, or {} when the portable kernel runs it (DSP builds too)."""
    p = layer.params
    stream = None
    if layer.kind == "conv" and p["filter_c"] == p["in_c"]:  # grouped convolutions stay portable
        stream = _matrix_stream(layer.consts["weights"].reshape(p["out_c"], -1), _bias(layer, p["out_c"]),
                                p["in_offset"], p["out_offset"], layer.consts["mult"], layer.consts["shift"])
    elif layer.kind == "fc":
        w = layer.consts["weights"].astype(np.int64) + p["weights_offset"]
        stream = _matrix_stream(w, _bias(layer, p["out_c"]), p["in_offset"], p["out_offset"], layer.consts["mult"],
                                layer.consts["shift"])
    elif layer.kind == "depthwise":
        stream = _depthwise_stream(layer)
    return {} if stream is None else {"dsp_weights": stream}


def always_rounds(layer: Layer) -> int:
    """1 when every channel has a right shift (e >= 1): the kernels may then add the sign as `r asr 31`
    instead of masking it, one instruction less per output (kws_dsp.h KWS_DSP_RQ_SHIFTED)."""
    return int(all(int(s) < 0 for s in layer.consts["shift"]))


def dsp_fields(layer: Layer) -> dict[str, int]:
    """Scalar fields of the DSP flavour's parameter struct besides the stream."""
    return {"dsp_round": always_rounds(layer)}


def conv_is_direct(p: dict) -> bool:
    """1x1 convolutions without padding read their input pixels directly (no im2col)."""
    return p["k_h"] == 1 and p["k_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0


def expands(k: int, outputs: int) -> bool:
    """Whether the kernel sign-extends a vector of k inputs to int16 once for `outputs` output channels
    (must agree with KWS_DSP_EXPANDS in firmware/kernels/kws_dsp.h)."""
    return k <= EXPAND_MAX_INPUTS and outputs > 8


def scratch_bytes(layer: Layer) -> int:
    """Arena scratch the DSP kernel needs for `layer` (0 when it runs portable or needs none)."""
    if layer.kind not in ("conv", "depthwise") or not dsp_arrays(layer):
        return 0
    p = layer.params
    if layer.kind == "conv":
        k = p["k_h"] * p["k_w"] * p["in_c"]
        col = 0 if conv_is_direct(p) else _ceil4(k)
        return col + (2 * _ceil4(k) if expands(k, p["out_c"]) else 0)
    if p["depth_mult"] > 1:  # one input channel runs as a convolution (im2col needs no zero point row then)
        k = p["k_h"] * p["k_w"]
        return _ceil4(k) + (2 * _ceil4(k) if expands(k, p["depth_mult"]) else 0)
    return _ceil4(p["in_c"])  # a row of zero points for taps in the padding
