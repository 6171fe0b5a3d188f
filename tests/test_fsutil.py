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
