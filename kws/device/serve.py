"""`kws emulate`: serve a run on an emulated board (host or M4) until Ctrl-C or SIGTERM, printing its port.

    kws emulate --run demo                      # the host board; prints /dev/pts/N
    kws emulate --run demo --board m4           # the firmware with the compiled model on QEMU's Cortex-M4
    kws emulate --run demo --model other.tflite --labels a,b,c     # another model on the host board
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Callable, Sequence

from kws.device.artifacts import ExportedModel
from kws.device.boards import EmulatedBoard, emulated_board
from kws.device.emulator import SAMPLE_RATE, Emulator, EmulatorError, load_mic
from kws.device.interrupt import hear_ctrl_c
from kws.run import Run


def served_model(run: "Run | str | Path", model_path: Path | None, labels: Sequence[str] | None) -> ExportedModel:
    """The run's export, or another .tflite (--model) with its own labels: a model that is not the run's
    export must name its labels (--labels), or the board would announce the run's labels for it."""
    exported = ExportedModel.load(run, model_path)
    if labels is not None:
        labels = tuple(label.strip() for label in labels if label.strip())
        if not labels:
            raise EmulatorError("--labels names no label; give them comma-separated, in the model's output order")
        return dataclasses.replace(exported, labels=labels)
    if model_path is not None and exported.sha256 != exported.settings_sha256:
        raise EmulatorError(f"{model_path} is not run {exported.run_dir.name}'s exported model (SHA-256 "
                            f"{exported.sha256[:16]}... vs {exported.settings_sha256[:16]}...): say its labels with "
                            f"--labels a,b,c in output order (the run's are {','.join(exported.labels)})")
    return exported


def run_emulator(run: "Run | str | Path", *, model_path: Path | None = None, mic_paths: Sequence[Path] = (),
                 realtime: bool = False, loop_mic: bool = False, port_file: Path | None = None,
                 labels: Sequence[str] | None = None, board_kind: str = "host",
                 say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)) -> int:
    """`kws emulate`: start, print the port on stdout (alone on its line), serve until Ctrl-C (or SIGTERM,
    which kws handles as Ctrl-C): the port file goes with the board."""
    hear_ctrl_c()
    exported = served_model(run, model_path, labels)
    mic = load_mic(mic_paths) if mic_paths else None
    if port_file is not None:
        port_file.unlink(missing_ok=True)  # a board killed with SIGKILL left its port: it is not this board's

    def led(on: bool, label: str) -> None:
        say(f"[LED] {'on: ' + label if on else 'off'}")

    if board_kind == "host":
        board: EmulatedBoard = Emulator(exported=exported, mic=mic, realtime=realtime, loop_mic=loop_mic,
                                        on_led=led)
    else:
        if mic is not None or realtime or loop_mic:
            raise EmulatorError("--mic, --realtime and --loop are host-board options (the M4 board has no "
                                "microphone source yet)")
        board = emulated_board(board_kind, exported)
    port = board.start()
    try:
        e = exported
        what = "emulated board" if board_kind == "host" else f"{board_kind} board (QEMU, compiled model)"
        say(f"{what} on {port}: model {e.sha256[:16]}... ({e.model_path}), labels {','.join(e.labels)}, "
            f"recognizer threshold {e.recognizer.detection_threshold}")
        if mic is not None:
            say(f"microphone: {mic.size / SAMPLE_RATE:.1f} s of audio, "
                f"{'real time' if realtime else 'as fast as it goes'}{', looped' if loop_mic else ''}")
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
        say("emulated board stopped")
        return 0
    finally:
        board.stop()
        if port_file is not None:
            try:
                port_file.unlink()
            except FileNotFoundError:
                pass


__all__ = ["run_emulator", "served_model"]
