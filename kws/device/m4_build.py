"""Cross-building C for the Cortex-M4 board (QEMU mps2-an386): the toolchain, the flags, the link's errors.

    from kws.device.m4_build import build_elf, core_sources, frontend_include_dirs, toolchain_problem
    elf = build_elf([Path("prog.c")], include_dirs=[...], defines={"N": 3})   # cached by content digest
    toolchain_problem()          # None, or why the M4 tools are missing (with the apt-get line)

Needs `arm-none-eabi-gcc` with newlib (APT_PACKAGES; $KWS_ARM_GCC overrides the compiler, qemu() finds
`qemu-system-arm`, $KWS_QEMU_ARM overriding it). The board folder (BOARD_DIR) has the Nano 33 BLE Sense's
memories, so a link that overflows them fails here as it would there (M4MemoryOverflow names the region).
Builds land in build/m4/ (DEFAULT_BUILD_DIR, ignored by git), named by a digest of every input.
kws.device.m4 re-exports all of this; the board (M4Board) lives there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping, Sequence

from kws.config import FrontendConfig
from kws.device.build_cache import build_once, compiler_identity
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


def binutil(gcc: str, tool: str) -> str:
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


# ------------------------------------------------------------------------------------------ building

def digest(parts: Sequence[bytes]) -> str:
    """16 hex digits of SHA-256 over length-prefixed `parts`: the content key of a build product."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()[:16]


def _headers(include_dirs: Sequence[Path]) -> list[Path]:
    return sorted({p.resolve() for d in include_dirs for p in Path(d).glob("*.h")})


def _compile_object(gcc: str, source: Path, flags: Sequence[str], headers: Sequence[Path], obj_dir: Path) -> Path:
    command = [gcc, *flags, "-c", str(source)]
    key = digest([compiler_identity(gcc).encode(), "\0".join(command).encode(), source.read_bytes(),
                   *(h.name.encode() + b"\0" + h.read_bytes() for h in headers)])
    # -fstack-usage writes the object's .su beside it (m4_size reads it there): it moves in with the object.
    return build_once(obj_dir / f"{source.stem}-{key}.o", lambda partial: [*command, "-o", str(partial)],
                      lambda run: M4BuildError(f"compiling {source.name} for the Cortex-M4 failed:\n"
                                               f"{' '.join(command)}\n{run.stderr.strip()}"),
                      sidecars=(".su",))


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
    key = digest([compiler_identity(gcc).encode(), "\0".join(ld).encode(), LINKER_SCRIPT.read_bytes(),
                   *(o.name.encode() for o in objects)])  # object names carry their content digest
    return build_once(out / f"{name}-{key}.elf",
                      lambda partial: [gcc, *ld, f"-Wl,-Map={partial.with_suffix('.map')}", *map(str, objects),
                                       "-lm", "-o", str(partial)],
                      lambda run: _link_error(run.stderr, name), sidecars=(".map",))


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
