"""Benchmark `kws search` throughput: the same trials on a local Ray cluster of 1, 2, ... CPUs (one trial per CPU),
in trials per hour, and what each extra worker adds. A local cluster (ray.init on this machine), stated as such.

    .venv/bin/python tools/bench_search.py                     # search_demo's space, 4 trials, 1 and 2 CPUs
    .venv/bin/python tools/bench_search.py --trials 6 --cpus 1 2 4 --json bench_search.json

Every run searches a fresh folder runs/bench_search_cpuN/ with the same seed and batch size (the largest --cpus),
so every cluster size runs the same trials. Not a test: it takes minutes per cluster size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parents[1]


def _config(source: Path, trials: int, batch: int, folder: Path) -> Path:
    values = tomllib.loads(source.read_text(encoding="utf-8"))
    values.setdefault("search", {}).update(trials=trials, batch_size=batch, real_speech="")
    path = folder / "bench_search.toml"
    path.write_text(tomli_w.dumps(values), encoding="utf-8")
    return path


def bench(config: Path, cpus: int) -> dict:
    import ray

    name = f"bench_search_cpu{cpus}"
    shutil.rmtree(REPO / "runs" / name, ignore_errors=True)
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        address = ray.get_runtime_context().gcs_address
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "kws", "search", "--config", str(config), "--search", name,
                               "--ray-address", address, "--quiet"], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        seconds = time.monotonic() - t0
    finally:
        ray.shutdown()
    if done.returncode != 0:
        raise SystemExit(f"kws search failed on {cpus} CPU(s):\n{done.stdout}\n{done.stderr}")
    rows = json.loads((REPO / "runs" / name / "trials.json").read_text())["trials"]
    ran = [r for r in rows if r.get("repeat_of") is None and r["state"] != "over_budget"]
    return {"cpus": cpus, "trials": len(rows), "trials_run": len(ran), "seconds": round(seconds, 1),
            "trials_per_hour": round(len(ran) / seconds * 3600, 2), "load_before": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "kws" / "configs" / "search_demo.toml")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--cpus", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kws-bench-search-") as tmp:
        config = _config(args.config.resolve(), args.trials, max(args.cpus), Path(tmp))
        rows = []
        for cpus in args.cpus:
            print(f"bench_search: {args.trials} trials on a local Ray cluster of {cpus} CPU(s) ...", file=sys.stderr)
            rows.append(bench(config, cpus))
    print("\n| local Ray cluster | trials run | wall | trials / hour | added by this worker |")
    print("|---:|---:|---:|---:|---:|")
    previous = None
    for r in rows:
        added = "" if previous is None else f"{r['trials_per_hour'] - previous['trials_per_hour']:+.1f}"
        print(f"| {r['cpus']} CPU(s) | {r['trials_run']} | {r['seconds'] / 60:.1f} min | {r['trials_per_hour']:.1f} | "
              f"{added} |")
        previous = r
    loads = ", ".join(f"{r['load_before']:.1f}" for r in rows)
    print(f"\n(load average before each run: {loads}; {os.cpu_count()} cores on this machine)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
