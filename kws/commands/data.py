"""`kws data synth | download | stats`: the keyword datasets."""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.commands.common import add_config_options, add_quiet_option, plain_config


def _synth(args: argparse.Namespace) -> int:
    from kws.config import replace
    from kws.data.synth import synthesize

    config = plain_config(args)
    synth = config.synth
    changes = {}
    if args.out is not None:
        changes["out_dir"] = str(args.out)
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.workers is not None:
        changes["workers"] = args.workers
    if changes:
        synth = replace(synth, **changes)
        synth.validate()
    report = synthesize(synth, config.frontend, replace=args.replace, progress=not args.quiet)
    print(report.summary())
    return 0


def _download(args: argparse.Namespace) -> int:
    from kws.data.download import download_speech_commands

    path = download_speech_commands(
        args.version, args.dest, url=args.url, sha256=args.sha256, progress=not args.quiet,
        keep_archive=args.keep_archive,
    )
    print(f"Speech Commands {args.version} is ready in {path}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from kws.config import replace
    from kws.data.stats import dataset_stats, print_stats
    from kws.errors import DataError

    config = plain_config(args)
    data = config.data if args.data is None else replace(config.data, data_dir=str(args.data))
    stats = dataset_stats(data, config.frontend, check_audio=args.check_audio, progress=not args.quiet)
    print_stats(stats)
    if stats.bad_files:  # the report above lists them; the exit status tells scripts and Make
        path, reason = stats.first_bad[0]
        verb = "is" if stats.bad_files == 1 else "are"
        raise DataError(f"{stats.bad_files} of {stats.files_checked} audio files {verb} unusable, first: {path}: "
                        f"{reason}; copy the bad files again or remove them, or set data.on_bad_audio='skip' to "
                        f"train without them")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    data_cmd = commands.add_parser("data", help="datasets: synth, download, stats")
    data_sub = data_cmd.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    synth = data_sub.add_parser("synth", help="write the offline synthetic keyword set (espeak-ng) in Speech "
                                              "Commands layout")
    add_config_options(synth)
    synth.add_argument("--out", type=Path, default=None, help="output folder (default: synth.out_dir)")
    synth.add_argument("--seed", type=int, default=None, help="seed (default: synth.seed)")
    synth.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    synth.add_argument("--replace", action="store_true", help="replace an existing dataset at --out")
    add_quiet_option(synth)
    synth.set_defaults(handler=_synth)

    download = data_sub.add_parser("download", help="download and verify Google Speech Commands (v0.01 or v0.02)")
    download.add_argument("--version", dest="version", choices=("v0.01", "v0.02"), default="v0.02",
                          help="dataset version (default v0.02)")
    download.add_argument("--dest", type=Path, default=Path("data"),
                          help="folder that receives speech_commands_<version>/ (default: data)")
    download.add_argument("--url", default=None, help="archive URL (default: the official one)")
    download.add_argument("--sha256", default=None, help="expected SHA-256 of the archive (default: the known one)")
    download.add_argument("--keep-archive", action="store_true", help="keep the .tar.gz after extraction")
    add_quiet_option(download)
    download.set_defaults(handler=_download)

    stats = data_sub.add_parser("stats", help="per-split, per-label clip counts of a dataset")
    add_config_options(stats)
    stats.add_argument("--data", type=Path, default=None, help="dataset root (default: data.data_dir)")
    stats.add_argument("--check-audio", action="store_true",
                       help="also open every WAV: report format fixes, clips longer than one clip (only their "
                            "start is used) and unusable files (then exit 2)")
    add_quiet_option(stats)
    stats.set_defaults(handler=_stats)
