"""`kws features` and `kws frontend tables`: the feature frontend spec."""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.commands.common import add_config_options, plain_config


def _features(args: argparse.Namespace) -> int:
    from kws.frontend import describe_features

    print(describe_features(args.wav, plain_config(args).frontend, png=args.png))
    return 0


def _tables(args: argparse.Namespace) -> int:
    from kws.frontend_tables import write_c_tables

    for path in write_c_tables(plain_config(args).frontend, args.out):
        print(f"wrote {path}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    features = commands.add_parser("features", help="compute the int8 features of one WAV file (and plot them)")
    add_config_options(features)
    features.add_argument("wav", type=Path, help="a WAV file")
    features.add_argument("--png", type=Path, default=None, help="save a spectrogram plot of the int8 features")
    features.set_defaults(handler=_features)

    frontend = commands.add_parser("frontend", help="the feature frontend spec")
    frontend_sub = frontend.add_subparsers(dest="frontend_command", metavar="ACTION", required=True)
    tables = frontend_sub.add_parser("tables", help="generate the C tables (window, mel weights) from the config")
    add_config_options(tables)
    tables.add_argument("--out", type=Path, default=Path("firmware/core/generated"), help="output folder")
    tables.set_defaults(handler=_tables)
