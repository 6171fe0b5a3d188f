"""`kws report`: one self-contained page of a run's results."""

from __future__ import annotations

import argparse

from kws.commands.common import add_config_options, run_config, run_of


def _report(args: argparse.Namespace) -> int:
    from kws.eval.report import build_report, missing_sections

    paths = build_report(run_config(args), run_of(args))
    missing = missing_sections(paths["json"])
    print(f"report: {paths['html']} (also {paths['md'].name}, {paths['json'].name})")
    if missing:
        print("report: not filled yet: " + "; ".join(missing))
        if args.strict:
            return 1
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="one self-contained HTML page (+ Markdown, JSON) of a run's results")
    add_config_options(report)
    report.add_argument("--run", default="demo", help="run name (default: demo)")
    report.add_argument("--strict", action="store_true", help="exit 1 if any section could not be filled")
    report.set_defaults(handler=_report)
