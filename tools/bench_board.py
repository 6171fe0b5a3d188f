"""Benchmark the Cortex-M4 board (QEMU mps2-an386 with the Nano 33 BLE Sense's memories): the whole KWS firmware
with a compiled model (DSP kernels), its flash and RAM by kind, and its time per 20 ms hop, against the TFLM
Arduino micro_speech sketch and the goals of issue 12.

    .venv/bin/python tools/bench_board.py      # tiny_conv, DS-CNN, the MLPerf Tiny DS-CNN (or: make bench-board)
    .venv/bin/python tools/bench_board.py --models tiny_conv --json board.json

Per model (tools/bench_models.py: seeded weights, no training; the MLPerf model as published): the firmware is
built as `kws eval --board m4` builds it, its sizes come from arm-none-eabi-size and the linker map, and it runs
on QEMU (-icount shift=0: 1 us of board time = 1,000 instructions) through the serial protocol: a worst-case
session (typed commands, HELLO, SET_PARAMS, RESET, a one-second clip as AUDIO, 49 + 4 frames as FEATURES, a
corrupted frame, a false header, BYE). Its TIMING frames give instructions per inference (FEATURES) and per 20 ms
frontend frame (AUDIO); the stacks' high-water marks are read from the running board's memory (the paint the
startup code left). Cycles are estimated at one per instruction, a lower bound (an M4 needs more for loads,
taken branches and multiply-accumulate pipelines). Not a test: about a minute and a half (TensorFlow builds
the models).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

MODELS = ("tiny_conv", "ds_cnn", "mlperf_ds_cnn")
CLOCK_HZ = 64_000_000
"""The Nano 33 BLE Sense's nRF52840."""
HOP_S = 0.020
HOP_CYCLES = int(CLOCK_HZ * HOP_S)
GOALS = {"flash": 48 * 1024, "ram": 24 * 1024, "frontend_share": 0.05, "hop_share": 0.5}
"""tiny_conv firmware <= 48 KB flash and <= 24 KB RAM; frontend <= 5 % of real time; inference + frontend
comfortably inside one hop for tiny_conv (taken as at most half of it)."""
TFLM_SKETCH = {"flash": 166 * 1024, "ram": 54 * 1024}
"""The TFLM Arduino micro_speech sketch (tflite-micro-arduino-examples, its README: ~166 KB flash, ~54 KB RAM)."""
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "sc-real-dev"
FEATURE_FRAMES = 49 + 4


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def _clip(sample_rate: int, samples: int) -> tuple[np.ndarray, str]:
    """A real one-second "yes" when ../shared/data is here, else seeded noise with a tone."""
    from kws.data.audio import fit_length, load_audio, to_int16

    wavs = sorted((SHARED_DATA / "yes").glob("*.wav")) if SHARED_DATA.is_dir() else []
    if wavs:
        return to_int16(fit_length(load_audio(wavs[0], sample_rate)[0], samples)), f"{wavs[0].parent.name}/" \
            f"{wavs[0].name}"
    rng = np.random.default_rng(0)
    t = np.arange(samples) / sample_rate
    audio = 0.05 * rng.standard_normal(samples) + 0.2 * np.sin(2 * np.pi * 440 * t)
    return to_int16(audio), "seeded noise + 440 Hz tone (../shared/data absent)"


def memory(report: Any) -> dict[str, int]:
    """Flash and RAM of the linked firmware by kind (arm-none-eabi-size + the map)."""
    kinds = {"model_constants": 0, "frontend_tables": 0, "app_state": 0, "model_arena": 0, "fft_tables": 0}
    libs = 0
    for obj, k in report.objects.items():
        stem = obj.split("-")[0]
        if stem == "kws_model_aot":
            kinds["model_constants"] += k["rodata"]
            kinds["model_arena"] += k["bss"]
        elif stem == "kws_frontend":
            kinds["frontend_tables"] += k["rodata"]
        elif stem == "main":
            kinds["app_state"] += k["bss"]
        elif stem == "kws_fft":
            kinds["fft_tables"] += k["bss"]
        if obj.startswith(("libc", "libm", "libgcc")):
            libs += k["code"] + k["rodata"]
    return {"flash": report.flash_used, "code": report.code, "constants": report.rodata, "data_init": report.ram_data,
            "libraries": libs, "ram": report.ram_used, "data": report.ram_data, "bss": report.ram_bss,
            "stacks": report.stack_reserved, **kinds}


def _session(board: Any, clip: np.ndarray, features: np.ndarray) -> tuple[Any, list[Any]]:
    """The worst-case session (kws.device.m4.worst_case_session): (TIMING of the AUDIO clip, TIMING of every
    FEATURES inference)."""
    from kws.device.m4 import worst_case_session

    audio, feats = worst_case_session(board.port, clip, features)
    if len(audio.timings) != 1 or len(feats.timings) != features.shape[0] - 48:
        raise SystemExit(f"the board answered {len(audio.timings)} and {len(feats.timings)} TIMING frames")
    return audio.timings[0], feats.timings


def measure(model: Any, files: Any, folder: Path, portable: bool = False) -> dict[str, Any]:
    """One firmware (the model's, DSP or portable kernels) built, sized, and run through the worst-case session."""
    from kws.device import m4

    cfg = model.config.frontend
    clip, clip_name = _clip(cfg.sample_rate, cfg.clip_samples)
    features = np.random.default_rng(1).integers(-128, 128, (FEATURE_FRAMES, cfg.num_features), dtype=np.int8)
    board = m4.M4Board(cfg, backend="aot", settings_dir=files.settings_dir, aot_dir=files.aot_dir,
                       defines={"KWS_KERNELS_PORTABLE": None} if portable else None, build_dir=folder / "m4")
    with board:
        audio, inferences = _session(board, clip, features)
        stacks = board.stack_use()
        board.check()
    invoke = [t.invoke_us * 1000 for t in inferences]  # shift 0: 1 us = 1,000 instructions
    return {"model": model.name, "kernels": "portable" if portable else "dsp", "note": model.note, "macs": files.macs,
            "clip": clip_name, "feature_type": cfg.feature_type, "memory": memory(m4.size_report(board.elf)),
            "instructions": {"inference_median": float(np.median(invoke)), "inference_max": max(invoke),
                             "inference_on_clip": audio.invoke_us * 1000,
                             "frontend_per_frame": audio.frontend_us * 1000 / audio.frames},
            "stacks": {"thread_used": stacks.used, "thread_reserved": stacks.reserved,
                       "handler_used": stacks.handler_used, "handler_reserved": stacks.handler_reserved}}


def bench_model(model: Any, folder: Path) -> list[dict[str, Any]]:
    """The model's firmware with the DSP kernels; for tiny_conv also with the portable ones (the flash/time trade:
    the DSP layout keeps the convolution's weights as int16 for SMLAD, the fully connected layer's as int8)."""
    from bench_models import board_files

    files = board_files(model, folder)
    rows = [measure(model, files, folder)]
    if model.name == "tiny_conv":
        rows.append(measure(model, files, folder, portable=True))
    return rows


def _label(row: dict[str, Any]) -> str:
    return row["model"] + (", portable kernels" if row["kernels"] == "portable" else "")


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _memory_row(name: str, m: dict[str, int], stacks: str) -> str:
    other = m["bss"] - m["app_state"] - m["model_arena"] - m["fft_tables"]
    return (f"| {name} | **{m['flash']:,}** ({kb(m['flash'])}) | {m['code']:,} ({m['libraries']:,}) | "
            f"{m['constants']:,} ({m['model_constants']:,} / {m['frontend_tables']:,}) | {m['data_init']:,} | "
            f"**{m['ram']:,}** ({kb(m['ram'])}) | {m['data']:,} | {m['bss']:,}: {m['app_state']:,} / "
            f"{m['model_arena']:,} / {m['fft_tables']:,} / {other:,} | {stacks} |")


def print_memory(rows: list[dict[str, Any]]) -> None:
    print("\n## Whole firmware: flash and RAM (bytes; arm-none-eabi-size and the linker map)\n")
    print("| firmware | flash | code (of it C libraries) | constants (model / frontend tables) | .data init | "
          "RAM | .data | .bss: app state / model arena / FFT tables / other | stacks: thread (used) + handler |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s = r["stacks"]
        stacks = (f"{s['thread_reserved']:,} ({s['thread_used']:,}) + {s['handler_reserved']:,} "
                  f"({s['handler_used']:,})")
        print(_memory_row(_label(r), r["memory"], stacks))
    print(f"| TFLM micro_speech sketch (Arduino, its README) | ~{TFLM_SKETCH['flash'] // 1024} KB | | | | "
          f"~{TFLM_SKETCH['ram'] // 1024} KB | | | |")
    tiny = next((r for r in rows if r["model"] == "tiny_conv" and r["kernels"] == "dsp"), None)
    portable = next((r for r in rows if r["model"] == "tiny_conv" and r["kernels"] == "portable"), None)
    if tiny is not None:
        m = tiny["memory"]
        print(f"\nGoals (tiny_conv): flash <= {kb(GOALS['flash'])}: {kb(m['flash'])}, met: "
              f"{_mark(m['flash'] <= GOALS['flash'])}; RAM <= {kb(GOALS['ram'])}: {kb(m['ram'])}, met: "
              f"{_mark(m['ram'] <= GOALS['ram'])}. Against the TFLM sketch: {m['flash'] / TFLM_SKETCH['flash']:.0%} "
              f"of its flash, {m['ram'] / TFLM_SKETCH['ram']:.0%} of its RAM.")
        own = m["flash"] - m["data_init"] - m["libraries"] - m["model_constants"] - m["frontend_tables"]
        portable_constants = (portable or tiny)["memory"]["model_constants"]
        print(f"tiny_conv's flash by part: model constants {m['model_constants']:,} (the DSP layout: the "
              f"convolution's weights int16 for SMLAD, the fully connected layer's int8, kws compile's default "
              f"rule; portable kernels: {portable_constants:,}), C libraries {m['libraries']:,}, core + kernels + "
              f"board {own:,}, frontend tables {m['frontend_tables']:,}, initial .data {m['data_init']:,}.")


def print_time(rows: list[dict[str, Any]]) -> None:
    print(f"\n## Time per 20 ms hop at {CLOCK_HZ / 1e6:.0f} MHz ({HOP_CYCLES:,} cycles; one cycle per instruction: "
          f"an estimate and a lower bound)\n")
    print("| model | features | MACs | instructions per inference (per MAC) | frontend instructions per frame | "
          "frontend share of real time | inference + frontend | share of one hop | goals |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        i = r["instructions"]
        fe_share = i["frontend_per_frame"] / HOP_CYCLES
        total = i["inference_median"] + i["frontend_per_frame"]
        goals = f"frontend <= 5 %: {_mark(fe_share <= GOALS['frontend_share'])}"
        if r["model"] == "tiny_conv":
            goals += f"; inside one hop with room (<= 50 %): {_mark(total / HOP_CYCLES <= GOALS['hop_share'])}"
        print(f"| {_label(r)} | {r['feature_type']} | {r['macs']:,} | {i['inference_median']:,.0f} "
              f"({i['inference_median'] / max(1, r['macs']):.2f}) | {i['frontend_per_frame']:,.0f} | {fe_share:.1%} | "
              f"{total:,.0f} ({total / CLOCK_HZ * 1e3:.2f} ms) | {total / HOP_CYCLES:.0%} | {goals} |")
    print("\nAnchors (DS-CNN, 2.66 M MACs, cycles per MAC on a Cortex-M4; DESIGN.md): TFLM + CMSIS-NN 8.2, microTVM "
          "+ CMSIS-NN 4.5, X-CUBE-AI 1.95.\nInference: median of the FEATURES inferences (TIMING invoke_us x 1,000); "
          "frontend: the AUDIO clip's TIMING frontend_us x 1,000 / its 49 frames (push, window, FFT, mel, log, "
          "quantize). The board runs the model every 20 ms hop (infer_every 1).")
    for r in rows:
        if r["kernels"] == "dsp":
            print(f"- {r['model']}: {r['note']}; AUDIO clip {r['clip']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), help=f"any of {', '.join(MODELS)}")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)} (choose from {', '.join(MODELS)})")
    import bench_models

    from kws.device import m4

    problem = m4.toolchain_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kws-bench-board-") as tmp:
        folder = Path(tmp)
        for name in args.models:
            print(f"benchmarking {name} ...", file=sys.stderr)
            model = bench_models.mlperf_ds_cnn() if name == "mlperf_ds_cnn" else getattr(bench_models, name)(folder)
            if model is None:
                print(f"note: {bench_models.MLPERF_MODEL} is absent; skipping mlperf_ds_cnn", file=sys.stderr)
                continue
            rows.extend(bench_model(model, folder))
    print("# The KWS firmware on the Cortex-M4 board (QEMU mps2-an386, Nano 33 BLE Sense memory map; DSP kernels "
          "unless marked)\n")
    print(f"command: .venv/bin/python tools/bench_board.py {' '.join(argv if argv is not None else sys.argv[1:])}"
          .rstrip())
    print("method: the whole firmware on QEMU -icount shift=0 over its serial port; TIMING of FEATURES (inference) "
          f"and AUDIO (frontend); sizes from arm-none-eabi-size and the map ({time.monotonic() - started:.0f} s)")
    print_memory(rows)
    print_time(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
