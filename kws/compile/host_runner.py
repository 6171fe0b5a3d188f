"""Build a compiled model (generated C + firmware/kernels) with the host compiler and run it on inputs.

    from kws.compile.host_runner import HostModel, run_program, aot_outputs
    outputs = aot_outputs("runs/demo/export/model_int8.tflite", features_int8)     # [N, out] int8
    with HostModel.build(compile_result) as model: y = model(x)                     # shared library, ctypes
    y = run_program(compile_result, x, sanitize=True)                                # ASan/UBSan executable

The build uses the core's house flags (-std=c99 -Wall -Wextra -Werror -pedantic, kws.device.cbuild), so
a warning in generated code or a kernel fails it; sanitizer builds run as a separate process (an ASan
runtime cannot be loaded into Python), reading raw int8 inputs on stdin and writing outputs on stdout.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from kws.compile.command import CompileResult, compile_tflite
from kws.device.cbuild import SANITIZE_FLAGS, WARNING_FLAGS, CBuildError, compiler, sanitizer_support

KERNELS_DIR = Path(__file__).resolve().parents[2] / "firmware" / "kernels"
DEFAULT_BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "compile"

def _driver(results: Sequence[CompileResult]) -> str:
    """main(argc, argv): argv[1] picks the model (default 0); raw int8 inputs on stdin, outputs on stdout."""
    includes = "".join(f'#include "{r.name}_aot.h"\n' for r in results)
    table = "".join(f"    {{{r.name}_invoke, {r.input_bytes}, {r.output_bytes}}},\n" for r in results)
    biggest_in = max(r.input_bytes for r in results)
    biggest_out = max(r.output_bytes for r in results)
    return f"""#include <stdio.h>
#include <stdlib.h>
{includes}
typedef struct {{ int (*invoke)(const int8_t *, int8_t *); size_t in_bytes, out_bytes; }} model_entry;
static const model_entry models[] = {{
{table}}};

int main(int argc, char **argv) {{
    static int8_t in[{biggest_in}];
    static int8_t out[{biggest_out}];
    const int which = argc > 1 ? atoi(argv[1]) : 0;
    const model_entry *m;
    if (which < 0 || which >= (int)(sizeof models / sizeof models[0])) {{
        return 2;
    }}
    m = &models[which];
    while (fread(in, 1, m->in_bytes, stdin) == m->in_bytes) {{
        if (m->invoke(in, out) != 0) {{
            return 3;
        }}
        if (fwrite(out, 1, m->out_bytes, stdout) != m->out_bytes) {{
            return 4;
        }}
    }}
    return 0;
}}
"""


def kernel_sources() -> list[Path]:
    """The kernel library's C files (both flavours live in them; the compiler flags choose)."""
    return sorted(KERNELS_DIR.glob("*.c"))


def _run_cc(command: list[str], target: Path, what: str) -> Path:
    # Build under a temporary name, then rename: a crashed or concurrent build never leaves a half file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    run = subprocess.run([*command, "-o", str(partial)], capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        partial.unlink(missing_ok=True)
        raise CBuildError(f"compiling {what} failed:\n{' '.join(command)}\n{run.stderr.strip()}")
    partial.replace(target)
    return target


def _object(cc: str, source: Path, flags: list[str], headers: list[Path], folder: Path) -> Path:
    """One object file, cached by the content of the source, every header it may include, and the flags."""
    digest = hashlib.sha256("\0".join([cc, *flags]).encode())
    for path in [source, *headers]:
        digest.update(path.read_bytes())
    target = folder / "obj" / f"{source.stem}-{digest.hexdigest()[:16]}.o"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    return _run_cc([cc, *flags, "-c", str(source)], target, source.name)


def _build(result: CompileResult, kind: str, sanitize: bool, build_dir: Path | None,
           extra_flags: Sequence[str] = ()) -> Path:
    return _build_many([result], kind, sanitize, build_dir, extra_flags)


def _build_many(results: Sequence[CompileResult], kind: str, sanitize: bool, build_dir: Path | None,
                extra_flags: Sequence[str] = ()) -> Path:
    cc = compiler()
    if sanitize:
        ok, reason = sanitizer_support(cc)
        if not ok:
            raise CBuildError(f"sanitizers unavailable: {reason}")
    folder = Path(build_dir or DEFAULT_BUILD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    names = [r.name for r in results]
    if len(set(names)) != len(names):
        raise CBuildError(f"models linked together need distinct names, got {names}")
    flags = [*WARNING_FLAGS, "-O1" if sanitize else "-O2", "-g", *(SANITIZE_FLAGS if sanitize else ()),
             *extra_flags, f"-I{KERNELS_DIR}"]
    link = ["-shared"] if kind == "library" else []
    if kind == "library":
        flags.append("-fPIC")
    kernel_headers = sorted(KERNELS_DIR.glob("*.h"))
    jobs = [(s, flags, kernel_headers) for s in kernel_sources()]
    jobs += [(r.source, [*flags, f"-I{r.header.parent}"], [r.header, *kernel_headers]) for r in results]
    if kind == "program":
        driver = folder / f"driver_{hashlib.sha256(' '.join(names).encode()).hexdigest()[:12]}.c"
        text = _driver(results)
        if not driver.exists() or driver.read_text() != text:
            driver.write_text(text)
        jobs.append((driver, [*flags, *(f"-I{r.header.parent}" for r in results)], [r.header for r in results]))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        objects = list(pool.map(lambda job: _object(cc, job[0], job[1], job[2], folder), jobs))
    digest = hashlib.sha256("\0".join([cc, *flags, *link, *(o.name for o in objects)]).encode())
    suffix = ".so" if kind == "library" else ""
    target = folder / f"{names[0]}-{digest.hexdigest()[:16]}{'-asan' if sanitize else ''}{suffix}"
    if target.exists():
        return target
    return _run_cc([cc, *flags, *link, *(str(o) for o in objects), "-lm"], target, f"the model {names[0]}")


def build_program(result: CompileResult, *, sanitize: bool = True, build_dir: Path | None = None,
                  extra_flags: Sequence[str] = ()) -> Path:
    """An executable that maps raw int8 inputs on stdin to outputs on stdout; returns its path."""
    return _build(result, "program", sanitize, build_dir, extra_flags)


def kernel_library(build_dir: Path | None = None) -> Path:
    """The kernels alone as a shared library (tests call kws_requantize and friends through ctypes)."""
    cc = compiler()
    folder = Path(build_dir or DEFAULT_BUILD_DIR)
    flags = [*WARNING_FLAGS, "-O2", "-g", "-fPIC", f"-I{KERNELS_DIR}"]
    headers = sorted(KERNELS_DIR.glob("*.h"))
    objects = [_object(cc, source, flags, headers, folder) for source in kernel_sources()]
    digest = hashlib.sha256("\0".join([cc, *flags, *(o.name for o in objects)]).encode()).hexdigest()[:16]
    target = folder / f"libkws_kernels-{digest}.so"
    return target if target.exists() else _run_cc([cc, *flags, "-shared", *(str(o) for o in objects)], target,
                                                  "the kernel library")


def build_programs(results: Sequence[CompileResult], *, sanitize: bool = True, build_dir: Path | None = None) -> Path:
    """One executable holding several compiled models (distinct names); `run_program(..., exe=, index=)` runs
    model `index`. Saves a link per model when a test checks many small models."""
    return _build_many(results, "program", sanitize, build_dir)


def run_program(result: CompileResult, inputs: np.ndarray, *, sanitize: bool = True,
                build_dir: Path | None = None, exe: Path | None = None, index: int = 0) -> np.ndarray:
    """Outputs [N, output_bytes] of the model built as a (sanitized) executable. CBuildError on a crash."""
    exe = exe or build_program(result, sanitize=sanitize, build_dir=build_dir)
    x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(len(inputs), result.input_bytes)
    run = subprocess.run([str(exe), str(index)], input=x.tobytes(), capture_output=True, timeout=600)
    if run.returncode != 0:
        raise CBuildError(f"{exe.name} exited with {run.returncode}:\n{run.stderr.decode(errors='replace')[-4000:]}")
    return np.frombuffer(run.stdout, dtype=np.int8).reshape(len(x), result.output_bytes).copy()


class HostModel:
    """The compiled model as a shared library called through ctypes (fast; no sanitizers)."""

    def __init__(self, library: Path, result: CompileResult) -> None:
        self.result = result
        self._lib = ctypes.CDLL(str(library))
        self._invoke = getattr(self._lib, f"{result.name}_invoke")
        self._invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._invoke.restype = ctypes.c_int

    @classmethod
    def build(cls, result: CompileResult, build_dir: Path | None = None,
              extra_flags: Sequence[str] = ("-O2",)) -> HostModel:
        return cls(_build(result, "library", False, build_dir, extra_flags), result)

    def __enter__(self) -> HostModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self._lib = None

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(-1, self.result.input_bytes)
        out = np.zeros((len(x), self.result.output_bytes), np.int8)
        for i in range(len(x)):
            code = self._invoke(x[i].ctypes.data, out[i].ctypes.data)
            if code != 0:
                raise CBuildError(f"{self.result.name}_invoke returned {code}")
        return out


def aot_outputs(tflite_path: str | Path, inputs_int8: np.ndarray, *, build_dir: Path | None = None) -> np.ndarray:
    """Compile `tflite_path`, build it on the host and run it: int8 outputs [N, output_bytes] (export's
    "AOT C" parity row)."""
    with tempfile.TemporaryDirectory(prefix="kws-aot-") as tmp:
        result = compile_tflite(tflite_path, Path(tmp) / "generated")
        model = HostModel.build(result, build_dir=build_dir or Path(tmp) / "build")
        return model(inputs_int8)
