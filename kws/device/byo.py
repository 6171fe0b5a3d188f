"""Bring your own model: a full-int8 keyword model trained elsewhere becomes a run that every board command uses
(`kws eval` clips and streams, `kws calibrate`, `kws report`, `kws emulate`, `kws eval --board m4`).

    kws eval --run mlperf --model ../shared/models/mlperf_tiny_kws_ref_model.tflite --frontend mlperf_mfcc \\
        --labels down,go,left,no,off,on,right,stop,up,yes,_silence_,_unknown_ --data ../shared/data/sc-real-dev \\
        --select all --feed features --emulate

    from kws.device.byo import import_model
    run = import_model(Run.named("mlperf"), model_path, frontend="mlperf_mfcc", labels=[...])

Writes runs/<run>/ as `kws export` would for the boards (config.toml, export/model_int8.tflite,
export/generated/: kws_settings.h with the model's quantization, labels, arena and op list, the frontend
tables, device_settings.json; export/aot/ when `kws compile` supports every op), plus export/source.json
saying where the model came from and export/parity.json (Make's file target for an export). Before anything
is written, every mismatch is one clear error: not a TFLite model, a float model, an input shape the
frontend does not make, a quantization the frontend cannot produce, labels that do not match the outputs,
an unknown frontend. Labels use kws's names: `_silence_` and `_unknown_` for silence and unknown.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

from kws.compile.tflite_reader import TfliteFormatError, read_tflite
from kws.config import DEVICE_FEATURE_TYPES, FEATURE_TYPES, SILENCE_LABEL, UNKNOWN_LABEL, KwsConfig
from kws.errors import KwsError
from kws.run import Run

QUANT_FIELDS = {"logmel": ("quant_scale", "quant_zero_point"), "mfcc": ("mfcc_quant_scale", "mfcc_quant_zero_point"),
                "tflm_micro": ("micro_quant_scale", "micro_quant_zero_point"),
                "mlperf_mfcc": ("mlperf_quant_scale", "mlperf_quant_zero_point")}
"""Per frontend kind, the config fields holding the int8 quantization of its features."""
FIXED_QUANTIZATION = ("tflm_micro",)
"""Kinds whose int8 output is fixed by the algorithm (TFLM's (f*256+333)/666-128): a model must take exactly it."""


class ModelImportError(KwsError):
    """The model cannot be used as described; nothing was written."""


def _labels(labels: Sequence[str], outputs: int, path: Path) -> tuple[str, ...]:
    names = tuple(label.strip() for label in labels)
    if not names or any(not n for n in names):
        raise ModelImportError("--labels must name every output in order, comma-separated (e.g. "
                           "_silence_,_unknown_,yes,no)")
    if len(set(names)) != len(names):
        raise ModelImportError(f"--labels names a label twice: {','.join(names)}")
    if len(names) != outputs:
        raise ModelImportError(f"{path} gives {outputs} scores, --labels names {len(names)} ({','.join(names)})")
    for required in (SILENCE_LABEL, UNKNOWN_LABEL):
        if required not in names:
            raise ModelImportError(f"--labels has no {required!r}: name the model's silence and unknown outputs "
                               f"{SILENCE_LABEL} and {UNKNOWN_LABEL} (kws scores real folders by these names)")
    odd = [n for n in names if n.startswith("_") and n not in (SILENCE_LABEL, UNKNOWN_LABEL)]
    if odd:
        raise ModelImportError(f"labels starting with '_' are kws's own ({SILENCE_LABEL}, {UNKNOWN_LABEL}); "
                           f"rename {odd[0]!r}")
    return names


def imported_config(model: bytes, path: Path, frontend: str, labels: Sequence[str],
                    overrides: Sequence[str] = ()) -> tuple[KwsConfig, tuple[str, ...]]:
    """The run config for a foreign model (frontend kind and quantization from the model), and its labels."""
    from kws.config import load_config, replace

    if frontend not in FEATURE_TYPES:
        raise ModelImportError(f"--frontend must be one of {', '.join(FEATURE_TYPES)}, got {frontend!r}")
    if not model:
        raise ModelImportError(f"{path} is empty: pass a full-int8 .tflite")
    try:
        raw = read_tflite(model, str(path))
    except TfliteFormatError as exc:
        raise ModelImportError(str(exc)) from None
    if len(raw.inputs) != 1 or len(raw.outputs) != 1:
        raise ModelImportError(f"{path} has {len(raw.inputs)} inputs and {len(raw.outputs)} outputs; a keyword model "
                           f"has one of each")
    inp, out = raw.tensors[raw.inputs[0]], raw.tensors[raw.outputs[0]]
    for what, tensor in (("input", inp), ("output", out)):
        if tensor.type_name != "INT8" or tensor.quantization is None:
            raise ModelImportError(f"{path}: its {what} {tensor.name!r} is {tensor.type_name}, not quantized int8: "
                               f"convert it with full-integer quantization (int8 input and output)")
    names = _labels(labels, math.prod(out.shape), path)
    words = [n for n in names if n not in (SILENCE_LABEL, UNKNOWN_LABEL)]
    config = load_config(None, [f"frontend.feature_type={frontend}", *overrides])
    config = replace(config, data=replace(config.data, wanted_words=tuple(words)))
    fe = config.frontend
    if math.prod(inp.shape) != fe.num_frames * fe.num_features:
        raise ModelImportError(f"{path} takes input {list(inp.shape)} ({math.prod(inp.shape)} values); the "
                           f"{frontend} frontend makes {fe.num_frames} x {fe.num_features} = "
                           f"{fe.num_frames * fe.num_features} (choose another --frontend, or --set frontend...)")
    scale, zero = float(inp.quantization.scale[0]), int(inp.quantization.zero_point[0])
    if frontend in FIXED_QUANTIZATION:
        if not (math.isclose(scale, fe.input_scale, rel_tol=1e-6) and zero == fe.input_zero_point):
            raise ModelImportError(f"{path} takes int8 input with scale {scale:.9g} and zero point {zero}; the "
                               f"{frontend} frontend makes scale {fe.input_scale:.9g}, zero point "
                               f"{fe.input_zero_point}: it was not trained on these features")
    else:  # the int8 mapping of these features is a setting: make it the model's
        scale_field, zero_field = QUANT_FIELDS[frontend]
        fe = replace(fe, **{scale_field: scale, zero_field: zero})
        fe.validate()
        config = replace(config, frontend=fe)
    return config.validate(), names


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C++ code writes there directly, past sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tflm_arena(model: bytes, limit: int = 512 * 1024) -> int:
    """The smallest tensor arena (16-byte steps) in which the TFLite Micro runtime sets the model up."""
    from tflite_micro.python.tflite_micro import runtime

    def fits(size: int) -> bool:
        with _quiet_stderr():  # TFLM prints every failed allocation of the search
            try:
                runtime.Interpreter.from_bytes(model, arena_size=size)
            except (RuntimeError, ValueError):
                return False
        return True

    if not fits(limit):
        raise ModelImportError(f"TensorFlow Lite Micro cannot set the model up in {limit:,} bytes: it does not fit a "
                           f"microcontroller (or uses ops TFLM lacks)")
    low, high = 0, limit // 16
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid * 16) else (mid, high)
    return high * 16


def import_model(run: Run, model_path: Path, *, frontend: str, labels: Sequence[str],
                 overrides: Sequence[str] = (), say=lambda text: None) -> Run:
    """Make `run` a run of the foreign model (module docstring); replaces an earlier import of the run."""
    from kws.compile.graph import CompileError
    from kws.config import write_resolved_config
    from kws.device.generated_c import write_generated
    from kws.device.settings_header import DeviceSettings
    from kws.device.tflm_ops import TFLM_RESOLVER_METHODS
    from kws.fsutil import atomic_directory, atomic_write_bytes, write_json

    model_path = Path(model_path)
    try:
        model = model_path.read_bytes()
    except OSError as exc:
        raise ModelImportError(f"{model_path}: cannot read the model ({exc.strerror})") from None
    config, names = imported_config(model, model_path, frontend, labels, overrides)
    raw = read_tflite(model, str(model_path))
    inp, out = raw.tensors[raw.inputs[0]], raw.tensors[raw.outputs[0]]
    ops = tuple(dict.fromkeys(op.opcode for op in raw.operators))
    arena = tflm_arena(model)
    sha = hashlib.sha256(model).hexdigest()
    settings = DeviceSettings(
        model_name=model_path.stem, source=f"imported from {model_path.name}", sha256=sha,
        frames=config.frontend.num_frames, features=config.frontend.num_features,
        input_scale=float(inp.quantization.scale[0]), input_zero_point=int(inp.quantization.zero_point[0]),
        output_scale=float(out.quantization.scale[0]), output_zero_point=int(out.quantization.zero_point[0]),
        labels=names, arena_measured=arena, arena_margin=config.deploy.arena_margin_bytes,
        arena_size=-(-(arena + config.deploy.arena_margin_bytes) // 16) * 16, op_names=ops,
        resolver_methods=tuple(TFLM_RESOLVER_METHODS[o] for o in ops if o in TFLM_RESOLVER_METHODS),
        board=config.deploy.board)
    write_resolved_config(config, run.dir)
    regenerate = f"kws eval --run {run.name} --model {model_path} --frontend {frontend} --labels ..."
    with atomic_directory(run.export_dir, replace=True) as building:
        moved = lambda p: building / p.relative_to(run.export_dir)  # noqa: E731
        atomic_write_bytes(moved(run.export_model), model)
        write_generated(moved(run.generated_dir), config, model, settings, regenerate)
        compiled = None
        try:
            from kws.compile.command import compile_tflite

            compiled = compile_tflite(moved(run.export_model), moved(run.aot_dir))
        except CompileError as exc:  # the host board still runs it through TFLite Micro
            say(f"kws compile cannot compile it ({exc}): the M4 board and the Nano's default backend need it")
        source = {"imported_from": str(model_path.resolve()), "sha256": sha, "frontend": frontend,
                  "labels": list(names), "ops": list(ops), "tflm_arena_bytes": arena,
                  "compiled": compiled is not None, "device_frontend": frontend in DEVICE_FEATURE_TYPES,
                  "imported": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_json(building / "source.json", source)
        write_json(moved(run.parity), {"source": "imported", "imported_from": str(model_path.resolve()),
                                      "model_sha256": sha, "labels": list(names), "hops": [],
                                      "note": "a model trained elsewhere: no export chain to check"})
    say(f"imported {model_path} into {run.dir}/ ({frontend} features, labels {','.join(names)}, TFLM arena "
        f"{arena:,} B{', compiled to C' if compiled else ''})")
    return run


__all__ = ["ModelImportError", "import_model", "imported_config", "tflm_arena"]
