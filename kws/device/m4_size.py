"""What an ELF built for the Cortex-M4 board costs it: flash, RAM, stack frames, and the painted stacks' use.

    from kws.device.m4_size import size_report, elf_symbols, stack_use
    print(size_report(elf).summary())      # flash/RAM/stack budget, per section and per object (.map, .su)
    elf_symbols(elf)["__stack_top"]        # a symbol's address (arm-none-eabi-nm)
    stack_use(memory)                      # bytes used of a painted stack region read from the board

    python -m kws.device.m4 size ELF       # the same report on the command line
kws.device.m4 re-exports all of this.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from kws.device.m4_build import FLASH_BYTES, RAM_BYTES, M4Error, arm_gcc, binutil

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
    nm = binutil(arm_gcc(), "nm")
    run = subprocess.run([nm, "--defined-only", str(elf)], capture_output=True, text=True, timeout=60)
    return {parts[2] for parts in (line.split() for line in run.stdout.splitlines())
            if len(parts) == 3 and parts[1] in "tT"}


def elf_symbols(elf: str | Path) -> dict[str, int]:
    """Addresses (and absolute values such as __stack_size) of the ELF's defined symbols (arm-none-eabi-nm)."""
    nm = binutil(arm_gcc(), "nm")
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
    size_tool = binutil(arm_gcc(), "size")
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
