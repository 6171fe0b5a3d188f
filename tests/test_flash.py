"""`kws flash` against a fake arduino-cli on PATH, with the emulated board behind the port that appears after
the upload: budget first, installs when missing (the TFLM library only for --backend tflm), compile and upload
with the right FQBN and port, the wait for re-enumeration, the hash check, and a clear error for every way it
can go wrong; the staged sketch of each backend holds that backend's files and none of the other's.

    .venv/bin/python -m pytest tests/test_flash.py -q

The fake (written by `fake_cli` below) records every call (arguments and the one environment variable that
matters) as JSON lines, and plays `board list --format json` in arduino-cli 1.x's shape from a state file:
the ports before the upload, then (after `upload`) a few empty lists while the board re-enumerates, then
the ports after it. Its `compile` fails, as the real one does, when a sketch file includes <TensorFlowLite.h>
and the library is not installed, and (state "old_gcc") plays the mbed core's GCC 7 meeting the aot glue's
#error unless the build properties select the portable kernels.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from kws.device import flash as F
from kws.device.arduino_cli import ArduinoCliMissing
from kws.device.emulator import Emulator
from kws.device.link import PortPermissionError
from kws.device.ports import NoBoardError, SeveralBoardsError, choose_port, parse_board_list
from kws.run import Run

FAKE = r'''
import json, os, sys
from pathlib import Path

state_path = Path(os.environ["FAKE_ARDUINO_STATE"])
state = json.loads(state_path.read_text())
args = sys.argv[1:]
with open(os.environ["FAKE_ARDUINO_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "unsafe": os.environ.get("ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL")}) + "\n")

def save():
    state_path.write_text(json.dumps(state))

def port(address, pid):
    return {"port": {"address": address, "label": address, "protocol": "serial",
                     "protocol_label": "Serial Port (USB)",
                     "properties": {"vid": "0x2341", "pid": pid, "serialNumber": "4D5A0C3E"}},
            "matching_boards": [{"name": "Arduino Nano 33 BLE", "fqbn": "arduino:mbed_nano:nano33ble"}]}

def fail(text):
    sys.stderr.write(text + "\n")
    sys.exit(1)

if args == ["version"]:
    print("arduino-cli  Version: 1.1.1 Commit: fake Date: 2024-01-01T00:00:00Z")
elif args == ["core", "list", "--format", "json"]:
    platforms = [{"id": "arduino:mbed_nano", "installed_version": "4.2.1"}] if state["core"] else []
    print(json.dumps({"platforms": platforms}))
elif args == ["core", "update-index"]:
    print("Downloading index: package_index.tar.bz2 downloaded")
elif args[:2] == ["core", "install"]:
    state["core"] = True
    save()
elif args == ["lib", "list", "--format", "json"]:
    libs = [{"library": {"name": "Arduino_TensorFlowLite", "version": "2.4.0-ALPHA",
                         "install_dir": state["lib_dir"]}}] if state["lib"] else []
    print(json.dumps({"installed_libraries": libs}))
elif args[:3] == ["lib", "install", "--git-url"]:
    if os.environ.get("ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL") != "true":
        fail("--git-url and --zip-path are disabled by default, for more information see: "
             "https://arduino.github.io/arduino-cli/latest/configuration/#configuration-keys")
    marker = Path(state["lib_dir"]) / "src/tensorflow/lite/micro/micro_log.h"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("// fake\n")
    state["lib"] = True
    save()
elif args[:2] == ["board", "list"]:
    if state["uploaded"] and state["delay"] > 0:
        state["delay"] -= 1
        save()
        ports = []
    else:
        ports = state["after"] if state["uploaded"] else state["before"]
    print(json.dumps({"detected_ports": [port(a, p) for a, p in ports]}))
elif args[0] == "compile":
    sketch = Path(args[-1])
    if args[1:3] != ["--fqbn", "arduino:mbed_nano:nano33ble"]:
        fail("wrong FQBN")
    if not (sketch / (sketch.name + ".ino")).is_file():
        fail("Can't open sketch: main file missing from sketch")
    for source in sorted(sketch.iterdir()):
        includes = [line for line in source.read_text().splitlines() if line.startswith("#include <TensorFlowLite.h>")]
        if includes and not state["lib"]:
            fail(f"{source}:10:10: fatal error: TensorFlowLite.h: No such file or directory")
    glue = sketch / "kws_model_aot_glue.cpp"
    portable = [a for a in args if a.endswith("extra_flags=-DKWS_KERNELS_PORTABLE")]
    if state.get("old_gcc") and glue.is_file() and len(portable) < 2:
        error = next(line for line in glue.read_text().splitlines() if line.startswith("#error"))
        fail(f"{glue}:24:2: error: {error}")
    build = Path(args[args.index("--build-path") + 1])
    build.mkdir(parents=True, exist_ok=True)
    (build / (sketch.name + ".ino.bin")).write_bytes(b"\0" * 16)
    print("Sketch uses 321456 bytes (32%) of program storage space. Maximum is 983040 bytes.")
    print("Global variables use 101234 bytes (38%) of dynamic memory, leaving 160910 bytes for local "
          "variables. Maximum is 262144 bytes.")
elif args[0] == "upload":
    if state["upload_error"]:
        fail(state["upload_error"])
    build = Path(args[args.index("--input-dir") + 1])
    if not list(build.glob("*.bin")):
        fail("no binary in the input dir")
    state["uploaded"] = True
    save()
    print("Device       : nRF52840-QIAA\nVerify successful\nDone in 4.2 seconds")
else:
    fail("fake arduino-cli: unexpected arguments " + " ".join(args))
'''


class FakeCli:
    """The fake arduino-cli on PATH: its state file and its call log."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        exe = self.bin / "arduino-cli"
        exe.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE))
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.state_path = root / "state.json"
        self.log_path = root / "calls.jsonl"
        self.lib_dir = root / "Arduino" / "libraries" / "Arduino_TensorFlowLite"
        self.state = {"core": True, "lib": True, "lib_dir": str(self.lib_dir), "uploaded": False, "delay": 0,
                      "before": [], "after": [], "upload_error": ""}

    def set(self, **changes) -> "FakeCli":
        self.state.update(changes)
        if self.state["lib"]:
            marker = self.lib_dir / F.TFLM_MARKER
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("// fake\n")
        self.state_path.write_text(json.dumps(self.state))
        return self

    def calls(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line)["args"] for line in self.log_path.read_text().splitlines()]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path, monkeypatch) -> FakeCli:
    cli = FakeCli(tmp_path / "fake").set()
    monkeypatch.setenv("PATH", f"{cli.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("ARDUINO_CLI", raising=False)
    monkeypatch.setenv("FAKE_ARDUINO_STATE", str(cli.state_path))
    monkeypatch.setenv("FAKE_ARDUINO_LOG", str(cli.log_path))
    return cli


@pytest.fixture
def run(tiny_export, tmp_path) -> Run:
    """A private copy of the tiny exported run: runs/tiny under tmp_path."""
    dest = tmp_path / "runs" / "tiny"
    shutil.copytree(tiny_export, dest, ignore=shutil.ignore_patterns("saved_model"))
    return Run.at(dest)


@pytest.fixture(scope="module")
def board(tiny_export, core_build_dir):
    """The emulated board that shows up after the upload (serving the run's model)."""
    with Emulator(tiny_export, build_dir=core_build_dir) as emulator:
        yield emulator


def quiet(_text: str) -> None:
    pass


J = ["--format", "json"]


# ------------------------------------------------------------------------------------------ the happy path

@pytest.mark.parametrize("backend", ["aot", "tflm"])
def test_the_arduino_cli_call_sequence_and_the_handshake_after_re_enumeration(backend, fake, run, board):
    # A double-tapped board (bootloader port), core and library missing; after the upload two board lists
    # come back empty (re-enumeration), then the sketch's port: the emulated board. The default backend (aot)
    # needs no library: none is looked up or installed, and its sketch compiles without one.
    fake.set(core=False, lib=False, before=[["/dev/ttyACM7", "0x005A"]], after=[[board.port, "0x805A"]], delay=2)
    result = F.flash(run, say=quiet, **({} if backend == "aot" else {"backend": backend}))
    sketch, build = str(run.dir / "sketch" / "nano33ble"), str(run.dir / "sketch" / "build")
    fqbn = "arduino:mbed_nano:nano33ble"
    library = [["lib", "list", *J], ["lib", "install", "--git-url", F.TFLM_GIT_URL], ["lib", "list", *J]]
    assert fake.calls() == [
        ["version"],
        ["core", "list", *J], ["core", "update-index"], ["core", "install", "arduino:mbed_nano"], ["core", "list", *J],
        *(library if backend == "tflm" else []),
        ["board", "list", *J],
        ["compile", "--fqbn", fqbn, "--build-path", build, "--warnings", "default", sketch],
        ["upload", "-p", "/dev/ttyACM7", "--fqbn", fqbn, "--input-dir", build, sketch],
        ["board", "list", *J], ["board", "list", *J], ["board", "list", *J],
    ]
    if backend == "tflm":
        installs = [r for r in fake.records() if r["args"][:2] == ["lib", "install"]]
        assert installs[0]["unsafe"] == "true"  # --git-url needs library.enable_unsafe_install, for that call only
    assert result.port == board.port and result.backend == backend
    assert result.info.model_sha256 == F.ExportedModel.load(run).sha256
    assert result.sizes == {"flash_bytes": 321456, "ram_bytes": 101234}
    record = json.loads((run.dir / "sketch" / "flash.json").read_text())
    assert record["port"] == board.port and record["model_sha256"] == result.info.model_sha256
    assert record["backend"] == backend and record["build_properties"] == []


def staged_names(run: Run) -> set[str]:
    return {p.name for p in (run.dir / "sketch" / "nano33ble").iterdir()}


COMMON = {"nano33ble.ino", "kws_hal_nano33ble.cpp", "kws_hal_nano33ble.h", "kws_nano_model.h", "kws_audio_ring.h",
          "kws_app.c", "kws_frontend.c", "kws_fft.c", "kws_features.c", "kws_recognizer.c", "kws_frame.c",
          "kws_msg.c", "kws_app.h", "kws_hal.h", "kws_protocol.h", "kws_le.h", "kws_settings.h",
          "kws_frontend_tables.h"}
TFLM_ONLY = {"kws_model_tflm.cpp", "kws_model_tflm.h", "model_data.cpp", "model_data.h"}
KERNELS = {p.name for p in (F.FIRMWARE_DIR / "kernels").iterdir() if p.suffix in (".c", ".h")}
AOT_ONLY = {"kws_model_aot_glue.cpp", "kws_model_aot.c", "kws_model_aot.h"} | KERNELS


def test_the_staged_aot_sketch_holds_the_compiled_model_and_kernels_and_nothing_of_tflm(fake, run):
    F.flash(run, stage_only=True, say=quiet)  # aot is the default
    assert fake.calls() == []  # --stage-only needs no arduino-cli
    sketch, names = run.dir / "sketch" / "nano33ble", staged_names(run)
    assert COMMON | AOT_ONLY <= names and {"kws_conv.c", "kws_kernels.h"} <= names
    assert not names & TFLM_ONLY
    ours = {p.name for d in ("nano33ble", "core") for p in (F.FIRMWARE_DIR / d).iterdir()} | AOT_ONLY
    assert names <= ours | {"kws_settings.h", "kws_frontend_tables.h"}  # exactly: no other file slips in
    includes = [n for n in names for line in (sketch / n).read_text().splitlines() if "<TensorFlowLite.h>" in line
                and line.startswith("#include")]
    assert not includes  # nothing asks for the library
    aot = run.dir / "export" / "aot"  # compiled by kws flash into the run's export, from the export's model
    sha = F.ExportedModel.load(run).sha256
    assert f'#define KWS_MODEL_AOT_SHA256 "{sha}"' in (aot / "kws_model_aot.h").read_text()
    for name in ("kws_model_aot.c", "kws_model_aot.h"):
        assert (sketch / name).read_bytes() == (aot / name).read_bytes()
    generated = run.dir / "export" / "generated"
    assert (sketch / "kws_settings.h").read_bytes() == (generated / "kws_settings.h").read_bytes()
    assert not [p for p in (run.dir / "sketch").iterdir() if p.name.startswith(".")], "staged atomically"


def test_the_staged_tflm_sketch_holds_the_flatbuffer_and_interpreter_glue_and_nothing_of_aot(fake, run):
    F.flash(run, backend="tflm", stage_only=True, say=quiet)
    assert fake.calls() == []
    sketch, names = run.dir / "sketch" / "nano33ble", staged_names(run)
    assert COMMON | TFLM_ONLY <= names
    assert not names & AOT_ONLY
    assert "model_data.cc" not in names  # arduino-cli builds .c/.cpp/.S only
    generated = run.dir / "export" / "generated"
    assert (sketch / "model_data.cpp").read_bytes() == (generated / "model_data.cc").read_bytes()
    assert (sketch / "kws_settings.h").read_bytes() == (generated / "kws_settings.h").read_bytes()
    assert not (run.dir / "export" / "aot").exists()  # nothing compiled for tflm
    F.flash(run, stage_only=True, say=quiet)  # and back: the old folder is replaced, not merged
    assert not staged_names(run) & TFLM_ONLY


def test_a_stale_or_foreign_compiled_model_is_compiled_again_from_the_export(fake, run):
    aot = run.dir / "export" / "aot"
    aot.mkdir(parents=True)
    (aot / "kws_model_aot.h").write_text('#define KWS_MODEL_AOT_SHA256 "' + "a" * 64 + '"\n')
    (aot / "kws_model_aot.c").write_text("/* another model */\n")
    F.flash(run, stage_only=True, say=quiet)
    sha = F.ExportedModel.load(run).sha256
    assert f'"{sha}"' in (aot / "kws_model_aot.h").read_text()
    assert "another model" not in (aot / "kws_model_aot.c").read_text()


def test_make_flash_s_parser_defaults_to_aot_and_takes_tflm(fake, run, monkeypatch):
    from kws.cli import main

    monkeypatch.chdir(run.dir.parent.parent)
    assert main(["flash", "--run", "tiny", "--stage-only"]) == 0
    assert "kws_model_aot_glue.cpp" in staged_names(run)
    assert main(["flash", "--run", "tiny", "--stage-only", "--backend", "tflm"]) == 0
    assert "kws_model_tflm.cpp" in staged_names(run) and "kws_model_aot_glue.cpp" not in staged_names(run)
    with pytest.raises(SystemExit) as usage:
        main(["flash", "--run", "tiny", "--stage-only", "--backend", "tvm"])
    assert usage.value.code == 2


@pytest.mark.parametrize("backend", ["aot", "tflm"])
def test_installed_core_and_library_are_not_reinstalled_and_compile_only_stops_before_upload(backend, fake, run):
    fake.set(before=[])
    F.flash(run, backend=backend, compile_only=True, say=quiet)
    library = [["lib", "list"]] if backend == "tflm" else []  # aot never asks for the library
    assert [c[:2] for c in fake.calls()] == [["version"], ["core", "list"], *library, ["compile", "--fqbn"]]


def test_a_core_compiler_too_old_for_the_dsp_kernels_gets_the_portable_ones(fake, run):
    # The mbed core's GCC 7 lacks the ACLE DSP intrinsics: the glue's #error names the way out, and kws flash
    # compiles once more with -DKWS_KERNELS_PORTABLE for .c and .cpp files alike.
    fake.set(old_gcc=True, lib=False)
    said: list[str] = []
    result = F.flash(run, compile_only=True, say=said.append)
    compiles = [c for c in fake.calls() if c[0] == "compile"]
    assert len(compiles) == 2 and "--build-property" not in compiles[0]
    assert compiles[1][compiles[1].index("--warnings") + 2:-1] == [
        "--build-property", "compiler.c.extra_flags=-DKWS_KERNELS_PORTABLE",
        "--build-property", "compiler.cpp.extra_flags=-DKWS_KERNELS_PORTABLE"]
    assert result.build_properties == F.PORTABLE_KERNELS_PROPERTIES and result.sizes
    assert any("portable kernels" in line for line in said)
    # The TFLM sketch has no glue and no kernels: one compile, no build properties.
    fake.set(lib=True)
    F.flash(run, backend="tflm", compile_only=True, say=quiet)
    assert len([c for c in fake.calls() if c[0] == "compile"]) == 3


def test_the_fake_compile_wants_the_library_for_tflm_so_the_aot_runs_prove_it_needs_none(fake, run):
    fake.set(lib=False)
    sketch = F.stage_sketch(F.ExportedModel.load(run), run.sketch_root, backend="tflm")
    with pytest.raises(F.SketchCompileError, match=r"TensorFlowLite\.h: No such file"):
        F.compile_sketch(F.ArduinoCli.find(quiet), sketch, run.sketch_root / "build")


# ------------------------------------------------------------------------------------------ refusals

def test_missing_arduino_cli_says_how_to_install_it(run, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("ARDUINO_CLI", raising=False)
    with pytest.raises(ArduinoCliMissing, match=r"arduino-cli is not on PATH; install it: .*install\.sh.*"
                                                  r"arduino\.github\.io/arduino-cli"):
        F.flash(run, say=quiet)
    from kws.cli import main

    monkeypatch.chdir(run.dir.parent.parent)
    assert main(["flash", "--run", "tiny"]) == 2


def test_over_budget_is_refused_before_any_arduino_cli_call(fake, run, monkeypatch):
    from kws.device import budget
    from kws.device.budget import BudgetError

    tiny_board = budget.BoardBudget("nano33ble", "a Nano with 16 KiB of flash", flash_bytes=16 * 1024,
                                    ram_bytes=256 * 1024, code_flash_estimate=8 * 1024, ram_reserved_estimate=0,
                                    headroom=0.1)
    monkeypatch.setitem(budget.BOARDS, "nano33ble", tiny_board)
    with pytest.raises(BudgetError, match=r"does not fit a Nano with 16 KiB of flash \[nano33ble\]: flash: model"):
        F.flash(run, say=quiet)
    assert fake.calls() == []


def test_no_board_lists_the_ports_seen_and_suggests_the_double_tap(fake, run):
    fake.set(before=[["/dev/ttyUSB0", "0x6001"]])  # an FTDI adapter's PID under Arduino's VID: not a Nano
    with pytest.raises(NoBoardError, match=r"no Arduino Nano 33 BLE found .*2341:805A.*2341:005A.*data cable.*"
                                             r"double-tap.*ports seen: /dev/ttyUSB0"):
        F.flash(run, say=quiet)
    assert ["compile"] not in [c[:1] for c in fake.calls()]


def test_several_boards_are_listed_and_the_user_asked_for_port(fake, run):
    fake.set(before=[["/dev/ttyACM0", "0x805A"], ["/dev/ttyACM1", "0x005A"]])
    with pytest.raises(SeveralBoardsError, match=r"several boards found: /dev/ttyACM0 \(2341:805A, sketch running"
                                                   r".*/dev/ttyACM1 \(2341:005A, bootloader.*--port"):
        F.flash(run, say=quiet)


def test_permission_denied_on_upload_gives_the_dialout_hint(fake, run):
    fake.set(before=[["/dev/ttyACM0", "0x805A"]],
             upload_error="Error during Upload: cannot perform reset: opening port: Permission denied")
    with pytest.raises(PortPermissionError, match=r"uploading to /dev/ttyACM0 failed: permission denied; .*"
                                                  r"usermod -a -G dialout"):
        F.flash(run, say=quiet)


def test_a_board_that_does_not_come_back_is_reported(fake, run):
    fake.set(before=[["/dev/ttyACM0", "0x805A"]], after=[], delay=0)
    with pytest.raises(F.FlashError, match=r"did not come back as a running sketch \(2341:805A\) within 1 s"):
        F.flash(run, reenumerate_timeout=1.0, say=quiet)
    assert [c[:2] for c in fake.calls()].count(["board", "list"]) >= 2


def test_a_board_running_another_model_fails_the_hash_check(fake, run, tiny_export, core_build_dir, tmp_path):
    padded = tmp_path / "other.tflite"  # the same graph with trailing bytes: runs, but hashes differently
    padded.write_bytes((tiny_export / "export" / "model_int8.tflite").read_bytes() + bytes(16))
    with Emulator(tiny_export, model_path=padded, build_dir=core_build_dir) as other:
        fake.set(before=[["/dev/ttyACM0", "0x805A"]], after=[[other.port, "0x805A"]])
        with pytest.raises(F.HashMismatchError, match=r"runs model [0-9a-f]{16}\.\.\., but the export .*model_int8"
                                                      r"\.tflite is [0-9a-f]{16}\.\.\..*the upload did not replace"):
            F.flash(run, say=quiet)


def test_an_old_library_manager_tflm_is_refused(fake, run):
    fake.set(before=[["/dev/ttyACM0", "0x805A"]])
    (fake.lib_dir / F.TFLM_MARKER).unlink()
    with pytest.raises(F.FlashError, match=r"old Library Manager release .*arduino-cli lib uninstall "
                                           r"Arduino_TensorFlowLite"):
        F.flash(run, backend="tflm", say=quiet)
    F.flash(run, compile_only=True, say=quiet)  # the aot backend does not care which library is installed


def test_a_model_kws_compile_cannot_compile_points_to_the_tflm_backend(fake, run, monkeypatch):
    from kws.compile import command
    from kws.compile.graph import CompileError

    def unsupported(*_args, **_kwargs):
        raise CompileError("model_int8.tflite: operator LSTM (tensor 3) is not supported")

    monkeypatch.setattr(command, "compile_tflite", unsupported)
    with pytest.raises(F.FlashError, match=r"cannot be compiled to C: .*LSTM.*--backend tflm"):
        F.flash(run, say=quiet)
    assert fake.calls() == []


def test_a_missing_export_says_to_export_first(fake, tmp_path):
    from kws.device.artifacts import DeviceArtifactError

    with pytest.raises(DeviceArtifactError, match=r"export does not exist: run `kws export --run nothing`"):
        F.flash(Run.at(tmp_path / "runs" / "nothing"), say=quiet)


# ------------------------------------------------------------------------------------------ board list shapes

def test_board_list_json_of_every_arduino_cli_generation_is_understood():
    v1 = {"detected_ports": [{"port": {"address": "/dev/ttyACM0", "label": "/dev/ttyACM0", "protocol": "serial",
                                       "properties": {"vid": "0x2341", "pid": "0x805A"}},
                              "matching_boards": [{"name": "Arduino Nano 33 BLE", "fqbn": F.FQBN}]},
                             {"port": {"address": "/dev/ttyS0", "protocol": "serial"}}]}
    v019 = v1["detected_ports"]  # 0.19 .. 0.35: the same items, not wrapped
    v018 = [{"address": "/dev/ttyACM0", "protocol": "serial",
             "boards": [{"name": "Arduino Nano 33 BLE", "FQBN": F.FQBN, "VID": "0x2341", "PID": "0x005a"}]}]
    for data in (v1, v019):
        ports = parse_board_list(data)
        assert [(p.address, p.vid, p.pid) for p in ports] == [("/dev/ttyACM0", 0x2341, 0x805A),
                                                              ("/dev/ttyS0", None, None)]
        assert choose_port(ports, None).address == "/dev/ttyACM0"
    (old,) = parse_board_list(v018)
    assert (old.vid, old.pid, old.kind) == (0x2341, 0x005A, "bootloader (double-tap)")
    assert choose_port([old], "/dev/ttyACM9").address == "/dev/ttyACM9"  # --port wins, even if not listed


def test_the_sketch_reports_the_firmware_version_the_host_expects():
    from kws.device.artifacts import FIRMWARE_VERSION

    header = (F.FIRMWARE_DIR / "nano33ble" / "kws_hal_nano33ble.h").read_text()
    assert f'#define KWS_FIRMWARE_VERSION "{FIRMWARE_VERSION}"' in header
