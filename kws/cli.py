"""The `kws` command: one entry point for every stage of the pipeline.

    kws --help
    kws data synth --config kws/configs/demo.toml
    kws data stats --data data/synth
    kws data download --version v0.02 --dest data/
    kws features path/to/clip.wav --png features.png
    kws frontend tables --out firmware/core/generated
    kws config show --set training.batch_size=50

Subcommands import their modules lazily, so `kws --help` is instant and never loads torch.
User errors (KwsError) print one clear line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from kws.errors import KwsError

PIPELINE_EPILOG = """\
pipeline (data flows one way):
  data      synthesise / download / inspect keyword datasets        (kws data ...)
  features  the int8 log-mel frontend shared with the device        (kws features, kws frontend ...)
  train     tiny_conv / DS-CNN in PyTorch, QAT, pruning              (next: the training issue)
  export    PyTorch -> ONNX -> TF -> int8 TFLite -> C array          (next: the export issue)
  flash     Nano 33 BLE Sense sketch, emulated board, monitor        (next: the firmware issue)
  eval      on-device FAR/FRR, ROC, calibration, report              (next: the evaluation issue)

Most commands take --config FILE (TOML) and --set section.key=value; `kws config show` prints the result.
"""


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="TOML config file (defaults apply to missing keys)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set data.wanted_words='[\"yes\",\"no\"]' (repeatable)")


def _config(args: argparse.Namespace):
    from kws.config import load_config

    return load_config(args.config, args.overrides)


# ---------------------------------------------------------------------------------------------- config

def _cmd_config_show(args: argparse.Namespace) -> int:
    from kws.config import config_to_toml, write_resolved_config

    config = _config(args)
    if args.run:
        path = write_resolved_config(config, Path("runs") / args.run)
        print(f"wrote {path}", file=sys.stderr)
    sys.stdout.write(config_to_toml(config))
    return 0


# ------------------------------------------------------------------------------------------------ data

def _cmd_data_synth(args: argparse.Namespace) -> int:
    from kws.config import replace
    from kws.data.synth import synthesize

    config = _config(args)
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


def _cmd_data_download(args: argparse.Namespace) -> int:
    from kws.data.download import download_speech_commands

    path = download_speech_commands(
        args.version, args.dest, url=args.url, sha256=args.sha256, progress=not args.quiet,
        keep_archive=args.keep_archive,
    )
    print(f"Speech Commands {args.version} is ready in {path}")
    return 0


def _cmd_data_stats(args: argparse.Namespace) -> int:
    from kws.config import replace
    from kws.data.dataset import dataset_stats, print_stats

    config = _config(args)
    data = config.data if args.data is None else replace(config.data, data_dir=str(args.data))
    stats = dataset_stats(data, config.frontend, check_audio=args.check_audio, progress=not args.quiet)
    print_stats(stats)
    return 0


# -------------------------------------------------------------------------------------------- frontend

def _cmd_features(args: argparse.Namespace) -> int:
    from kws.frontend import describe_features

    config = _config(args)
    print(describe_features(args.wav, config.frontend, png=args.png))
    return 0


def _cmd_frontend_tables(args: argparse.Namespace) -> int:
    from kws.frontend_tables import write_c_tables

    config = _config(args)
    written = write_c_tables(config.frontend, args.out)
    for path in written:
        print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------------------------- train

def _cmd_train(args: argparse.Namespace) -> int:
    from kws.train import train

    config = _config(args)
    result = train(config, Path("runs") / args.run, progress=not args.quiet)
    print(f"best validation accuracy {result.best_val_accuracy:.2%} at step {result.best_step}; "
          f"test accuracy {result.test_accuracy:.2%}; outputs in {result.run_dir}/")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from kws.compress.quantize import quantize

    config = _config(args)
    result = quantize(config, Path("runs") / args.run, args.method, progress=not args.quiet)
    print(f"{result.method}: simulated int8 test accuracy {result.int8_test_accuracy:.2%} "
          f"(float {result.float_test_accuracy:.2%}); wrote {result.checkpoint}")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from kws.compress.prune import prune

    config = _config(args)
    result = prune(config, Path("runs") / args.run, args.structured, progress=not args.quiet)
    print(f"{result.mode} pruning: sparsity {result.sparsity:.1%}, test accuracy {result.test_accuracy:.2%} "
          f"(float {result.float_test_accuracy:.2%}); wrote {result.checkpoint} and prune_report.md")
    return 0


# ---------------------------------------------------------------------------------------------- models

def _cmd_models(args: argparse.Namespace) -> int:
    from kws.config import replace
    from kws.models import MODEL_NAMES, build_model
    from kws.models.summary import print_summary, summarize

    config = _config(args)
    names = [args.name] if args.name else list(MODEL_NAMES)
    labels = len(config.data.labels())
    for name in names:
        model_cfg = replace(config.model, name=name)
        model = build_model(model_cfg, config.frontend, labels)
        shape = (config.frontend.num_frames, config.frontend.num_features)
        print_summary(f"{name} on {shape[0]}x{shape[1]} {config.frontend.feature_type}, {labels} labels",
                      summarize(model, shape))
    return 0


# -------------------------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and for generating docs)."""
    parser = argparse.ArgumentParser(
        prog="kws", description="Keyword spotting on microcontrollers: data to board and back to numbers.",
        epilog=PIPELINE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from kws import __version__

    parser.add_argument("--version", action="version", version=f"kws {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    config_cmd = commands.add_parser("config", help="show or write the resolved configuration")
    config_sub = config_cmd.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print the resolved config as TOML")
    _add_config_options(show)
    show.add_argument("--run", default=None, help="also write it to runs/<RUN>/config.toml")
    show.set_defaults(handler=_cmd_config_show)

    data_cmd = commands.add_parser("data", help="datasets: synth, download, stats")
    data_sub = data_cmd.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    synth = data_sub.add_parser("synth", help="write the offline synthetic keyword set (espeak-ng) in Speech Commands layout")
    _add_config_options(synth)
    synth.add_argument("--out", type=Path, default=None, help="output folder (default: synth.out_dir)")
    synth.add_argument("--seed", type=int, default=None, help="seed (default: synth.seed)")
    synth.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    synth.add_argument("--replace", action="store_true", help="replace an existing dataset at --out")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=_cmd_data_synth)

    download = data_sub.add_parser("download", help="download and verify Google Speech Commands (v0.01 or v0.02)")
    download.add_argument("--version", dest="version", choices=("v0.01", "v0.02"), default="v0.02",
                          help="dataset version (default v0.02)")
    download.add_argument("--dest", type=Path, default=Path("data"),
                          help="folder that receives speech_commands_<version>/ (default: data)")
    download.add_argument("--url", default=None, help="archive URL (default: the official one)")
    download.add_argument("--sha256", default=None, help="expected SHA-256 of the archive (default: the known one)")
    download.add_argument("--keep-archive", action="store_true", help="keep the .tar.gz after extraction")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(handler=_cmd_data_download)

    stats = data_sub.add_parser("stats", help="per-split, per-label clip counts of a dataset")
    _add_config_options(stats)
    stats.add_argument("--data", type=Path, default=None, help="dataset root (default: data.data_dir)")
    stats.add_argument("--check-audio", action="store_true", help="also open every WAV and report format problems")
    stats.add_argument("--quiet", action="store_true", help="no progress bar")
    stats.set_defaults(handler=_cmd_data_stats)

    features = commands.add_parser("features", help="compute the int8 features of one WAV file (and plot them)")
    _add_config_options(features)
    features.add_argument("wav", type=Path, help="a WAV file")
    features.add_argument("--png", type=Path, default=None, help="save a spectrogram plot of the int8 features")
    features.set_defaults(handler=_cmd_features)

    train = commands.add_parser("train", help="train the configured model into runs/<run>/ (resumes if interrupted)")
    _add_config_options(train)
    train.add_argument("--run", default="demo", help="run name: outputs go to runs/<run>/ (default: demo)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_cmd_train)

    quant = commands.add_parser("quantize", help="int8: calibrate (ptq) or quantization-aware fine-tune (qat)")
    _add_config_options(quant)
    quant.add_argument("--run", default="demo", help="run name (reads runs/<run>/model_float.pt)")
    quant.add_argument("--method", choices=("ptq", "qat"), default=None, help="default: quantization.method")
    quant.add_argument("--quiet", action="store_true", help="no progress bar")
    quant.set_defaults(handler=_cmd_quantize)

    prune_cmd = commands.add_parser("prune", help="iterative magnitude pruning with fine-tuning, or structured "
                                                  "filter pruning (tiny_conv)")
    _add_config_options(prune_cmd)
    prune_cmd.add_argument("--run", default="demo", help="run name (reads runs/<run>/model_float.pt)")
    prune_cmd.add_argument("--structured", action=argparse.BooleanOptionalAction, default=None,
                           help="remove whole conv filters (--no-structured: single weights); "
                                "default: pruning.structured")
    prune_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    prune_cmd.set_defaults(handler=_cmd_prune)

    models = commands.add_parser("models", help="parameters, MACs and activation memory per layer of each model")
    _add_config_options(models)
    models.add_argument("name", nargs="?", default=None, help="one registered model (default: all)")
    models.set_defaults(handler=_cmd_models)

    frontend = commands.add_parser("frontend", help="the feature frontend spec")
    frontend_sub = frontend.add_subparsers(dest="frontend_command", metavar="ACTION", required=True)
    tables = frontend_sub.add_parser("tables", help="generate the C tables (window, mel weights) from the config")
    _add_config_options(tables)
    tables.add_argument("--out", type=Path, default=Path("firmware/core/generated"), help="output folder")
    tables.set_defaults(handler=_cmd_frontend_tables)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `kws` command; returns the process exit status."""
    # OpenMP threads that spin while waiting make torch up to 10x slower on a 2-core machine shared with
    # anything else (measured: 266 ms vs 37 ms per feature batch). Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
