"""The emulated boards a run can be served on, behind one interface: `host` (the core in-process with the
TensorFlow Lite Micro runtime, on a pty) and `m4` (the whole firmware on QEMU's Cortex-M4, with the model
compiled by `kws compile`).

    from kws.device.boards import BOARDS, emulated_board
    with emulated_board("m4", exported) as board:     # start() -> the pty; stop() always cleans up
        BoardLink.open(board.port) ...

The M4 board runs runs/<run>/export/aot/ (written by `kws export`); an export made before the compiler
existed, or a --model, is compiled here first (no TensorFlow needed, a second or two).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kws.errors import KwsError
from kws.run import Run

if TYPE_CHECKING:
    from kws.compile.command import CompileResult
    from kws.device.artifacts import ExportedModel

BOARDS = ("host", "m4")
"""Emulated boards: 'host' (TFLite Micro runtime in-process) and 'm4' (Cortex-M4 firmware on QEMU)."""


class EmulatedBoard(Protocol):
    port: str

    def start(self) -> str: ...

    def stop(self) -> None: ...


class BoardChoiceError(KwsError):
    """An emulated board that does not exist, or cannot serve this model."""


def compile_exported(exported: "ExportedModel", folder: Path) -> "CompileResult":
    """kws_model_aot.c/.h of exactly `exported.model` in `folder`, compiled now by this kws (a second or two, no
    TensorFlow; unchanged files keep their timestamps, so the firmware build caches still hit), so the C matches
    this checkout's compiler and kernels as well as the model. CompileError when the model has no C form;
    KwsError when the file changed while it was compiled (the C would not be the export's)."""
    from kws.compile.command import compile_tflite

    result = compile_tflite(exported.model_path, folder)
    if result.sha256 != exported.sha256:
        raise KwsError(f"{exported.model_path} changed while it was compiled to C; run the command again")
    return result


def compiled_model_dir(exported: "ExportedModel", build_dir: Path | None = None) -> Path:
    """The folder with kws_model_aot.c/.h for exactly `exported.model` (compile_exported): the export's aot/
    for the run's own model, a build folder for another."""
    run = Run.at(exported.run_dir)
    if exported.model_path.resolve() == run.export_model.resolve():
        folder = run.aot_dir
    else:
        from kws.device.m4 import DEFAULT_BUILD_DIR

        folder = Path(build_dir or DEFAULT_BUILD_DIR) / "aot" / exported.sha256[:16]
    compile_exported(exported, folder)
    return folder


def emulated_board(kind: str, exported: "ExportedModel", *, build_dir: Path | None = None,
                   serial_log: Path | None = None, **host_options: Any) -> EmulatedBoard:
    """An unstarted board of `kind` serving `exported` (host_options go to the host board's Emulator)."""
    if kind == "host":
        from kws.device.emulator import Emulator

        return Emulator(exported=exported, build_dir=build_dir, **host_options)
    if kind == "m4":
        from kws.device.m4 import M4Board

        if exported.sha256 != exported.settings_sha256:
            raise BoardChoiceError(f"the M4 board runs the run's exported model as compiled C; {exported.model_path} "
                                   f"is another model: serve it on the host board (--board host)")
        if host_options:
            raise BoardChoiceError(f"{', '.join(sorted(host_options))}: options of the host board; the M4 board "
                                   f"has no microphone source or host-side model")
        aot = compiled_model_dir(exported, build_dir)
        return M4Board(exported.frontend, backend="aot", labels=exported.labels, recognizer=exported.recognizer,
                       settings_dir=exported.generated_dir, aot_dir=aot, build_dir=build_dir, serial_log=serial_log)
    raise BoardChoiceError(f"--board must be one of {', '.join(BOARDS)}, got {kind!r}")


def firmware_figures(board: EmulatedBoard) -> dict[str, Any] | None:
    """What the linker says the running board's firmware takes (the M4 board; None for the host board, whose
    "firmware" is a host shared library): flash and RAM by kind, the largest stack frame, the memory map."""
    elf = getattr(board, "elf", None)
    if elf is None:
        return None
    from kws.device.m4 import size_report

    r = size_report(elf)
    frame = r.max_stack_frame
    return {"source": "arm-none-eabi-size and the linker map of the M4 board build (Nano 33 BLE Sense memory map)",
            "flash_used": r.flash_used, "flash_size": r.flash_size, "code": r.code, "rodata": r.rodata,
            "ram_used": r.ram_used, "ram_size": r.ram_size, "ram_data": r.ram_data, "ram_bss": r.ram_bss,
            "stack_reserved": r.stack_reserved,
            "largest_stack_frame": {"function": frame.function, "bytes": frame.bytes} if frame else None,
            "objects": r.objects}


CLOCKS = {"host": "host CPU microseconds (wall clock of this machine)",
          "m4": "QEMU instruction count: -icount shift=0 makes 1 us of board time 1,000 instructions"}
"""What the TIMING microseconds of each emulated board measure."""


__all__ = ["BOARDS", "CLOCKS", "BoardChoiceError", "EmulatedBoard", "compile_exported", "compiled_model_dir",
           "emulated_board", "firmware_figures"]
