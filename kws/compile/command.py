"""`kws compile MODEL.tflite --out DIR`: a full-int8 TFLite model to one C99 source + header, and the API.

    kws compile runs/demo/export/model_int8.tflite --out runs/demo/export/aot     # -> kws_model_aot.c/.h

    from kws.compile.command import compile_tflite
    result = compile_tflite("model_int8.tflite", "out/", name="kws_model")
    result.arena_bytes, result.weight_bytes, [layer.macs for layer in result.layers]

No TensorFlow: the flatbuffer is read by kws.compile.tflite_reader. Build the output with
firmware/kernels/*.c (see the generated header's comment).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kws.compile import codegen, dsp_layout
from kws.compile.graph import CompileError, lower
from kws.compile.planner import plan_memory
from kws.compile.tflite_reader import read_tflite
from kws.errors import KwsError


@dataclass(frozen=True)
class LayerInfo:
    """One kernel call of the compiled model."""

    index: int
    opcode: str
    output_shape: tuple[int, ...]
    macs: int
    weight_bytes: int
    dsp_weights: str = ""
    """The DSP flavour's weights: "int16", "int8" (kws/compile/dsp_layout.py's rule), or "" (portable kernel or
    no matrix: depthwise multiplier 1 keeps its own int16 layout)."""


@dataclass(frozen=True)
class CompileResult:
    """What `compile_tflite` wrote and what the model needs."""

    name: str
    source: Path
    header: Path
    sha256: str
    input_bytes: int
    output_bytes: int
    arena_bytes: int
    """Activation buffer of the portable flavour (bytes)."""
    arena_bytes_dsp: int
    """Activation buffer plus the DSP kernels' scratch (bytes)."""
    greedy_arena_bytes: int
    """The same activations planned greedily without overlaps (TFLM's planner)."""
    weight_bytes: int
    weight_bytes_dsp: int
    macs: int
    layers: tuple[LayerInfo, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["source"], data["header"] = str(self.source), str(self.header)
        return data


def compile_tflite(tflite_path: str | Path, out_dir: str | Path, *, name: str = "kws_model",
                   optimize: str = "balanced") -> CompileResult:
    """Compile a full-int8 TFLite model to `<out_dir>/<name>_aot.c` and `.h`. CompileError (a KwsError) when
    an operator, type or shape is unsupported; the message names the operator and the tensor. `optimize`
    chooses the DSP flavour's weight layout per layer (kws/compile/dsp_layout.py): "balanced" (int8 weights
    where they save at least 1 B of flash per extra instruction per inference), "speed" (int16 wherever
    possible), "size" (int8 wherever possible)."""
    if optimize not in dsp_layout.OPTIMIZE:
        raise CompileError(f"--optimize {optimize!r}: choose from {', '.join(dsp_layout.OPTIMIZE)}")
    path = Path(tflite_path)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CompileError(f"--name {name!r} is not a C identifier (letters, digits, underscores)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CompileError(f"{path}: cannot read the model ({exc.strerror})") from None
    graph = lower(read_tflite(raw, str(path)), str(path))
    dsp = {i: dsp_layout.dsp_plan(layer, optimize) if layer.kind in dsp_layout.DSP_KINDS else None
           for i, layer in enumerate(graph.layers)}
    plan = plan_memory(graph, {i: d.scratch for i, d in dsp.items() if d is not None})
    for i in plan.reverse:  # outputs placed above their inputs: those kernels run rows last to first
        graph.layers[i].params["reverse"] = 1
    sha256 = hashlib.sha256(raw).hexdigest()
    files = codegen.generate(graph, plan, name=name, source=path.name, sha256=sha256, dsp=dsp, optimize=optimize)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source, header = out / f"{name}_aot.c", out / f"{name}_aot.h"
    for target, text in ((source, files.source_text), (header, files.header_text)):
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")  # unchanged files keep their timestamps (make)
    layers = tuple(LayerInfo(i, layer.opcode, graph.tensors[layer.output].shape, layer.macs,
                             sum(int(a.nbytes) for a in layer.consts.values()),
                             dsp[i].weights if dsp[i] is not None else "")
                   for i, layer in enumerate(graph.layers))
    return CompileResult(name, source, header, sha256, graph.tensors[graph.input].size,
                         graph.tensors[graph.output].size, plan.arena_bytes, plan.total_bytes, plan.greedy_bytes,
                         files.weight_bytes["portable"], files.weight_bytes["dsp"], sum(la.macs for la in layers),
                         layers)


def _run(args: argparse.Namespace) -> int:
    result = compile_tflite(args.model, args.out, name=args.name, optimize=args.optimize)
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
        return 0
    print(f"wrote {result.source} and {result.header}")
    print(f"{'layer':>5}  {'op':<18} {'output':<14} {'MACs':>10} {'weights':>8}  DSP weights")
    for layer in result.layers:
        shape = "x".join(str(s) for s in layer.output_shape)
        print(f"{layer.index:>5}  {layer.opcode:<18} {shape:<14} {layer.macs:>10} {layer.weight_bytes:>8}  "
              f"{layer.dsp_weights or '-'}")
    print(f"MACs {result.macs:,}; weights {result.weight_bytes:,} B (DSP layout {result.weight_bytes_dsp:,} B, "
          f"--optimize {args.optimize}: the header says why per layer); "
          f"activation buffer {result.arena_bytes:,} B (DSP with scratch {result.arena_bytes_dsp:,} B; "
          f"greedy without overlap {result.greedy_arena_bytes:,} B)")
    return 0


def register(commands: Any) -> None:
    """Add `compile` to an argparse subparsers object (kws.cli wires it)."""
    parser = commands.add_parser("compile", help="compile a full-int8 TFLite model to plain C99 (no interpreter)",
                                 description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="full-int8 .tflite model")
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>_aot.c and <name>_aot.h")
    parser.add_argument("--name", default="kws_model", help="C prefix: <name>_invoke(), <name>_aot.h (default "
                                                            "kws_model)")
    parser.add_argument("--optimize", choices=dsp_layout.OPTIMIZE, default="balanced",
                        help="the Cortex-M4 DSP kernels' weights per layer: balanced (default: int8 where they save "
                             ">= 1 B of flash per extra instruction per inference, e.g. fully connected layers), "
                             "speed (int16 wherever possible), size (int8 wherever possible)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    parser.set_defaults(handler=_run)


def main(argv: list[str] | None = None) -> int:
    """`python -m kws.compile MODEL --out DIR` without the kws CLI."""
    parser = argparse.ArgumentParser(prog="python -m kws.compile")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compile", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.handler(args)
    except KwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

