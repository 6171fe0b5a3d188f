"""Benchmark the feature frontend: clips per second of the reference (numpy/librosa) and the batched
torch path, against the training goal of 2,000 one-second clips/s on 2 cores.

    make bench                                   # runs: .venv/bin/python tools/bench_frontend.py
    .venv/bin/python tools/bench_frontend.py --clips 1000 --repeats 5 --strict

Uses real Speech Commands clips from ../shared/data/sc-real-dev (or $KWS_SHARED_DATA/sc-real-dev)
when present, else seeded random audio, and says which. Torch uses as many threads as there are
cores. Prints PASS or MISS per torch batch size; --strict makes a MISS exit with status 1.
Not a test: its figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
GOAL_CLIPS_PER_S = 2000.0


def _load_clips(count: int, clip_samples: int, sample_rate: int) -> tuple[np.ndarray, str]:
    """(count, clip_samples) int16 audio and a sentence saying where it came from."""
    env = os.environ.get("KWS_SHARED_DATA")
    root = (Path(env) if env else REPO_ROOT.parent / "shared" / "data") / "sc-real-dev"
    files = sorted(root.glob("*/*.wav")) if root.is_dir() else []
    if not files:
        rng = np.random.default_rng(0)
        audio = (rng.standard_normal((count, clip_samples)) * 3000).clip(-32768, 32767).astype(np.int16)
        return audio, f"random audio (seeded): {root} is absent"
    from kws.data.audio import fit_length, load_audio, to_int16

    chosen = [files[i] for i in np.linspace(0, len(files) - 1, num=min(count, len(files))).round().astype(int)]
    clips = [to_int16(fit_length(load_audio(f, sample_rate)[0], clip_samples)) for f in chosen]
    audio = np.stack(clips)
    if len(audio) < count:  # fewer files than wanted: repeat them (timing only, not statistics)
        audio = np.resize(audio, (count, clip_samples))
    return audio, f"{len(chosen)} real clips from {root}" + (f", repeated to {count}" if len(chosen) < count else "")


def _best_rate(run, clips: int, repeats: int) -> float:
    """Best of `repeats` timings in clips/s (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return clips / best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000, help="clips to load (default 1000)")
    parser.add_argument("--reference-clips", type=int, default=300, help="clips timed on the reference path")
    parser.add_argument("--repeats", type=int, default=3, help="timings per path; the best is reported")
    parser.add_argument("--feature-type", choices=("logmel", "mfcc"), default="logmel")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a torch batch size misses the goal")
    args = parser.parse_args(argv)

    import torch

    from kws.config import FrontendConfig
    from kws.frontend import TorchFrontend, frontend_tables, reference_features_int8

    cfg = FrontendConfig(feature_type=args.feature_type)
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    frontend_tables(cfg)  # builds the tables (and pays librosa's numba compile) before any timing
    audio, source = _load_clips(args.clips, cfg.clip_samples, cfg.sample_rate)
    print(f"frontend: {cfg.feature_type}, {cfg.num_frames}x{cfg.num_features} int8 per {cfg.clip_duration_ms} ms clip;"
          f" spec {cfg.spec_hash()[:16]}")
    print(f"audio: {source}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"machine: {cores} cores, load average {load:.1f}, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads")
    if load > 0.5 * cores:
        print("warning: the machine is busy with other work; these figures are lower bounds")

    ref_clips = audio[: max(1, min(args.reference_clips, len(audio)))]
    reference_features_int8(ref_clips[0], cfg)
    rate = _best_rate(lambda: [reference_features_int8(clip, cfg) for clip in ref_clips], len(ref_clips), args.repeats)
    print(f"reference (numpy/librosa, one clip at a time): {rate:9.0f} clips/s")

    frontend = TorchFrontend(cfg)
    # float32 input: training feeds the frontend augmented (noise-mixed, shifted) float audio.
    tensor = torch.from_numpy(audio).to(torch.float32) / 32768.0
    missed = False
    for batch in (100, 1000):
        if batch > len(tensor):
            print(f"torch batch {batch}: skipped (only {len(tensor)} clips loaded)")
            continue
        batches = [tensor[i:i + batch] for i in range(0, len(tensor) - batch + 1, batch)]
        with torch.inference_mode():
            frontend.features_int8(batches[0])  # warm-up: allocator and FFT plans
            cpu_start = time.process_time()
            rate = _best_rate(lambda: [frontend.features_int8(b) for b in batches], batch * len(batches), args.repeats)
            cpu_per_clip = (time.process_time() - cpu_start) / (args.repeats * batch * len(batches))
        verdict = "PASS" if rate >= GOAL_CLIPS_PER_S else "MISS"
        missed |= verdict == "MISS"
        print(f"torch batched, batch {batch:4d}, float32 -> int8 features: {rate:9.0f} clips/s"
              f" ({cpu_per_clip * 1e6:.0f} us CPU per clip)  goal {GOAL_CLIPS_PER_S:.0f}: {verdict}")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))  # run as a script from any directory without installing
    raise SystemExit(main())
