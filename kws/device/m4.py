"""The Cortex-M4 board on QEMU (mps2-an386): cross-build C for it, size it, run it, serve it on a pty.

    from kws.device.m4 import build_elf, size_report, run_elf, M4Board
    elf = build_elf([Path("prog.c")], include_dirs=[...], defines={"N": 3})   # cached by content digest
    print(size_report(elf).summary())                                         # flash/RAM/stack budget
    result = run_elf(elf, timeout=30, stdin_bytes=b"...")    # result.output (UART0), result.exit_code
    with M4Board() as board:                                 # the KWS firmware, fake model, on a pty
        with BoardLink.open(board.port) as link: link.hello()

    python -m kws.device.m4 board            # build and start the board, print its port, until Ctrl-C
    python -m kws.device.m4 board --aot DIR --settings runs/demo/export/generated    # a compiled model
    python -m kws.device.m4 size ELF         # the size report of an ELF built here
    python -m kws.device.m4 run ELF          # run a test program, print its UART output, exit with its code

Needs `arm-none-eabi-gcc` with newlib and `qemu-system-arm` (Debian: apt-get install gcc-arm-none-eabi
libnewlib-arm-none-eabi qemu-system-arm; tools/setup.sh does it as root). $KWS_ARM_GCC and
$KWS_QEMU_ARM override the programs. The board (firmware/mps2_an386/) has the Nano 33 BLE Sense's
memories, so a link that overflows them fails here as it would there (M4MemoryOverflow names the region).

Time under `-icount shift=S`: one instruction advances virtual time 2^S ns, so the board's microsecond
clock counts 1000 / 2^S instructions per us and SysTick (25 MHz) 40 / 2^S per tick. Instructions, not
a real M4's cycles. Builds land in build/m4/ (ignored by git), named by a digest of every input.

The rooms: kws.device.m4_build (toolchain, build_elf, errors, the board's folders and memories),
kws.device.m4_size (size_report, stack use), kws.device.m4_qemu (run_elf, QemuPty). This module is the
KWS firmware's board (build_board_elf, M4Board, run_board, the command line) and re-exports their public
names, so `m4.build_elf(...)` and `from kws.device.m4 import run_elf` keep working.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from kws.config import FrontendConfig, RecognizerSettings
from kws.device.interrupt import hear_ctrl_c
from kws.device.m4_build import (
    APT_PACKAGES,
    BOARD_DIR,
    BOARD_SOURCES,
    C_FLAGS,
    CORE_DIR,
    CPU_FLAGS,
    DEFAULT_BUILD_DIR,
    FLASH_BYTES,
    FRONTEND_SOURCES,
    INSTALL_HINT,
    KERNELS_DIR,
    LINK_FLAGS,
    LINKER_SCRIPT,
    RAM_BYTES,
    REPO_ROOT,
    M4BuildError,
    M4Error,
    M4MemoryOverflow,
    M4ToolchainMissing,
    arm_gcc,
    build_elf,
    core_sources,
    digest,
    frontend_include_dirs,
    qemu,
    toolchain_problem,
)
from kws.device.m4_qemu import (
    EXIT_HARDFAULT,
    EXIT_UNEXPECTED_IRQ,
    QEMU_MACHINE,
    M4Timeout,
    QemuPty,
    RunResult,
    qemu_command,
    run_elf,
    start_pty,
)
from kws.device.m4_size import STACK_PAINT, SizeReport, StackFrame, StackUse, elf_symbols, size_report, stack_use
from kws.errors import KwsError

if TYPE_CHECKING:
    from kws.device.link import FeedResult

BOARD_NAME = "mps2-an386"
DEFAULT_LABELS = ("_silence_", "_unknown_", "yes", "no")
FAKE_MODEL_SHA256 = hashlib.sha256(b"kws fake model v1: acc[i] = sum input[j] * (((j + 3i) % 5) - 2); "
                                   b"clamp(acc / 256)").hexdigest()
"""The model hash the fake backend reports (INFO), a constant so a host can recognise it."""


# ------------------------------------------------------------------------------------------ the board

def fake_model_scores(features: np.ndarray, num_labels: int) -> np.ndarray:
    """The fake backend's scores (firmware/mps2_an386/kws_model_fake.c) for one model input, on the host."""
    x = np.asarray(features, dtype=np.int64).reshape(-1)
    j = np.arange(x.size)
    scores = np.empty(num_labels, dtype=np.int8)
    for i in range(num_labels):
        acc = int((x * (((j + 3 * i) % 5) - 2)).sum())
        q = abs(acc) // 256 * (1 if acc >= 0 else -1)  # C division truncates toward zero
        scores[i] = min(127, max(-128, q))
    return scores


def _c_string(text: str) -> str:
    if not text.isascii() or any(c in text for c in '"\\\n'):
        raise M4Error(f"label {text!r}: only plain ASCII without quotes or backslashes goes into C")
    return f'"{text}"'


def render_fake_settings(labels: Sequence[str], recognizer: RecognizerSettings = RecognizerSettings()) -> str:
    """kws_settings.h for the fake backend: the macro names of the export's header, fake model facts."""
    if not 1 <= len(labels) <= 40:
        raise M4Error(f"the board takes 1..40 labels, got {len(labels)}")
    defines = "\n".join(f"#define {name} {value}  /* {comment} */" for name, value, comment in recognizer.c_defines())
    return ("/* GENERATED by kws/device/m4.py for the fake model backend: do not edit, do not commit. */\n"
            "#ifndef KWS_SETTINGS_H\n#define KWS_SETTINGS_H\n\n#include <stdint.h>\n\n"
            f'#define KWS_SETTINGS_MODEL_SHA256 "{FAKE_MODEL_SHA256}"\n'
            "#define KWS_MODEL_OUTPUT_SCALE 0.00390625f  /* 1/256, a softmax's */\n"
            "#define KWS_MODEL_OUTPUT_ZERO_POINT -128\n"
            "#define KWS_TENSOR_ARENA_SIZE 0\n"
            f"{defines}\n"
            f"#define KWS_NUM_LABELS {len(labels)}\n"
            f"static const char *const kws_labels[KWS_NUM_LABELS] = {{{', '.join(map(_c_string, labels))}}};\n\n"
            "#endif /* KWS_SETTINGS_H */\n")


def _define(header: Path, name: str) -> str | None:
    found = re.search(rf'^#define\s+{name}\s+"?([^"\s]+)"?', header.read_text(encoding="utf-8"), re.MULTILINE)
    return found.group(1) if found else None


def _aot_backend(settings_dir: Path, aot_dir: Path) -> tuple[list[Path], list[Path]]:
    """Sources and include folders of the compiled-model backend; M4Error when the compiled model is not
    the one kws_settings.h describes (INFO would name another model than the one that runs)."""
    header, settings = aot_dir / "kws_model_aot.h", settings_dir / "kws_settings.h"
    for path, what in ((header, "`kws compile` output (default --name kws_model)"), (settings, "the export's")):
        if not path.is_file():
            raise M4Error(f"{path} is missing: the aot backend needs {what}")
    compiled, described = _define(header, "KWS_MODEL_AOT_SHA256"), _define(settings, "KWS_SETTINGS_MODEL_SHA256")
    if compiled != described:
        raise M4Error(f"{header} was compiled from model {compiled}, but {settings} describes {described}: "
                      f"compile the run's exported model_int8.tflite again")
    sources = [aot_dir / "kws_model_aot.c", *sorted(KERNELS_DIR.glob("*.c")), BOARD_DIR / "kws_model_aot_backend.c"]
    return sources, [aot_dir, KERNELS_DIR]


FIRMWARE_STACK_BYTES = 3 * 1024
"""The KWS firmware's thread stack for up to 12 labels (firmware_stack_bytes adds what more labels take): the
deepest use measured (M4Board.stack_use after HELLO, SET_PARAMS, text commands, a clip as AUDIO and as FEATURES,
a detection, bad frames, BYE: 1,312 B with the fake model and 4 labels, 1,504 B with 12, 1,548 B with tiny_conv,
2,020 B with DS-CNN and the MLPerf DS-CNN, whose depthwise kernel has a 576 B frame) plus at least 1 KB (50 %)
for paths no run reaches and an interrupt's 104 B frame (FP context) at the deepest point. An overflow is no
silent corruption: it runs into the MPU guard and HardFaults ("stack overflow"). Test programs keep the linker
script's 16 KB."""
STACK_BYTES_PER_LABEL = 24
"""Measured: 2,176 B with 40 labels against 1,504 B with 12 (three kws_msg on the deepest path, 8 B per label)."""
FIRMWARE_HANDLER_STACK_BYTES = 512
"""The KWS firmware's handler stack (MSP): SysTick (no frame) and the fault report (40 B deepest, -fstack-usage),
plus a nested exception's 104 B frame; exception frames of the thread go on the thread stack."""


def firmware_stack_bytes(num_labels: int) -> int:
    """The thread stack of a firmware with this many labels: FIRMWARE_STACK_BYTES, plus what labels beyond 12
    take (STACK_BYTES_PER_LABEL each), so the margin stays the same."""
    return FIRMWARE_STACK_BYTES + -(-max(0, num_labels - 12) * STACK_BYTES_PER_LABEL // 8) * 8


def firmware_sizes(labels: Sequence[str]) -> dict[str, int]:
    """The core's buffer sizes for a firmware with these labels (defines): label slots for exactly them
    (KWS_MAX_LABELS: the recognizer's queue is 64 x labels bytes; KWS_PROTO_MAX_LABELS: every kws_msg on the
    stack) and a transmit buffer for the largest frame it sends (KWS_APP_TX_PAYLOAD: its INFO, which is 41
    bytes of numbers and params, six strings with a length byte each, two of them 64-byte hashes and four
    names of at most 32 (board, firmware version, backend, feature type): <= 303 bytes, then the labels;
    kws_app_init refuses to start, saying why, if it did not fit). What the board receives, and announces
    as its max payload, stays the protocol's 2 KB."""
    info_bound = 320 + sum(1 + len(label.encode()) for label in labels)
    return {"KWS_MAX_LABELS": len(labels), "KWS_PROTO_MAX_LABELS": len(labels),
            "KWS_APP_TX_PAYLOAD": min(2048, -(-info_bound // 64) * 64)}


def build_board_elf(frontend: FrontendConfig = FrontendConfig(), *, backend: str = "fake",
                    labels: Sequence[str] = DEFAULT_LABELS, recognizer: RecognizerSettings = RecognizerSettings(),
                    settings_dir: str | Path | None = None, aot_dir: str | Path | None = None,
                    backend_sources: Sequence[str | Path] = (), include_dirs: Sequence[str | Path] = (),
                    defines: Mapping[str, object] | None = None, out_dir: str | Path | None = None,
                    core_dir: str | Path = CORE_DIR) -> Path:
    """The KWS firmware for the board (firmware/mps2_an386/main.c + the core + a model backend).

    backend="fake": kws_model_fake.c with a generated kws_settings.h for `labels` and `recognizer`.
    backend="aot": the model compiled by `kws compile` (aot_dir holds kws_model_aot.c/.h) on
    firmware/kernels, described by the export's kws_settings.h in `settings_dir` (runs/<run>/export/
    generated/, whose frontend tables then win over `frontend`'s). Any other name: `backend_sources`
    defining the symbols of kws_m4_model.h, with `settings_dir`. `defines` reach every source (e.g.
    KWS_KERNELS_PORTABLE) and win over the core's buffer sizes, which follow the labels (firmware_sizes);
    the stacks are firmware_stack_bytes(labels) + FIRMWARE_HANDLER_STACK_BYTES. `core_dir` builds another copy
    of firmware/core.
    """
    out = Path(out_dir) if out_dir is not None else DEFAULT_BUILD_DIR
    incs = frontend_include_dirs(frontend, out, core_dir)
    extra: list[Path] = []
    if backend == "fake":
        if settings_dir is not None or backend_sources or aot_dir is not None:
            raise M4Error("the fake backend brings its own settings and source")
        from kws.fsutil import atomic_write_text

        text = render_fake_settings(labels, recognizer)
        settings = out / "fake_settings" / digest([text.encode()])
        if not (settings / "kws_settings.h").exists():
            atomic_write_text(settings / "kws_settings.h", text)
        sources = [BOARD_DIR / "kws_model_fake.c"]
    elif settings_dir is None:
        raise M4Error(f"backend {backend!r} needs settings_dir (the export's generated/ with kws_settings.h)")
    elif backend == "aot":
        if aot_dir is None:
            raise M4Error("backend 'aot' needs aot_dir (the folder `kws compile` wrote kws_model_aot.c/.h to)")
        settings = Path(settings_dir)
        sources, extra = _aot_backend(settings, Path(aot_dir))
    else:
        if not backend_sources:
            raise M4Error(f"backend {backend!r} needs backend_sources (defining kws_m4_model.h's symbols)")
        settings = Path(settings_dir)
        sources = [Path(s) for s in backend_sources]
    names = labels if backend == "fake" else _settings_labels(settings / "kws_settings.h")
    return build_elf([*core_sources(core_dir=core_dir), BOARD_DIR / "kws_hal_m4.c", *sources, BOARD_DIR / "main.c"],
                     [settings, *incs, *extra, *map(Path, include_dirs)], {**firmware_sizes(names), **(defines or {})},
                     out, name=f"kws-m4-{backend}", stack_size=firmware_stack_bytes(len(names)),
                     link_flags=[f"-Wl,--defsym=__handler_stack_size={FIRMWARE_HANDLER_STACK_BYTES}"])


def _settings_labels(header: Path) -> list[str]:
    """The labels of a kws_settings.h (`kws_labels[KWS_NUM_LABELS] = {"a", "b", ...}`)."""
    count = int(_define(header, "KWS_NUM_LABELS") or 0)
    found = re.search(r"kws_labels\[KWS_NUM_LABELS\]\s*=\s*\{(.*?)\};", header.read_text(encoding="utf-8"), re.DOTALL)
    labels = [json.loads(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"', found.group(1))] if found else []
    if not labels or len(labels) != count:
        raise M4Error(f"{header} names {len(labels)} labels in kws_labels, KWS_NUM_LABELS says {count}")
    return labels


class M4Board:
    """The KWS firmware on QEMU's Cortex-M4 with UART0 on a pty: what `kws emulate --board m4` serves.

        with M4Board() as board:                   # builds (cached) and starts; board.port is the pty
            with BoardLink.open(board.port) as link: info = link.hello()
        M4Board(run.config.frontend, backend="aot", settings_dir=run.generated_dir, aot_dir=...)  # a real model

    The fake backend (default) has scores fake_model_scores predicts. The build arguments are those of
    build_board_elf; `elf` skips the build. icount_shift=0 makes the board's clock count instructions:
    its TIMING microseconds are thousands of instructions.
    """

    def __init__(self, frontend: FrontendConfig = FrontendConfig(), *, backend: str = "fake",
                 labels: Sequence[str] = DEFAULT_LABELS, recognizer: RecognizerSettings = RecognizerSettings(),
                 settings_dir: str | Path | None = None, aot_dir: str | Path | None = None,
                 defines: Mapping[str, object] | None = None, icount_shift: int | None = 0,
                 build_dir: str | Path | None = None, serial_log: str | Path | None = None,
                 elf: str | Path | None = None) -> None:
        self.frontend = frontend
        self.labels = tuple(labels)
        self._build = dict(backend=backend, labels=labels, recognizer=recognizer, settings_dir=settings_dir,
                           aot_dir=aot_dir, defines=defines, out_dir=build_dir)
        self.icount_shift = icount_shift
        self.serial_log = serial_log
        self.elf = Path(elf) if elf is not None else None
        self._qemu: QemuPty | None = None

    @property
    def port(self) -> str:
        if self._qemu is None:
            raise M4Error("the M4 board is not running: call start() first")
        return self._qemu.port

    def start(self) -> str:
        """Build the firmware (unless an ELF was given), start QEMU; the pty path."""
        if self._qemu is not None:
            return self._qemu.port
        if self.elf is None:
            self.elf = build_board_elf(self.frontend, **self._build)  # type: ignore[arg-type]
        self._qemu = QemuPty(self.elf, icount_shift=self.icount_shift, serial_log=self.serial_log)
        return self._qemu.port

    def check(self) -> None:
        """M4Error if QEMU has exited (a HardFault, the firmware returned, killed)."""
        if self._qemu is not None and self._qemu.poll() is not None:
            code = self._qemu.poll()
            why = "a HardFault" if code == EXIT_HARDFAULT else f"exit status {code}"
            raise M4Error(f"the M4 board stopped ({why}); QEMU said: {self._qemu.log()[-800:]}")

    def stack_use(self) -> StackUse:
        """The firmware's deepest use of its two stacks so far, read from the running board's memory (the paint
        left below it, through QEMU's QMP socket); the firmware is neither changed nor stopped for it."""
        if self._qemu is None or self.elf is None:
            raise M4Error("the M4 board is not running: call start() first")
        symbols = elf_symbols(self.elf)
        low, top = symbols["__stack_limit"], symbols["__stack_top"]
        handler_low, handler_top = symbols["__handler_stack_limit"], symbols["__handler_stack_top"]
        return StackUse(stack_use(self._qemu.read_memory(low, top - low)), top - low,
                        stack_use(self._qemu.read_memory(handler_low, handler_top - handler_low)),
                        handler_top - handler_low)

    def wait(self, timeout: float | None = None) -> bool:
        """True once QEMU has exited (waits up to `timeout` seconds)."""
        if self._qemu is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._qemu.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        if self._qemu is not None:
            self._qemu.stop()
            self._qemu = None

    def __enter__(self) -> "M4Board":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def worst_case_session(port: str, clip: np.ndarray, features: np.ndarray, *,
                       timeout: float = 20.0) -> "tuple[FeedResult, FeedResult]":
    """Drive every path of the firmware once over `port`: the text commands (and a line longer than the line
    buffer), the handshake, an AUDIO clip, a FEATURES stream, an AUDIO frame with a bad CRC (NAK) and a false
    frame header. Returns (the clip's results, the features' results) as kws.device.link gathers them; the
    stack and timing benchmarks (tests/test_m4_stack.py, tools/bench_board.py) measure on it."""
    from kws.device.framing import encode_frame
    from kws.device.link import BoardLink

    with BoardLink.open(port, timeout=timeout) as link:
        link.send_raw(b"help\r\ninfo\r\nreset\r\nan unknown command longer than the line buffer holds\r\n")
        link.read_text(0.5)
        link.hello()
        link.set_params(link.info.params)
        audio = link.run_clip(clip)
        link.reset()
        feats = link.feed_features(features)
        link.send_raw(encode_frame(0x04, 999, b"\x00" * 64)[:-1] + b"\xff")  # AUDIO with a bad CRC: NAK
        link.send_raw(b"\xa5\x5a" + b"\x00" * 24)                          # a false header
        link.poll(0.5)
        link.bye()
    return audio, feats


def run_board(frontend: FrontendConfig = FrontendConfig(), *, backend: str = "fake",
              settings_dir: str | Path | None = None, aot_dir: str | Path | None = None,
              defines: Mapping[str, object] | None = None, port_file: Path | None = None,
              serial_log: Path | None = None, icount_shift: int | None = 0,
              say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)) -> int:
    """`kws emulate --board m4`: build, start, print the port on stdout (alone on its line), serve until Ctrl-C.
    The build arguments are build_board_elf's (fake model by default; backend="aot" for a compiled run)."""
    hear_ctrl_c()
    board = M4Board(frontend, backend=backend, settings_dir=settings_dir, aot_dir=aot_dir, defines=defines,
                    icount_shift=icount_shift, serial_log=serial_log)
    port = board.start()
    try:
        say(f"M4 board (QEMU {QEMU_MACHINE}, {backend} model backend) on {port}: {board.elf}")
        say(f"try: kws monitor --port {port}    (Ctrl-C stops the board)")
        if port_file is not None:
            from kws.fsutil import atomic_write_text

            atomic_write_text(port_file, port + "\n")
        print(port, flush=True)  # last: a program waiting for this line finds the board ready
        while not board.wait(0.5):
            pass
        board.check()
        return 0
    except KeyboardInterrupt:
        say("M4 board stopped")
        return 0
    finally:
        board.stop()
        if port_file is not None:
            port_file.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: board | size ELF | run ELF."""
    parser = argparse.ArgumentParser(prog="python -m kws.device.m4", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    board = commands.add_parser("board", help="build and start the KWS firmware on a pty (fake model unless --aot)")
    board.add_argument("--aot", type=Path, default=None, help="folder `kws compile` wrote kws_model_aot.c/.h to")
    board.add_argument("--settings", type=Path, default=None,
                       help="with --aot: the export's generated/ (kws_settings.h, kws_frontend_tables.h)")
    board.add_argument("--define", action="append", default=[], metavar="NAME[=VALUE]",
                       help="a C define for every source, e.g. KWS_KERNELS_PORTABLE (repeatable)")
    board.add_argument("--port-file", type=Path, default=None)
    board.add_argument("--serial-log", type=Path, default=None, help="also record what the board writes")
    size = commands.add_parser("size", help="flash/RAM/stack report of an ELF")
    size.add_argument("elf", type=Path)
    run = commands.add_parser("run", help="run a test program; print its UART output; exit with its status")
    run.add_argument("elf", type=Path)
    run.add_argument("--timeout", type=float, default=60.0)
    run.add_argument("--icount-shift", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "board":
            defines = dict((d.split("=", 1) + [None])[:2] for d in args.define)
            if args.aot is not None:
                return run_board(backend="aot", aot_dir=args.aot, settings_dir=args.settings, defines=defines,
                                 port_file=args.port_file, serial_log=args.serial_log)
            return run_board(defines=defines, port_file=args.port_file, serial_log=args.serial_log)
        if args.command == "size":
            report = size_report(args.elf)
            print(report.summary())
            for obj, kinds in sorted(report.objects.items(), key=lambda kv: -sum(kv[1].values()))[:15]:
                print(f"  {obj:40s} " + " ".join(f"{k} {v:>7,}" for k, v in kinds.items()))
            return 0
        result = run_elf(args.elf, timeout=args.timeout, icount_shift=args.icount_shift)
        sys.stdout.buffer.write(result.output)
        return result.exit_code
    except KwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


__all__ = ["APT_PACKAGES", "BOARD_DIR", "BOARD_NAME", "BOARD_SOURCES", "CORE_DIR", "CPU_FLAGS", "C_FLAGS",
           "DEFAULT_BUILD_DIR", "DEFAULT_LABELS", "EXIT_HARDFAULT", "EXIT_UNEXPECTED_IRQ", "FAKE_MODEL_SHA256",
           "FIRMWARE_HANDLER_STACK_BYTES", "FIRMWARE_STACK_BYTES", "FLASH_BYTES", "FRONTEND_SOURCES", "INSTALL_HINT",
           "KERNELS_DIR", "LINKER_SCRIPT", "LINK_FLAGS", "M4Board", "M4BuildError", "M4Error", "M4MemoryOverflow",
           "M4Timeout", "M4ToolchainMissing", "QEMU_MACHINE", "QemuPty", "RAM_BYTES", "REPO_ROOT", "RunResult",
           "STACK_BYTES_PER_LABEL", "STACK_PAINT", "SizeReport", "StackFrame", "StackUse", "arm_gcc",
           "build_board_elf", "build_elf", "core_sources", "elf_symbols", "fake_model_scores", "firmware_sizes",
           "firmware_stack_bytes", "frontend_include_dirs", "qemu", "qemu_command", "render_fake_settings",
           "run_board", "run_elf", "size_report", "stack_use", "start_pty", "toolchain_problem", "worst_case_session"]

if __name__ == "__main__":
    sys.exit(main())
