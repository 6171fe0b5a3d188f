"""One search folder, `runs/<search>/`, as one object: every path a search writes (as kws.run.Run is for a run).

    folder = SearchFolder.named("search_demo")
    folder.storage, folder.trials_csv, folder.front_png, folder.trial_run(7)    # runs/search_demo/runs/t0007/

Layout:
  search.toml            the search's resolved config (its identity: a rerun with another space is refused)
  base_config.toml       the pipeline config every trial starts from, resolved
  study.journal          Optuna's study (JournalStorage: an append-only log, so a killed search loses nothing)
  trials.csv / .md / .json   one row per trial: parameters, objectives, state, reason
  front.png              the Pareto front: accuracy vs instructions (size RAM, colour flash), the budget drawn
  real_speech.json       the front's models on real speech: a check, never optimised
  configs/t0007.toml     the trial's config (base + its parameters)
  runs/t0007/            the trial as a normal run (kws train/quantize/prune/export/eval wrote it); its
                         search_trial.json holds the measured objectives
  logs/t0007.log         the output of the trial's commands; status/t0007.json its stage, process and host
Trial runs live under runs/<search>/runs/ because every trial command runs with runs/<search>/ as its working
folder, so `kws ... --run t0007` finds them by the one rule of kws.run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kws.run import RUNS_DIR, Run

TRIAL_PREFIX = "t"


@dataclass(frozen=True)
class SearchFolder:
    """The folder of one search."""

    dir: Path

    @classmethod
    def named(cls, name: str, root: str | Path = RUNS_DIR) -> "SearchFolder":
        """runs/<name>/ (the same name rules as a run: RunError for one that cannot be a folder)."""
        return cls(Run.named(name, root).dir)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def search_config(self) -> Path:
        return self.dir / "search.toml"

    @property
    def base_config(self) -> Path:
        return self.dir / "base_config.toml"

    @property
    def storage(self) -> Path:
        return self.dir / "study.journal"

    @property
    def trials_csv(self) -> Path:
        return self.dir / "trials.csv"

    @property
    def trials_md(self) -> Path:
        return self.dir / "trials.md"

    @property
    def trials_json(self) -> Path:
        return self.dir / "trials.json"

    @property
    def front_png(self) -> Path:
        return self.dir / "front.png"

    @property
    def real_speech(self) -> Path:
        """The front's models on real speech (a check, never an objective): accuracy by trial."""
        return self.dir / "real_speech.json"

    @property
    def configs_dir(self) -> Path:
        return self.dir / "configs"

    @property
    def runs_dir(self) -> Path:
        """Where trial runs live: the working folder's runs/ of every trial command."""
        return self.dir / RUNS_DIR

    @staticmethod
    def trial_name(number: int) -> str:
        return f"{TRIAL_PREFIX}{number:04d}"

    def trial_config(self, number: int) -> Path:
        return self.configs_dir / f"{self.trial_name(number)}.toml"

    def trial_run(self, number: int) -> Run:
        return Run.at(self.runs_dir / self.trial_name(number))

    def trial_result(self, number: int) -> Path:
        """The measured objectives of the trial (written last by kws.search.measure): its run's search_trial.json."""
        return self.trial_run(number).search_trial

    def trial_status(self, number: int) -> Path:
        """Where the trial is now: its stage, the process running it, the host (rewritten at every stage)."""
        return self.dir / "status" / f"{self.trial_name(number)}.json"

    def trial_log(self, number: int) -> Path:
        """The output of every command of the trial."""
        return self.dir / "logs" / f"{self.trial_name(number)}.log"

    @property
    def lock_run(self) -> Run:
        """The search folder as a Run, for its lock: one search process per folder."""
        return Run.at(self.dir)


__all__ = ["SearchFolder", "TRIAL_PREFIX"]
