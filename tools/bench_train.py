"""Training throughput benchmark: the tiny_conv recipe's step time with real augmentation and features.

    .venv/bin/python tools/bench_train.py [--data DIR] [--steps 200] [--batch 100]

Times `--steps` real training steps (seeded batches from the clip bank, background-noise mixing and
time shift, the batched torch frontend to int8, tiny_conv forward/backward, Adam) after a warm-up,
then extrapolates the full TensorFlow recipe (18,000 steps x 100 clips; goal: at most 30 minutes on
2 cores) and the demo config's schedule (goal: at most 3 minutes). Prints PASS/MISS per goal and the
load average, since a busy machine gives lower figures. Uses ../shared/data/sc-mini when --data is
not given (real audio; any full-layout dataset works).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "sc-mini")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"bench_train: dataset {args.data} not found; pass --data (e.g. data/synth after `make data`)")
        return 2

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as kws.cli does; must precede the torch import
    import torch
    import torch.nn.functional as F

    from kws.config import load_config
    from kws.models import build_model
    from kws.prepared_data import FeatureExtractor, prepare_data
    from kws.train import schedule

    overrides = [f"data.data_dir={args.data}", "data.split_method=hash", f"training.batch_size={args.batch}",
                 "data.cache_dir=runs/cache"]
    if "sc-mini" in str(args.data):
        overrides.append("data.wanted_words=['up','down','left','right']")  # words present in every split there
    config = load_config(None, overrides)
    demo = load_config(REPO / "kws" / "configs" / "demo.toml")
    extractor = FeatureExtractor(config)
    data = prepare_data(config, extractor, progress=False)
    model = build_model(config.model, config.frontend, len(config.data.labels()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i: int) -> None:
        audio, y = data.batches.batch(i)
        loss = F.cross_entropy(model(extractor(audio)), torch.as_tensor(y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    for i in range(args.warmup):
        step(i)
    started = time.perf_counter()
    for i in range(args.steps):
        step(args.warmup + i)
    per_step = (time.perf_counter() - started) / args.steps
    clips_per_s = args.batch / per_step
    full_steps = schedule(config)[-1][0]
    demo_steps = schedule(demo)[-1][0]
    full_min = full_steps * per_step * (100 / args.batch) / 60
    demo_min = demo_steps * per_step * (demo.training.batch_size / args.batch) / 60
    load = os.getloadavg()[0]
    print(f"bench_train: {args.steps} steps of {args.batch} clips on {args.data.name}: {per_step * 1000:.1f} ms/step, "
          f"{clips_per_s:,.0f} clips/s (torch threads {torch.get_num_threads()}, load average {load:.1f})")
    print(f"  full TF recipe ({full_steps:,} steps x 100): {full_min:.1f} min  goal <= 30 min: "
          f"{'PASS' if full_min <= 30 else 'MISS'}")
    print(f"  demo schedule ({demo_steps:,} steps x {demo.training.batch_size}): {demo_min:.1f} min of steps "
          f"(+ evaluation)  goal <= 3 min: {'PASS' if demo_min <= 3 else 'MISS'}")
    if load > 2.5:
        print("  note: the machine is busy; these figures are lower bounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
