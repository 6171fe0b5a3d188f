"""Choose the recognizer's parameters from a recorded, labelled score stream.

    kws calibrate --run demo [--target-fa-per-hour 1]

Replays the device's own int8 score stream (recorded by `kws eval --stream`) through the recognizer
model (kws.recognizer, tested identical to the C one) for a grid of averaging windows, thresholds and
suppression times, and picks the setting with the lowest false reject rate whose false accepts per
hour stay at or below the target (ties: fewer false accepts, then the higher threshold, then the
shorter window). The choice is written to runs/<run>/deploy.toml, an overlay on the run's config that
every later stage reads (kws.run.Run.config), so the next `make flash` deploys it; the whole
sweep goes to runs/<run>/eval/calibration.json with a FA/hour vs FRR plot.

Speed: the averaging does not depend on threshold or suppression, so each window is replayed once
(`decision_trace`) and every (threshold, suppression) pair is a cheap scan over the candidate steps
(`detect_from_trace`); a test checks this against the full recognizer on random streams.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kws.config import DeployConfig, replace
from kws.eval.metrics import streaming_metrics
from kws.recognizer import Recognizer, RecognizerConfig, keyword_mask
from kws.run import Run, as_run, deploy_overlay_text

if TYPE_CHECKING:
    from kws.config import KwsConfig

DEFAULT_WINDOWS_MS: tuple[int, ...] = (500, 750, 1000, 1500)
DEFAULT_THRESHOLDS: tuple[int, ...] = tuple(range(100, 255, 5))
DEFAULT_SUPPRESSIONS_MS: tuple[int, ...] = (500, 1000, 1500, 2000)


@dataclass(frozen=True)
class Trace:
    """What the recognizer averages to at every step, independent of threshold and suppression."""

    t_us: np.ndarray
    """int64 [N] unwrapped stream time of each result."""
    top: np.ndarray
    """int64 [N] top label of the average (-1 without a decision)."""
    score: np.ndarray
    """int64 [N] its average score 0..255."""


def decision_trace(window_ms: int, minimum_count: int, labels: Sequence[str], t_us: np.ndarray,
                   scores: np.ndarray) -> Trace:
    """Replay the recognizer once with detection disabled, keeping the per-step top label and score."""
    rec = Recognizer(RecognizerConfig(average_window_ms=window_ms, suppression_ms=0, minimum_count=minimum_count,
                                      detection_threshold=255), labels)
    top = np.empty(len(t_us), dtype=np.int64)
    score = np.empty(len(t_us), dtype=np.int64)
    for i, (t, row) in enumerate(zip(t_us.tolist(), scores.tolist())):
        r = rec.process(row, t & 0xFFFFFFFF)
        top[i], score[i] = r.label, r.score
    return Trace(np.asarray(t_us, dtype=np.int64), top, score)


def detect_from_trace(trace: Trace, keywords: Sequence[bool], threshold: int, suppression_ms: int) -> list[int]:
    """Indices of the steps that detect, for one threshold and suppression (stream time must be monotonic)."""
    is_keyword = np.asarray(keywords, dtype=bool)
    candidates = np.nonzero((trace.top >= 0) & is_keyword[np.maximum(trace.top, 0)] & (trace.score > threshold))[0]
    suppression_us = suppression_ms * 1000
    out: list[int] = []
    last = None
    for i in candidates.tolist():
        if last is None or trace.t_us[i] - last > suppression_us:
            out.append(i)
            last = trace.t_us[i]
    return out


def sweep(labels: Sequence[str], t_us: np.ndarray, scores: np.ndarray, events: list[tuple[float, float, str]],
          duration_s: float, *, minimum_count: int, tolerance_s: float,
          windows_ms: Sequence[int] = DEFAULT_WINDOWS_MS, thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
          suppressions_ms: Sequence[int] = DEFAULT_SUPPRESSIONS_MS) -> list[dict[str, Any]]:
    """Streaming metrics for every grid point."""
    keywords = keyword_mask(labels)
    rows = []
    for window in windows_ms:
        trace = decision_trace(window, minimum_count, labels, t_us, scores)
        for threshold, suppression in itertools.product(thresholds, suppressions_ms):
            steps = detect_from_trace(trace, keywords, threshold, suppression)
            found = [(float(trace.t_us[i]) / 1e6, labels[int(trace.top[i])]) for i in steps]
            m = streaming_metrics(found, events, duration_s, tolerance_s, suppression_s=0.0)
            rows.append({"average_window_ms": int(window), "detection_threshold": int(threshold),
                         "suppression_ms": int(suppression), **m})
    return rows


def choose(rows: list[dict[str, Any]], target_fa_per_hour: float) -> tuple[dict[str, Any], bool]:
    """(best row, whether it meets the target); without any row meeting it, the fewest false accepts."""
    if not rows:
        raise ValueError("nothing to choose from: the sweep is empty")
    # A setting that detects nothing trivially meets any FA/h target; it is no answer, so only settings that
    # find at least one keyword count as meeting it.
    useful = [r for r in rows if r["false_reject_rate"] < 1.0] or rows
    ok = [r for r in useful if r["false_accepts_per_hour"] <= target_fa_per_hour]
    pool = ok or useful
    key = (lambda r: (r["false_reject_rate"], r["false_accepts_per_hour"], -r["detection_threshold"],
                      r["average_window_ms"], r["suppression_ms"])) if ok else \
          (lambda r: (r["false_accepts_per_hour"], r["false_reject_rate"], -r["detection_threshold"],
                      r["average_window_ms"], r["suppression_ms"]))
    return min(pool, key=key), bool(ok)


def write_deploy_overlay(run: "Run | str | Path", deploy: DeployConfig) -> Path:
    """runs/<run>/deploy.toml: the calibrated [deploy] section, laid over config.toml by Run.config."""
    from kws.fsutil import atomic_write_text

    run = as_run(run)
    atomic_write_text(run.deploy_overlay, deploy_overlay_text(deploy))
    return run.deploy_overlay


def update_generated_settings(run: Run, config: "KwsConfig") -> Path | None:
    """Re-render the export's kws_settings.h (if exported) with the calibrated recognizer settings, by the
    export's own generator (kws.device.settings_header), so the next `make flash` and the emulator deploy the
    calibration without a full re-export."""
    from kws.device.settings_header import rerender_settings

    if not run.generated_dir.is_dir():
        return None
    return rerender_settings(run.generated_dir, config, f"run `kws export --run {run.name}`")


def plot_sweep(rows: list[dict[str, Any]], chosen: dict[str, Any], target: float, path: str | Path) -> str:
    """FA/hour vs FRR of every grid point, the Pareto front, the target and the choice."""
    from kws.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    fa = np.array([r["false_accepts_per_hour"] for r in rows])
    frr = np.array([r["false_reject_rate"] for r in rows])
    windows = sorted({r["average_window_ms"] for r in rows})
    for window in windows:
        sel = np.array([r["average_window_ms"] == window for r in rows])
        ax.scatter(fa[sel], frr[sel], s=10, alpha=0.5, label=f"window {window} ms")
    order = np.lexsort((frr, fa))
    front_fa, front_frr, best = [], [], np.inf
    for i in order:
        if frr[i] < best:
            best = frr[i]
            front_fa.append(fa[i])
            front_frr.append(frr[i])
    ax.step(front_fa, front_frr, where="post", color="black", linewidth=1, label="best trade-off")
    ax.axvline(target, color="red", linestyle=":", label=f"target {target:g} FA/h")
    ax.plot(chosen["false_accepts_per_hour"], chosen["false_reject_rate"], "r*", markersize=14,
            label=f"chosen: {chosen['average_window_ms']} ms, >{chosen['detection_threshold']}, "
                  f"{chosen['suppression_ms']} ms")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("false accepts per hour (streaming)")
    ax.set_ylabel("false reject rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    try:
        return str(save_figure(fig, path))
    finally:
        plt.close(fig)


def calibrate_run(run: "Run | str | Path", *, target_fa_per_hour: float = 1.0, tolerance_s: float = 1.0,
                  windows_ms: Sequence[int] = DEFAULT_WINDOWS_MS, thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
                  suppressions_ms: Sequence[int] = DEFAULT_SUPPRESSIONS_MS) -> dict[str, Any]:
    """`kws calibrate`: sweep the recorded stream of runs/<run>/eval/stream/, choose, write deploy.toml,
    eval/calibration.json and eval/calibration.png; returns what calibration.json holds."""
    import json

    from kws.errors import KwsError
    from kws.eval.stream import load_stream_recording
    from kws.fsutil import write_json

    run = as_run(run)
    if target_fa_per_hour < 0 or tolerance_s < 0:
        raise KwsError("--target-fa-per-hour and --tolerance-s must not be negative")
    run.require("config")
    t_us, scores, events, stream = load_stream_recording(run)
    labels = stream["labels"]
    if scores.ndim != 2 or scores.shape != (t_us.size, len(labels)) or t_us.size == 0:
        raise KwsError(f"{run.stream_dir}/scores.npz holds no usable scores ({scores.shape}); run "
                       f"`kws eval --stream` again")
    config = run.config()
    previous = config.deploy
    rows = sweep(labels, t_us, scores, events, float(stream["duration_s"]), minimum_count=previous.minimum_count,
                 tolerance_s=tolerance_s, windows_ms=windows_ms, thresholds=thresholds,
                 suppressions_ms=suppressions_ms)
    chosen, met = choose(rows, target_fa_per_hour)
    deploy = replace(previous, average_window_ms=int(chosen["average_window_ms"]),
                     detection_threshold=int(chosen["detection_threshold"]),
                     suppression_ms=int(chosen["suppression_ms"]))
    deploy.validate()
    overlay = write_deploy_overlay(run, deploy)
    settings = update_generated_settings(run, replace(config, deploy=deploy))
    clip_points: dict[str, Any] = {}
    clip_summary_path = run.eval_summary
    if clip_summary_path.exists():
        clip_summary = json.loads(clip_summary_path.read_text(encoding="utf-8"))
        clip_points = {"target_far": clip_summary.get("target_far"),
                       "per_keyword": {word: entry["operating_point"]
                                       for word, entry in clip_summary.get("per_keyword", {}).items()
                                       if "operating_point" in entry}}
    result = {"chosen": chosen, "target_met": met, "target_fa_per_hour": target_fa_per_hour,
              "tolerance_s": tolerance_s, "minimum_count": previous.minimum_count,
              "previous": {"average_window_ms": previous.average_window_ms,
                           "detection_threshold": previous.detection_threshold,
                           "suppression_ms": previous.suppression_ms},
              "stream": {"duration_s": stream["duration_s"], "events": len(events), "inferences": int(t_us.size),
                         "board": stream.get("board", "")},
              "clip_operating_points": clip_points, "deploy_overlay": str(overlay),
              "generated_settings_updated": str(settings) if settings else None, "sweep": rows}
    write_json(run.calibration_result, result)
    plot_sweep(rows, chosen, target_fa_per_hour, run.calibration_plot)
    return result
