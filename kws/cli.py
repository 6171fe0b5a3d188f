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

    config = _run_config(args)  # the run's own config.toml unless --config is given
    result = quantize(config, Path("runs") / args.run, args.method, progress=not args.quiet)
    print(f"{result.method}: simulated int8 test accuracy {result.int8_test_accuracy:.2%} "
          f"(float {result.float_test_accuracy:.2%}); wrote {result.checkpoint}")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from kws.compress.prune import prune

    config = _run_config(args)  # the run's own config.toml unless --config is given
    result = prune(config, Path("runs") / args.run, args.structured, progress=not args.quiet)
    print(f"{result.mode} pruning: sparsity {result.sparsity:.1%}, test accuracy {result.test_accuracy:.2%} "
          f"(float {result.float_test_accuracy:.2%}); wrote {result.checkpoint} and prune_report.md")
    return 0


# ---------------------------------------------------------------------------------------------- export

def _cmd_export(args: argparse.Namespace) -> int:
    # Imported here, never at module level: export/ is the only package that imports TensorFlow.
    from export.cli import run_export

    return run_export(args)


# ---------------------------------------------------------------------------------------------- report

def _run_config(args: argparse.Namespace):
    """--config if given, else the run's own config.toml (+ the calibrated deploy.toml overlay)."""
    if args.config is not None:
        return _config(args)
    from kws.eval.calibrate import load_run_config

    run_dir = Path("runs") / args.run
    if not (run_dir / "config.toml").exists():
        # No run yet: defaults plus --set, so bad values are still named; the stage then says what is missing.
        return _config(args)
    return load_run_config(run_dir, args.overrides)


def _cmd_report(args: argparse.Namespace) -> int:
    from kws.eval.report import build_report, missing_sections

    paths = build_report(_run_config(args), Path("runs") / args.run)
    missing = missing_sections(paths["json"])
    print(f"report: {paths['html']} (also {paths['md'].name}, {paths['json'].name})")
    if missing:
        print("report: not filled yet: " + "; ".join(missing))
        if args.strict:
            return 1
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


# ------------------------------------------------------------------------------- device: emulate, monitor, flash

def _cmd_emulate(args: argparse.Namespace) -> int:
    from kws.device.emulator import run_emulator

    return run_emulator(Path("runs") / args.run, model_path=args.model, mic_paths=args.mic, realtime=args.realtime,
                        loop_mic=args.loop, port_file=args.port_file)


def _cmd_monitor(args: argparse.Namespace) -> int:
    from kws.device.monitor import run_monitor

    port = args.port
    if port is None:  # the one Nano on USB, found as kws flash finds it
        from kws.device.flash import ArduinoCli, choose_port

        port = choose_port(ArduinoCli.find().board_list(), None).address
    return run_monitor(port, binary=args.binary, count=args.count, duration=args.duration, scores=args.scores,
                       baudrate=args.baud)


def _cmd_flash(args: argparse.Namespace) -> int:
    from kws.device.flash import flash

    flash(Path("runs") / args.run, port=args.port, board=args.board, stage_only=args.stage_only,
          compile_only=args.compile_only, reenumerate_timeout=args.wait)
    return 0


def _add_device_commands(commands: argparse._SubParsersAction) -> None:
    """kws emulate / monitor / flash (kws.device)."""
    emulate = commands.add_parser("emulate", help="run the firmware core as an emulated board on a pseudo-terminal "
                                                  "(prints the port; Ctrl-C stops it)")
    emulate.add_argument("--run", default="demo", help="run whose export to serve (runs/<RUN>/export; default: demo)")
    emulate.add_argument("--model", type=Path, default=None, help="a .tflite to run instead of the export's")
    emulate.add_argument("--mic", type=Path, action="append", default=[], metavar="WAV",
                         help="audio for the board's microphone (repeatable: played one after the other)")
    emulate.add_argument("--loop", action="store_true", help="replay the --mic audio forever")
    emulate.add_argument("--realtime", action="store_true", help="play the microphone at 16 kHz wall-clock pace "
                                                                 "(default: as fast as the board keeps up)")
    emulate.add_argument("--port-file", type=Path, default=None, help="also write the port to this file")
    emulate.set_defaults(handler=_cmd_emulate)

    monitor = commands.add_parser("monitor", help="live detections from a board or the emulator, time-stamped")
    monitor.add_argument("--port", default=None, help="serial port (default: the one Nano 33 BLE on USB)")
    monitor.add_argument("--binary", action="store_true", help="binary protocol (HELLO, LIVE_AUDIO) instead of the "
                                                               "board's text lines")
    monitor.add_argument("--scores", action="store_true", help="with --binary: also print every inference's scores")
    monitor.add_argument("--count", type=int, default=None, help="stop after this many detections")
    monitor.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    monitor.add_argument("--baud", type=int, default=115200, help="baud rate for a plain UART (USB ignores it)")
    monitor.set_defaults(handler=_cmd_monitor)

    flash_cmd = commands.add_parser("flash", help="build the Nano 33 BLE Sense sketch with the run's model, upload "
                                                  "it with arduino-cli and check the model hash over serial")
    flash_cmd.add_argument("--run", default="demo", help="run whose export to flash (default: demo)")
    flash_cmd.add_argument("--port", default=None, help="serial port (default: the one Nano found by USB VID:PID)")
    flash_cmd.add_argument("--board", choices=("nano33ble",), default="nano33ble", help="target board")
    flash_cmd.add_argument("--stage-only", action="store_true",
                           help="only write runs/<RUN>/sketch/nano33ble/ (no arduino-cli)")
    flash_cmd.add_argument("--compile-only", action="store_true", help="stage and compile, do not upload")
    flash_cmd.add_argument("--wait", type=float, default=30.0,
                           help="seconds to wait for the board to re-enumerate after the upload (default 30)")
    flash_cmd.set_defaults(handler=_cmd_flash)


# ------------------------------------------------------------------------------- eval: clips, stream, calibrate

def _eval_port(args: argparse.Namespace) -> str | None:
    """--port, or None with --emulate, or the one Nano on USB (found as kws flash finds it)."""
    if args.emulate or args.port:
        return args.port
    from kws.device.flash import ArduinoCli, choose_port

    return choose_port(ArduinoCli.find().board_list(), None).address


def _cmd_eval(args: argparse.Namespace) -> int:
    from kws.eval.device_eval import EvalOptions, describe, evaluate_clips

    run_dir = Path("runs") / args.run
    config = _run_config(args)  # a missing run or a bad --set is reported before any board is touched
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    options = EvalOptions(port=_eval_port(args), emulate=args.emulate, feed=args.feed,
                          data_dir=str(args.data) if args.data is not None else None, split=args.split,
                          limit=args.limit, restart=args.restart, progress=not args.quiet, target_far=args.target_far,
                          timeout=args.timeout, retries=args.retries, chunk_samples=args.chunk_samples)
    if args.stream:
        from kws.eval.stream import StreamOptions, describe_stream, evaluate_stream

        stream = StreamOptions(minutes=args.minutes, snr_db=tuple(args.snr_db or (10.0,)),
                               gap_s=tuple(args.gap_s), unknown_share=args.unknown_share, seed=args.seed,
                               noise_dir=str(args.noise) if args.noise is not None else None,
                               wav=str(args.wav) if args.wav is not None else None,
                               labels_csv=str(args.labels) if args.labels is not None else None,
                               chunk_ms=args.chunk_ms, tolerance_s=args.tolerance_s)
        summary = evaluate_stream(run_dir, options, stream, config=config, say=say)
        print("\n".join(describe_stream(summary)))
        print(f"wrote {run_dir / 'eval' / 'stream'}/ (next: kws calibrate --run {args.run})")
        return 0 if summary["replay_matches_device"] else 1
    result = evaluate_clips(run_dir, options, config=config, say=say)
    print("\n".join(describe(result)))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from kws.eval.calibrate import calibrate_run
    from kws.eval.device_eval import operating_point_text

    run_dir = Path("runs") / args.run
    result = calibrate_run(run_dir, target_fa_per_hour=args.target_fa_per_hour, tolerance_s=args.tolerance_s)
    c = result["chosen"]
    verdict = "meets" if result["target_met"] else "does NOT meet (the fewest false accepts instead)"
    print(f"chosen over {len(result['sweep'])} settings: window {c['average_window_ms']} ms, threshold > "
          f"{c['detection_threshold']}, suppression {c['suppression_ms']} ms -> {c['false_accepts_per_hour']:.2f} "
          f"false accepts/hour, false reject rate {c['false_reject_rate']:.1%}; {verdict} the target of "
          f"{result['target_fa_per_hour']:g}/hour")
    points = result["clip_operating_points"]
    for word, op in points.get("per_keyword", {}).items():
        print(f"clip level {word}: {operating_point_text(op, points['target_far'])}")
    if not points:
        print("clip level: no eval/summary.json yet (kws eval without --stream gives the ROC operating point)")
    print(f"wrote {result['deploy_overlay']} (the next `make flash` deploys it) and "
          f"{run_dir / 'eval'}/calibration.json, calibration.png")
    return 0


def _add_eval_commands(commands: argparse._SubParsersAction) -> None:
    """kws eval / calibrate (kws.eval.device_eval, kws.eval.stream, kws.eval.calibrate)."""
    ev = commands.add_parser("eval", help="evaluate the run's model on a board or the emulated one over serial: "
                                          "test clips (resumable) or a labelled stream (--stream)")
    _add_config_options(ev)
    ev.add_argument("--run", default="demo", help="run whose export is evaluated (default: demo)")
    where = ev.add_mutually_exclusive_group()
    where.add_argument("--port", default=None, help="the board's serial port (default: the one Nano on USB)")
    where.add_argument("--emulate", action="store_true", help="start the emulated board for this evaluation")
    ev.add_argument("--feed", choices=("audio", "features"), default="audio",
                    help="audio (the whole device pipeline; default) or features (int8 reference features: the "
                         "model alone)")
    ev.add_argument("--data", type=Path, default=None, help="dataset root (default: the run's data.data_dir)")
    ev.add_argument("--split", default="testing", help="split to evaluate (default: testing)")
    ev.add_argument("--limit", type=int, default=None, help="an evenly spread subset of this many clips")
    ev.add_argument("--restart", action="store_true", help="start a new journal instead of resuming")
    ev.add_argument("--target-far", type=float, default=0.01,
                    help="clip-level false accept rate of the ROC operating point (default 0.01)")
    ev.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer (default 2)")
    ev.add_argument("--retries", type=int, default=3, help="resends of a frame before a new handshake (default 3)")
    ev.add_argument("--chunk-samples", type=int, default=1024, help="samples per AUDIO frame for clips (<= 1024)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    st = ev.add_argument_group("streaming (--stream)")
    st.add_argument("--stream", action="store_true", help="a labelled long stream, the board's recognizer deciding")
    st.add_argument("--minutes", type=float, default=10.0, help="length of the generated stream (default 10)")
    st.add_argument("--snr-db", type=float, action="append", default=None,
                    help="speech-to-noise ratio of the words (repeatable: each word gets one; default 10)")
    st.add_argument("--gap-s", type=float, nargs=2, default=(1.5, 5.0), metavar=("MIN", "MAX"),
                    help="pause between words in seconds (default 1.5 5)")
    st.add_argument("--unknown-share", type=float, default=0.25,
                    help="share of placed words that are other words (distractors; default 0.25)")
    st.add_argument("--noise", type=Path, default=None,
                    help="folder of noise WAVs (default: the dataset's _background_noise_, else its _silence_)")
    st.add_argument("--seed", type=int, default=0, help="seed of the generated stream (default 0)")
    st.add_argument("--wav", type=Path, default=None, help="your own recording instead of a generated stream")
    st.add_argument("--labels", type=Path, default=None, help="its CSV: start_s,end_s,label per spoken word")
    st.add_argument("--chunk-ms", type=float, default=20.0, help="audio per AUDIO frame in ms (default 20)")
    st.add_argument("--tolerance-s", type=float, default=1.0,
                    help="a detection this long after a word's end still counts (default 1.0)")
    ev.set_defaults(handler=_cmd_eval)

    cal = commands.add_parser("calibrate", help="choose the recognizer's window, threshold and suppression on the "
                                                "recorded stream; writes runs/<run>/deploy.toml")
    cal.add_argument("--run", default="demo", help="run whose eval/stream/ is used (default: demo)")
    cal.add_argument("--target-fa-per-hour", type=float, default=1.0,
                     help="false accepts per hour to stay at or below (default 1)")
    cal.add_argument("--tolerance-s", type=float, default=1.0,
                     help="a detection this long after a word's end still counts (default 1.0)")
    cal.set_defaults(handler=_cmd_calibrate)


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

    export_cmd = commands.add_parser("export", help="PyTorch -> ONNX -> TF -> int8 TFLite -> C array, checked at every "
                                                    "hop, into runs/<run>/export/")
    _add_config_options(export_cmd)
    export_cmd.add_argument("--run", default="demo", help="run name: reads and writes runs/<run>/ (default: demo)")
    export_cmd.add_argument("--from", dest="source", choices=("float", "ptq", "qat", "pruned"), default="float",
                            help="checkpoint: float (model_float.pt, post-training quantization; default), ptq / qat "
                                 "(from kws quantize), pruned (model_pruned.pt)")
    export_cmd.add_argument("--board", choices=("nano33ble", "host"), default=None,
                            help="memory budget to check (default: deploy.board)")
    export_cmd.add_argument("--strict", action="store_true", help="exit 1 when an accuracy target is missed")
    export_cmd.add_argument("--quiet", action="store_true", help="no progress output, only the parity table")
    export_cmd.set_defaults(handler=_cmd_export)

    report = commands.add_parser("report", help="one self-contained HTML page (+ Markdown, JSON) of a run's results")
    _add_config_options(report)
    report.add_argument("--run", default="demo", help="run name (default: demo)")
    report.add_argument("--strict", action="store_true", help="exit 1 if any section could not be filled")
    report.set_defaults(handler=_cmd_report)

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
    _add_device_commands(commands)
    _add_eval_commands(commands)
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
