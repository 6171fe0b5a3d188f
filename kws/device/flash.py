"""`kws flash`: put a run's exported model on an Arduino Nano 33 BLE Sense and prove it arrived.

    kws flash --run demo                  # finds the board by USB VID:PID
    kws flash --run demo --port /dev/ttyACM0
    kws flash --run demo --stage-only     # only write runs/demo/sketch/nano33ble/ (open it in the IDE)
    make flash RUN=demo [PORT=/dev/ttyACM0]

Steps, each failing with a message that says what to do:
 1. read runs/<run>/export (kws.device.artifacts) and check the memory budget (export/budget.py, imported
    lazily; it does not import TensorFlow) before any arduino-cli call;
 2. arduino-cli must be on PATH (or $ARDUINO_CLI); `core list` / `core install arduino:mbed_nano` (after
    `core update-index`) when the mbed Nano core is missing; `lib list` / `lib install --git-url` of the
    TensorFlow Lite Micro library when missing (README: which library and why);
 3. find the board in `board list --format json` by USB VID:PID: 2341:805A is a sketch running (the
    port arduino-cli "touches" at 1200 baud to reset it), 2341:005A the bootloader after a double-tap of
    the reset button; none or several: stop and say so (several: list them, ask for --port);
 4. stage the sketch: firmware/nano33ble (thin .ino, HAL, TFLM backend) + firmware/core + the generated
    model files, as one flat sketch folder runs/<run>/sketch/nano33ble/ (written atomically);
 5. `compile --fqbn arduino:mbed_nano:nano33ble --build-path runs/<run>/sketch/build`, then
    `upload -p PORT --fqbn ... --input-dir <build>`;
 6. wait for the board to come back as an application port (it re-enumerates after the upload, possibly
    under another name), open it, HELLO, and require INFO's model SHA-256 to be the export's.
The VID:PIDs are those of arduino/ArduinoCore-mbed: boards.txt (nano33ble.vid/pid.N) and
variants/ARDUINO_NANO33BLE/pins_arduino.h (BOARD_PRODUCTID 0x805a, the running sketch's USB PID).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from kws.device.artifacts import GENERATED_FILES, MODEL_SOURCE, ExportedModel
from kws.errors import KwsError

FQBN = "arduino:mbed_nano:nano33ble"
CORE = "arduino:mbed_nano"
TFLM_LIBRARY = "Arduino_TensorFlowLite"
TFLM_GIT_URL = "https://github.com/tensorflow/tflite-micro-arduino-examples.git"
TFLM_MARKER = "src/tensorflow/lite/micro/micro_log.h"
"""A file the GitHub library has and the old Library Manager releases (1.15.0-ALPHA, 2.4.0-ALPHA) lack."""
ARDUINO_VID = 0x2341
APP_PIDS = {0x805A: "sketch running"}
BOOTLOADER_PIDS = {0x005A: "bootloader (double-tap)"}
OTHER_PIDS = {0x015A: "OpenMV firmware", 0x025A: "another firmware (PID 025A)"}
"""boards.txt also lists these for nano33ble: the board runs someone else's firmware; upload still works."""
SKETCH_NAME = "nano33ble"
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
INSTALL_HINT = ("install it: `curl -fsSL https://raw.githubusercontent.com/arduino/arduino-cli/master/install.sh "
                "| BINDIR=$HOME/.local/bin sh` (see https://arduino.github.io/arduino-cli/latest/installation/), "
                "make sure it is on PATH, or set ARDUINO_CLI=/path/to/arduino-cli")
DOUBLE_TAP_HINT = ("double-tap the board's reset button (the orange LED pulses: bootloader mode) and run again, "
                   "with --port <the new port> if it changes")


class FlashError(KwsError):
    """Flashing failed; the message says at which step and what to do."""


class ArduinoCliMissing(FlashError):
    """arduino-cli is not installed (or not where $ARDUINO_CLI says)."""


class NoBoardError(FlashError):
    """No Nano 33 BLE on USB."""


class SeveralBoardsError(FlashError):
    """More than one candidate port: the user must choose with --port."""


class HashMismatchError(FlashError):
    """The board answered but runs another model than the export."""


# ------------------------------------------------------------------------------------ arduino-cli

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
            raise FlashError(f"`arduino-cli {' '.join(args)}` did not finish within {timeout:g} s") from None
        if check and result.returncode != 0:
            raise FlashError(f"`arduino-cli {' '.join(args)}` failed (exit {result.returncode})"
                             f"{' while ' + what if what else ''}:\n{_tail(result.stdout + result.stderr)}")
        return result

    def json(self, *args: str, timeout: float = 120.0) -> Any:
        result = self.run(*args, "--format", "json", timeout=timeout)
        try:
            return json.loads(result.stdout or "null")
        except json.JSONDecodeError:
            raise FlashError(f"`arduino-cli {' '.join(args)} --format json` printed no JSON:\n"
                             f"{_tail(result.stdout)}") from None

    def version(self) -> str:
        result = self.run("version", timeout=60)
        return result.stdout.strip()

    def core_version(self, core: str = CORE) -> str | None:
        """Installed version of a platform, None when it is not installed."""
        for row in _rows(self.json("core", "list"), "platforms"):
            if row.get("id") == core:
                version = row.get("installed_version") or row.get("installed") or row.get("Installed")
                if version:
                    return str(version)
        return None

    def library(self, name: str = TFLM_LIBRARY) -> tuple[str, Path | None] | None:
        """(version, install dir) of an installed library, None when absent."""
        for row in _rows(self.json("lib", "list"), "installed_libraries"):
            lib = row.get("library", row)
            if isinstance(lib, dict) and lib.get("name") == name:
                folder = lib.get("install_dir")
                return str(lib.get("version", "")), Path(folder) if folder else None
        return None

    def board_list(self) -> list[DetectedPort]:
        return parse_board_list(self.json("board", "list", timeout=60))


def _tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# ------------------------------------------------------------------------------------ steps

def ensure_core(cli: ArduinoCli) -> str:
    """The mbed Nano core, installed if missing; returns its version."""
    version = cli.core_version(CORE)
    if version:
        return version
    cli.say(f"the {CORE} core is not installed: installing it (a few hundred MB, once)")
    cli.run("core", "update-index", timeout=600, what="updating the board index (is the network up?)")
    cli.run("core", "install", CORE, timeout=3600, what=f"installing {CORE}")
    version = cli.core_version(CORE)
    if not version:
        raise FlashError(f"`arduino-cli core install {CORE}` succeeded but `core list` does not show it")
    return version


def ensure_tflm_library(cli: ArduinoCli, git_url: str = TFLM_GIT_URL) -> str:
    """The TensorFlow Lite Micro library, installed from GitHub if missing; returns its version."""
    found = cli.library(TFLM_LIBRARY)
    if found is None:
        cli.say(f"{TFLM_LIBRARY} is not installed: installing it from {git_url} (it left the Library Manager)")
        # --git-url is an "unsafe" install arduino-cli refuses unless library.enable_unsafe_install is set; the
        # environment variable sets it for this one call instead of changing the user's config file.
        result = cli.run("lib", "install", "--git-url", git_url, timeout=1800, check=False,
                         env={"ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL": "true"})
        if result.returncode != 0:
            output = result.stdout + result.stderr
            hint = ""
            if "disabled by default" in output or "enable_unsafe_install" in output:
                hint = ("\nthis arduino-cli ignores ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL: run `arduino-cli config set "
                        "library.enable_unsafe_install true` once, then kws flash again")
            raise FlashError(f"installing {TFLM_LIBRARY} from {git_url} failed:\n{_tail(output)}{hint}")
        found = cli.library(TFLM_LIBRARY)
        if found is None:
            raise FlashError(f"arduino-cli installed {git_url} but `lib list` shows no {TFLM_LIBRARY}")
    version, folder = found
    if folder is not None and folder.is_dir() and not (folder / TFLM_MARKER).is_file():
        raise FlashError(f"{TFLM_LIBRARY} {version} in {folder} is an old Library Manager release (it has no "
                         f"{TFLM_MARKER}, and an older interpreter API): remove it with `arduino-cli lib uninstall "
                         f"{TFLM_LIBRARY}` and run kws flash again, which installs the one from {git_url}")
    return version


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


def stage_sketch(exported: ExportedModel, sketch_root: Path, firmware_dir: Path = FIRMWARE_DIR) -> Path:
    """Write the flat sketch folder sketch_root/nano33ble/ (atomically, replacing an old one); returns it.

    Arduino builds every .c/.cpp in a sketch's root folder, so the core and the generated files go next to
    the .ino; model_data.cc becomes model_data.cpp (arduino-cli compiles .c, .cpp and .S only)."""
    from kws.fsutil import atomic_directory

    board_dir = firmware_dir / SKETCH_NAME
    core_dir = firmware_dir / "core"
    sources: list[tuple[Path, str]] = []
    for path in sorted(board_dir.iterdir()):
        if path.suffix in (".ino", ".cpp", ".h", ".c"):
            sources.append((path, path.name))
    for path in sorted(core_dir.iterdir()):
        if path.suffix in (".c", ".h"):
            sources.append((path, path.name))
    for name in GENERATED_FILES:
        sources.append((exported.generated_dir / name, "model_data.cpp" if name == MODEL_SOURCE else name))
    names = [name for _, name in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FlashError(f"staging the sketch: {', '.join(duplicates)} exist in more than one source folder")
    if not (board_dir / f"{SKETCH_NAME}.ino").is_file():
        raise FlashError(f"{board_dir / (SKETCH_NAME + '.ino')} is missing: the checkout is incomplete")
    target = Path(sketch_root) / SKETCH_NAME
    with atomic_directory(target, replace=True) as tmp:
        for source, name in sources:
            shutil.copyfile(source, tmp / name)
    return target


_SIZES = re.compile(r"Sketch uses (\d+) bytes.*?Global variables use (\d+) bytes", re.S)


def compile_sketch(cli: ArduinoCli, sketch: Path, build: Path) -> dict[str, int]:
    """arduino-cli compile; returns the flash/RAM figures it reports (empty if it printed none)."""
    result = cli.run("compile", "--fqbn", FQBN, "--build-path", str(build), "--warnings", "default", str(sketch),
                     timeout=3600, check=False)
    if result.returncode != 0:
        raise FlashError(f"compiling {sketch} for {FQBN} failed:\n{_tail(result.stdout + result.stderr, 40)}")
    match = _SIZES.search(result.stdout + result.stderr)
    return {"flash_bytes": int(match.group(1)), "ram_bytes": int(match.group(2))} if match else {}


def upload_sketch(cli: ArduinoCli, sketch: Path, build: Path, port: str) -> None:
    """arduino-cli upload to `port`; permission and vanished-port failures get their own hints."""
    from kws.device.link import DIALOUT_HINT, PortPermissionError

    result = cli.run("upload", "-p", port, "--fqbn", FQBN, "--input-dir", str(build), str(sketch),
                     timeout=600, check=False)
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    if "permission denied" in output.lower():
        raise PortPermissionError(f"uploading to {port} failed: permission denied; {DIALOUT_HINT}")
    raise FlashError(f"uploading to {port} failed:\n{_tail(output)}\nIf the board does not answer, "
                     f"{DOUBLE_TAP_HINT}")


def wait_for_app_port(cli: ArduinoCli, uploaded_to: str, before: Sequence[DetectedPort], timeout: float,
                      interval: float = 0.5) -> str:
    """After the upload the board resets and re-enumerates; the application port it comes back on."""
    deadline = time.monotonic() + timeout
    previous = {p.address for p in before}
    seen: list[DetectedPort] = []
    while True:
        seen = cli.board_list()
        apps = [p for p in seen if p.vid == ARDUINO_VID and p.pid in APP_PIDS]
        if len(apps) == 1:
            return apps[0].address
        if len(apps) > 1:
            for port in apps:  # the one we uploaded to, else the one that is new
                if port.address == uploaded_to:
                    return port.address
            new = [p for p in apps if p.address not in previous]
            if len(new) == 1:
                return new[0].address
            raise SeveralBoardsError("after the upload several boards run a sketch: "
                                     + ", ".join(p.describe() for p in apps) + "; unplug the others or pass --port")
        if time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
    listed = ", ".join(p.describe() for p in seen) or "none"
    raise FlashError(f"the board did not come back as a running sketch ({ARDUINO_VID:04X}:805A) within "
                     f"{timeout:g} s after the upload (ports now: {listed}). The sketch may have crashed at "
                     f"start; {DOUBLE_TAP_HINT}")


def handshake(port: str, exported: ExportedModel, timeout: float = 20.0, say: Callable[[str], None] = print) -> Any:
    """HELLO the freshly flashed board (retrying while it boots) and require the export's model hash."""
    from kws.device.link import BoardLink, LinkError, PortPermissionError

    deadline = time.monotonic() + timeout
    while True:
        try:
            with BoardLink.open(port, timeout=1.0, retries=1) as link:
                info = link.hello()
            break
        except PortPermissionError:
            raise
        except LinkError as exc:  # not there yet, still booting, or USB settling: try again
            if time.monotonic() >= deadline:
                raise FlashError(f"the board on {port} did not answer the handshake within {timeout:g} s: {exc}") \
                    from None
            time.sleep(0.5)
    if info.model_sha256 != exported.sha256:
        raise HashMismatchError(f"the board on {port} runs model {info.model_sha256[:16]}... but the export is "
                                f"{exported.sha256[:16]}... ({exported.model_path}): the upload did not replace "
                                f"the firmware. Run kws flash again; if it repeats, {DOUBLE_TAP_HINT}")
    if tuple(info.labels) != tuple(exported.labels):
        raise HashMismatchError(f"the board on {port} reports labels {','.join(info.labels)}, the export "
                                f"{','.join(exported.labels)}")
    if info.frontend_hash != exported.frontend.spec_hash():
        raise HashMismatchError(f"the board on {port} computes features for frontend {info.frontend_hash[:16]}..., "
                                f"the run's config is {exported.frontend.spec_hash()[:16]}...: re-export and flash")
    say(f"handshake: {info.board} firmware {info.firmware_version} backend {info.backend}, model "
        f"{info.model_sha256[:16]}... (the export's), labels {','.join(info.labels)}, arena {info.arena_bytes} B")
    return info


@dataclass
class FlashResult:
    """What `kws flash` did."""

    sketch_dir: Path
    port: str = ""
    info: Any = None
    sizes: dict[str, int] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)


def flash(run_dir: str | Path, *, port: str | None = None, board: str = "nano33ble", stage_only: bool = False,
          compile_only: bool = False, reenumerate_timeout: float = 30.0, handshake_timeout: float = 20.0,
          tflm_git_url: str = TFLM_GIT_URL, say: Callable[[str], None] = print) -> FlashResult:
    """The whole of `kws flash` (module docstring). Raises a KwsError subclass for every user-fixable failure."""
    if board != "nano33ble":
        raise FlashError(f"kws flash knows the board 'nano33ble' only, got {board!r} (the emulated board needs no "
                         f"flashing: kws emulate)")
    run_dir = Path(run_dir)
    exported = ExportedModel.load(run_dir)
    from export.budget import check_budget  # lazily: kws never imports export/ at module level

    budget = check_budget(board, len(exported.model), exported.arena_bytes)
    say(f"budget {board}: flash {budget.flash_used:,}/{budget.flash_limit:,} B (model {len(exported.model):,} B "
        f"+ code estimate), RAM {budget.ram_used:,}/{budget.ram_limit:,} B (arena {exported.arena_bytes:,} B + "
        f"estimate)")
    sketch_root = run_dir / "sketch"
    result = FlashResult(sketch_dir=sketch_root / SKETCH_NAME, budget=budget.to_json())
    if stage_only:
        stage_sketch(exported, sketch_root)
        say(f"staged {result.sketch_dir}/ (open it in the Arduino IDE, or run kws flash without --stage-only)")
        return result

    cli = ArduinoCli.find(say)
    say(cli.version() or "arduino-cli (no version printed)")
    say(f"core {CORE} {ensure_core(cli)}")
    say(f"library {TFLM_LIBRARY} {ensure_tflm_library(cli, tflm_git_url)}")
    target: DetectedPort | None = None
    before: list[DetectedPort] = []
    if not compile_only:
        before = cli.board_list()
        target = choose_port(before, port)
        check_port_access(target.address)
        say(f"board: {target.describe()}")
    stage_sketch(exported, sketch_root)
    build = sketch_root / "build"
    result.sizes = compile_sketch(cli, result.sketch_dir, build)
    if result.sizes:
        say(f"compiled: flash {result.sizes['flash_bytes']:,} B, static RAM {result.sizes['ram_bytes']:,} B "
            f"(budget estimates: flash {budget.flash_used:,} B, RAM {budget.ram_used:,} B)")
    if compile_only or target is None:
        return result
    upload_sketch(cli, result.sketch_dir, build, target.address)
    say("uploaded; waiting for the board to re-enumerate")
    result.port = wait_for_app_port(cli, target.address, before, reenumerate_timeout)
    result.info = handshake(result.port, exported, handshake_timeout, say)
    _record(result, exported)
    say(f"flashed {exported.sha256[:16]}... to {result.port}; try: kws monitor --port {result.port}")
    return result


def _record(result: FlashResult, exported: ExportedModel) -> None:
    from kws.fsutil import atomic_write_text

    record = {"port": result.port, "model_sha256": exported.sha256, "labels": list(exported.labels),
              "firmware": result.info.firmware_version if result.info else None, "sizes": result.sizes,
              "budget": result.budget, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(result.sketch_dir.parent / "flash.json", json.dumps(record, indent=1) + "\n")


__all__ = ["APP_PIDS", "ARDUINO_VID", "ArduinoCli", "ArduinoCliMissing", "BOOTLOADER_PIDS", "CORE", "DetectedPort",
           "FQBN", "FlashError", "FlashResult", "HashMismatchError", "NoBoardError", "SeveralBoardsError",
           "TFLM_GIT_URL", "TFLM_LIBRARY", "choose_port", "flash", "parse_board_list", "stage_sketch"]
