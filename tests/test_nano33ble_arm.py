"""The Nano 33 BLE Sense sketch built for its MCU (nRF52840, Cortex-M4F) with arm-none-eabi-gcc/g++: the sketch
folder exactly as `kws flash` stages it (HAL, ring buffer, the backend's glue, the core, and for aot the kernels
and the compiled model) compiles with -Wall -Wextra -Werror against the stand-in Arduino headers
(firmware/host/arduino_stubs), for both backends, both float ABIs and both kernel flavours; the aot sketch links
against newlib-nano with a no-op Arduino runtime (arm_runtime.cpp), needs no heap, and its size is measured.

    .venv/bin/python -m pytest tests/test_nano33ble_arm.py -q -s     # -s prints the size table

Not the real build: the mbed core's own headers, its GCC 7 and the TFLM library are only met by `kws flash`
(README: what is unproven without a board). The flags are the mbed core's (variants/ARDUINO_NANO33BLE/
cflags.txt, cxxflags.txt: -mfloat-abi=softfp, -Os, -funsigned-char, gnu++14 without exceptions or RTTI), plus
-Werror, C99 with -pedantic for .c, and the hard-float ABI and C++11 as a second configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import fail_or_skip

from kws.device import flash as F
from kws.device import m4
from kws.device.artifacts import ExportedModel
from kws.run import Run

REPO = Path(__file__).resolve().parents[1]
STUBS = REPO / "firmware" / "host" / "arduino_stubs"
CPU = {"softfp": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"),  # the mbed core's
       "hard": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")}
COMMON = ("-Os", "-g1", "-Wall", "-Wextra", "-Werror", "-funsigned-char", "-ffunction-sections", "-fdata-sections",
          "-fno-delete-null-pointer-checks", "-fstack-usage")
C_FLAGS = ("-std=c99", "-pedantic")
CXX_FLAGS = ("-fno-exceptions", "-fno-rtti", "-Wvla")
LINK_FLAGS = ("-Os", "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,-e,main")
"""No startup files and no syscall library: a heap (_sbrk) or stdio anywhere in the sketch fails the link."""
APP_FLASH = 0xF0000
"""The application's flash on the Nano (mbed core: APPLICATION_SIZE, after the 64 KiB bootloader)."""
MBED_CORE_FLASH_ESTIMATE = 170 * 1024
MBED_CORE_RAM_ESTIMATE = 40 * 1024 + 32 * 1024
"""kws/device/budget.py's estimates for the mbed core, plus its 32 KiB main-thread stack (mbed_app.json)."""


@dataclass(frozen=True)
class Toolchain:
    gcc: str
    gxx: str


@pytest.fixture(scope="module")
def arm() -> Toolchain:
    """arm-none-eabi-gcc with newlib-nano (tools/setup.sh installs them) and its g++."""
    try:
        gcc = m4.arm_gcc()
    except m4.M4ToolchainMissing as exc:
        fail_or_skip(str(exc))
    gxx = gcc[: -len("gcc")] + "g++" if gcc.endswith("gcc") else ""
    if not (gxx and os.access(gxx, os.X_OK)):
        gxx = shutil.which("arm-none-eabi-g++") or ""
    if not gxx:
        fail_or_skip(f"arm-none-eabi-g++ is missing beside {gcc}; {m4.INSTALL_HINT}")
    return Toolchain(gcc, gxx)


@pytest.fixture(scope="module")
def exported(tiny_export: Path, tmp_path_factory) -> tuple[ExportedModel, Path]:
    """The tiny exported run (TensorFlow, ~15 s, shared) and its model compiled by kws compile (a temporary folder:
    the shared run is not written to)."""
    from kws.compile.command import compile_tflite

    run = Run.at(tiny_export)
    aot = tmp_path_factory.mktemp("aot")
    compile_tflite(run.export_model, aot)
    return ExportedModel.load(run), aot


def compile_sketch(arm: Toolchain, sketch: Path, out: Path, abi: str, cxx_std: str,
                   defines: tuple[str, ...] = ()) -> list[Path]:
    """Every source Arduino would compile in `sketch` (its root's .c, .cpp and the .ino as C++), as objects in
    `out`; asserts that each compiles without a single diagnostic."""
    out.mkdir(parents=True, exist_ok=True)
    include = [f"-I{sketch}", f"-I{STUBS}"]
    objects, failures = [], []
    for source in sorted(sketch.iterdir()):
        if source.suffix == ".c":
            command = [arm.gcc, *CPU[abi], *COMMON, *C_FLAGS, *defines, *include]
        elif source.suffix in (".cpp", ".ino"):
            command = [arm.gxx, *CPU[abi], *COMMON, *CXX_FLAGS, f"-std={cxx_std}", *defines, *include]
            command += ["-x", "c++"] if source.suffix == ".ino" else []
        else:
            continue
        obj = out / f"{source.name}.o"
        run = subprocess.run([*command, "-c", str(source), "-o", str(obj)], capture_output=True, text=True,
                             timeout=300)
        if run.returncode != 0 or run.stderr.strip():
            failures.append(f"{source.name}:\n{run.stderr}")
        objects.append(obj)
    assert not failures, "\n".join(failures)
    return objects


def defined_symbols(arm: Toolchain, obj: Path) -> set[str]:
    nm = arm.gcc[: -len("gcc")] + "nm" if arm.gcc.endswith("gcc") else "arm-none-eabi-nm"
    run = subprocess.run([nm, "--defined-only", str(obj)], capture_output=True, text=True, timeout=60, check=True)
    return {line.split()[-1] for line in run.stdout.splitlines() if len(line.split()) == 3}


@pytest.fixture(scope="module")
def aot_build(arm, exported, tmp_path_factory) -> tuple[Path, list[Path]]:
    """The staged aot sketch and its objects with the mbed core's flags (softfp, gnu++14, DSP kernels)."""
    model, aot = exported
    root = tmp_path_factory.mktemp("nano_arm_aot")
    sketch = F.stage_sketch(model, root / "sketch", backend="aot", aot_dir=aot)
    return sketch, compile_sketch(arm, sketch, root / "obj", "softfp", "gnu++14")


def test_the_aot_sketch_compiles_for_the_cortex_m4f_with_the_mbed_core_s_flags(arm, aot_build):
    sketch, objects = aot_build
    names = {p.name for p in sketch.iterdir()}
    assert {"kws_model_aot.c", "kws_model_aot_glue.cpp", "kws_conv.c", "kws_app.c"} <= names
    assert not names & {"kws_model_tflm.cpp", "model_data.cpp"}
    assert len(objects) == len([n for n in names if n.endswith((".c", ".cpp", ".ino"))])
    # A Cortex-M4 with the DSP extension: the kernels' SMLAD flavour is what got compiled.
    dsp = next(o for o in objects if o.name == "kws_conv_dsp.c.o")
    assert defined_symbols(arm, dsp), "kws_conv_dsp.c compiled to nothing: KWS_KERNELS_DSP was 0"


def test_the_aot_sketch_compiles_with_the_hard_float_abi_c_plus_plus_11_and_the_portable_kernels(
        arm, exported, tmp_path):
    model, aot = exported
    sketch = F.stage_sketch(model, tmp_path / "sketch", backend="aot", aot_dir=aot)
    # What `kws flash` passes as build properties when the core's compiler is too old for the DSP kernels.
    objects = compile_sketch(arm, sketch, tmp_path / "obj", "hard", "c++11", ("-DKWS_KERNELS_PORTABLE",))
    dsp = next(o for o in objects if o.name == "kws_conv_dsp.c.o")
    assert not defined_symbols(arm, dsp), "KWS_KERNELS_PORTABLE did not turn the DSP kernels off"


@pytest.mark.parametrize("abi", ["softfp", "hard"])
def test_the_tflm_sketch_compiles_for_the_cortex_m4f_against_the_stand_in_library_headers(arm, exported, abi,
                                                                                          tmp_path):
    model, _ = exported
    sketch = F.stage_sketch(model, tmp_path / "sketch", backend="tflm")
    names = {p.name for p in sketch.iterdir()}
    assert {"kws_model_tflm.cpp", "model_data.cpp"} <= names and "kws_model_aot_glue.cpp" not in names
    compile_sketch(arm, sketch, tmp_path / "obj", abi, "gnu++14")


def test_the_aot_glue_refuses_a_compiled_model_of_another_model_at_compile_time(arm, aot_build, tmp_path):
    sketch, _ = aot_build
    other = tmp_path / "sketch"
    shutil.copytree(sketch, other)
    header = other / "kws_model_aot.h"
    header.write_text(re.sub(r'(#define KWS_MODEL_AOT_SHA256 ")[0-9a-f]{64}"', r'\g<1>' + "0" * 64 + '"',
                             header.read_text()))
    run = subprocess.run([arm.gxx, *CPU["softfp"], *CXX_FLAGS, "-std=gnu++14", f"-I{other}", f"-I{STUBS}", "-c",
                          str(other / "kws_model_aot_glue.cpp"), "-o", str(tmp_path / "glue.o")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "compiled from another model than kws_settings.h describes" in run.stderr


def test_the_aot_sketch_links_against_newlib_without_a_heap_and_fits_the_nano(arm, aot_build, exported, tmp_path):
    sketch, objects = aot_build
    runtime = tmp_path / "arm_runtime.cpp.o"
    run = subprocess.run([arm.gxx, *CPU["softfp"], *COMMON, *CXX_FLAGS, "-std=gnu++14", f"-I{sketch}", f"-I{STUBS}",
                          "-c", str(STUBS / "arm_runtime.cpp"), "-o", str(runtime)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr
    elf = tmp_path / "nano33ble_aot.elf"
    link = subprocess.run([arm.gcc, *CPU["softfp"], *LINK_FLAGS, f"-Wl,-Map={elf.with_suffix('.map')}",
                           *map(str, objects), str(runtime), "-lm", "-o", str(elf)],
                          capture_output=True, text=True, timeout=300)
    assert link.returncode == 0, link.stderr  # an undefined _sbrk here would mean a heap in the sketch
    assert not {"malloc", "_malloc_r", "free", "printf"} & defined_symbols(arm, elf)

    report = m4.size_report(elf)
    objs = report.objects
    model_header = (exported[1] / "kws_model_aot.h").read_text()
    weights = int(re.search(r"KWS_MODEL_AOT_WEIGHT_BYTES_DSP (\d+)", model_header).group(1))
    arena = int(re.search(r"KWS_MODEL_AOT_ARENA_BYTES_DSP (\d+)", model_header).group(1))
    model = objs["kws_model_aot.c.o"]
    assert model["rodata"] >= weights and model["bss"] == arena  # the compiled model's own figures, in flash/RAM
    kernels = {n: v for n, v in objs.items() if n.startswith("kws_") and n.split(".")[0] in
               {p.stem for p in (REPO / "firmware" / "kernels").glob("*.c")}}
    ours = {n: v for n, v in objs.items() if n.endswith(".o") and not n.startswith("lib")}
    rows = [("compiled model (weights, params, buffer)", model),
            ("kernels", _sum(kernels.values())),
            ("core + HAL + glue + stubs", _sum(v for n, v in ours.items() if n not in kernels and
                                                 n != "kws_model_aot.c.o")),
            ("newlib / libgcc / libm", _sum(v for n, v in objs.items() if not n.endswith(".o") or n.startswith("lib")))]
    lines = [f"{'':42} {'code':>7} {'rodata':>7} {'data':>6} {'bss':>7}"]
    lines += [f"{name:42} {v['code']:>7,} {v['rodata']:>7,} {v['data']:>6,} {v['bss']:>7,}" for name, v in rows]
    frame = report.max_stack_frame
    print(f"\nNano 33 BLE aot sketch without the mbed core (softfp, -Os, DSP kernels): {report.summary()}\n"
          + "\n".join(lines) + (f"\nlargest stack frame: {frame.bytes} B in {frame.function}" if frame else ""))
    assert report.flash_used + MBED_CORE_FLASH_ESTIMATE <= APP_FLASH
    assert report.ram_used + MBED_CORE_RAM_ESTIMATE <= m4.RAM_BYTES
    assert frame is None or frame.bytes < 4096  # the loop runs on mbed's 32 KiB main-thread stack


def _sum(parts) -> dict[str, int]:
    total = {"code": 0, "rodata": 0, "data": 0, "bss": 0}
    for part in parts:
        for key in total:
            total[key] += part[key]
    return total
