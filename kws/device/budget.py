"""Will it fit? Model flash + tensor arena RAM (+ a stated estimate for code) per target board.

    from kws.device.budget import check_budget
    report = check_budget("nano33ble", model_bytes=19680, arena_bytes=10832)   # BudgetError if not

The code estimates are estimates, stated here so they can be argued with: they cover the Arduino mbed
core (mbed OS, USB serial, PDM microphone driver), the TFLite Micro interpreter with reference kernels,
and our portable core (frontend, feature ring, recognizer, protocol). Replace them with the linker's
figures once the firmware builds. A board passes when both
  model + code_flash                <= flash * (1 - headroom)
  arena + ram_reserved              <= ram * (1 - headroom)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kws.errors import KwsError


class BudgetError(KwsError):
    """Model plus tensor arena plus code does not fit the target board with the required headroom."""

KIB = 1024


@dataclass(frozen=True)
class BoardBudget:
    """Memory of a target board and what the rest of the firmware is estimated to take."""

    name: str
    description: str
    flash_bytes: int
    ram_bytes: int
    code_flash_estimate: int
    """Flash for everything but the model (estimate, see the module docstring)."""
    ram_reserved_estimate: int
    """RAM for everything but the tensor arena: OS, stacks, audio and feature buffers (estimate)."""
    headroom: float
    """Fraction of each memory kept free."""


BOARDS: dict[str, BoardBudget] = {
    "nano33ble": BoardBudget(
        "nano33ble", "Arduino Nano 33 BLE Sense (nRF52840, Cortex-M4F @ 64 MHz)",
        flash_bytes=1024 * KIB, ram_bytes=256 * KIB,
        # mbed core ~170 KiB + TFLM interpreter and reference kernels ~110 KiB + our core ~20 KiB, rounded up.
        code_flash_estimate=320 * KIB,
        # mbed OS heap/stacks ~40 KiB + 1 s int16 audio ring 32 KiB + features 2 KiB + serial buffers, rounded up.
        ram_reserved_estimate=96 * KIB,
        headroom=0.10),
    "host": BoardBudget(
        "host", "emulated board (qemu-system-arm mps2-an386, Cortex-M4)",
        flash_bytes=4096 * KIB, ram_bytes=4096 * KIB,
        code_flash_estimate=256 * KIB, ram_reserved_estimate=64 * KIB, headroom=0.10),
}


def board_budget(board: str | BoardBudget) -> BoardBudget:
    """The budget of a board name (BudgetError listing the known ones), or a BoardBudget as is."""
    if isinstance(board, BoardBudget):
        return board
    try:
        return BOARDS[board]
    except KeyError:
        raise BudgetError(f"no memory budget for board {board!r}; known boards: {', '.join(BOARDS)}") from None


@dataclass(frozen=True)
class BudgetReport:
    """The figures of a passed (or failed) budget check."""

    board: BoardBudget
    model_bytes: int
    arena_bytes: int

    @property
    def flash_used(self) -> int:
        return self.model_bytes + self.board.code_flash_estimate

    @property
    def flash_limit(self) -> int:
        return int(self.board.flash_bytes * (1 - self.board.headroom))

    @property
    def ram_used(self) -> int:
        return self.arena_bytes + self.board.ram_reserved_estimate

    @property
    def ram_limit(self) -> int:
        return int(self.board.ram_bytes * (1 - self.board.headroom))

    @property
    def fits(self) -> bool:
        return self.flash_used <= self.flash_limit and self.ram_used <= self.ram_limit

    def to_json(self) -> dict[str, Any]:
        return {"board": asdict(self.board), "model_bytes": self.model_bytes, "arena_bytes": self.arena_bytes,
                "flash_used": self.flash_used, "flash_limit": self.flash_limit,
                "ram_used": self.ram_used, "ram_limit": self.ram_limit, "fits": self.fits}


def check_budget(board: str | BoardBudget, model_bytes: int, arena_bytes: int) -> BudgetReport:
    """BudgetReport if model and arena fit the board with its headroom; otherwise BudgetError with the figures."""
    report = BudgetReport(board_budget(board), int(model_bytes), int(arena_bytes))
    b = report.board
    problems = []
    if report.flash_used > report.flash_limit:
        problems.append(f"flash: model {report.model_bytes:,} B + code estimate {b.code_flash_estimate:,} B = "
                        f"{report.flash_used:,} B > {report.flash_limit:,} B ({b.flash_bytes:,} B less "
                        f"{b.headroom:.0%} headroom)")
    if report.ram_used > report.ram_limit:
        problems.append(f"RAM: tensor arena {report.arena_bytes:,} B + reserved estimate "
                        f"{b.ram_reserved_estimate:,} B = {report.ram_used:,} B > {report.ram_limit:,} B "
                        f"({b.ram_bytes:,} B less {b.headroom:.0%} headroom)")
    if problems:
        raise BudgetError(f"the model does not fit {b.description} [{b.name}]: " + "; ".join(problems)
                          + ". Use a smaller model (fewer filters, pruning) or another --board; nothing was "
                            "exported or flashed")
    return report
