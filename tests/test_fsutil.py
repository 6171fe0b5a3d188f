"""Atomic writes: whole or absent, and with the modes a plain open()/mkdir() would give (not mkstemp's 0600/0700).

    .venv/bin/python -m pytest tests/test_fsutil.py -q
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

from kws.fsutil import atomic_directory, atomic_path, atomic_write_bytes


@pytest.fixture(params=[0o022, 0o027, 0o077], ids=["022", "027", "077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_directory_gets_the_mode_mkdir_would_give(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "dataset"
    with atomic_directory(target) as tmp:
        (tmp / "inner").mkdir()
        atomic_write_bytes(tmp / "inner" / "a.txt", b"a")
    assert _mode(target) == 0o777 & ~umask
    assert _mode(target / "inner") == 0o777 & ~umask
    assert _mode(target / "inner" / "a.txt") == 0o666 & ~umask


def test_atomic_directory_replace_gets_the_same_mode(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "export"
    target.mkdir(mode=0o700)
    with atomic_directory(target, replace=True) as tmp:
        (tmp / "model.onnx").write_bytes(b"x")
    assert _mode(target) == 0o777 & ~umask and (target / "model.onnx").is_file()


def test_atomic_files_get_the_mode_open_would_give(tmp_path: Path, umask: int) -> None:
    assert _mode(atomic_write_bytes(tmp_path / "a.bin", b"a")) == 0o666 & ~umask
    with atomic_path(tmp_path / "b.npy") as tmp:
        tmp.write_bytes(b"b")
    assert _mode(tmp_path / "b.npy") == 0o666 & ~umask


def test_atomic_directory_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(target) as tmp:
            (tmp / "half").write_bytes(b"x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    target.mkdir()
    with pytest.raises(FileExistsError):
        with atomic_directory(target):
            pass


KILLED_WRITER = """
import sys, time
from pathlib import Path
from kws.fsutil import atomic_directory, atomic_path
target = Path(sys.argv[1])
with atomic_directory(target / "export", replace=True) as tmp, atomic_path(target / "model.pt") as f:
    (tmp / "half.bin").write_bytes(b"x")
    f.write_bytes(b"half")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from kws.fsutil import atomic_directory, atomic_path

    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    os.kill(writer.pid, signal.SIGKILL)  # no cleanup runs: what SIGKILL during `kws export` leaves
    writer.wait()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert any(n.startswith(f".export.{writer.pid}.") and n.endswith(".partial") for n in left), left
    assert any(n.startswith(f".model.pt.{writer.pid}.") for n in left), left
    legacy = tmp_path / ".export.k3j2h1g0.partial"  # named by an older kws (no pid): kept while it may be live
    legacy.mkdir()
    with atomic_directory(tmp_path / "export", replace=True) as tmp:
        (tmp / "whole.bin").write_bytes(b"y")
    with atomic_path(tmp_path / "model.pt") as f:
        f.write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [legacy.name, "export", "model.pt"]
    os.utime(legacy, (0, 0))  # an hour old and more: a leftover
    with atomic_directory(tmp_path / "export", replace=True):
        pass
    assert not legacy.exists()
