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
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from kws.config import FrontendConfig, RecognizerSettings
from kws.errors import KwsError

REPO_ROOT = Path(__file__).resolve().parents[2]
BOARD_DIR = REPO_ROOT / "firmware" / "mps2_an386"
CORE_DIR = REPO_ROOT / "firmware" / "core"
KERNELS_DIR = REPO_ROOT / "firmware" / "kernels"
DEFAULT_BUILD_DIR = REPO_ROOT / "build" / "m4"
LINKER_SCRIPT = BOARD_DIR / "mps2_an386.ld"
BOARD_SOURCES = (BOARD_DIR / "m4_startup.c", BOARD_DIR / "m4_board.c")
"""Startup, UART0, clock and semihosting exit: linked into every program built with board=True."""
FRONTEND_SOURCES = ("kws_fft.c", "kws_frontend.c", "kws_features.c")

CPU_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections", "-fstack-usage",
           "-g")
# No startup files (ours), newlib-nano, no _sbrk anywhere: a malloc fails the link (the board has no heap).
LINK_FLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections")

APT_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
INSTALL_HINT = (f"install them with `sudo apt-get install -y {' '.join(APT_PACKAGES)}` "
                f"(or run `bash tools/setup.sh` as root)")
FLASH_BYTES = 1024 * 1024
RAM_BYTES = 256 * 1024
QEMU_MACHINE = "mps2-an386"
EXIT_HARDFAULT = 240
"""Exit status of a program that took a HardFault (m4_board.h M4_EXIT_HARDFAULT)."""
EXIT_UNEXPECTED_IRQ = 241
BOARD_NAME = "mps2-an386"
DEFAULT_LABELS = ("_silence_", "_unknown_", "yes", "no")
FAKE_MODEL_SHA256 = hashlib.sha256(b"kws fake model v1: acc[i] = sum input[j] * (((j + 3i) % 5) - 2); "
                                   b"clamp(acc / 256)").hexdigest()
"""The model hash the fake backend reports (INFO), a constant so a host can recognise it."""
_PTY_LINE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
_QEMU_NOISE = ("has no peer",)  # mps2's built-in ethernet warns when no network is configured


class M4Error(KwsError):
    """The M4 board (toolchain, build, QEMU) failed; the message says what and what to do."""


class M4ToolchainMissing(M4Error):
    """arm-none-eabi-gcc, newlib or qemu-system-arm is not installed; the message has the apt-get line."""


class M4BuildError(M4Error):
    """Compiling or linking failed; the message holds the compiler's output."""


class M4MemoryOverflow(M4BuildError):
    """The program does not fit the board's memory: `region` ("FLASH" or "RAM"), `overflow_bytes`."""

    def __init__(self, message: str, region: str, overflow_bytes: int | None) -> None:
        super().__init__(message)
        self.region = region
        self.overflow_bytes = overflow_bytes


class M4Timeout(M4Error):
    """A program ran past its timeout; QEMU (process `pid`) was killed and reaped. `output`: the UART bytes."""

    def __init__(self, message: str, output: bytes, pid: int) -> None:
        super().__init__(message)
        self.output = output
        self.pid = pid


# ------------------------------------------------------------------------------------------ toolchain

def _program(env: str, default: str, what: str) -> str:
    name = os.environ.get(env) or default
    path = shutil.which(name)
    if path is None:
        raise M4ToolchainMissing(f"{what} `{name}` is not on PATH: {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=4)
def _newlib_check(gcc: str) -> None:
    found = subprocess.run([gcc, "-print-file-name=nano.specs"], capture_output=True, text=True, timeout=30)
    if not os.path.isabs(found.stdout.strip()):
        raise M4ToolchainMissing(f"{gcc} has no newlib-nano (nano.specs not found): {INSTALL_HINT}")


def arm_gcc() -> str:
    """arm-none-eabi-gcc ($KWS_ARM_GCC overrides) with newlib-nano; M4ToolchainMissing when absent."""
    gcc = _program("KWS_ARM_GCC", "arm-none-eabi-gcc", "the Arm cross compiler")
    _newlib_check(gcc)
    return gcc


def _binutil(gcc: str, tool: str) -> str:
    """arm-none-eabi-<tool> beside the compiler (same prefix)."""
    candidate = gcc[: -len("gcc")] + tool if gcc.endswith("gcc") else ""
    if candidate and os.access(candidate, os.X_OK):
        return candidate
    return _program("KWS_ARM_" + tool.upper(), "arm-none-eabi-" + tool, f"arm-none-eabi-{tool}")


def qemu() -> str:
    """qemu-system-arm ($KWS_QEMU_ARM overrides); M4ToolchainMissing when absent."""
    return _program("KWS_QEMU_ARM", "qemu-system-arm", "the emulator")


def toolchain_problem() -> str | None:
    """None when everything the M4 tests need is installed, else why not (with the install hint)."""
    try:
        arm_gcc()
        qemu()
    except M4ToolchainMissing as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=4)
def _identity(program: str) -> str:
    run = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
    return run.stdout.splitlines()[0] if run.stdout else program


# ------------------------------------------------------------------------------------------ building

def _digest(parts: Sequence[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()[:16]


def _headers(include_dirs: Sequence[Path]) -> list[Path]:
    return sorted({p.resolve() for d in include_dirs for p in Path(d).glob("*.h")})


def _compile_object(gcc: str, source: Path, flags: Sequence[str], headers: Sequence[Path], obj_dir: Path) -> Path:
    command = [gcc, *flags, "-c", str(source)]
    key = _digest([_identity(gcc).encode(), "\0".join(command).encode(), source.read_bytes(),
                   *(h.name.encode() + b"\0" + h.read_bytes() for h in headers)])
    target = obj_dir / f"{source.stem}-{key}.o"
    if target.exists():
        return target
    # Compile in a private folder and move: a crashed or concurrent build never leaves a half-written
    # object (or its .su) under the final name, and -fstack-usage names the .su after the object.
    with tempfile.TemporaryDirectory(dir=obj_dir, prefix=".tmp-") as tmp:
        partial = Path(tmp) / target.name
        run = subprocess.run([*command, "-o", str(partial)], capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise M4BuildError(f"compiling {source.name} for the Cortex-M4 failed:\n{' '.join(command)}\n"
                               f"{run.stderr.strip()}")
        su = partial.with_suffix(".su")
        if su.exists():
            os.replace(su, target.with_suffix(".su"))
        os.replace(partial, target)
    return target


_OVERFLOW = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")
_WONT_FIT = re.compile(r"section [`']?([\w.]+)'? will not fit in region [`']?(\w+)'?")


def _link_error(stderr: str, name: str) -> M4BuildError:
    overflow = _OVERFLOW.search(stderr)
    wont_fit = _WONT_FIT.search(stderr)
    if overflow or wont_fit:
        region = overflow.group(1) if overflow else wont_fit.group(2)
        by = int(overflow.group(2)) if overflow else None
        size = {"FLASH": FLASH_BYTES, "RAM": RAM_BYTES}.get(region)
        capacity = f" ({size // 1024} KB, the Nano 33 BLE Sense's)" if size else ""
        amount = f" by {by:,} bytes" if by is not None else ""
        return M4MemoryOverflow(f"{name} does not fit the board: region {region}{capacity} overflowed{amount}. "
                                f"Make the model or buffers smaller (linker: {stderr.strip()[-600:]})", region, by)
    if re.search(r"undefined reference to [`']_sbrk'|undefined reference to [`'](malloc|calloc|realloc)'", stderr):
        return M4BuildError(f"{name} uses the heap (malloc or a library function that allocates), which this "
                            f"board does not have: use static buffers\n{stderr.strip()[-1500:]}")
    return M4BuildError(f"linking {name} for the Cortex-M4 failed:\n{stderr.strip()[-3000:]}")


def build_elf(sources: Sequence[str | Path], include_dirs: Sequence[str | Path] = (),
              defines: Mapping[str, object] | None = None, out_dir: str | Path | None = None, *,
              name: str | None = None, board: bool = True, optimize: str = "-O2",
              extra_flags: Sequence[str] = (), link_flags: Sequence[str] = (),
              stack_size: int | None = None) -> Path:
    """Compile and link C sources into an ELF for the mps2-an386 board; returns its path.

    board=True adds the board support (startup, UART0, clock, exit; firmware/mps2_an386) and its
    include folder. `defines` become -DNAME=VALUE (a value of None: -DNAME). The ELF, its .map and the
    objects' .su files are named by a digest of every input (sources, headers in include_dirs, flags,
    linker script, compiler), so an unchanged build is reused. M4MemoryOverflow when it does not fit
    the board's 1 MB flash / 256 KB RAM; M4BuildError with the compiler's output otherwise.
    """
    gcc = arm_gcc()
    out = Path(out_dir) if out_dir is not None else DEFAULT_BUILD_DIR
    srcs = [Path(s).resolve() for s in sources]
    if board:
        srcs = [*BOARD_SOURCES, *srcs]
    missing = [str(s) for s in srcs if not s.is_file()]
    if missing:
        raise M4BuildError(f"no such source: {', '.join(missing)}")
    incs = [Path(d).resolve() for d in include_dirs]
    if board:
        incs.append(BOARD_DIR)
    name = name or srcs[-1].stem
    define_flags = [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in sorted((defines or {}).items())]
    flags = [*CPU_FLAGS, *C_FLAGS, optimize, *define_flags, *extra_flags, *(f"-I{d}" for d in incs)]
    headers = _headers([*incs, *{s.parent for s in srcs}])
    obj_dir = out / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, min(len(srcs), os.cpu_count() or 1))) as pool:
        objects = list(pool.map(lambda s: _compile_object(gcc, s, flags, headers, obj_dir), srcs))

    ld = [*CPU_FLAGS, *LINK_FLAGS, f"-T{LINKER_SCRIPT}", *link_flags]
    if stack_size is not None:
        ld.append(f"-Wl,--defsym=__stack_size={int(stack_size)}")
    key = _digest([_identity(gcc).encode(), "\0".join(ld).encode(), LINKER_SCRIPT.read_bytes(),
                   *(o.name.encode() for o in objects)])  # object names carry their content digest
    elf = out / f"{name}-{key}.elf"
    if elf.exists():
        return elf
    with tempfile.TemporaryDirectory(dir=out, prefix=".tmp-") as tmp:
        partial = Path(tmp) / elf.name
        partial_map = partial.with_suffix(".map")
        run = subprocess.run([gcc, *ld, f"-Wl,-Map={partial_map}", *map(str, objects), "-lm", "-o", str(partial)],
                             capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise _link_error(run.stderr, name)
        os.replace(partial_map, elf.with_suffix(".map"))
        os.replace(partial, elf)  # last: an existing ELF means a complete build
    return elf


def frontend_include_dirs(cfg: FrontendConfig, build_dir: str | Path | None = None,
                          core_dir: str | Path = CORE_DIR) -> list[Path]:
    """Include folders for the portable core with `cfg`'s generated frontend tables (in build_dir)."""
    from kws.device.cbuild import generate_tables

    return [generate_tables(cfg, Path(build_dir or DEFAULT_BUILD_DIR)), Path(core_dir)]


def core_sources(names: Sequence[str] | None = None, core_dir: str | Path = CORE_DIR) -> list[Path]:
    """Paths of the portable core's sources: every firmware/core/*.c by default (whatever files the core
    is split into; --gc-sections drops what a program does not use), or just `names`."""
    folder = Path(core_dir)
    return sorted(folder.glob("*.c")) if names is None else [folder / n for n in names]


# ------------------------------------------------------------------------------------------ size

@dataclass(frozen=True)
class StackFrame:
    """One function's stack frame from -fstack-usage (qualifier: static, dynamic, dynamic,bounded)."""

    function: str
    bytes: int
    qualifier: str
    source: str


@dataclass(frozen=True)
class SizeReport:
    """What a linked ELF costs the board. Flash = code + rodata + data (its initial values); RAM = data +
    bss + the two reserved stacks. Sizes in bytes."""

    text: int
    """arm-none-eabi-size (Berkeley): code, rodata and vectors."""
    data: int
    bss: int
    """arm-none-eabi-size (Berkeley): zeroed RAM, including the reserved stacks."""
    code: int
    rodata: int
    ram_data: int
    ram_bss: int
    stack_reserved: int
    flash_used: int
    ram_used: int
    flash_size: int
    ram_size: int
    objects: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per object file (from the map): bytes of code, rodata, data, bss it contributes."""
    stack_frames: tuple[StackFrame, ...] = ()
    """Frames of the functions linked in, largest first (.su files of the objects)."""

    @property
    def max_stack_frame(self) -> StackFrame | None:
        return self.stack_frames[0] if self.stack_frames else None

    def summary(self) -> str:
        frame = self.max_stack_frame
        return (f"flash {self.flash_used:,} / {self.flash_size:,} B (code {self.code:,}, rodata {self.rodata:,}, "
                f"data {self.ram_data:,}); RAM {self.ram_used:,} / {self.ram_size:,} B (data {self.ram_data:,}, "
                f"bss {self.ram_bss:,}, stacks {self.stack_reserved:,}); largest stack frame "
                + (f"{frame.bytes} B in {frame.function} ({frame.qualifier})" if frame else "unknown"))


_CODE_SECTIONS = (".isr_vector", ".text")
_RODATA_SECTIONS = (".rodata", ".ARM.exidx", ".ARM.extab", ".init_array")
_STACK_SECTIONS = (".stack", ".handler_stack")


def _section_sizes(size_tool: str, elf: Path) -> dict[str, int]:
    run = subprocess.run([size_tool, "-A", str(elf)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise M4Error(f"{size_tool} -A {elf} failed: {run.stderr.strip()}")
    sizes: dict[str, int] = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def _berkeley(size_tool: str, elf: Path) -> tuple[int, int, int]:
    run = subprocess.run([size_tool, "-B", str(elf)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise M4Error(f"{size_tool} {elf} failed: {run.stderr.strip()}")
    text, data, bss = run.stdout.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


_MAP_INPUT = re.compile(r"^ (\.[\w.$]+)?\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")


def _map_objects(map_text: str) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Per-object bytes by kind from the linker map, and the object files it loaded."""
    kinds = {".text": "code", ".isr_vector": "code", ".rodata": "rodata", ".ARM.exidx": "rodata",
             ".ARM.extab": "rodata", ".data": "data", ".bss": "bss", "COMMON": "bss"}
    per: dict[str, dict[str, int]] = {}
    loaded = [line[5:].strip() for line in map_text.splitlines() if line.startswith("LOAD ")]
    body = map_text.split("Linker script and memory map", 1)[-1]
    pending: str | None = None
    for line in body.splitlines():
        stripped = line.strip()
        if line.startswith(" ") and not line.startswith("  ") and stripped and " " not in stripped:
            pending = stripped  # a long input-section name; its address/size/file follow on the next line
            continue
        match = _MAP_INPUT.match(line)
        if match:
            section = match.group(1) or pending
            pending = None
            if section is None:
                continue
            kind = next((k for prefix, k in kinds.items() if section == prefix or section.startswith(prefix + ".")),
                        None)
            size = int(match.group(3), 16)
            if kind is None or size == 0:
                continue
            owner = Path(match.group(4).strip()).name
            per.setdefault(owner, {"code": 0, "rodata": 0, "data": 0, "bss": 0})[kind] += size
        elif stripped.startswith("*(COMMON)") or not line.startswith(" "):
            pending = None
    return per, loaded


def _stack_frames(objects: Sequence[str], linked: set[str]) -> list[StackFrame]:
    frames = []
    for obj in objects:
        su = Path(obj).with_suffix(".su")
        if not su.is_file():
            continue
        for line in su.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            where, size, qualifier = parts
            function = where.rsplit(":", 1)[-1]
            if linked and function not in linked:
                continue  # removed by --gc-sections
            frames.append(StackFrame(function, int(size), qualifier, where.rsplit(":", 3)[0]))
    return sorted(frames, key=lambda f: (-f.bytes, f.function))


def _linked_functions(elf: Path) -> set[str]:
    nm = _binutil(arm_gcc(), "nm")
    run = subprocess.run([nm, "--defined-only", str(elf)], capture_output=True, text=True, timeout=60)
    return {parts[2] for parts in (line.split() for line in run.stdout.splitlines())
            if len(parts) == 3 and parts[1] in "tT"}


def elf_symbols(elf: str | Path) -> dict[str, int]:
    """Addresses (and absolute values such as __stack_size) of the ELF's defined symbols (arm-none-eabi-nm)."""
    nm = _binutil(arm_gcc(), "nm")
    run = subprocess.run([nm, "--defined-only", str(elf)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise M4Error(f"{nm} {elf} failed: {run.stderr.strip()}")
    return {parts[2]: int(parts[0], 16) for parts in (line.split() for line in run.stdout.splitlines())
            if len(parts) == 3}


STACK_PAINT = 0xA5A5A5A5
"""The word the startup code paints both stacks with (m4_startup.c M4_STACK_PAINT)."""


@dataclass(frozen=True)
class StackUse:
    """The stacks' deepest use since boot: bytes above the lowest word whose paint was overwritten (what
    m4_stack_high_water() computes on the board), of what the linker reserved."""

    used: int
    """Thread stack (PSP: main, the core, the model; exception frames are pushed here too)."""
    reserved: int
    handler_used: int
    """Handler stack (MSP: SysTick, the fault report)."""
    handler_reserved: int


def stack_use(memory: bytes) -> int:
    """Bytes of a painted stack region (lowest address first) that were used: above its lowest unpainted word."""
    words = np.frombuffer(memory[: len(memory) // 4 * 4], dtype="<u4")
    touched = np.flatnonzero(words != STACK_PAINT)
    return 0 if touched.size == 0 else (words.size - int(touched[0])) * 4


def size_report(elf: str | Path) -> SizeReport:
    """Flash/RAM use of an ELF built by build_elf, per section and per object, and its stack frames."""
    elf = Path(elf)
    size_tool = _binutil(arm_gcc(), "size")
    sections = _section_sizes(size_tool, elf)
    text, data, bss = _berkeley(size_tool, elf)
    map_path = elf.with_suffix(".map")
    objects: dict[str, dict[str, int]] = {}
    frames: list[StackFrame] = []
    if map_path.is_file():
        objects, loaded = _map_objects(map_path.read_text(encoding="utf-8", errors="replace"))
        frames = _stack_frames([o for o in loaded if o.endswith(".o")], _linked_functions(elf))
    code = sum(sections.get(s, 0) for s in _CODE_SECTIONS)
    rodata = sum(sections.get(s, 0) for s in _RODATA_SECTIONS)
    ram_data = sections.get(".data", 0)
    ram_bss = sections.get(".bss", 0)
    stacks = sum(sections.get(s, 0) for s in _STACK_SECTIONS)
    return SizeReport(text=text, data=data, bss=bss, code=code, rodata=rodata, ram_data=ram_data, ram_bss=ram_bss,
                      stack_reserved=stacks, flash_used=code + rodata + ram_data,
                      ram_used=ram_data + ram_bss + stacks, flash_size=FLASH_BYTES, ram_size=RAM_BYTES,
                      objects=objects, stack_frames=tuple(frames))


# ------------------------------------------------------------------------------------------ running

@dataclass(frozen=True)
class RunResult:
    """A test program's run: what it wrote to UART0, its exit status (semihosting), QEMU's stderr."""

    output: bytes
    exit_code: int
    stderr: str
    wall_s: float

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    @property
    def faulted(self) -> bool:
        """True when the program took a HardFault (its report line is in `text`)."""
        return self.exit_code == EXIT_HARDFAULT


def qemu_command(elf: str | Path, *, serial: str, icount_shift: int | None = 0,
                 extra_args: Sequence[str] = ()) -> list[str]:
    """The qemu-system-arm command line for the board; `serial` is a -serial backend (stdio, pty, ...)."""
    command = [qemu(), "-M", QEMU_MACHINE, "-nodefaults", "-display", "none", "-monitor", "none",
               "-serial", serial, "-semihosting-config", "enable=on,target=native"]
    if icount_shift is not None:
        command += ["-icount", f"shift={int(icount_shift)}"]
    return [*command, *extra_args, "-kernel", str(elf)]


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL QEMU's process group (it was started in its own session), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _qemu_failure(stderr: str) -> str | None:
    lines = [line for line in stderr.splitlines()
             if line.startswith("qemu-system-arm:") and not any(n in line for n in _QEMU_NOISE)]
    return "\n".join(lines) or None


def run_elf(elf: str | Path, *, timeout: float, stdin_bytes: bytes | None = None, icount_shift: int | None = 0,
            extra_args: Sequence[str] = ()) -> RunResult:
    """Run a test program on the board until it exits (semihosting); its UART0 output and exit status.

    `stdin_bytes` are served to UART0's receiver (QEMU delivers ~20 KB/s to its 1-byte register).
    icount_shift=None runs without -icount (the clock then follows the host's). M4Timeout (with the
    output so far) when it runs past `timeout` seconds: QEMU is killed and reaped first.
    """
    command = qemu_command(elf, serial="stdio", icount_shift=icount_shift, extra_args=extra_args)
    t0 = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(stdin_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        raise M4Timeout(f"{Path(elf).name} did not exit within {timeout:g} s under QEMU (killed); it wrote "
                        f"{len(out)} bytes: {out[-300:].decode('utf-8', 'replace')!r}", out, process.pid) from None
    finally:
        _kill_group(process)  # also on KeyboardInterrupt: never leave QEMU behind
    stderr = err.decode("utf-8", "replace")
    failure = _qemu_failure(stderr)
    if failure and process.returncode != 0 and not out:
        raise M4Error(f"QEMU could not run {elf}: {failure}")
    return RunResult(out, process.returncode, stderr, time.monotonic() - t0)


def _qmp(path: Path, command: dict, timeout: float) -> dict:
    """One QMP command on QEMU's monitor socket (a fresh connection: greeting, capabilities, the command);
    its "return" value. M4Error on a QMP error or no answer within `timeout`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            stream = sock.makefile("rwb")
            answer: dict = {}
            for request in (None, {"execute": "qmp_capabilities"}, command):
                if request is not None:
                    stream.write(json.dumps(request).encode() + b"\n")
                    stream.flush()
                while True:  # skip asynchronous events; the greeting is {"QMP": ...}
                    line = stream.readline()
                    if not line:
                        raise M4Error(f"QEMU closed its monitor socket {path} during {command['execute']}")
                    answer = json.loads(line)
                    if "error" in answer:
                        raise M4Error(f"QEMU refused {command['execute']}: {answer['error'].get('desc', answer)}")
                    if "return" in answer or "QMP" in answer:
                        break
            return answer["return"]
        except (OSError, ValueError) as exc:
            raise M4Error(f"QEMU's monitor socket {path} did not answer {command['execute']}: {exc}") from None


class QemuPty:
    """QEMU running an ELF with UART0 on a pseudo-terminal (`port`); stop() (or the with block) ends it.

    QEMU's own output (and the line announcing the pty) goes to `log_path`. The UART bytes the board
    wrote are also kept in `serial_log` when given. read_memory() reads the running board's memory through
    QEMU's QMP socket (in a private temporary folder). QEMU is killed if this object is garbage-collected
    or the interpreter exits while it runs.
    """

    def __init__(self, elf: str | Path, *, icount_shift: int | None = 0, log_path: str | Path | None = None,
                 serial_log: str | Path | None = None, start_timeout: float = 30.0,
                 extra_args: Sequence[str] = ()) -> None:
        self.elf = Path(elf)
        self._tmp: tempfile.TemporaryDirectory | None = tempfile.TemporaryDirectory(prefix="kws-m4-")
        self.log_path = Path(log_path) if log_path is not None else Path(self._tmp.name) / "qemu.log"
        self.serial_log = Path(serial_log) if serial_log is not None else None
        self._qmp = Path(self._tmp.name) / "qmp.sock"
        chardev = "pty,id=uart0" + (f",logfile={self.serial_log},logappend=off" if self.serial_log else "")
        command = qemu_command(elf, serial="chardev:uart0", icount_shift=icount_shift,
                               extra_args=["-chardev", chardev, "-qmp", f"unix:{self._qmp},server=on,wait=off",
                                           *extra_args])
        self.command = command
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
        self._finalizer = weakref.finalize(self, _kill_group, self._process)
        try:
            self.port = self._wait_for_port(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            found = _PTY_LINE.search(self.log_path.read_bytes())
            if found:
                return found.group(1).decode()
            if self._process.poll() is not None:
                raise M4Error(f"QEMU exited with status {self._process.returncode} before opening the pty: "
                              f"{self.log()[-1500:]}")
            if time.monotonic() > deadline:
                raise M4Error(f"QEMU did not announce a pty within {timeout:g} s: {self.log()[-1500:]}")
            time.sleep(0.02)

    def log(self) -> str:
        """What QEMU printed (not the UART)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        return self._process.pid

    def read_memory(self, address: int, size: int, timeout: float = 10.0) -> bytes:
        """`size` bytes of the running board's memory from `address` (QEMU's QMP pmemsave), the guest untouched:
        how the host reads what the firmware keeps to itself, e.g. the painted stack (M4Board.stack_use)."""
        if self._tmp is None or self._process.poll() is not None:
            raise M4Error(f"QEMU is not running: cannot read the board's memory ({self.log()[-300:]})")
        dump = Path(self._tmp.name) / "memory.bin"
        _qmp(self._qmp, {"execute": "pmemsave", "arguments": {"val": address, "size": size, "filename": str(dump)}},
             timeout)
        data = dump.read_bytes()
        dump.unlink()
        if len(data) != size:
            raise M4Error(f"QEMU saved {len(data)} of {size} bytes from {address:#x}")
        return data

    def poll(self) -> int | None:
        """QEMU's exit status (the firmware's semihosting exit, e.g. 240 after a HardFault), None while it runs."""
        return self._process.poll()

    def stop(self, timeout: float = 5.0) -> int | None:
        """End QEMU: SIGTERM (a clean exit), SIGKILL after `timeout`; reaped either way. Its exit status."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
                self._process.wait(timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self._process)
        self._finalizer.detach()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return self._process.returncode

    def __enter__(self) -> "QemuPty":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_pty(elf: str | Path, **kwargs: object) -> QemuPty:
    """Start QEMU on `elf` with UART0 on a new pty; QemuPty(...).port is its path (see QemuPty)."""
    return QemuPty(elf, **kwargs)  # type: ignore[arg-type]


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
        settings = out / "fake_settings" / _digest([text.encode()])
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


def run_board(frontend: FrontendConfig = FrontendConfig(), *, backend: str = "fake",
              settings_dir: str | Path | None = None, aot_dir: str | Path | None = None,
              defines: Mapping[str, object] | None = None, port_file: Path | None = None,
              serial_log: Path | None = None, icount_shift: int | None = 0,
              say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)) -> int:
    """`kws emulate --board m4`: build, start, print the port on stdout (alone on its line), serve until Ctrl-C.
    The build arguments are build_board_elf's (fake model by default; backend="aot" for a compiled run)."""
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


__all__ = ["BOARD_DIR", "DEFAULT_LABELS", "EXIT_HARDFAULT", "FAKE_MODEL_SHA256", "FIRMWARE_HANDLER_STACK_BYTES",
           "FIRMWARE_STACK_BYTES", "FLASH_BYTES", "M4Board", "M4BuildError", "M4Error", "M4MemoryOverflow",
           "M4Timeout", "M4ToolchainMissing", "QemuPty", "RAM_BYTES", "RunResult", "STACK_BYTES_PER_LABEL",
           "STACK_PAINT", "SizeReport", "StackFrame", "StackUse", "arm_gcc", "build_board_elf", "build_elf",
           "core_sources", "elf_symbols", "fake_model_scores", "firmware_sizes", "firmware_stack_bytes",
           "frontend_include_dirs", "qemu", "qemu_command", "render_fake_settings", "run_board", "run_elf",
           "size_report", "stack_use", "start_pty", "toolchain_problem"]

if __name__ == "__main__":
    sys.exit(main())
