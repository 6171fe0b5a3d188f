"""Running arduino-cli: find it, call it (every call echoed), read its JSON.

    from kws.device.arduino_cli import ArduinoCli, find_board_port
    port = find_board_port(None)          # the one Nano on USB (NoBoardError / SeveralBoardsError otherwise)
    cli = ArduinoCli.find(print)          # $ARDUINO_CLI or arduino-cli on PATH; ArduinoCliMissing otherwise
    cli.board_list(), cli.core_version("arduino:mbed_nano"), cli.library("Arduino_TensorFlowLite")
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kws.device.ports import DetectedPort, choose_port, parse_board_list
from kws.errors import KwsError

INSTALL_HINT = ("install it: `curl -fsSL https://raw.githubusercontent.com/arduino/arduino-cli/master/install.sh "
                "| BINDIR=$HOME/.local/bin sh` (see https://arduino.github.io/arduino-cli/latest/installation/), "
                "make sure it is on PATH, or set ARDUINO_CLI=/path/to/arduino-cli")


class ArduinoCliError(KwsError):
    """An arduino-cli call failed; the message names the call and shows the end of its output."""


class ArduinoCliMissing(ArduinoCliError):
    """arduino-cli is not installed (or not where $ARDUINO_CLI says)."""


def _rows(data: Any, key: str) -> list[dict[str, Any]]:
    rows = data.get(key, []) if isinstance(data, dict) else (data or [])
    return [row for row in rows if isinstance(row, dict)]


@dataclass
class ArduinoCli:
    """Runs arduino-cli; every call is echoed through `say` so the user sees what happens."""

    executable: str
    say: Callable[[str], None] = lambda text: None
    calls: list[list[str]] = field(default_factory=list)

    @classmethod
    def find(cls, say: Callable[[str], None] = lambda text: None) -> "ArduinoCli":
        """$ARDUINO_CLI or `arduino-cli` on PATH; ArduinoCliMissing with the install instruction otherwise."""
        configured = os.environ.get("ARDUINO_CLI")
        if configured:
            if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
                raise ArduinoCliMissing(f"ARDUINO_CLI={configured} is not an executable file; {INSTALL_HINT}")
            return cls(configured, say)
        found = shutil.which("arduino-cli")
        if found is None:
            raise ArduinoCliMissing(f"arduino-cli is not on PATH; {INSTALL_HINT}")
        return cls(found, say)

    def run(self, *args: str, timeout: float = 600.0, env: dict[str, str] | None = None,
            check: bool = True, what: str = "") -> subprocess.CompletedProcess:
        self.calls.append(list(args))
        self.say("$ arduino-cli " + " ".join(args))
        try:
            result = subprocess.run([self.executable, *args], capture_output=True, text=True, timeout=timeout,
                                    env={**os.environ, **(env or {})})
        except FileNotFoundError:
            raise ArduinoCliMissing(f"{self.executable} vanished; {INSTALL_HINT}") from None
        except subprocess.TimeoutExpired:
            raise ArduinoCliError(f"`arduino-cli {' '.join(args)}` did not finish within {timeout:g} s") from None
        if check and result.returncode != 0:
            raise ArduinoCliError(f"`arduino-cli {' '.join(args)}` failed (exit {result.returncode})"
                             f"{' while ' + what if what else ''}:\n{tail(result.stdout + result.stderr)}")
        return result

    def json(self, *args: str, timeout: float = 120.0) -> Any:
        result = self.run(*args, "--format", "json", timeout=timeout)
        try:
            return json.loads(result.stdout or "null")
        except json.JSONDecodeError:
            raise ArduinoCliError(f"`arduino-cli {' '.join(args)} --format json` printed no JSON:\n"
                             f"{tail(result.stdout)}") from None

    def version(self) -> str:
        result = self.run("version", timeout=60)
        return result.stdout.strip()

    def core_version(self, core: str) -> str | None:
        """Installed version of a platform, None when it is not installed."""
        for row in _rows(self.json("core", "list"), "platforms"):
            if row.get("id") == core:
                version = row.get("installed_version") or row.get("installed") or row.get("Installed")
                if version:
                    return str(version)
        return None

    def library(self, name: str) -> tuple[str, Path | None] | None:
        """(version, install dir) of an installed library, None when absent."""
        for row in _rows(self.json("lib", "list"), "installed_libraries"):
            lib = row.get("library", row)
            if isinstance(lib, dict) and lib.get("name") == name:
                folder = lib.get("install_dir")
                return str(lib.get("version", "")), Path(folder) if folder else None
        return None

    def board_list(self) -> list[DetectedPort]:
        return parse_board_list(self.json("board", "list", timeout=60))


def tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def find_board_port(requested: str | None, say: Callable[[str], None] = lambda text: None) -> str:
    """The port finder of kws flash, monitor and eval: `requested` as given, else the one Nano that
    `arduino-cli board list` shows (NoBoardError / SeveralBoardsError otherwise)."""
    if requested:
        return requested
    return choose_port(ArduinoCli.find(say).board_list(), None).address


__all__ = ["ArduinoCli", "ArduinoCliError", "ArduinoCliMissing", "INSTALL_HINT", "find_board_port", "tail"]
