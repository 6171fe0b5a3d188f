"""Options and helpers every subcommand shares: --config/--set, --run, the run's config by Run's rule.

    add_config_options(parser); add_run_option(parser, "run whose export is evaluated")
    run = run_of(args); config = run_config(args)
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from kws.config import KwsConfig
    from kws.run import Run

DEFAULT_RUN = "demo"
Handler = Callable[[argparse.Namespace], int]


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """--config FILE and repeatable --set KEY=VALUE."""
    parser.add_argument("--config", type=Path, default=None, help="TOML config file (defaults apply to missing keys)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set data.wanted_words='[\"yes\",\"no\"]' (repeatable)")


def add_run_option(parser: argparse.ArgumentParser, what: str) -> None:
    """--run NAME (default demo)."""
    parser.add_argument("--run", default=DEFAULT_RUN, help=f"{what} (default: {DEFAULT_RUN})")


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def plain_config(args: argparse.Namespace) -> "KwsConfig":
    """--config (or the defaults) plus --set: for commands that do not belong to a run."""
    from kws.config import load_config

    return load_config(args.config, args.overrides)


def run_of(args: argparse.Namespace) -> "Run":
    """The Run named by --run (a RunError for a name that cannot be a folder)."""
    from kws.run import Run

    return Run.named(args.run)


def run_config(args: argparse.Namespace) -> "KwsConfig":
    """The run's config by the one rule (kws.run): --config or config.toml, the deploy.toml overlay, --set."""
    return run_of(args).config(args.config, args.overrides)


def writes_run(what: str) -> Callable[[Handler], Handler]:
    """Decorate a handler that writes into its run: it runs holding the run's lock (kws.run.Run.lock), so a
    second process writing the same run stops at once with "run X is busy (pid N, ...)"."""
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def locked(args: argparse.Namespace) -> int:
            with run_of(args).lock(what):
                return handler(args)
        return locked
    return decorate


def stderr_say(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines on stderr, silent with --quiet."""
    if getattr(args, "quiet", False):
        return lambda text: None
    return lambda text: print(text, file=sys.stderr, flush=True)
