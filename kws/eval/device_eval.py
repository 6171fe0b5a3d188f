"""Evaluation over serial: the test split's clips through a board (a flashed Nano or the emulated one), resumable.

    kws eval --run demo --emulate                          # starts the emulated board for the run, stops it after
    kws eval --run demo --port /dev/ttyACM0                # a flashed Nano 33 BLE Sense (or `kws emulate`'s pty)
    kws eval --run demo --emulate --feed features          # the model alone: int8 reference features as FEATURES
    kws eval --run demo --emulate --limit 200 --restart    # a spread-out subset; --restart drops the journal

    from kws.eval.device_eval import EvalOptions, evaluate_clips
    result = evaluate_clips(Path("runs/demo"), EvalOptions(port="/dev/pts/7"))
    result.summary["accuracy"], result.scores          # what eval/summary.json and eval/scores.npz hold

Per clip the board gets a clean state (RESET), then the clip: its audio as AUDIO chunks (test split, no
augmentation; generated silence gets the deterministic noise of kws.data.augment's eval_audio), or its int8
reference features (kws.frontend) as FEATURES. A one-second clip gives exactly one SCORES (+ TIMING); that
is the clip's result. Before anything, the board's identity is checked: the model SHA-256 in its INFO must
be the run's export's (otherwise the numbers would belong to another model).

Resumable: every finished clip is one line of runs/<run>/eval/journal.jsonl, appended, flushed and fsynced;
the first line is a header naming the model, labels, board, feed and a hash of the clip list. A rerun skips
the clips the journal holds (a torn last line left by a kill is cut off), so a run killed at any point and
rerun gives the same totals as an uninterrupted one; a journal made for another model, board, feed or clip
list is refused unless --restart. At the end: eval/scores.npz (truth, raw int8 scores [N, labels], frontend
time per frame, inference time) and eval/summary.json (kws.eval.analysis.analyze_clips plus latency, board,
feed, dataset and link counters).

Rooms: the clips come from kws.data.clip_selection, the board session (identity, resend, reconnect, a
clip checked whole) from kws.device.session, the journal from kws.eval.journal, the text from
kws.eval.clip_text. A board that stops answering is a BoardStopped error naming the clip, the port and
the journal that keeps what was done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from kws.config import DEVICE_FEATURE_TYPES
from kws.data.kind import dataset_kind
from kws.device.session import BoardSession, board_clock
from kws.eval.errors import DeviceEvalError
from kws.eval.journal import JOURNAL_VERSION, Journal
from kws.eval.options import EvalOptions
from kws.fsutil import write_json
from kws.run import Run, as_run

if TYPE_CHECKING:
    from kws.config import KwsConfig
    from kws.data.clip_selection import ClipSet

# ------------------------------------------------------------------------------------------- evaluation

@dataclass
class EvalResult:
    """What one `kws eval` wrote (and returns to Python callers)."""

    summary: dict[str, Any]
    truth: np.ndarray
    scores: np.ndarray
    frontend_us: np.ndarray
    inference_us: np.ndarray
    names: list[str]
    evaluated_now: int
    """Clips run in this call (the others came from the journal)."""
    paths: dict[str, Path] = field(default_factory=dict)


def evaluate_clips(run: "Run | str | Path", options: EvalOptions, *, config: "KwsConfig | None" = None,
                   on_clip: Callable[[int, dict[str, Any]], None] | None = None,
                   say: Callable[[str], None] | None = None) -> EvalResult:
    """`kws eval` (clips): see the module docstring. `on_clip(index, record)` runs after each journal line."""
    from tqdm import tqdm

    from kws.config import replace as config_replace
    from kws.data.clip_selection import select_clips
    from kws.device.artifacts import ExportedModel

    options.validate()
    run = as_run(run)
    config = config or run.require_config()
    exported = ExportedModel.load(run, config=config)
    data = config.data if options.data_dir is None else config_replace(config.data, data_dir=str(options.data_dir))
    clips = select_clips(data, config.frontend, options.split, options.limit, progress=options.progress,
                         selection=options.selection)
    eval_dir = run.eval_dir
    journal_path = run.journal
    n = len(clips)
    names = [clips.name(k) for k in range(n)]
    truth = clips.truth_for(data.labels(), exported.labels)
    if options.feed == "audio" and config.frontend.feature_type not in DEVICE_FEATURE_TYPES:
        raise DeviceEvalError(f"the board has no {config.frontend.feature_type} frontend: evaluate with host "
                              f"features (--feed features)")

    with BoardSession(exported, port=options.port, emulate=options.emulate, board=options.board,
                      feed=options.feed, link=options.link_settings, build_dir=options.build_dir) as session:
        header = {"journal": "kws-eval", "version": JOURNAL_VERSION, "model_sha256": exported.sha256,
                  "labels": list(exported.labels), "feed": options.feed, "board": session.board,
                  "split": options.split, "clips": n, "clips_sha256": clips.sha256(),
                  "data_dir": str(clips.data_dir), "frontend_hash": config.frontend.spec_hash(),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        eval_dir.mkdir(parents=True, exist_ok=True)
        fresh = options.restart or not journal_path.exists()
        journal, done = Journal.open(journal_path, header, restart=options.restart)
        if fresh:  # results of an earlier evaluation must not sit beside a journal they do not come from
            for path in (run.eval_scores, run.eval_summary):
                path.unlink(missing_ok=True)
        todo = [k for k in range(n) if k not in done]
        if say and done:
            say(f"resuming {journal_path}: {len(done)} of {n} clips already done")
        with journal, tqdm(total=n, initial=len(done), desc=f"eval ({options.feed}, {session.board})", unit="clip",
                           disable=not options.progress) as bar:
            stray = [i for i in done if not 0 <= i < n]
            if stray:  # the header's clip count matched, so this is a hand-edited or foreign journal
                raise DeviceEvalError(f"{journal_path} records clip {stray[0]}, outside the {n} clips; rerun with "
                                      f"--restart")
            for k in todo:
                payload = clips.audio(k) if options.feed == "audio" else clips.features(k)
                result, attempts = session.run_clip(payload, names[k], journal=journal_path, done=len(done))
                s, t = result.scores[0], result.timings[0]
                record = {"i": k, "clip": names[k], "label": int(truth[k]), "scores": list(s.scores),
                          "frontend_us": int(t.frontend_us), "frames": int(t.frames), "invoke_us": int(t.invoke_us),
                          "attempts": attempts}
                journal.append(record)
                done[k] = record
                bar.update(1)
                if on_clip is not None:
                    on_clip(k, record)
        link = session.link_stats()
        board = session.board
        firmware = session.firmware
    result = _write_results(run, config, exported.labels, options, board, clips, names, truth, done, link,
                            evaluated_now=len(todo), firmware=firmware)
    return result


def _write_results(run: Run, config: "KwsConfig", labels: Sequence[str], options: EvalOptions, board: str,
                   clips: "ClipSet", names: list[str], truth: np.ndarray, done: dict[int, dict],
                   link: dict[str, int], *, evaluated_now: int, firmware: dict | None = None) -> EvalResult:
    from kws.eval.analysis import analyze_clips
    from kws.eval.metrics import latency_summary
    from kws.fsutil import atomic_path

    n = len(names)
    records = [done[k] for k in range(n)]
    for k, record in enumerate(records):
        if record["clip"] != names[k] or record["label"] != int(truth[k]):
            raise DeviceEvalError(f"journal line for clip {k} names {record['clip']!r}, expected {names[k]!r}; "
                                  f"rerun with --restart")
    scores = np.array([r["scores"] for r in records], dtype=np.int8).reshape(n, len(labels))
    frames = np.array([r["frames"] for r in records], dtype=np.int64)
    # Per frame: TIMING's frontend_us covers the `frames` frames since the previous inference (49 per clip).
    frontend_us = np.array([r["frontend_us"] / max(1, r["frames"]) for r in records], dtype=np.float64)
    inference_us = np.array([r["invoke_us"] for r in records], dtype=np.int64)
    summary = analyze_clips(labels, truth, scores, target_far=options.target_far,
                            deploy_threshold=config.deploy.detection_threshold)
    # With FEATURES the board's frontend does not run: no frontend latency to report.
    frontend_latency = frontend_us if options.feed == "audio" else np.zeros(0)
    summary.update({
        "latency": {"frontend": latency_summary(frontend_latency), "inference": latency_summary(inference_us)},
        "board": board, "feed": options.feed, "data_dir": str(clips.data_dir), "split": options.split,
        "data": dataset_kind(clips.data_dir), "selection": clips.selection, "mapping": clips.mapping,
        "limit": options.limit, "deploy_threshold": config.deploy.detection_threshold,
        "attempts": int(sum(r["attempts"] for r in records)), "link": link,
        "clock": board_clock(board),
        "firmware": firmware,
    })
    with atomic_path(run.eval_scores) as tmp:
        with open(tmp, "wb") as handle:  # np.savez on a name would append .npz to the temporary name
            np.savez(handle, truth=truth, scores=scores, frontend_us=frontend_latency, inference_us=inference_us,
                     words=np.array([e.word for e in clips.examples], dtype=str),
                     frames=frames, names=np.array(names, dtype=str))
    write_json(run.eval_summary, summary)
    return EvalResult(summary, truth, scores, frontend_latency, inference_us, names, evaluated_now,
                      {"scores": run.eval_scores, "summary": run.eval_summary, "journal": run.journal})




__all__ = ["EvalOptions", "EvalResult", "evaluate_clips"]
