"""One run folder, `runs/<name>/`, as one object: every artifact path, the run's config, what is missing.

    from kws.run import Run
    run = Run.named("demo")                      # runs/demo/ under the current folder
    config = run.config()                        # config.toml + deploy.toml overlay (+ --set overrides)
    run.require("export")                        # KwsError naming the file and `make export RUN=demo` if absent
    run.model_checkpoint("qat"), run.export_model, run.eval_summary, run.report_dir, ...

No other module spells a path inside a run folder: stages ask their Run.

The config rule, the same in every command: the base is `--config FILE` when given, else the run's own
config.toml (written by `kws train` / `kws config show --run`), else the defaults; the calibrated deploy.toml
overlay of the run (written by `kws calibrate`) is applied on top of the base whatever it is; `--set`
overrides come last and win. `base_config` (used by the commands that write config.toml) leaves the overlay
out, because config.toml is what the overlay is laid over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from kws.config import ConfigError, KwsConfig, config_to_dict, load_config_values
from kws.errors import KwsError

RUNS_DIR = Path("runs")
"""Where runs live, relative to the folder `kws` and `make` run in."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CHECKPOINT_SOURCES = ("float", "ptq", "qat", "pruned")
"""The model checkpoints a run can hold: model_<source>.pt."""

# What each stage leaves behind, and the make target that makes it (for "run X has no <stage>" errors).
_STAGES: dict[str, tuple[str, str]] = {
    "config": ("config_path", "make train RUN={run}   (or: kws config show --config FILE --run {run})"),
    "train": ("float_model", "make train RUN={run}"),
    "ptq": ("ptq_model", "make quantize RUN={run} QUANT=ptq"),
    "qat": ("qat_model", "make quantize RUN={run} QUANT=qat"),
    "pruned": ("pruned_model", "make prune RUN={run}"),
    "export": ("parity", "make export RUN={run}"),
    "eval": ("eval_summary", "make eval RUN={run}"),
    "stream": ("stream_summary", "make stream RUN={run}"),
    "calibrate": ("deploy_overlay", "make calibrate RUN={run}"),
}


class RunError(KwsError):
    """A run name that cannot be a folder, or a stage's output that is not there yet."""


class RunBusy(RunError):
    """Another process is writing into the run folder."""


@dataclass(frozen=True)
class Run:
    """The folder of one run and the name of every file the stages write into it."""

    dir: Path
    """The run folder (runs/<name>/ for a named run)."""

    @classmethod
    def named(cls, name: str, root: str | Path = RUNS_DIR) -> "Run":
        """runs/<name>/; RunError for a name that is not one plain folder name."""
        if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
            raise RunError(f"run name {name!r} must be one plain folder name (letters, digits, '.', '_', '-'; "
                           f"no '/', no leading '.'); it becomes {Path(root)}/<name>/")
        return cls(Path(root) / name)

    @classmethod
    def at(cls, folder: str | Path) -> "Run":
        """A run folder given by path (tests, or a run kept elsewhere)."""
        return cls(Path(folder))

    @property
    def name(self) -> str:
        return self.dir.name

    # ----------------------------------------------------------------------------------- training
    @property
    def config_path(self) -> Path:
        return self.dir / "config.toml"

    @property
    def deploy_overlay(self) -> Path:
        """Written by `kws calibrate`: the chosen recognizer settings, laid over config.toml."""
        return self.dir / "deploy.toml"

    @property
    def checkpoints_dir(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        """Where training resumes from."""
        return self.checkpoints_dir / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / "best.pt"

    @property
    def init_checkpoint(self) -> Path:
        """The initial weights (lottery-ticket rewinding)."""
        return self.checkpoints_dir / "init.pt"

    def model_checkpoint(self, source: str) -> Path:
        """model_<source>.pt for source float, ptq, qat or pruned."""
        if source not in CHECKPOINT_SOURCES:
            raise RunError(f"checkpoint source must be one of {', '.join(CHECKPOINT_SOURCES)}, got {source!r}")
        return self.dir / f"model_{source}.pt"

    @property
    def float_model(self) -> Path:
        return self.model_checkpoint("float")

    @property
    def ptq_model(self) -> Path:
        return self.model_checkpoint("ptq")

    @property
    def qat_model(self) -> Path:
        return self.model_checkpoint("qat")

    @property
    def pruned_model(self) -> Path:
        return self.model_checkpoint("pruned")

    @property
    def metrics(self) -> Path:
        return self.dir / "metrics.json"

    @property
    def calibration_clips(self) -> Path:
        """The clips chosen for int8 calibration (written by training, read by quantize and export)."""
        return self.dir / "calibration.json"

    @property
    def training_curves(self) -> Path:
        return self.dir / "training_curves.png"

    @property
    def confusion_matrix(self) -> Path:
        return self.dir / "confusion_matrix.png"

    def quant_report(self, method: str) -> Path:
        return self.dir / f"quant_{method}.json"

    @property
    def prune_rounds_dir(self) -> Path:
        return self.dir / "prune"

    @property
    def prune_report_json(self) -> Path:
        return self.dir / "prune_report.json"

    @property
    def prune_report_md(self) -> Path:
        return self.dir / "prune_report.md"

    @property
    def prune_plot(self) -> Path:
        return self.dir / "pruning.png"

    # ----------------------------------------------------------------------------------- export
    @property
    def export_dir(self) -> Path:
        return self.dir / "export"

    @property
    def export_model(self) -> Path:
        """The full-int8 TFLite flatbuffer."""
        return self.export_dir / "model_int8.tflite"

    @property
    def generated_dir(self) -> Path:
        """Generated C for the firmware (model array, kws_settings.h, frontend tables)."""
        return self.export_dir / "generated"

    @property
    def aot_dir(self) -> Path:
        """The model compiled to plain C by `kws compile` (kws_model_aot.c/.h): the board's default backend."""
        return self.export_dir / "aot"

    @property
    def parity(self) -> Path:
        """parity.json: the last file the export writes (Make's target for the export)."""
        return self.export_dir / "parity.json"

    # ----------------------------------------------------------------------------------- device
    @property
    def sketch_root(self) -> Path:
        return self.dir / "sketch"

    @property
    def emulator_port_file(self) -> Path:
        return self.dir / "emulator.port"

    # ----------------------------------------------------------------------------------- evaluation
    @property
    def eval_dir(self) -> Path:
        return self.dir / "eval"

    @property
    def journal(self) -> Path:
        return self.eval_dir / "journal.jsonl"

    @property
    def eval_scores(self) -> Path:
        return self.eval_dir / "scores.npz"

    @property
    def eval_summary(self) -> Path:
        return self.eval_dir / "summary.json"

    @property
    def stream_dir(self) -> Path:
        return self.eval_dir / "stream"

    @property
    def stream_summary(self) -> Path:
        return self.stream_dir / "summary.json"

    @property
    def real_speech(self) -> Path:
        """The model on a whole folder of real speech, both label mappings (make bench-real)."""
        return self.eval_dir / "real.json"

    @property
    def calibration_result(self) -> Path:
        """The recognizer calibration's sweep and choice (kws calibrate)."""
        return self.eval_dir / "calibration.json"

    @property
    def calibration_plot(self) -> Path:
        return self.eval_dir / "calibration.png"

    @property
    def report_dir(self) -> Path:
        return self.dir / "report"

    # ----------------------------------------------------------------------------------- search
    @property
    def search_trial(self) -> Path:
        """A search trial's measured objectives and parameters (kws search); in a run made by `kws search pick`,
        also the search and trial it came from."""
        return self.dir / "search_trial.json"

    @property
    def search_front(self) -> Path:
        """The search's front plot, copied when `kws search pick` made this run."""
        return self.dir / "search_front.png"

    # ----------------------------------------------------------------------------------- the lock
    @property
    def lock_path(self) -> Path:
        return self.dir / ".lock"

    @contextlib.contextmanager
    def lock(self, what: str) -> Iterator["Run"]:
        """Hold the run while `what` (e.g. 'kws eval') writes into it; RunBusy naming the pid that holds it.

        An flock on runs/<name>/.lock: the kernel releases it when its process dies, so a lock left by a
        killed process never blocks (the file stays, empty or naming the dead holder, and is taken over)."""
        created = [d for d in (self.dir, *self.dir.parents) if not d.exists()]  # runs/ too, on a first run
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RunBusy(f"run {self.name} is busy ({holder}); wait for it to finish, or stop it and run this "
                          f"again") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, {what}, since {time.strftime('%H:%M:%S')}\n".encode(), 0)
            yield self
        finally:
            os.ftruncate(fd, 0)
            if created and [p.name for p in self.dir.iterdir()] == [self.lock_path.name]:
                self.lock_path.unlink()  # a command that failed before writing anything leaves no folder
                for folder in created:
                    with contextlib.suppress(OSError):  # not empty: something else lives there now
                        folder.rmdir()
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # ----------------------------------------------------------------------------------- stages
    def require(self, stage: str) -> Path:
        """The stage's main output; RunError naming where it looked and the make target that makes it."""
        attribute, target = _STAGES[stage]
        path: Path = getattr(self, attribute)
        if not path.exists():
            raise RunError(f"run {self.name} has no {stage} output yet: {path} is missing{self.where()}; "
                           f"make it with `{target.format(run=self.name)}`")
        return path

    def where(self) -> str:
        """' (looked in /abs/runs/x; ...)' for messages about a missing file of a relative run folder, with the
        folder above the current one that does hold this run, if any (kws was started in another folder)."""
        if self.dir.is_absolute():
            return ""
        text = f" (looked in {self.dir.resolve()}"
        relative = self.dir
        for parent in Path.cwd().resolve().parents:
            if (parent / relative / "config.toml").is_file():
                return text + f"; {parent / relative} exists: run kws from {parent})"
        return text + ")"

    # ----------------------------------------------------------------------------------- config
    def base_config(self, config_file: str | Path | None = None, overrides: Sequence[str] = ()) -> KwsConfig:
        """--config FILE, else config.toml if the run has one, else the defaults; then --set. No overlay."""
        return load_config_values(self._base_layers(config_file), overrides)

    def config(self, config_file: str | Path | None = None, overrides: Sequence[str] = ()) -> KwsConfig:
        """The run's config by the one rule of the module docstring: base, deploy.toml overlay, --set."""
        layers = self._base_layers(config_file)
        if self.deploy_overlay.is_file():
            layers.append((self.deploy_overlay, read_deploy_overlay(self.deploy_overlay)))
        return load_config_values(layers, overrides)

    def require_config(self, overrides: Sequence[str] = ()) -> KwsConfig:
        """config() of a run that must exist already (stages after training)."""
        self.require("config")
        return self.config(None, overrides)

    def _base_layers(self, config_file: str | Path | None) -> list[tuple[Path, Mapping[str, Any]]]:
        path = Path(config_file) if config_file is not None else self.config_path
        if config_file is None and not path.is_file():
            return []
        return [(path, _read_toml(path))]


def as_run(run: "Run | str | Path") -> Run:
    """A Run for a Run or a run folder's path (the stage functions accept both)."""
    return run if isinstance(run, Run) else Run.at(run)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file (not UTF-8): pass a TOML config") from None


def read_deploy_overlay(path: str | Path) -> dict[str, Any]:
    """The recognizer settings of a deploy.toml as a config layer ({"deploy": {...}}; the board stays the
    config's: calibration chooses recognizer settings, not hardware)."""
    path = Path(path)
    values = _read_toml(path)
    unknown = sorted(set(values) - {"deploy"})
    if unknown:
        raise ConfigError(f"{path} may only hold a [deploy] section, found {', '.join(unknown)}; rerun kws calibrate")
    deploy = values.get("deploy", {})
    return {"deploy": {k: v for k, v in deploy.items() if k != "board"}}


def deploy_overlay_text(deploy: Any) -> str:
    """The text of a deploy.toml for a DeployConfig (what `kws calibrate` writes)."""
    import tomli_w

    return ("# Written by `kws calibrate`: recognizer settings chosen on the labelled stream.\n"
            + tomli_w.dumps({"deploy": config_to_dict(deploy)}))


__all__ = ["CHECKPOINT_SOURCES", "RUNS_DIR", "Run", "RunBusy", "RunError", "as_run", "deploy_overlay_text",
           "read_deploy_overlay"]
