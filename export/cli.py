"""The export command: `kws export` (and `python -m export`, the same thing).

    kws export --run demo                      # post-training quantization from model_float.pt
    kws export --run demo --from qat           # from the QAT checkpoint (kws quantize --method qat)
    kws export --run demo --board host         # budget for the emulated board instead
    make export RUN=demo

The config follows the one rule of kws.run: --config FILE, else the run's config.toml (written by kws train),
then the run's calibrated deploy.toml overlay (so the generated C carries the calibrated recognizer), then
--set. Prints each hop's check, then the parity table; missed accuracy targets are shown in red (and with
--strict the command exits 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from kws.run import CHECKPOINT_SOURCES, Run

SOURCE_CHOICES = CHECKPOINT_SOURCES
BOARD_CHOICES = ("nano33ble", "host")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The export options (the config options --config/--set are added by the caller)."""
    parser.add_argument("--run", default="demo", help="run name: reads and writes runs/<RUN>/ (default: demo)")
    parser.add_argument("--from", dest="source", choices=SOURCE_CHOICES, default="float",
                        help="checkpoint to export: float (model_float.pt, post-training quantization; default), "
                             "ptq / qat (model_ptq.pt / model_qat.pt from kws quantize), pruned (model_pruned.pt)")
    parser.add_argument("--board", choices=BOARD_CHOICES, default=None,
                        help="memory budget to check (default: deploy.board)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when an accuracy target is missed")
    parser.add_argument("--quiet", action="store_true", help="no progress output, only the parity table")


def run_export(args: argparse.Namespace) -> int:
    """Handler of `kws export`; KwsErrors propagate to the caller, which prints them."""
    from export.parity import print_summary
    from export.pipeline import export_run

    run = Run.named(args.run)
    if args.config is None:
        run.require("config")  # the run's own config.toml, or the error that says how to make it
    config = run.config(args.config, args.overrides)
    say = None if args.quiet else (lambda text: print(text, flush=True))
    result = export_run(config, run, args.source, board=args.board, progress=not args.quiet, log=say)
    print_summary(result.report)
    print(f"wrote {result.export_dir}/ (parity.md, model_int8.tflite, generated/)")
    return 1 if args.strict and not result.targets_met else 0


def build_parser() -> argparse.ArgumentParser:
    """Parser of `python -m export` (the same options as `kws export`)."""
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="TOML config (default: runs/<RUN>/config.toml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting (repeatable)")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m export`: errors print one line and exit 2, as in `kws`."""
    from kws.errors import KwsError

    args = build_parser().parse_args(argv)
    try:
        return run_export(args)
    except KwsError as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 2
