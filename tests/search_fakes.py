"""Stand-in trial functions for the search's own tests: objectives computed from the parameters in milliseconds,
so the study machinery (batches, seeds, resume after a kill, failures) is tested without training anything.

    from search_fakes import fake_trial, search_config
    run_search(search_config(trials=10), folder, LocalExecutor(2, fake_trial), BASE)

    python tests/search_fakes.py FOLDER TRIALS DELAY     # the same search in a process a test can kill
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from kws.config import KwsConfig, config_to_dict
from kws.search.space import SearchConfig, search_config_from_values
from kws.search.trial import TrialJob, TrialOutcome

BASE = config_to_dict(KwsConfig())
CRASH = 3
"""The trial number whose trial function raises."""
KILLED = 5
"""The trial number whose outcome is a stage killed by SIGKILL."""


def search_config(trials: int = 10, **search: Any) -> SearchConfig:
    return search_config_from_values({
        "search": {"trials": trials, "batch_size": 2, "startup_trials": 4, "seed": 5, **search},
        "space": {"tiny_conv": {"filters": [2, 4, 8, 16], "kernel_time": [4, 10], "pruning": [0.0, 0.5]},
                  "ds_cnn": {"width": [8, 16], "depth": [1, 2]}, "features": {"mel_bins": [20, 40]}},
        "baseline": [{"model": "tiny_conv", "filters": 8, "features": "logmel", "mel_bins": 40}]})


def objectives(params: dict[str, Any]) -> dict[str, Any]:
    size = params.get("filters", params.get("width", 1)) * params["mel_bins"] * (1 + params.get("depth", 0))
    return {"val_accuracy": round(0.5 + (size % 41) / 100, 4), "instructions": size * 1000,
            "flash": 60_000 + size * 10, "ram": 40_000 + size, "params": params}


def fake_trial(job: TrialJob, delay: float = 0.0) -> TrialOutcome:
    time.sleep(delay)
    if job.number == CRASH:
        raise RuntimeError("boom (a trial function that raises)")
    if job.number == KILLED:
        return TrialOutcome(job.number, "killed", reason="train: killed by SIGKILL (the kernel's out-of-memory "
                                                          "killer, or someone)")
    return TrialOutcome(job.number, "complete", objectives(job.params), seconds=delay)


def main() -> int:
    from kws.search.executors import LocalExecutor
    from kws.search.folder import SearchFolder
    from kws.search.study import run_search

    folder, trials, delay = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    with LocalExecutor(2, lambda job: fake_trial(job, delay)) as executor:
        run_search(search_config(trials), SearchFolder(folder), executor, BASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
