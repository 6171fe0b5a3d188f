"""`kws config show`: print (and with --run, write) the resolved configuration."""

from __future__ import annotations

import argparse
import sys

from kws.commands.common import add_config_options


def _show(args: argparse.Namespace) -> int:
    from kws.config import config_to_toml, write_resolved_config
    from kws.run import Run

    if args.run is not None:
        run = Run.named(args.run)
        config = run.base_config(args.config, args.overrides)  # config.toml is what deploy.toml is laid over
        path = write_resolved_config(config, run.dir)
        print(f"wrote {path}", file=sys.stderr)
    else:
        from kws.commands.common import plain_config

        config = plain_config(args)
    sys.stdout.write(config_to_toml(config))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    config_cmd = commands.add_parser("config", help="show or write the resolved configuration")
    config_sub = config_cmd.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print the resolved config as TOML")
    add_config_options(show)
    show.add_argument("--run", default=None, help="also write it to runs/<RUN>/config.toml")
    show.set_defaults(handler=_show)
