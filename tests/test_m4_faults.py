"""The M4 board dying in the middle of `kws eval --board m4` is handled as a board reset: the session boots the
board again (a fresh QEMU on a new pty) and runs the clip in flight again, so the evaluation finishes in one
go with the totals of an uninterrupted one; a board that cannot be booted again stops the evaluation with exit
2 and one line naming the journal, and the rerun resumes to the same totals.

    .venv/bin/python -m pytest -q tests/test_m4_faults.py

Each evaluation runs as the user runs it (`python -m kws eval ... --feed features` in a subprocess: a clip in a
tenth of the time audio takes over QEMU's UART, and the same session, journal and faults) on one copy of the
tiny exported run (tests/tiny_export.py) and real clips; QEMU is found as a child of that process (psutil) and
killed with SIGKILL once the journal holds a few clips.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import REPO_ROOT
from m4_support import require_m4

CLIPS = 8
KILL_AFTER = 3
"""Clips in the journal when QEMU is killed."""
VARYING = ("latency", "link", "attempts")
"""summary.json fields that legitimately differ between an interrupted and an uninterrupted evaluation."""


@pytest.fixture(scope="module")
def project(tiny_export, tmp_path_factory) -> Path:
    """runs/tiny copied once: every evaluation here starts afresh or resumes in it, so the firmware is built once
    (its objects' names carry their include paths)."""
    root = tmp_path_factory.mktemp("m4_faults")
    shutil.copytree(tiny_export, root / "runs" / "tiny", ignore=shutil.ignore_patterns("saved_model"))
    return root


def start_eval(project: Path, data: Path, *, fresh: bool, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`kws eval --board m4` on the project's run; fresh: its eval/ removed first (no journal to resume)."""
    if fresh:
        shutil.rmtree(project / "runs" / "tiny" / "eval", ignore_errors=True)
    command = [sys.executable, "-m", "kws", "eval", "--run", "tiny", "--board", "m4", "--limit", str(CLIPS),
               "--data", str(data), "--feed", "features", "--quiet", "--timeout", "5"]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.Popen(command, cwd=project, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of an evaluation."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def kill_qemu_when_journal_holds(process: subprocess.Popen, journal: Path, clips: int) -> int:
    """SIGKILL the QEMU that `process` started once `journal` holds `clips` clips; QEMU's pid."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the evaluation ended before QEMU was killed: {process.communicate()[1]}"
        lines = journal.read_text(encoding="utf-8").splitlines() if journal.exists() else []
        if len(lines) - 1 >= clips:  # a header, then one line per clip
            qemus = [p for p in psutil.Process(process.pid).children(recursive=True)
                     if p.name().startswith("qemu-system")]
            assert len(qemus) == 1, qemus
            qemus[0].send_signal(signal.SIGKILL)
            return qemus[0].pid
        time.sleep(0.02)
    raise AssertionError(f"{journal} never held {clips} clips")


def summary(project: Path) -> dict:
    return json.loads((project / "runs" / "tiny" / "eval" / "summary.json").read_text(encoding="utf-8"))


def totals(project: Path) -> dict:
    return {k: v for k, v in summary(project).items() if k not in VARYING}


@pytest.fixture(scope="module")
def uninterrupted(project, sc_real_dev) -> dict:
    require_m4()
    code, _, err = finish(start_eval(project, sc_real_dev, fresh=True))
    assert code == 0, err
    assert summary(project)["link"]["reconnects"] == 0
    return totals(project)


def test_a_killed_board_is_booted_again_and_the_evaluation_finishes_in_one_go(project, sc_real_dev, uninterrupted):
    process = start_eval(project, sc_real_dev, fresh=True)
    pid = kill_qemu_when_journal_holds(process, project / "runs" / "tiny" / "eval" / "journal.jsonl", KILL_AFTER)
    code, _, err = finish(process)
    assert code == 0, err
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert totals(project) == uninterrupted  # scores, accuracy, confusion: nothing lost, nothing counted twice
    link = summary(project)["link"]
    assert link["reconnects"] == 1 and link["clip_retries"] == 1 and link["handshakes"] == 2


def test_a_board_that_cannot_boot_again_stops_the_evaluation_naming_the_journal(project, sc_real_dev, uninterrupted,
                                                                                 tmp_path):
    from kws.device.m4 import qemu

    # QEMU as a wrapper that starts once: the board boots, is killed, and never comes back.
    started, wrapper = tmp_path / "started", tmp_path / "qemu-once"
    wrapper.write_text(f'#!/bin/sh\nif [ -e "{started}" ]; then echo "qemu-once: no second start" >&2; exit 1; fi\n'
                       f'touch "{started}"\nexec "{qemu()}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    journal = project / "runs" / "tiny" / "eval" / "journal.jsonl"
    process = start_eval(project, sc_real_dev, fresh=True, env={"KWS_QEMU_ARM": str(wrapper)})
    kill_qemu_when_journal_holds(process, journal, KILL_AFTER)
    code, _, err = finish(process)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    print(f"\n{lines[0]}")
    assert lines[0].startswith("kws: error: the board on /dev/pts/") and "stopped answering during clip" in lines[0]
    assert "could not be started again" in lines[0] and "no second start" in lines[0]
    done = len(journal.read_text(encoding="utf-8").splitlines()) - 1
    assert done >= KILL_AFTER
    relative = journal.relative_to(project)  # as the command names it, run from the project
    assert f"{relative} keeps the {done} clips finished before it: rerun the same command to resume" in lines[0]

    code, out, err = finish(start_eval(project, sc_real_dev, fresh=False))  # the same command, without the failing QEMU
    assert code == 0, err
    assert f"{CLIPS - done} evaluated now, {done} from the journal" in out
    assert totals(project) == uninterrupted
