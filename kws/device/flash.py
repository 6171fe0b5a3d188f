"""`kws flash`: put a run's exported model on an Arduino Nano 33 BLE Sense and prove it arrived.

    kws flash --run demo                  # finds the board by USB VID:PID; the compiled model (no library)
    kws flash --run demo --port /dev/ttyACM0
    kws flash --run demo --backend tflm   # TensorFlow Lite Micro instead (installs Arduino_TensorFlowLite)
    kws flash --run demo --stage-only     # only write runs/demo/sketch/nano33ble/ (open it in the IDE)
    make flash RUN=demo [PORT=/dev/ttyACM0] [BACKEND=aot|tflm]

Backends (the model's code on the board, chosen when the sketch is staged; firmware/nano33ble/kws_nano_model.h):
  aot   (default) the export's model compiled to C99 by `kws compile` into runs/<run>/export/aot/ (compiled
        here, in a second or two and without TensorFlow, whenever flash runs), with firmware/kernels: no
        library to install, no interpreter in flash;
  tflm  TensorFlow Lite Micro from the Arduino_TensorFlowLite library, on the export's flatbuffer.

Steps, each failing with a message that says what to do:
 1. read runs/<run>/export (kws.device.artifacts) and check the memory budget (kws/device/budget.py)
    before any arduino-cli call;
 2. arduino-cli must be on PATH (or $ARDUINO_CLI); `core list` / `core install arduino:mbed_nano` (after
    `core update-index`) when the mbed Nano core is missing; for --backend tflm only, `lib list` /
    `lib install --git-url` of the TensorFlow Lite Micro library when missing (README: which library and why);
 3. find the board in `board list --format json` by USB VID:PID: 2341:805A is a sketch running (the
    port arduino-cli "touches" at 1200 baud to reset it), 2341:005A the bootloader after a double-tap of
    the reset button; none or several: stop and say so (several: list them, ask for --port);
 4. stage the sketch: firmware/nano33ble (thin .ino, HAL, the chosen backend's glue) + firmware/core + the
    backend's model files (aot: kws_model_aot.c/.h + firmware/kernels; tflm: model_data.cpp/.h) + the
    generated settings, as one flat sketch folder runs/<run>/sketch/nano33ble/ (written atomically);
 5. `compile --fqbn arduino:mbed_nano:nano33ble --build-path runs/<run>/sketch/build`, then
    `upload -p PORT --fqbn ... --input-dir <build>`; an aot build whose compiler is too old for the DSP
    kernels (the glue says so) is compiled again with the portable kernels;
 6. wait for the board to come back as an application port (it re-enumerates after the upload, possibly
    under another name), open it, HELLO, and require INFO's model SHA-256 to be the export's.
The VID:PIDs are those of arduino/ArduinoCore-mbed: boards.txt (nano33ble.vid/pid.N) and
variants/ARDUINO_NANO33BLE/pins_arduino.h (BOARD_PRODUCTID 0x805a, the running sketch's USB PID).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from kws.device.arduino_cli import ArduinoCli, tail
from kws.device.artifacts import GENERATED_FILES, MODEL_SOURCE, SETTINGS_HEADER, TABLES_HEADER, ExportedModel
from kws.device.boards import compile_exported
from kws.device.ports import (
    APP_PIDS,
    ARDUINO_VID,
    DOUBLE_TAP_HINT,
    DetectedPort,
    SeveralBoardsError,
    check_port_access,
    choose_port,
)
from kws.device.session import IdentityMismatch
from kws.errors import KwsError
from kws.run import Run

FQBN = "arduino:mbed_nano:nano33ble"
CORE = "arduino:mbed_nano"
TFLM_LIBRARY = "Arduino_TensorFlowLite"
TFLM_GIT_URL = "https://github.com/tensorflow/tflite-micro-arduino-examples.git"
TFLM_MARKER = "src/tensorflow/lite/micro/micro_log.h"
"""A file the GitHub library has and the old Library Manager releases (1.15.0-ALPHA, 2.4.0-ALPHA) lack."""
SKETCH_NAME = "nano33ble"
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
BACKENDS = ("aot", "tflm")
"""The sketch's model backends: the compiled model (default) and TensorFlow Lite Micro (module docstring)."""
DEFAULT_BACKEND = "aot"
BACKEND_FILES = {"aot": ("kws_model_aot_glue.cpp",), "tflm": ("kws_model_tflm.cpp", "kws_model_tflm.h")}
"""firmware/nano33ble files of one backend; every other file of that folder is staged for both."""
AOT_FILES = ("kws_model_aot.c", "kws_model_aot.h")
"""What `kws compile` writes (default name kws_model) and the aot sketch compiles."""
PORTABLE_KERNELS_MARKER = "kws: the DSP kernels need GCC 10"
"""The #error of firmware/nano33ble/kws_model_aot_glue.cpp when the core's compiler lacks the DSP intrinsics."""
PORTABLE_KERNELS_PROPERTIES = ("compiler.c.extra_flags=-DKWS_KERNELS_PORTABLE",
                               "compiler.cpp.extra_flags=-DKWS_KERNELS_PORTABLE")
"""arduino-cli --build-property values that select the portable kernels in every .c and .cpp of the sketch."""


class FlashError(KwsError):
    """Flashing failed; the message says at which step and what to do."""


class HashMismatchError(FlashError, IdentityMismatch):
    """The board answered but runs another model than the export."""


class SketchCompileError(FlashError):
    """arduino-cli compile failed; `output` is everything it printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


# ------------------------------------------------------------------------------------ arduino-cli

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
            raise FlashError(f"installing {TFLM_LIBRARY} from {git_url} failed:\n{tail(output)}{hint}")
        found = cli.library(TFLM_LIBRARY)
        if found is None:
            raise FlashError(f"arduino-cli installed {git_url} but `lib list` shows no {TFLM_LIBRARY}")
    version, folder = found
    if folder is not None and folder.is_dir() and not (folder / TFLM_MARKER).is_file():
        raise FlashError(f"{TFLM_LIBRARY} {version} in {folder} is an old Library Manager release (it has no "
                         f"{TFLM_MARKER}, and an older interpreter API): remove it with `arduino-cli lib uninstall "
                         f"{TFLM_LIBRARY}` and run kws flash again, which installs the one from {git_url}")
    return version


def compile_model(exported: ExportedModel, say: Callable[[str], None] = print) -> Path:
    """runs/<run>/export/aot/ (Run.aot_dir) holding kws_model_aot.c/.h of exactly the export's model; returns it.
    Compiled every time (kws.device.boards.compile_exported), so the sketch matches this checkout's compiler."""
    from kws.compile.graph import CompileError

    folder = Run.at(exported.run_dir).aot_dir
    try:
        result = compile_exported(exported, folder)
    except CompileError as exc:
        raise FlashError(f"the model cannot be compiled to C: {exc}; flash it with TensorFlow Lite Micro instead: "
                         f"kws flash --backend tflm (make flash BACKEND=tflm)") from None
    say(f"compiled model: {folder}/ ({result.macs:,} MACs; weights {result.weight_bytes_dsp:,} B with the DSP "
        f"kernels, {result.weight_bytes:,} B portable; activations {result.arena_bytes_dsp:,} B)")
    return folder


def _sketch_sources(exported: ExportedModel, firmware_dir: Path, backend: str,
                    aot_dir: Path | None) -> list[tuple[Path, str]]:
    """(source, name in the sketch) of every file the sketch of `backend` needs."""
    others = {name for other, names in BACKEND_FILES.items() if other != backend for name in names}
    sources = [(path, path.name) for path in sorted((firmware_dir / SKETCH_NAME).iterdir())
               if path.suffix in (".ino", ".cpp", ".h", ".c") and path.name not in others]
    folders = [firmware_dir / "core"] + ([firmware_dir / "kernels"] if backend == "aot" else [])
    for folder in folders:
        sources += [(path, path.name) for path in sorted(folder.iterdir()) if path.suffix in (".c", ".h")]
    if backend == "aot":
        folder = aot_dir if aot_dir is not None else Run.at(exported.run_dir).aot_dir
        for name in AOT_FILES:
            if not (folder / name).is_file():
                raise FlashError(f"{folder / name} is missing: kws flash compiles it (or run `kws compile "
                                 f"{exported.model_path} --out {folder}`)")
            sources.append((folder / name, name))
        generated: tuple[str, ...] = (SETTINGS_HEADER, TABLES_HEADER)  # no flatbuffer: the C is the model
    else:
        generated = GENERATED_FILES
    for name in generated:
        sources.append((exported.generated_dir / name, "model_data.cpp" if name == MODEL_SOURCE else name))
    return sources


def stage_sketch(exported: ExportedModel, sketch_root: Path, firmware_dir: Path = FIRMWARE_DIR, *,
                 backend: str = DEFAULT_BACKEND, aot_dir: Path | None = None) -> Path:
    """Write the flat sketch folder sketch_root/nano33ble/ (atomically, replacing an old one); returns it.

    Arduino builds every .c/.cpp in a sketch's root folder, so the core, the backend's files and the generated
    files go next to the .ino, and only the chosen backend's: aot takes kws_model_aot.c/.h from `aot_dir`
    (default runs/<run>/export/aot/, see compile_model) and firmware/kernels; tflm takes the flatbuffer,
    model_data.cc as model_data.cpp (arduino-cli compiles .c, .cpp and .S only)."""
    from kws.fsutil import atomic_directory

    if backend not in BACKENDS:
        raise FlashError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    board_dir = firmware_dir / SKETCH_NAME
    sources = _sketch_sources(exported, firmware_dir, backend, aot_dir)
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


def compile_sketch(cli: ArduinoCli, sketch: Path, build: Path, properties: Sequence[str] = ()) -> dict[str, int]:
    """arduino-cli compile (with --build-property for each of `properties`); returns the flash/RAM figures it
    reports (empty if it printed none). SketchCompileError with arduino-cli's output when it fails."""
    extra = [arg for prop in properties for arg in ("--build-property", prop)]
    result = cli.run("compile", "--fqbn", FQBN, "--build-path", str(build), "--warnings", "default", *extra,
                     str(sketch), timeout=3600, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SketchCompileError(f"compiling {sketch} for {FQBN} failed:\n{tail(output, 40)}", output)
    match = _SIZES.search(output)
    return {"flash_bytes": int(match.group(1)), "ram_bytes": int(match.group(2))} if match else {}


def build_sketch(cli: ArduinoCli, sketch: Path, build: Path, backend: str,
                 say: Callable[[str], None] = print) -> tuple[dict[str, int], tuple[str, ...]]:
    """compile_sketch; an aot sketch the core's compiler cannot build with the DSP kernels (the glue's #error) is
    compiled again with the portable ones. Returns the sizes and the build properties that were used."""
    try:
        return compile_sketch(cli, sketch, build), ()
    except SketchCompileError as exc:
        if backend != "aot" or PORTABLE_KERNELS_MARKER not in exc.output:
            raise
    say("the core's compiler predates GCC 10 and lacks the DSP kernels' intrinsics: compiling again with the "
        "portable kernels (-DKWS_KERNELS_PORTABLE)")
    return compile_sketch(cli, sketch, build, PORTABLE_KERNELS_PROPERTIES), PORTABLE_KERNELS_PROPERTIES


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
    raise FlashError(f"uploading to {port} failed:\n{tail(output)}\nIf the board does not answer, "
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
    """HELLO the freshly flashed board (retrying while it boots) and require the export's identity
    (kws.device.session.check_identity: model hash, labels, frontend, input shape)."""
    from kws.device.session import SessionError, handshake_when_ready

    fix = f"the upload did not replace the firmware. Run kws flash again; if it repeats, {DOUBLE_TAP_HINT}"
    try:
        info = handshake_when_ready(port, exported, timeout=timeout, fix=fix, error=HashMismatchError)
    except HashMismatchError:
        raise
    except SessionError as exc:
        raise FlashError(str(exc)) from None
    say(f"handshake: {info.board} firmware {info.firmware_version} backend {info.backend}, model "
        f"{info.model_sha256[:16]}... (the export's), labels {','.join(info.labels)}, arena {info.arena_bytes} B")
    return info


@dataclass
class FlashResult:
    """What `kws flash` did."""

    sketch_dir: Path
    backend: str = DEFAULT_BACKEND
    build_properties: tuple[str, ...] = ()
    port: str = ""
    info: Any = None
    sizes: dict[str, int] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)


def flash(run: Run, *, port: str | None = None, board: str = "nano33ble", backend: str = DEFAULT_BACKEND,
          stage_only: bool = False, compile_only: bool = False, reenumerate_timeout: float = 30.0,
          handshake_timeout: float = 20.0, tflm_git_url: str = TFLM_GIT_URL,
          say: Callable[[str], None] = print) -> FlashResult:
    """The whole of `kws flash` (module docstring). Raises a KwsError subclass for every user-fixable failure."""
    if board != "nano33ble":
        raise FlashError(f"kws flash knows the board 'nano33ble' only, got {board!r} (the emulated board needs no "
                         f"flashing: kws emulate)")
    if backend not in BACKENDS:
        raise FlashError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    exported = ExportedModel.load(run)
    from kws.device.budget import check_budget

    budget = check_budget(board, len(exported.model), exported.arena_bytes)
    say(f"budget {board}: flash {budget.flash_used:,}/{budget.flash_limit:,} B (model {len(exported.model):,} B "
        f"+ code estimate), RAM {budget.ram_used:,}/{budget.ram_limit:,} B (arena {exported.arena_bytes:,} B + "
        f"estimate)")
    sketch_root = run.sketch_root
    result = FlashResult(sketch_dir=sketch_root / SKETCH_NAME, backend=backend, budget=budget.to_json())
    aot_dir = compile_model(exported, say) if backend == "aot" else None
    if stage_only:
        stage_sketch(exported, sketch_root, backend=backend, aot_dir=aot_dir)
        say(f"staged {result.sketch_dir}/ with the {backend} backend (open it in the Arduino IDE, or run kws flash "
            f"without --stage-only)")
        return result

    cli = ArduinoCli.find(say)
    say(cli.version() or "arduino-cli (no version printed)")
    say(f"core {CORE} {ensure_core(cli)}")
    if backend == "tflm":
        say(f"library {TFLM_LIBRARY} {ensure_tflm_library(cli, tflm_git_url)}")
    target: DetectedPort | None = None
    before: list[DetectedPort] = []
    if not compile_only:
        before = cli.board_list()
        target = choose_port(before, port)
        check_port_access(target.address)
        say(f"board: {target.describe()}")
    stage_sketch(exported, sketch_root, backend=backend, aot_dir=aot_dir)
    build = sketch_root / "build"
    result.sizes, result.build_properties = build_sketch(cli, result.sketch_dir, build, backend, say)
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
              "firmware": result.info.firmware_version if result.info else None, "backend": result.backend,
              "board_backend": result.info.backend if result.info else None,
              "build_properties": list(result.build_properties), "sizes": result.sizes,
              "budget": result.budget, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(result.sketch_dir.parent / "flash.json", json.dumps(record, indent=1) + "\n")


__all__ = ["AOT_FILES", "BACKENDS", "BACKEND_FILES", "CORE", "DEFAULT_BACKEND", "FQBN", "FlashError", "FlashResult",
           "HashMismatchError", "PORTABLE_KERNELS_PROPERTIES", "SketchCompileError", "TFLM_GIT_URL", "TFLM_LIBRARY",
           "build_sketch", "compile_model", "compile_sketch", "ensure_core", "ensure_tflm_library", "flash",
           "handshake", "stage_sketch", "upload_sketch", "wait_for_app_port"]
