"""The `kws` command: one entry point for every stage of the pipeline.

    kws --help
    kws data synth --config kws/configs/demo.toml
    kws data stats --data data/synth
    kws data download --version v0.02 --dest data/
    kws features path/to/clip.wav --png features.png
    kws frontend tables --out firmware/core/generated
    kws config show --set training.batch_size=50

The parser is a table: each stage's module in kws/commands/ (and kws/compile/command.py) registers its own
subcommands. Their handlers import the stage lazily, so `kws --help` is instant and never loads torch.
User errors (KwsError) print one clear line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from typing import Callable, NoReturn, Sequence

from kws.errors import KwsError

PIPELINE_EPILOG = """\
pipeline (data flows one way):
  data      synthesise / download / inspect keyword datasets        (kws data ...)
  features  the int8 log-mel frontend shared with the device        (kws features, kws frontend ...)
  train     tiny_conv / DS-CNN in PyTorch, QAT, pruning              (kws train, quantize, prune, models)
  export    PyTorch -> ONNX -> TF -> int8 TFLite -> C array          (kws export)
  compile   int8 TFLite -> plain C99, no interpreter                  (kws compile)
  flash     Nano 33 BLE Sense sketch, emulated board, monitor        (kws flash, emulate, monitor)
  eval      on-device FAR/FRR, ROC, calibration, report              (kws eval, calibrate, report)

Most commands take --config FILE (TOML) and --set section.key=value; `kws config show` prints the result.
"""


COMMAND_MODULES: tuple[str, ...] = (
    "kws.commands.config_cmd",   # config show
    "kws.commands.data",         # data synth | download | stats
    "kws.commands.features",     # features, frontend tables
    "kws.commands.train",        # train, quantize, prune, models
    "kws.commands.export_cmd",   # export
    "kws.compile.command",       # compile (int8 TFLite -> plain C)
    "kws.commands.report",       # report
    "kws.commands.device",       # emulate, monitor, flash
    "kws.commands.eval_cmd",     # eval, calibrate
    "kws.commands.search",       # search (hardware-aware, Optuna; local or Ray), search pick | show
)
"""Modules whose `register(commands)` adds subcommands, in the order `kws --help` lists them."""


class KwsArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported as one line (kws's error format) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and for generating docs)."""
    from kws import __version__

    parser = KwsArgumentParser(
        prog="kws", description="Keyword spotting on microcontrollers: data to board and back to numbers.",
        epilog=PIPELINE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kws {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `kws` command; returns the process exit status."""
    # OpenMP threads that spin while waiting make torch up to 10x slower on a 2-core machine shared with
    # anything else (measured: 266 ms vs 37 ms per feature batch). Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # SIGTERM (kill, a supervisor, `timeout`) ends a command as Ctrl-C does: its `finally` blocks run, so an
    # emulated board removes its port file and temporary files go. Only in the main thread of the process.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except KwsError as exc:
        print(f"kws: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kws: interrupted; nothing half-written was left under a final name", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
