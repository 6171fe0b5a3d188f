"""Benchmark `kws compile`: the compiled models on the Cortex-M4 (QEMU mps2-an386) with the portable and the
DSP kernels, per model and per layer, against TensorFlow Lite Micro.

    .venv/bin/python tools/bench_compile.py                     # tiny_conv, DS-CNN and the MLPerf Tiny model
    .venv/bin/python tools/bench_compile.py --models mlperf_ds_cnn --json bench.json
    .venv/bin/python tools/bench_compile.py --tflite my_model.tflite
    .venv/bin/python tools/bench_compile.py --models tiny_conv --optimize speed    # int16 weights everywhere

Per model: instructions per inference and per MAC under QEMU (-icount shift=0: SysTick counts instructions
exactly to 40; instructions, not Cortex-M4 cycles), flash (the generated model's code and constants plus
the kernels linked in, from the linker map), RAM (the activation buffer plus the program's measured stack
high-water mark), TFLM's smallest working arena for the same model (tflite_micro on this 64-bit host, an
upper bound for a board), and host time per inference of the compiled model (-O2 shared library) against
the tflite_micro runtime. Every run is also checked bit for bit against tflite_micro. Goals (issue 11):
DS-CNN <= 1.3 instructions/MAC, tiny_conv <= 1.5, compiled RAM <= half of TFLM's arena. Published anchors
(cycles/MAC on a Cortex-M4, DS-CNN): TFLM + CMSIS-NN 8.2, microTVM + CMSIS-NN 4.5, X-CUBE-AI 1.95.
Not a test: it takes a few minutes (TensorFlow builds the models; the portable runs are long).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the seeded model builders the tests use (compile_models.py)

SHARED = REPO_ROOT.parent / "shared"
MLPERF_MODEL = SHARED / "models" / "mlperf_tiny_kws_ref_model.tflite"
GOALS = {"tiny_conv": 1.5, "tiny_conv_dw8": 1.5, "ds_cnn_logmel": 1.3, "ds_cnn_mfcc": 1.3, "mlperf_ds_cnn": 1.3}
MODELS = tuple(GOALS)


def _features(feature_type: str, count: int) -> np.ndarray:
    from compile_models import real_features

    root = SHARED / "data" / "sc-real-dev"
    if root.is_dir():
        return real_features(root, feature_type, count).reshape(count, -1)
    print(f"note: {root} is absent; random int8 inputs instead of real features", file=sys.stderr)
    return np.random.default_rng(0).integers(-128, 128, (count, 49 * (10 if feature_type == "mfcc" else 40)),
                                             dtype=np.int8)


def build_models(names: list[str], folder: Path, count: int) -> list[tuple[str, bytes, np.ndarray]]:
    """(name, flatbuffer, int8 inputs [count, input bytes]) for each requested model."""
    from compile_models import ds_cnn_tflite, tiny_conv_tflite

    out = []
    for name in names:
        if name == "tiny_conv":
            out.append((name, tiny_conv_tflite(folder), _features("logmel", count)))
        elif name == "tiny_conv_dw8":
            out.append((name, tiny_conv_tflite(folder, depthwise=True), _features("logmel", count)))
        elif name in ("ds_cnn_logmel", "ds_cnn_mfcc"):
            kind = name.split("_")[-1]
            out.append((name, ds_cnn_tflite(folder, kind), _features(kind, count)))
        elif name == "mlperf_ds_cnn":
            if not MLPERF_MODEL.exists():
                print(f"note: {MLPERF_MODEL} is absent; skipping mlperf_ds_cnn", file=sys.stderr)
                continue
            from kws.compile.tflite_reader import read_tflite
            from kws.config import load_config

            raw = MLPERF_MODEL.read_bytes()
            q = read_tflite(raw).tensors[read_tflite(raw).inputs[0]].quantization
            cfg = load_config(None, ['frontend.feature_type="mfcc"']).frontend
            real = (_features("mfcc", count).astype(np.float64) - cfg.input_zero_point) * cfg.input_scale
            x = np.clip(np.round(real / float(q.scale[0])) + int(q.zero_point[0]), -128, 127).astype(np.int8)
            out.append((name, raw, x))
        else:
            raise SystemExit(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return out


def _flash(elf: Path, model_name: str) -> dict[str, int]:
    """Code and constants of the model's object and the kernels' objects, from the linker map."""
    from kws.device.m4 import size_report

    report = size_report(elf)
    code = const = 0
    for obj, kinds in report.objects.items():
        if obj.startswith(f"{model_name}_aot") or obj.startswith("kws_"):
            code += kinds["code"]
            const += kinds["rodata"] + kinds["data"]
    return {"code": code, "constants": const, "total": code + const}


def _host_time(fn, x: np.ndarray, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        best = min(best, (time.perf_counter() - t0) / len(x))
    return best


def bench_model(name: str, model: bytes, x: np.ndarray, folder: Path, host_inputs: int,
                optimize: str = "balanced") -> dict:
    from compile_models import tflm_outputs

    from export.tflm_check import find_arena
    from kws.compile import compile_tflite
    from kws.compile.host_runner import HostModel
    from kws.compile.m4_runner import run_on_m4

    path = folder / f"{name}.tflite"
    path.write_bytes(model)
    result = compile_tflite(path, folder / f"{name}_gen", name=name, optimize=optimize)
    golden = tflm_outputs(model, x)
    row: dict = {"model": name, "macs": result.macs, "layers": [], "goal_per_mac": GOALS.get(name),
                 "optimize": optimize}
    for flavour in ("portable", "dsp"):
        build = folder / f"m4_{flavour}"
        run = run_on_m4([result], [x], portable=flavour == "portable", build_dir=build)[0]
        profiled = run_on_m4([result], [x[:1]], portable=flavour == "portable", profile=True, build_dir=build)[0]
        exact = bool(np.array_equal(run.outputs, golden))
        instructions = float(np.mean(run.instructions))
        row[flavour] = {"instructions": instructions, "per_mac": instructions / max(1, result.macs),
                        "bit_exact": exact, "stack": run.stack_bytes, "flash": _flash(run.elf, name),
                        "arena": result.arena_bytes if flavour == "portable" else result.arena_bytes_dsp}
        row[flavour]["ram"] = row[flavour]["arena"] + run.stack_bytes
        for i, layer in enumerate(result.layers):
            if len(row["layers"]) <= i:
                row["layers"].append({"index": i, "op": layer.opcode, "macs": layer.macs,
                                      "dsp_weights": layer.dsp_weights})
            row["layers"][i][flavour] = profiled.layer_instructions[i] if i < len(profiled.layer_instructions) else 0
    sample = x[:1].reshape(1, *x.shape[1:])
    from kws.compile.tflite_reader import read_tflite

    raw = read_tflite(model)
    shape = raw.tensors[raw.inputs[0]].shape
    row["tflm_arena"] = find_arena(model, sample.reshape(shape)).minimum
    row["greedy_arena"] = result.greedy_arena_bytes
    host_x = np.resize(x, (host_inputs, x.shape[1]))
    host = HostModel.build(result, build_dir=folder / "host")
    assert np.array_equal(host(x), golden), f"{name}: host build differs from TFLM"
    row["host_us"] = _host_time(host, host_x, 3) * 1e6
    row["tflm_us"] = _host_time(lambda v: tflm_outputs(model, v), host_x, 3) * 1e6
    return row


def print_tables(rows: list[dict]) -> None:
    print(f"\n## Compiled models on the Cortex-M4 (QEMU mps2-an386, instructions), against TFLM (kws compile "
          f"--optimize {rows[0]['optimize'] if rows else 'balanced'})\n")
    print("| model | MACs | portable instr (per MAC) | DSP instr (per MAC) | goal | bit-exact | flash portable / DSP "
          "(code+consts, B) | RAM portable / DSP (buffer+stack, B) | TFLM arena (B) | DSP RAM / TFLM | "
          "host us AOT / TFLM |")
    print("|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|")
    for r in rows:
        p, d = r["portable"], r["dsp"]
        print(f"| {r['model']} | {r['macs']:,} | {p['instructions']:,.0f} ({p['per_mac']:.2f}) | "
              f"{d['instructions']:,.0f} ({d['per_mac']:.3f}) | <= {r['goal_per_mac']} | "
              f"{'yes' if p['bit_exact'] and d['bit_exact'] else 'NO'} | "
              f"{p['flash']['total']:,} / {d['flash']['total']:,} | {p['ram']:,} / {d['ram']:,} | "
              f"{r['tflm_arena']:,} | {d['ram'] / r['tflm_arena']:.2f} | {r['host_us']:.0f} / {r['tflm_us']:.0f} |")
    print("\nAnchors (DS-CNN, Cortex-M4 cycles/MAC): TFLM + CMSIS-NN 8.2, microTVM + CMSIS-NN 4.5, X-CUBE-AI 1.95."
          "\nQEMU counts instructions; an M4 needs at least one cycle each (loads, SMLAD pipelines, branches more).")
    for r in rows:
        print(f"\n### {r['model']}: per layer (instructions per inference; DSP weights by kws compile "
              f"--optimize {r['optimize']})\n")
        print("| # | op | MACs | portable | DSP | DSP per MAC | DSP weights |")
        print("|---:|---|---:|---:|---:|---:|---|")
        for layer in r["layers"]:
            per = f"{layer['dsp'] / layer['macs']:.2f}" if layer["macs"] else "-"
            print(f"| {layer['index']} | {layer['op']} | {layer['macs']:,} | {layer['portable']:,.0f} | "
                  f"{layer['dsp']:,.0f} | {per} | {layer['dsp_weights'] or '-'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), help=f"any of {', '.join(MODELS)}")
    parser.add_argument("--tflite", type=Path, action="append", default=[], help="also benchmark this model "
                        "(random int8 inputs)")
    parser.add_argument("--inputs", type=int, default=3, help="inputs per model on the M4 (default 3)")
    parser.add_argument("--host-inputs", type=int, default=200, help="inputs for the host timing (default 200)")
    parser.add_argument("--optimize", default="balanced", choices=("balanced", "speed", "size"),
                        help="kws compile --optimize: the DSP kernels' weight layout per layer (default balanced)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from kws.device import m4

    problem = m4.toolchain_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kws-bench-compile-") as tmp:
        folder = Path(tmp)
        models = build_models(args.models, folder, args.inputs)
        for path in args.tflite:
            from kws.compile.tflite_reader import read_tflite

            raw = path.read_bytes()
            size = int(np.prod(read_tflite(raw).tensors[read_tflite(raw).inputs[0]].shape))
            models.append((path.stem, raw, np.random.default_rng(0).integers(-128, 128, (args.inputs, size),
                                                                             dtype=np.int8)))
        rows = []
        for name, model, x in models:
            print(f"benchmarking {name} ...", file=sys.stderr)
            rows.append(bench_model(name, model, x, folder, args.host_inputs, args.optimize))
    print_tables(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["portable"]["bit_exact"] and r["dsp"]["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
