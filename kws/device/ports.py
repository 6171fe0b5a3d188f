"""Finding the board's serial port: USB ids of the Nano 33 BLE, `arduino-cli board list`, one finder.

    choose_port(parse_board_list(json_of_board_list), requested=None)   # the one Nano, or a clear error
    (kws.device.arduino_cli.find_board_port runs `arduino-cli board list` and does this)

The VID:PIDs are those of arduino/ArduinoCore-mbed: boards.txt (nano33ble.vid/pid.N) and
variants/ARDUINO_NANO33BLE/pins_arduino.h (BOARD_PRODUCTID 0x805a, the running sketch's USB PID).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from kws.errors import KwsError

ARDUINO_VID = 0x2341
APP_PIDS = {0x805A: "sketch running"}
BOOTLOADER_PIDS = {0x005A: "bootloader (double-tap)"}
OTHER_PIDS = {0x015A: "OpenMV firmware", 0x025A: "another firmware (PID 025A)"}
"""boards.txt also lists these for nano33ble: the board runs someone else's firmware; upload still works."""
DOUBLE_TAP_HINT = ("double-tap the board's reset button (the orange LED pulses: bootloader mode) and run again, "
                   "with --port <the new port> if it changes")


class PortNotFound(KwsError):
    """The board's port could not be chosen."""


class NoBoardError(PortNotFound):
    """No Nano 33 BLE on USB."""


class SeveralBoardsError(PortNotFound):
    """More than one candidate port: the user must choose with --port."""


@dataclass(frozen=True)
class DetectedPort:
    """One port of `arduino-cli board list`."""

    address: str
    vid: int | None
    pid: int | None
    label: str = ""
    board_name: str = ""

    @property
    def is_nano(self) -> bool:
        return self.vid == ARDUINO_VID and self.pid in {**APP_PIDS, **BOOTLOADER_PIDS, **OTHER_PIDS}

    @property
    def kind(self) -> str:
        if self.vid != ARDUINO_VID:
            return "not an Arduino"
        for table in (APP_PIDS, BOOTLOADER_PIDS, OTHER_PIDS):
            if self.pid in table:
                return table[self.pid]
        return "another Arduino board"

    def describe(self) -> str:
        ids = f"{self.vid:04X}:{self.pid:04X}" if self.vid is not None and self.pid is not None else "no USB id"
        name = f", {self.board_name}" if self.board_name else ""
        return f"{self.address} ({ids}, {self.kind}{name})"


def _hex(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value), 16)
    except ValueError:
        return None


def parse_board_list(data: Any) -> list[DetectedPort]:
    """`board list --format json` of any arduino-cli: >= 0.36 {"detected_ports": [...]}, 0.19-0.35 a list of
    {"port": {..., "properties": {vid, pid}}, "matching_boards": [...]}, <= 0.18 a list of
    {"address", "boards": [{"VID", "PID"}]}."""
    rows = data.get("detected_ports", []) if isinstance(data, dict) else (data or [])
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        port = row.get("port") if isinstance(row.get("port"), dict) else row
        address = port.get("address")
        if not address:
            continue
        props = port.get("properties") or {}
        boards = row.get("matching_boards") or row.get("boards") or []
        vid, pid = _hex(props.get("vid")), _hex(props.get("pid"))
        if (vid is None or pid is None) and boards:
            vid = _hex(boards[0].get("vid", boards[0].get("VID")))
            pid = _hex(boards[0].get("pid", boards[0].get("PID")))
        name = boards[0].get("name", "") if boards else ""
        out.append(DetectedPort(str(address), vid, pid, str(port.get("label", "")), str(name)))
    return out


def choose_port(ports: Sequence[DetectedPort], requested: str | None) -> DetectedPort:
    """The one Nano among `ports` (or the requested one); NoBoardError / SeveralBoardsError otherwise."""
    if requested:
        for port in ports:
            if port.address == requested:
                return port
        return DetectedPort(requested, None, None)  # not listed (e.g. a pty or a hub quirk): trust the user
    nanos = [p for p in ports if p.is_nano]
    if not nanos:
        seen = "; ports seen: " + ", ".join(p.describe() for p in ports) if ports else "; no serial ports at all"
        raise NoBoardError(f"no Arduino Nano 33 BLE found (USB {ARDUINO_VID:04X}:805A with a sketch running, "
                           f"{ARDUINO_VID:04X}:005A in its bootloader). Plug it in with a data cable (not a "
                           f"charge-only one); if it is plugged in and not listed, {DOUBLE_TAP_HINT}{seen}")
    if len(nanos) > 1:
        raise SeveralBoardsError("several boards found: " + ", ".join(p.describe() for p in nanos)
                                 + "; choose one with --port PORT")
    return nanos[0]


def check_port_access(address: str) -> None:
    """PortPermissionError (the dialout hint) for an existing device this user may not read and write."""
    from kws.device.link import DIALOUT_HINT, PortPermissionError

    if address.startswith("/") and os.path.exists(address) and not os.access(address, os.R_OK | os.W_OK):
        raise PortPermissionError(f"no permission to open {address}: {DIALOUT_HINT}")


__all__ = ["APP_PIDS", "ARDUINO_VID", "BOOTLOADER_PIDS", "DOUBLE_TAP_HINT", "DetectedPort", "NoBoardError",
           "OTHER_PIDS", "PortNotFound", "SeveralBoardsError", "check_port_access", "choose_port",
           "parse_board_list"]
