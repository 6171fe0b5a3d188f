"""One trial: a chain of `kws` commands in the search folder, each its own process, and what came of it.

    outcome = run_trial(job)        # TrialOutcome: its objectives (trial.json), or why it failed

The chain, with runs/<search>/ as the working folder (so the trial is the run runs/<search>/runs/t0007/):
  kws train --config configs/t0007.toml --run t0007        the short schedule of the search's base config
  kws quantize --run t0007 --method ptq|qat                 (unpruned trials)
  kws prune --run t0007 --structured                        (pruned trials: the export then calibrates it)
  kws export --run t0007 --from ptq|qat|pruned              ONNX -> TF -> int8 TFLite, compiled to C (kws compile)
  kws eval --run t0007 --board m4 --limit N --restart       the firmware on QEMU's Cortex-M4: instructions, linker
  python -m kws.search.measure --run t0007                  validation accuracy of the int8 model -> search_trial.json

Processes, not function calls: a crash, an out-of-memory kill or a hung stage ends that trial only, TensorFlow
stays out of the search process (kws never imports it), and the same function runs a trial on a Ray worker. Every
stage's process dies with the process that started it (PR_SET_PDEATHSIG), so a killed search or worker leaves no
orphan writing into the trial. A trial started again (a resumed search) continues: `kws train` resumes from its
checkpoint, and a trial whose search_trial.json is complete for the same parameters is not run again.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kws.fsutil import write_json
from kws.search.folder import SearchFolder
from kws.search.space import export_source

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository (PYTHONPATH of every stage, so `python -m kws` works from the search folder)."""
STATES = ("complete", "failed", "over_budget", "killed", "timeout")
"""How a trial ended: measured, a stage failed, it cannot fit the board, a stage was killed, too slow."""
TERM_GRACE_S = 10.0
"""Seconds a stopped stage gets to clean up after SIGTERM before SIGKILL."""
_PR_SET_PDEATHSIG = 1
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs to run one trial (plain values: it travels to Ray workers)."""

    number: int
    """Optuna's trial number."""
    params: dict[str, Any]
    """The sampled parameters (kws.search.space.suggest)."""
    folder: str
    """The search folder, absolute (shared by every worker)."""
    eval_clips: int = 2
    """Test clips the M4 board runs."""
    timeout_s: float = 3600.0
    """The whole chain's time limit."""
    threads: int = 1
    """CPU threads each stage may use (OMP/TF thread counts)."""


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended."""

    number: int
    state: str
    """One of STATES."""
    values: dict[str, Any] = field(default_factory=dict)
    """search_trial.json: the objectives and what else was measured (state 'complete')."""
    reason: str = ""
    """Why it did not complete: the stage and its error, in one line."""
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each stage that ran."""
    host: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "complete"


def stage_commands(job: TrialJob) -> list[tuple[str, list[str]]]:
    """(stage, argv) of the trial's chain."""
    folder = SearchFolder(Path(job.folder))
    name = folder.trial_name(job.number)
    kws = [sys.executable, "-m", "kws"]
    source = export_source(job.params)
    chain = [("train", [*kws, "train", "--config", str(folder.trial_config(job.number)), "--run", name, "--quiet"])]
    if source == "pruned":
        chain.append(("prune", [*kws, "prune", "--run", name, "--structured", "--quiet"]))
    else:
        chain.append(("quantize", [*kws, "quantize", "--run", name, "--method", source, "--quiet"]))
    chain += [("export", [*kws, "export", "--run", name, "--from", source, "--quiet"]),
              ("eval", [*kws, "eval", "--run", name, "--board", "m4", "--limit", str(job.eval_clips), "--restart",
                        "--quiet"]),
              ("measure", [sys.executable, "-m", "kws.search.measure", "--run", name])]
    return chain


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the stage may outlive a killed search
        pass


def _environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    n = str(max(1, threads))
    env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS="1",
               OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                                  env.get("PYTHONPATH")])))
    return env


def _error_line(text: str, limit: int = 400) -> str:
    """The stage's own error line (kws prints 'kws: error: ...'), with the lines it introduces when it ends in a
    colon (a compiler's messages); else its last non-empty line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(("kws: error:", "error:", "MemoryError", "RuntimeError", "Traceback")):
            found = lines[i]
            if found.endswith(":"):
                found = " ".join([found, *lines[i + 1:i + 4]])
            return found[:limit]
    return lines[-1][:limit] if lines else "no output"


def classify(stage: str, returncode: int, text: str) -> tuple[str, str]:
    """(state, reason) of a stage that exited with `returncode` after writing `text`."""
    lowered = text.lower()
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        cause = " (the kernel's out-of-memory killer, or someone)" if -returncode == signal.SIGKILL else ""
        return "killed", f"{stage}: killed by {name}{cause}"
    line = _error_line(text)
    if "memoryerror" in lowered or "out of memory" in lowered or "cannot allocate memory" in lowered:
        return "failed", f"{stage}: out of memory: {line}"
    # The export's budget check (BudgetError: "the model does not fit <board>") and the M4 link ("region FLASH
    # overflowed by N bytes"); only those stages can say so.
    if stage in ("export", "eval") and ("overflowed by" in lowered or "model does not fit" in lowered):
        return "over_budget", f"{stage}: does not fit the board: {line}"
    return "failed", f"{stage}: exit status {returncode}: {line}"


def _write_status(folder: SearchFolder, number: int, stage: str, pid: int | None) -> None:
    write_json(folder.trial_status(number), {"trial": number, "stage": stage, "pid": pid, "worker_pid": os.getpid(),
                                             "host": socket.gethostname(), "since": time.time()})


def _finished(folder: SearchFolder, job: TrialJob) -> dict[str, Any] | None:
    """search_trial.json of an earlier run of this very trial (same parameters), complete; else None."""
    path = folder.trial_result(job.number)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values if values.get("params") == job.params and "val_accuracy" in values else None


def stop_running_stages() -> None:
    """Stop every stage this process is running now (a search interrupted with Ctrl-C or SIGTERM)."""
    with _RUNNING_LOCK:
        processes = list(_RUNNING)
    for process in processes:
        if process.poll() is None:
            _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM first (kws turns it into Ctrl-C: an emulated board stops its QEMU, which runs in a session of its
    own), SIGKILL for whatever is left after a grace period."""
    for sig, grace in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue


def run_stage(argv: list[str], cwd: Path, log: Path, timeout: float, threads: int,
              on_start: Callable[[int], None] = lambda pid: None) -> tuple[int | None, str]:
    """Run one stage; (return code or None after a timeout, its output). Its output is appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n")
        handle.flush()
        start = handle.tell()
        process = subprocess.Popen(argv, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=_environment(threads), process_group=0, preexec_fn=_die_with_parent)
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        on_start(process.pid)
        try:
            code: int | None = process.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if process.poll() is None:  # a timeout, or this worker is being stopped: the stage's group goes too
                _stop_group(process)
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
    with open(log, encoding="utf-8", errors="replace") as handle:
        handle.seek(start)
        return code, handle.read()


def run_trial(job: TrialJob) -> TrialOutcome:
    """Run the trial's chain (see the module docstring); never raises for a failing stage."""
    folder = SearchFolder(Path(job.folder))
    started = time.monotonic()
    host = socket.gethostname()
    done = _finished(folder, job)
    if done is not None:
        return TrialOutcome(job.number, "complete", done, seconds=0.0, host=host)
    for path in (folder.trial_run(job.number).dir, folder.trial_status(job.number).parent):
        path.mkdir(parents=True, exist_ok=True)
    log = folder.trial_log(job.number)
    stages: dict[str, float] = {}
    for stage, argv in stage_commands(job):
        left = job.timeout_s - (time.monotonic() - started)
        t0 = time.monotonic()
        code, text = run_stage(argv, folder.dir, log, left, job.threads,
                               lambda pid, stage=stage: _write_status(folder, job.number, stage, pid))
        stages[stage] = round(time.monotonic() - t0, 1)
        elapsed = time.monotonic() - started
        if code is None:
            reason = f"{stage}: still running after the trial's {job.timeout_s:g} s (search.trial_timeout_s)"
            return TrialOutcome(job.number, "timeout", {}, reason, elapsed, stages, host)
        if code != 0:
            state, reason = classify(stage, code, text)
            return TrialOutcome(job.number, state, {}, reason, elapsed, stages, host)
    _write_status(folder, job.number, "done", None)
    values = json.loads(folder.trial_result(job.number).read_text(encoding="utf-8"))
    values.update(params=job.params, stage_seconds=stages, seconds=round(time.monotonic() - started, 1), host=host)
    write_json(folder.trial_result(job.number), values)
    return TrialOutcome(job.number, "complete", values, "", values["seconds"], stages, host)


__all__ = ["REPO_ROOT", "STATES", "TrialJob", "TrialOutcome", "classify", "run_stage", "run_trial", "stage_commands",
           "stop_running_stages"]
