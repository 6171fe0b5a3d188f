"""Constant layouts for the Cortex-M4 DSP kernels (firmware/kernels/kws_dsp.h, kws_dsp_dot.c and the *_dsp.c
files), and the choice per layer between int16 and int8 weights.

    from kws.compile.dsp_layout import dsp_plan
    plan = dsp_plan(layer)          # None when the portable kernel must run the layer, else a DspPlan:
    plan.stream, plan.weights, plan.dot, plan.rest, plan.scratch, plan.note

One int32 stream per layer, read front to back by the kernels: for each group of 4 output channels (conv,
fully connected, one input channel of a depthwise multiplier > 1) or block of 4 channels (depthwise
multiplier 1): 4 biases, the weights, then 4 requantization records {m, half + offset * 2^e, smask, e}.

Why each transformation keeps TFLM's result exact:
- Bias folding: TFLM computes acc = bias + sum (x + in_off) * (w + w_off). With w' = w + w_off and
  b' = bias + in_off * sum(w') the kernels compute b' + sum x * w', the same integer, provided every tap
  TFLM skips (padding) reads x = -in_off (the zero point): the conv kernel's padded row blocks and the
  depthwise kernels do.
- Scaling: the accumulator must be A = f * acc with f = 2^(1 + L) (L = the channel's left shift, 0 for the
  usual right shifts), so that SMMULR(A, m) = floor((acc * 2^L * m + 2^30) / 2^31) = SRDHM(acc * 2^L, m): the
  exact first rounding. int16 weights carry f (weights and bias multiplied by it); int8 weights are stored
  as they are (w' must fit in int8 and every L be 0) and the kernel doubles the accumulator (one LSL per
  output).
- The second rounding, RoundingDivideByPOT(r, e), is (r + half + (sign(r) & smask)) >> e with
  (half, smask) = (2^(e-1), -1), or (0, 0) when e = 0; adding out_offset * 2^e before the shift adds
  exactly out_offset after it (a multiple of 2^e passes through the floor).
- The layer is left to the portable kernel if any |f * w'| > 32767 or a sum could reach 2^31: the
  accumulator bound f * (|b'| + 128 * sum |w'|), and |r| + |half + offset * 2^e| with |r| <= bound * m / 2^32 + 1.
  SMLAD wraps modulo 2^32, so partial sums may pass 2^31 on the way: only the final sum must fit.
SMLAD order: a group of 4 consecutive values v0..v3 is stored as the int16 sequence v0, v2, v1, v3, so the
words are (v0, v2) and (v1, v3): what SXTB16 and SXTB16-ROR-8 make of 4 input bytes. int8 weights keep their
order, 4 per word, one word per output per chunk of 4 inputs: SXTB16 and SXTB16-ROR-8 make (w0, w2) and
(w1, w3) of it, the lanes of the inputs' (x0, x2) and (x1, x3).

The weight layout rule (matrix streams: conv, fully connected, depthwise multiplier > 1): int16 weights take
2 bytes each for 13.5 instructions per 16 MACs (11.5 with the input sign-extended once; kws_dsp_dot.c, loop
control included); int8 weights take 1 byte for 23 (8 SXTB16 more, a loop not unrolled) plus one per output.
A layer gets int8 weights when the flash they save per extra instruction per inference reaches
RULE_BYTES_PER_INSTRUCTION: a weight read once per inference (fully connected) saves 16 B per ~9.5 extra
instructions, ~1.7 B each; a convolution reusing each weight over P pixels saves 1.7 / P B each, so it keeps
int16. `optimize="speed"` keeps int16 wherever it can, `"size"` takes int8 wherever it can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kws.compile.graph import Layer

DSP_KINDS = frozenset({"conv", "depthwise", "fc"})
DW_MAX_TAPS = 49
"""Largest depthwise window (k_h * k_w) the multiplier-1 DSP kernel takes (its tap table is on the stack)."""
EXPAND_MAX_INPUTS = 1024
"""A conv vector up to this long is sign-extended to int16 once per pixel (scratch 2 bytes per input) when
at least three groups of 4 output channels reuse it: the inner loop then skips the SXTB16 unpacking."""
BLOCK_MAX_BYTES = 1024
"""The conv kernel's block of padded input rows spans as many output columns as fit in this (at least one)."""
RULE_BYTES_PER_INSTRUCTION = 1.0
"""int8 weights for a layer when they save at least this much flash per extra instruction per inference."""
OPTIMIZE = ("balanced", "speed", "size")
CHUNK_INSTRUCTIONS = {"s8_w16": 13.5, "s16_w16": 11.5, "s8_w8": 23.0}
"""Instructions per chunk (4 inputs x 4 outputs) of kws_dsp_dot.c's loops with their loop control (unrolled by
2, 4 and not at all), the rule's cost model."""
EXPAND_INSTRUCTIONS = 5
"""Instructions per chunk of 4 inputs to sign-extend a vector (kws_dsp_expand), paid once per vector."""
_INT16_MAX = 32767
_LIMIT = 1 << 31


@dataclass(frozen=True)
class DspPlan:
    """How the DSP kernels run one layer."""

    stream: np.ndarray
    """int32 constants (biases, weights, requantization records per group)."""
    weights: str
    """"int16", "int8", or "" (depthwise multiplier 1: its own int16 layout)."""
    x16: bool
    """The input vector is sign-extended to int16 once per pixel (int16 weights only)."""
    tile: int
    """Conv with a window: output columns per block of padded input rows (0 otherwise)."""
    dot: str | None
    """Routine for the full groups of 4 outputs (kws_kernels.h), or None."""
    rest: str | None
    """Routine for the other outputs, or None."""
    scratch: int
    """Arena scratch bytes the kernel needs."""
    note: str
    """The layout choice and its figures, for the generated header."""


def _ceil4(n: int) -> int:
    return -(-n // 4) * 4


def _words(int16_values: np.ndarray) -> np.ndarray:
    """int16 pairs -> int32 words (little endian: the first value in the low half)."""
    v = np.asarray(int16_values, np.int64).reshape(-1, 2) & 0xFFFF
    return (v[:, 0] | (v[:, 1] << 16)).astype(np.uint32).view(np.int32)


def _byte_words(int8_values: np.ndarray) -> np.ndarray:
    """int8 quadruples -> int32 words (little endian: the first value in the low byte)."""
    v = np.asarray(int8_values, np.int64).reshape(-1, 4) & 0xFF
    return (v[:, 0] | (v[:, 1] << 8) | (v[:, 2] << 16) | (v[:, 3] << 24)).astype(np.uint32).view(np.int32)


def _smlad_order(values: np.ndarray) -> np.ndarray:
    """[..., 4k] -> [..., 4k] with each group of 4 as v0, v2, v1, v3."""
    shape = values.shape
    grouped = values.reshape(*shape[:-1], shape[-1] // 4, 4)
    return grouped[..., [0, 2, 1, 3]].reshape(shape)


def _channel_terms(w: np.ndarray, bias: np.ndarray, in_offset: int, out_offset: int, mult: np.ndarray,
                   shift: np.ndarray, int8: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per output channel (rows of w): stored weights, stored folded bias, requant records; None when a
    bound fails. w: [channels, K] with any weights offset already added. int16 weights and biases carry the
    scale 2^(1 + L); int8 ones are stored unscaled (the kernel doubles the accumulator), so they need
    every L = 0 and w in [-128, 127]."""
    w = w.astype(np.int64)
    scale = np.array([1 << (1 + max(0, int(s))) for s in shift], np.int64)
    folded = bias.astype(np.int64) + in_offset * w.sum(axis=1)
    bound = scale * (np.abs(folded) + 128 * np.abs(w).sum(axis=1))
    if int8:
        if (scale != 2).any() or w.min(initial=0) < -128 or w.max(initial=0) > 127:
            return None
        stored, stored_bias = w, folded
    else:
        stored, stored_bias = w * scale[:, None], folded * scale
    if np.abs(stored).max(initial=0) > _INT16_MAX or bound.max(initial=0) >= _LIMIT:
        return None
    rq = np.zeros((len(w), 4), np.int64)
    for c, (m, s) in enumerate(zip(mult, shift)):
        e = max(0, -int(s))
        half = ((1 << (e - 1)) if e else 0) + out_offset * (1 << e)
        if int(bound[c]) * int(m) // (1 << 32) + 1 + abs(half) >= _LIMIT:
            return None
        rq[c] = (int(m), half, -1 if e else 0, e)
    return stored, stored_bias, rq


def _matrix_stream(w: np.ndarray, bias: np.ndarray, in_offset: int, out_offset: int, mult: np.ndarray,
                   shift: np.ndarray, int8: bool = False) -> np.ndarray | None:
    """Weights [n_out, K] -> per group of 4 outputs: 4 biases, per chunk of 4 inputs 8 words (int16 pairs of
    the 4 outputs in SMLAD order) or 4 words (int8: one word per output, inputs in order), 4 x 4 record words."""
    n_out, k = w.shape
    terms = _channel_terms(w, bias, in_offset, out_offset, mult, shift, int8)
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
    # chunks: [group][chunk][output in group][4 values] -> 8 (int16) or 4 (int8) words per (group, chunk)
    grouped = (wpad if int8 else _smlad_order(wpad)).reshape(n4 // 4, 4, k4 // 4, 4).transpose(0, 2, 1, 3)
    chunks = (_byte_words(grouped) if int8 else _words(grouped)).reshape(n4 // 4, -1)
    parts = [np.concatenate([bpad[4 * g:4 * g + 4], chunks[g], rqpad[4 * g:4 * g + 4].reshape(-1)])
             for g in range(n4 // 4)]
    return np.concatenate(parts).astype(np.int64).astype(np.int32)


def _bias(layer: Layer, n: int) -> np.ndarray:
    return layer.consts["bias"].astype(np.int64) if "bias" in layer.consts else np.zeros(n, np.int64)


def _depthwise_mult1_stream(layer: Layer) -> np.ndarray | None:
    p = layer.params
    taps, out_c = p["k_h"] * p["k_w"], p["out_c"]
    if taps > DW_MAX_TAPS:
        return None
    w = layer.consts["weights"].reshape(taps, out_c).astype(np.int64).T      # [out channel][tap]
    terms = _channel_terms(w, _bias(layer, out_c), p["in_offset"], p["out_offset"], layer.consts["mult"],
                           layer.consts["shift"])
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


@dataclass(frozen=True)
class _Matrix:
    """A layer as matrices through the dot-product routines: `count` matrices [n_out, k] (one per input
    channel for a depthwise multiplier > 1) over `vectors` input vectors per inference."""

    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    """Per matrix: weights [n_out, k] (offset added), bias, mult, shift."""
    n_out: int
    k: int
    vectors: int
    readable: bool
    """The kernel's vector may be read up to its next multiple of 4 bytes."""
    expandable: bool


def _matrix(layer: Layer) -> _Matrix | None:
    p, c = layer.params, layer.consts
    if layer.kind == "fc":
        w = c["weights"].astype(np.int64) + p["weights_offset"]
        return _Matrix([(w, _bias(layer, p["out_c"]), c["mult"], c["shift"])], p["out_c"], p["accum"],
                       p["batches"], p["accum"] % 4 == 0, False)
    pixels = p["batches"] * p["out_h"] * p["out_w"]
    if layer.kind == "conv":
        if p["filter_c"] != p["in_c"]:  # grouped convolutions stay portable
            return None
        k = p["k_h"] * p["k_w"] * p["in_c"]
        w = c["weights"].reshape(p["out_c"], -1).astype(np.int64)
        return _Matrix([(w, _bias(layer, p["out_c"]), c["mult"], c["shift"])], p["out_c"], k, pixels,
                       not conv_is_direct(p) or k % 4 == 0, k <= EXPAND_MAX_INPUTS)
    if layer.kind == "depthwise" and p["depth_mult"] > 1:
        # Each input channel is a small convolution with `mult` outputs over its own window (im2col of one
        # channel), laid out like a conv layer, one after the other.
        taps, m = p["k_h"] * p["k_w"], p["depth_mult"]
        w = c["weights"].reshape(taps, p["out_c"]).astype(np.int64).T
        bias = _bias(layer, p["out_c"])
        rows = [(w[ch * m:(ch + 1) * m], bias[ch * m:(ch + 1) * m], c["mult"][ch * m:(ch + 1) * m],
                 c["shift"][ch * m:(ch + 1) * m]) for ch in range(p["in_c"])]
        readable = p["in_c"] > 1 or not conv_is_direct(p) or taps % 4 == 0  # one channel: the conv kernel
        return _Matrix(rows, m, taps, pixels * p["in_c"], readable, taps <= EXPAND_MAX_INPUTS)
    return None


def _streams(layer: Layer, mat: _Matrix, int8: bool) -> np.ndarray | None:
    p = layer.params
    parts = []
    for w, bias, mult, shift in mat.rows:
        part = _matrix_stream(w, bias, p["in_offset"], p["out_offset"], mult, shift, int8)
        if part is None:
            return None
        parts.append(part)
    return np.concatenate(parts)


def _int8_cost(mat: _Matrix, x16: bool) -> tuple[int, int]:
    """(flash bytes int8 weights save, instructions per inference they add) against int16 weights."""
    n4, k4 = _ceil4(mat.n_out), _ceil4(mat.k)
    chunks = mat.vectors * (n4 // 4) * (k4 // 4)
    base = CHUNK_INSTRUCTIONS["s16_w16" if x16 else "s8_w16"] * chunks
    if x16:
        base += EXPAND_INSTRUCTIONS * mat.vectors * (k4 // 4)
    extra = CHUNK_INSTRUCTIONS["s8_w8"] * chunks + mat.vectors * n4 - base
    return n4 * k4 * len(mat.rows), round(extra)


def expands(k: int, outputs: int) -> bool:
    """Whether an int16-weight kernel sign-extends a vector of k inputs to int16 once for `outputs` output
    channels (the conv and depthwise kernels follow the plan's x16)."""
    return k <= EXPAND_MAX_INPUTS and outputs > 8


def _choose(layer: Layer, mat: _Matrix, optimize: str) -> tuple[np.ndarray, bool, bool, str] | None:
    """(stream, int8 weights, x16, note) by the rule, or None when neither layout's bounds hold."""
    x16 = mat.expandable and expands(mat.k, mat.n_out)
    wide, narrow = _streams(layer, mat, False), _streams(layer, mat, True)
    if wide is None and narrow is None:
        return None
    saved, extra = _int8_cost(mat, x16)
    rate = saved / max(1, extra)
    figures = f"int8 saves {saved:,} B for ~{extra:,} more instructions per inference ({rate:.3g} B/instr)"
    if narrow is None:
        return wide, False, x16, "int16: int8 impossible (a left shift, a weight outside int8 or a bound)"
    if wide is None:
        return narrow, True, False, f"int8: int16 impossible ({figures})"
    threshold = {"balanced": RULE_BYTES_PER_INSTRUCTION, "speed": float("inf"), "size": 0.0}[optimize]
    if rate >= threshold:
        return narrow, True, False, f"int8: {figures} >= {threshold:g} ({optimize})"
    return wide, False, x16, f"int16: {figures} < {threshold:g} ({optimize})"


def _tile(p: dict) -> int:
    """Output columns per block of padded input rows: as many as fit in BLOCK_MAX_BYTES, at least one."""
    def block(t: int) -> int:
        return p["k_h"] * ((t - 1) * p["stride_w"] + (p["k_w"] - 1) * p["dil_w"] + 1) * p["in_c"]

    tile = p["out_w"]
    while tile > 1 and block(tile) > BLOCK_MAX_BYTES:
        tile -= 1
    return tile


def _scratch(layer: Layer, k: int, x16: bool, tile: int) -> int:
    p = layer.params
    k4 = _ceil4(k)
    expanded = 2 * k4 if x16 else 0
    if layer.kind == "fc":
        return 0
    if layer.kind == "depthwise" and p["in_c"] > 1:
        return k4 + expanded  # one input channel's window, gathered (the zero point row needs no more)
    if tile == 0:
        return expanded       # direct: the input pixels are the vectors
    span = (tile - 1) * p["stride_w"] + (p["k_w"] - 1) * p["dil_w"] + 1
    return _ceil4(p["k_h"] * span * p["in_c"]) + k4 + expanded


def _routines(layer: Layer, mat: _Matrix, int8: bool, x16: bool) -> tuple[str | None, str | None]:
    p = layer.params
    fast = p["act_min"] == -128 and p["act_max"] == 127 and (x16 or mat.readable) and mat.n_out >= 4
    kind = "w8" if int8 else "w16"
    dot = f"kws_dsp_dot_{'s16' if x16 else 's8'}_{kind}{'_r' if always_rounds(layer) else ''}" if fast else None
    rest = f"kws_dsp_dot_any_{kind}" if not fast or mat.n_out % 4 else None
    return dot, rest


def dsp_plan(layer: Layer, optimize: str = "balanced") -> DspPlan | None:
    """How the DSP kernels run `layer`, or None when the portable kernel runs it (DSP builds too)."""
    if optimize not in OPTIMIZE:
        raise ValueError(f"optimize must be one of {', '.join(OPTIMIZE)}, not {optimize!r}")
    p = layer.params
    if layer.kind == "depthwise" and p["depth_mult"] == 1:
        stream = _depthwise_mult1_stream(layer)
        if stream is None:
            return None
        return DspPlan(stream, "", False, 0, None, None, _ceil4(p["in_c"]), "int16 (depthwise multiplier 1)")
    mat = _matrix(layer)
    chosen = None if mat is None else _choose(layer, mat, optimize)
    if mat is None or chosen is None:
        return None
    stream, int8, x16, note = chosen
    windowed = layer.kind != "fc" and (layer.kind == "conv" or p["in_c"] == 1) and not conv_is_direct(p)
    tile = _tile(p) if windowed else 0
    dot, rest = _routines(layer, mat, int8, x16)
    return DspPlan(stream, "int8" if int8 else "int16", x16, tile, dot, rest, _scratch(layer, mat.k, x16, tile),
                   note)


def always_rounds(layer: Layer) -> int:
    """1 when every channel has a right shift (e >= 1): the kernels may then add the sign as `r asr 31`
    instead of masking it, one instruction less per output (kws_dsp_dot.c KWS_DSP_RQ_R)."""
    return int(all(int(s) < 0 for s in layer.consts["shift"]))


def dsp_fields(layer: Layer, plan: DspPlan) -> dict[str, str]:
    """Fields of the DSP flavour's parameter struct besides the stream (C expressions)."""
    fields = {"dsp_round": str(always_rounds(layer))}
    if layer.kind in ("conv", "depthwise"):
        fields.update(dsp_x16=str(int(plan.x16)), dsp_tile=str(plan.tile))
    if layer.kind == "fc" or plan.dot is not None or plan.rest is not None:
        fields.update(dsp_dot=plan.dot or "NULL", dsp_rest=plan.rest or "NULL")
    return fields


def conv_is_direct(p: dict) -> bool:
    """1x1 convolutions without padding read their input pixels directly (no window)."""
    return p["k_h"] == 1 and p["k_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0


def scratch_bytes(layer: Layer, optimize: str = "balanced") -> int:
    """Arena scratch the DSP kernel needs for `layer` (0 when it runs portable or needs none)."""
    plan = dsp_plan(layer, optimize) if layer.kind in DSP_KINDS else None
    return 0 if plan is None else plan.scratch
