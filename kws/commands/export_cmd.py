"""`kws export` (the options and handler live in export/cli.py, imported only when the command runs)."""

from __future__ import annotations

import argparse

from kws.commands.common import add_config_options, writes_run


@writes_run("kws export")
def _export(args: argparse.Namespace) -> int:
    # Imported here, never at module level: export/ is the only package that imports TensorFlow.
    from export.cli import run_export

    return run_export(args)


def register(commands: argparse._SubParsersAction) -> None:
    export_cmd = commands.add_parser("export", help="PyTorch -> ONNX -> TF -> int8 TFLite -> C array, checked at "
                                                    "every hop, into runs/<run>/export/")
    add_config_options(export_cmd)
    export_cmd.add_argument("--run", default="demo", help="run name: reads and writes runs/<run>/ (default: demo)")
    export_cmd.add_argument("--from", dest="source", choices=("float", "ptq", "qat", "pruned"), default="float",
                            help="checkpoint: float (model_float.pt, post-training quantization; default), ptq / qat "
                                 "(from kws quantize), pruned (model_pruned.pt)")
    export_cmd.add_argument("--board", choices=("nano33ble", "host"), default=None,
                            help="memory budget to check (default: deploy.board)")
    export_cmd.add_argument("--strict", action="store_true", help="exit 1 when an accuracy target is missed")
    export_cmd.add_argument("--quiet", action="store_true", help="no progress output, only the parity table")
    export_cmd.set_defaults(handler=_export)
