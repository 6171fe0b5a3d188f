"""`kws emulate | monitor | flash`: the boards (kws.device)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.commands.common import run_of, writes_run


def _emulate(args: argparse.Namespace) -> int:
    from kws.device.serve import run_emulator

    labels = args.labels.split(",") if args.labels is not None else None
    return run_emulator(run_of(args), model_path=args.model, mic_paths=args.mic, realtime=args.realtime,
                        loop_mic=args.loop, port_file=args.port_file, labels=labels, board_kind=args.board)


def _monitor(args: argparse.Namespace) -> int:
    from kws.device.arduino_cli import find_board_port
    from kws.device.monitor import run_monitor

    return run_monitor(find_board_port(args.port), binary=args.binary, count=args.count, duration=args.duration,
                       scores=args.scores, baudrate=args.baud)


@writes_run("kws flash")
def _flash(args: argparse.Namespace) -> int:
    from kws.device.flash import flash

    flash(run_of(args), port=args.port, board=args.board, backend=args.backend, stage_only=args.stage_only,
          compile_only=args.compile_only, reenumerate_timeout=args.wait)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    emulate = commands.add_parser("emulate", help="run the firmware core as an emulated board on a pseudo-terminal "
                                                  "(prints the port; Ctrl-C stops it)")
    emulate.add_argument("--run", default="demo", help="run whose export to serve (runs/<RUN>/export; default: demo)")
    emulate.add_argument("--board", choices=("host", "m4"), default="host",
                         help="host: the core in-process with TFLite Micro (default); m4: the whole firmware with the "
                              "compiled model on QEMU's Cortex-M4 (mps2-an386)")
    emulate.add_argument("--model", type=Path, default=None, help="a .tflite to run instead of the export's")
    emulate.add_argument("--labels", default=None, metavar="A,B,C",
                         help="the --model's labels in output order (required when it is not the run's export)")
    emulate.add_argument("--mic", type=Path, action="append", default=[], metavar="WAV",
                         help="audio for the board's microphone (repeatable: played one after the other)")
    emulate.add_argument("--loop", action="store_true", help="replay the --mic audio forever")
    emulate.add_argument("--realtime", action="store_true", help="play the microphone at 16 kHz wall-clock pace "
                                                                 "(default: as fast as the board keeps up)")
    emulate.add_argument("--port-file", type=Path, default=None, help="also write the port to this file")
    emulate.set_defaults(handler=_emulate)

    monitor = commands.add_parser("monitor", help="live detections from a board or the emulator, time-stamped")
    monitor.add_argument("--port", default=None, help="serial port (default: the one Nano 33 BLE on USB)")
    monitor.add_argument("--binary", action="store_true", help="binary protocol (HELLO, LIVE_AUDIO) instead of the "
                                                               "board's text lines")
    monitor.add_argument("--scores", action="store_true", help="with --binary: also print every inference's scores")
    monitor.add_argument("--count", type=int, default=None, help="stop after this many detections")
    monitor.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    monitor.add_argument("--baud", type=int, default=115200, help="baud rate for a plain UART (USB ignores it)")
    monitor.set_defaults(handler=_monitor)

    flash_cmd = commands.add_parser("flash", help="build the Nano 33 BLE Sense sketch with the run's model, upload "
                                                  "it with arduino-cli and check the model hash over serial")
    flash_cmd.add_argument("--run", default="demo", help="run whose export to flash (default: demo)")
    flash_cmd.add_argument("--port", default=None, help="serial port (default: the one Nano found by USB VID:PID)")
    flash_cmd.add_argument("--board", choices=("nano33ble",), default="nano33ble", help="target board")
    flash_cmd.add_argument("--backend", choices=("aot", "tflm"), default="aot",
                           help="aot: the model compiled to C by kws compile, no library (default); tflm: TensorFlow "
                                "Lite Micro (installs the Arduino_TensorFlowLite library)")
    flash_cmd.add_argument("--stage-only", action="store_true",
                           help="only write runs/<RUN>/sketch/nano33ble/ (no arduino-cli)")
    flash_cmd.add_argument("--compile-only", action="store_true", help="stage and compile, do not upload")
    flash_cmd.add_argument("--wait", type=float, default=30.0,
                           help="seconds to wait for the board to re-enumerate after the upload (default 30)")
    flash_cmd.set_defaults(handler=_flash)
