"""Write the compiled model as C99: `<name>_aot.c` (constants, parameter structs, the invoke function) and
`<name>_aot.h` (sizes, quantization, per-layer MACs, the entry points).

    from kws.compile.codegen import generate
    files = generate(graph, plan, name="kws_model", source="model.tflite", sha256=digest)
    files.source_text, files.header_text

Two kernel flavours share one source: the portable kernels and the Cortex-M4 DSP ones, chosen by the
compiler through KWS_KERNELS_DSP (firmware/kernels/kws_kernels.h). Arrays only the DSP kernels read
(reordered weights, folded biases) and the arena size of each flavour sit under `#if KWS_KERNELS_DSP`.
No heap, no interpreter: one static arena, const arrays in flash, one kernel call per layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kws.compile import dsp_layout
from kws.compile.graph import Graph, Layer
from kws.compile.planner import MemoryPlan

_C_TYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t", np.dtype(np.int32): "int32_t",
            np.dtype(np.uint8): "uint8_t"}
_STRUCTS = {"conv": "kws_conv_params", "depthwise": "kws_conv_params", "fc": "kws_fc_params",
            "avgpool": "kws_pool_params", "maxpool": "kws_pool_params", "softmax": "kws_softmax_params",
            "add": "kws_add_params", "mean": "kws_mean_params"}
_CALLS = {"conv": "kws_conv_s8", "depthwise": "kws_depthwise_s8", "fc": "kws_fc_s8", "avgpool": "kws_avgpool_s8",
          "maxpool": "kws_maxpool_s8", "softmax": "kws_softmax_s8", "add": "kws_add_s8", "mean": "kws_mean_s8"}
_FIELDS = {
    "conv": ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "filter_c", "stride_h",
             "stride_w", "dil_h", "dil_w", "pad_h", "pad_w", "depth_mult", "in_offset", "out_offset", "act_min",
             "act_max", "reverse"),
    "fc": ("batches", "accum", "out_c", "in_offset", "weights_offset", "out_offset", "act_min", "act_max"),
    "pool": ("batches", "in_h", "in_w", "channels", "out_h", "out_w", "k_h", "k_w", "stride_h", "stride_w", "pad_h",
             "pad_w", "act_min", "act_max", "reverse"),
    "softmax": ("outer", "depth", "input_mult", "input_left_shift", "diff_min"),
    "add": ("size", "ndims", "dims", "stride1", "stride2", "in1_offset", "in2_offset", "left_shift", "mult1",
            "shift1", "mult2", "shift2", "out_mult", "out_shift", "out_offset", "act_min", "act_max"),
    "mean": ("ndims", "dims", "reduce", "num_elements", "in_zero_point", "out_zero_point", "mult", "shift"),
}
_FIELDS["depthwise"] = _FIELDS["conv"]
_FIELDS["avgpool"] = _FIELDS["maxpool"] = _FIELDS["pool"]


@dataclass(frozen=True)
class GeneratedFiles:
    """The two generated texts and what they state."""

    source_text: str
    header_text: str
    weight_bytes: dict[str, int]
    """Constant bytes in flash per flavour ("portable", "dsp"): arrays and parameter structs' arrays."""


def _array(name: str, values: np.ndarray, align: int = 4) -> str:
    values = np.asarray(values)
    ctype = _C_TYPES[values.dtype]
    flat = [str(int(v)) for v in values.reshape(-1)]
    lines = []
    for i in range(0, len(flat), 24):
        lines.append("    " + ", ".join(flat[i:i + 24]) + ",")
    body = "\n".join(lines) if lines else "    0,"
    return f"static const {ctype} {name}[{max(1, len(flat))}] KWS_AOT_ALIGN({align}) = {{\n{body}\n}};\n"


def _value(v: object) -> str:
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(str(int(x)) for x in v) + "}"
    return str(int(v))  # type: ignore[call-overload]


def _struct(layer: Layer, name: str, arrays: dict[str, str | None]) -> str:
    fields = [f"    .{f} = {_value(layer.params[f])}," for f in _FIELDS[layer.kind]]
    fields += [f"    .{k} = {v}," for k, v in arrays.items() if v is not None]
    return f"static const {_STRUCTS[layer.kind]} {name} = {{\n" + "\n".join(fields) + "\n};\n"


def _pointer(plan: MemoryPlan, tensor: int, const_names: dict[int, str]) -> str:
    kind, offset = plan.storage[tensor]
    if kind == "input":
        return "in"
    if kind == "output":
        return "out"
    if kind == "const":
        return const_names[tensor]
    return f"(kws_aot_arena.bytes + {offset})"


def _nbytes(a: np.ndarray) -> int:
    return int(np.asarray(a).nbytes)


@dataclass
class _LayerCode:
    consts: list[str]
    common: str = ""
    portable: str = ""
    dsp: str = ""
    bytes_portable: int = 0
    bytes_dsp: int = 0


def _layer_code(i: int, layer: Layer, dsp: dsp_layout.DspPlan | None) -> _LayerCode:
    """Constant arrays and parameter struct(s) of one layer. A layer the DSP kernels take gets its DSP stream
    (and struct) under `#if KWS_KERNELS_DSP` and its portable arrays under `#else`; others share one struct."""
    prefix = f"l{i}"
    arrays = {key: layer.consts[key] for key in ("weights", "bias", "mult", "shift") if key in layer.consts}
    texts = {key: _array(f"{prefix}_{key}", a) for key, a in arrays.items()}
    names: dict[str, str | None] = {key: f"{prefix}_{key}" for key in arrays}
    size = sum(_nbytes(a) for a in arrays.values())
    if dsp is None:
        return _LayerCode(list(texts.values()), common=_struct(layer, f"{prefix}_params", names),
                          bytes_portable=size, bytes_dsp=size)
    dsp_text = _array(f"{prefix}_dsp_weights", dsp.stream, align=8)
    consts = ["#if KWS_KERNELS_DSP\n" + dsp_text + "#else\n" + "".join(texts.values()) + "#endif\n"]
    dsp_names: dict[str, str | None] = {"dsp_weights": f"{prefix}_dsp_weights"}
    dsp_names.update(dsp_layout.dsp_fields(layer, dsp))
    return _LayerCode(consts, portable=_struct(layer, f"{prefix}_params", names),
                      dsp=_struct(layer, f"{prefix}_params", dsp_names), bytes_portable=size,
                      bytes_dsp=_nbytes(dsp.stream))


def _calls(graph: Graph, plan: MemoryPlan, const_names: dict[int, str], dsp: set[int]) -> list[str]:
    """One kernel call per layer; layers with a DSP stream call the DSP entry directly in DSP builds
    (KWS_AOT_DSP), so those builds do not link portable kernels they never run."""
    calls = []
    for i, layer in enumerate(graph.layers):
        out_ptr = _pointer(plan, layer.output, const_names)
        if layer.kind == "reshape":
            if i in plan.copies:
                calls.append(f"    kws_aot_copy(out, in, {graph.tensors[layer.output].size});")
            continue
        args = [_pointer(plan, t, const_names) for t in layer.inputs]
        kernel = f"KWS_AOT_DSP({_CALLS[layer.kind]})" if i in dsp else _CALLS[layer.kind]
        call = f"    {kernel}(&l{i}_params, {', '.join(args)}, {out_ptr}"
        if layer.kind in ("conv", "depthwise"):
            call += f", KWS_AOT_SCRATCH({i})"
        calls.append(call + f");\n    KWS_AOT_LAYER_DONE({i});")
    if not graph.layers:
        calls.append(f"    kws_aot_copy(out, in, {graph.tensors[graph.input].size});")
    return calls


def _arena_lines(graph: Graph, plan: MemoryPlan) -> str:
    lines = ["#if KWS_KERNELS_DSP", f"#define KWS_AOT_ARENA_BYTES {max(plan.total_bytes, 8)}"]
    lines += [f"#define KWS_AOT_SCRATCH_{i} (kws_aot_arena.bytes + {offset})"
              for i, offset in sorted(plan.scratch.items())]
    lines += ["#else", f"#define KWS_AOT_ARENA_BYTES {max(plan.arena_bytes, 8)}", "#endif"]
    for i, layer in enumerate(graph.layers):
        if layer.kind in ("conv", "depthwise"):
            lines.append(f"#ifndef KWS_AOT_SCRATCH_{i}\n#define KWS_AOT_SCRATCH_{i} ((int8_t *)0)\n#endif")
    return "\n".join(lines)


def generate(graph: Graph, plan: MemoryPlan, *, name: str, source: str, sha256: str,
             dsp: dict[int, dsp_layout.DspPlan | None] | None = None, optimize: str = "balanced") -> GeneratedFiles:
    """C source and header for `graph` laid out by `plan` (its scratch buffers serve the DSP flavour only);
    `dsp`: the DSP plan of each layer (dsp_layout.dsp_plan with `optimize`, computed when not given)."""
    if dsp is None:
        dsp = {i: dsp_layout.dsp_plan(layer, optimize) if layer.kind in dsp_layout.DSP_KINDS else None
               for i, layer in enumerate(graph.layers)}
    macro = name.upper() + "_AOT"
    consts: list[str] = []
    weight_bytes = {"portable": 0, "dsp": 0}
    const_names: dict[int, str] = {}
    for t in sorted({t for layer in graph.layers for t in layer.inputs if graph.tensors[t].data is not None}):
        const_names[t] = f"kws_aot_const{t}"
        data = graph.tensors[t].data.astype(np.int8)
        consts.append(_array(const_names[t], data))
        weight_bytes["portable"] += _nbytes(data)
        weight_bytes["dsp"] += _nbytes(data)
    by_layer = {i: _layer_code(i, layer, dsp.get(i)) for i, layer in enumerate(graph.layers)
                if layer.kind != "reshape"}
    codes = list(by_layer.values())
    for code in codes:
        consts += code.consts
        weight_bytes["portable"] += code.bytes_portable
        weight_bytes["dsp"] += code.bytes_dsp
    macs = [layer.macs for layer in graph.layers]
    in_t, out_t = graph.tensors[graph.input], graph.tensors[graph.output]
    source_text = _SOURCE.format(
        source=source, sha256=sha256, header=f"{name}_aot.h", name=name, macro=macro, plan=_arena_lines(graph, plan),
        consts="\n".join(consts), structs_common="\n".join(c.common for c in codes if c.common),
        structs_portable="\n".join(c.portable for c in codes if c.portable),
        structs_dsp="\n".join(c.dsp for c in codes if c.dsp), layer_macs=", ".join(f"{m}u" for m in macs) or "0u",
        calls="\n".join(_calls(graph, plan, const_names, {i for i, d in dsp.items() if d is not None})))
    rows = []
    for i, layer in enumerate(graph.layers):
        shape = "x".join(str(s) for s in graph.tensors[layer.output].shape)
        code = by_layer.get(i)
        flash = f"{code.bytes_portable:>8} {code.bytes_dsp:>8}" if code else f"{0:>8} {0:>8}"
        rows.append(f" *   {i:>3}  {layer.opcode:<18} {shape:<16} {layer.macs:>10} {flash}")
        if dsp.get(i) is not None:
            d = dsp[i]
            routines = ", ".join(r for r in (d.dot, d.rest) if r) or "its own loop"
            rows.append(f" *          DSP weights {d.note}; {routines}")
    header_text = _HEADER.format(
        source=source, sha256=sha256, guard=macro + "_H", macro=macro, name=name,
        in_bytes=in_t.size, out_bytes=out_t.size, in_scale=repr(float(np.float32(in_t.scale))),
        in_zp=in_t.zero_point, out_scale=repr(float(np.float32(out_t.scale))), out_zp=out_t.zero_point,
        arena_dsp=plan.total_bytes, arena_portable=plan.arena_bytes, greedy=plan.greedy_bytes,
        weights_dsp=weight_bytes["dsp"], weights_portable=weight_bytes["portable"], macs=sum(macs),
        layers="\n".join(rows), nlayers=len(macs), optimize=optimize,
        rule=f"{dsp_layout.RULE_BYTES_PER_INSTRUCTION:g}")
    return GeneratedFiles(source_text, header_text, weight_bytes)


_HEADER = """\
/* Generated by `kws compile` from {source} (SHA-256 {sha256}). Do not edit: re-run the compiler.
 *
 * The model as plain C99: no interpreter, no flatbuffer, no heap. Bit-exact with TensorFlow Lite Micro.
 * Build {name}_aot.c with the C files of firmware/kernels (include path firmware/kernels). On a Cortex-M4 with the
 * DSP extension the SMLAD kernels are used unless KWS_KERNELS_PORTABLE is defined.
 *
 * Layers: MACs, constant bytes in flash (weights, biases, requantization) of each kernel flavour, and the
 * DSP flavour's weight layout (kws/compile/dsp_layout.py, compiled with --optimize {optimize}): int8 weights
 * where they save at least {rule} B of flash per extra instruction per inference (balanced), int16 wherever
 * possible (speed), int8 wherever possible (size):
 *   idx  op                 output                 MACs portable      DSP
{layers}
 */
#ifndef {guard}
#define {guard}

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {macro}_SHA256 "{sha256}"
#define {macro}_BACKEND "aot-c"
#define {macro}_INPUT_BYTES {in_bytes}
#define {macro}_OUTPUT_BYTES {out_bytes}
#define {macro}_INPUT_SCALE {in_scale}f
#define {macro}_INPUT_ZERO_POINT {in_zp}
#define {macro}_OUTPUT_SCALE {out_scale}f
#define {macro}_OUTPUT_ZERO_POINT {out_zp}
/* Activation buffer (static, statically planned) per kernel flavour; the greedy figure is the same
 * buffers without in-place/overlapping placement (what TFLM's planner needs for the activations). */
#define {macro}_ARENA_BYTES_DSP {arena_dsp}
#define {macro}_ARENA_BYTES_PORTABLE {arena_portable}
#define {macro}_ARENA_BYTES_GREEDY {greedy}
/* Flash bytes of weights, biases, multipliers and shifts per flavour. */
#define {macro}_WEIGHT_BYTES_DSP {weights_dsp}
#define {macro}_WEIGHT_BYTES_PORTABLE {weights_portable}
#define {macro}_MACS {macs}u
#define {macro}_NUM_LAYERS {nlayers}

/* MACs per layer, in the order of the table above. */
extern const uint32_t {name}_layer_macs[{macro}_NUM_LAYERS > 0 ? {macro}_NUM_LAYERS : 1];

/* Runs the model: `in` holds {macro}_INPUT_BYTES int8 values (the model's input tensor), `out` receives
 * {macro}_OUTPUT_BYTES. The buffers must not overlap. Returns 0. Not reentrant (one static arena). */
int {name}_invoke(const int8_t *in, int8_t *out);

/* The same, as a kws_hal model_invoke hook (firmware/core/kws_hal.h): checks the lengths (returns -1 on a
 * mismatch). `ctx` is unused. */
int {name}_hal_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len);

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""

_SOURCE = """\
/* Generated by `kws compile` from {source} (SHA-256 {sha256}). Do not edit: re-run the compiler. */
#include "{header}"

#include "kws_kernels.h"

#if defined(__GNUC__)
#define KWS_AOT_ALIGN(n) __attribute__((aligned(n)))
#else
#define KWS_AOT_ALIGN(n)
#endif

{plan}
#define KWS_AOT_SCRATCH(i) KWS_AOT_SCRATCH_##i

/* Layers with a DSP stream call the DSP kernels' entry points in DSP builds. */
#if KWS_KERNELS_DSP
#define KWS_AOT_DSP(kernel) kernel##_dsp
#else
#define KWS_AOT_DSP(kernel) kernel
#endif

/* A profiling build defines this to mark the end of each layer (kws/compile/m4_runner.py). */
#ifndef KWS_AOT_LAYER_DONE
#define KWS_AOT_LAYER_DONE(i) ((void)0)
#endif

/* The activation buffer: every intermediate tensor at a fixed offset (kws/compile/planner.py). */
static union {{
    int64_t align;
    int8_t bytes[KWS_AOT_ARENA_BYTES];
}} kws_aot_arena;

{consts}
{structs_common}
#if KWS_KERNELS_DSP
{structs_dsp}
#else
{structs_portable}
#endif


const uint32_t {name}_layer_macs[{macro}_NUM_LAYERS > 0 ? {macro}_NUM_LAYERS : 1] = {{{layer_macs}}};

static void kws_aot_copy(int8_t *dst, const int8_t *src, size_t n) {{
    size_t i;
    for (i = 0; i < n; ++i) {{
        dst[i] = src[i];
    }}
}}

int {name}_invoke(const int8_t *in, int8_t *out) {{
    (void)kws_aot_copy;
    (void)kws_aot_arena;
{calls}
    return 0;
}}

int {name}_hal_invoke(void *ctx, const int8_t *input, size_t input_len, int8_t *output, size_t output_len) {{
    (void)ctx;
    if (input_len != {macro}_INPUT_BYTES || output_len != {macro}_OUTPUT_BYTES) {{
        return -1;
    }}
    return {name}_invoke(input, output);
}}
"""
