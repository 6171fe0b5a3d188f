"""`kws eval` (clips or --stream) and `kws calibrate` (kws.eval)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from kws.commands.common import add_config_options, run_of, stderr_say, writes_run
from kws.device.boards import BOARDS
from kws.device.session import LinkSettings
from kws.errors import KwsError

if TYPE_CHECKING:
    from kws.run import Run

_LINK = LinkSettings()


@writes_run("kws eval")
def _eval(args: argparse.Namespace) -> int:
    from kws.eval.options import EvalOptions

    run = run_of(args)
    if args.model is not None:  # a model trained elsewhere becomes this run (checked before any audio is sent)
        _import(run, args)
    elif args.frontend is not None or args.labels is not None:
        raise KwsError("--frontend and --labels describe a model given with --model")
    config = run.config(args.config, args.overrides)  # a bad --set is reported before any board is touched
    emulate = args.emulate or args.board is not None
    port = None
    if not emulate:  # --port, else the one Nano on USB (a missing run or bad --set is reported first)
        from kws.device.arduino_cli import find_board_port

        port = find_board_port(args.port)
    options = EvalOptions(port=port, emulate=emulate, board=args.board or "host", feed=args.feed,
                          data_dir=str(args.data) if args.data is not None else None, split=args.split,
                          selection=args.select,
                          limit=args.limit, restart=args.restart, progress=not args.quiet, target_far=args.target_far,
                          timeout=args.timeout, retries=args.retries, chunk_samples=args.chunk_samples)
    say = stderr_say(args)
    if args.stream:
        from kws.eval.stream import StreamOptions, describe_stream, evaluate_stream

        stream = StreamOptions(minutes=args.minutes, snr_db=tuple(args.snr_db or (10.0,)),
                               gap_s=tuple(args.gap_s), unknown_share=args.unknown_share, seed=args.seed,
                               noise_dir=str(args.noise) if args.noise is not None else None,
                               wav=str(args.wav) if args.wav is not None else None,
                               labels_csv=str(args.wav_labels) if args.wav_labels is not None else None,
                               chunk_ms=args.chunk_ms, tolerance_s=args.tolerance_s)
        summary = evaluate_stream(run, options, stream, config=config, say=say)
        print("\n".join(describe_stream(summary)))
        print(f"wrote {run.stream_dir}/ (next: kws calibrate --run {run.name})")
        return 0 if summary["replay_matches_device"] else 1
    from kws.eval.clip_text import describe
    from kws.eval.device_eval import evaluate_clips

    result = evaluate_clips(run, options, config=config, say=say)
    print("\n".join(describe(result)))
    return 0


def _import(run: "Run", args: argparse.Namespace) -> None:
    from kws.device.byo import import_model

    if args.frontend is None or args.labels is None:
        raise KwsError("--model needs --frontend (logmel, mfcc, tflm_micro, mlperf_mfcc) and --labels (its outputs "
                       "in order, comma-separated, silence and unknown as _silence_ and _unknown_)")
    if run.float_model.exists():
        raise KwsError(f"run {run.name} was trained here ({run.float_model}); give the imported model its own "
                       f"--run name")
    import_model(run, args.model, frontend=args.frontend, labels=args.labels.split(","), overrides=args.overrides,
                 say=stderr_say(args))


@writes_run("kws calibrate")
def _calibrate(args: argparse.Namespace) -> int:
    from kws.eval.calibrate import calibrate_run
    from kws.eval.clip_text import operating_point_text

    run = run_of(args)
    result = calibrate_run(run, target_fa_per_hour=args.target_fa_per_hour, tolerance_s=args.tolerance_s)
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
          f"{run.calibration_result}, {run.calibration_plot.name}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser("eval", help="evaluate the run's model on a board or the emulated one over serial: "
                                          "test clips (resumable) or a labelled stream (--stream)")
    add_config_options(ev)
    ev.add_argument("--run", default="demo", help="run whose export is evaluated (default: demo)")
    where = ev.add_mutually_exclusive_group()
    where.add_argument("--port", default=None, help="the board's serial port (default: the one Nano on USB)")
    where.add_argument("--emulate", action="store_true", help="start the emulated host board for this evaluation")
    where.add_argument("--board", choices=BOARDS, default=None,
                       help="start this emulated board: host (TFLite Micro runtime on the host) or m4 (the firmware "
                            "with the compiled model on QEMU's Cortex-M4)")
    byo = ev.add_argument_group("a model trained elsewhere (it becomes runs/<RUN>/; see README: Evaluate a model "
                                "you already have)")
    byo.add_argument("--model", type=Path, default=None, help="a full-int8 .tflite keyword model")
    byo.add_argument("--frontend", default=None, help="the features it was trained on: logmel, mfcc, tflm_micro "
                                                      "(TFLM micro_speech), mlperf_mfcc (MLPerf Tiny KWS)")
    byo.add_argument("--labels", default=None, metavar="A,B,...",
                     help="its outputs in order; silence and unknown as _silence_ and _unknown_")
    ev.add_argument("--feed", choices=("audio", "features"), default="audio",
                    help="audio (the whole device pipeline; default) or features (int8 reference features: the "
                         "model alone)")
    ev.add_argument("--data", type=Path, default=None, help="dataset root (default: the run's data.data_dir)")
    ev.add_argument("--split", default="testing", help="split to evaluate (default: testing)")
    ev.add_argument("--select", choices=("recipe", "labelled", "all"), default="recipe",
                    help="which clips of the split: recipe (the training recipe's sample; default), labelled (every "
                         "clip of the folders the labels name: the keywords, _unknown_, _silence_), all (every clip; "
                         "other words count as unknown)")
    ev.add_argument("--limit", type=int, default=None, help="an evenly spread subset of this many clips")
    ev.add_argument("--restart", action="store_true", help="start a new journal instead of resuming")
    ev.add_argument("--target-far", type=float, default=0.01,
                    help="clip-level false accept rate of the ROC operating point (default 0.01)")
    ev.add_argument("--timeout", type=float, default=_LINK.timeout,
                    help=f"seconds to wait for each answer (default {_LINK.timeout:g})")
    ev.add_argument("--retries", type=int, default=_LINK.retries,
                    help=f"resends of a frame before a new handshake (default {_LINK.retries})")
    ev.add_argument("--chunk-samples", type=int, default=_LINK.chunk_samples,
                    help=f"samples per AUDIO frame for clips (<= 1024; default {_LINK.chunk_samples})")
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
    st.add_argument("--wav-labels", type=Path, default=None, help="its CSV: start_s,end_s,label per spoken word")
    st.add_argument("--chunk-ms", type=float, default=20.0, help="audio per AUDIO frame in ms (default 20)")
    st.add_argument("--tolerance-s", type=float, default=1.0,
                    help="a detection this long after a word's end still counts (default 1.0)")
    ev.set_defaults(handler=_eval)

    cal = commands.add_parser("calibrate", help="choose the recognizer's window, threshold and suppression on the "
                                                "recorded stream; writes runs/<run>/deploy.toml")
    cal.add_argument("--run", default="demo", help="run whose eval/stream/ is used (default: demo)")
    cal.add_argument("--target-fa-per-hour", type=float, default=1.0,
                     help="false accepts per hour to stay at or below (default 1)")
    cal.add_argument("--tolerance-s", type=float, default=1.0,
                     help="a detection this long after a word's end still counts (default 1.0)")
    cal.set_defaults(handler=_calibrate)
