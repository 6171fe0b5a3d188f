"""Atomic file and directory writes: artifacts appear whole under their final name, or not at all.

Every stage writes through these helpers, so a crash or Ctrl-C never leaves a half-made dataset,
model or journal behind under a name that later stages would trust.

    from kws.fsutil import atomic_write_bytes, atomic_directory
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    umask = os.umask(0)  # the only way to read it is to set it: put it back at once
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """0o666 less the process umask: what open() would give a new file (mkstemp gives 0o600)."""
    return 0o666 & ~_umask()


def _default_dir_mode() -> int:
    """0o777 less the process umask: what mkdir() would give a new folder (mkdtemp gives 0o700)."""
    return 0o777 & ~_umask()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _default_mode())  # artifacts are shared with people and tools, not secrets
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """atomic_write_bytes for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """A copy with NaN and infinities as None (strict JSON has neither), tuples as lists, numpy scalars as Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Strict JSON (no NaN/Infinity: see json_safe), indented, written atomically."""
    return atomic_write_text(path, json.dumps(json_safe(value), indent=1, allow_nan=False) + "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_leftovers(target: Path) -> list[Path]:
    """Delete what a killed writer of `target` left beside it: `.name.<pid>.*.partial` folders, `.name.<pid>.*.tmp*`
    files and `.name.old-<pid>` folders whose process is gone (SIGKILL runs no cleanup). Names without a pid
    (written by an older kws) go once they are an hour old. Returns what was removed."""
    removed = []
    prefix = f".{target.name}."
    for path in target.parent.glob(glob_escape(prefix) + "*"):
        rest = path.name[len(prefix):]
        if not (rest.endswith(".partial") or ".tmp" in rest or rest.startswith("old-")):
            continue
        pid_text = rest[4:] if rest.startswith("old-") else rest.split(".", 1)[0]
        if pid_text.isdigit():
            stale = not _alive(int(pid_text))
        else:
            stale = time.time() - path.lstat().st_mtime > 3600
        if stale:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def glob_escape(text: str) -> str:
    """`text` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path beside `path`; on success rename it to `path`, on error delete it.

    For writers that want a file name (np.save, torch.save, soundfile) rather than bytes.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp" + target.suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, _default_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside `path`; on success it becomes `path`.

    On any error (or KeyboardInterrupt) the temporary directory is removed and `path` is untouched.
    If `path` already exists: with replace=True the old one is swapped out after the new one is
    complete; otherwise FileExistsError is raised before any work starts.
    """
    target = Path(path)
    if target.exists() and not replace:
        raise FileExistsError(f"{target} already exists; remove it or ask to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".partial", dir=target.parent))
    try:
        # Private while it is built; shared like any other folder once it is whole (its files already are).
        yield tmp
        os.chmod(tmp, _default_dir_mode())
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(target.parent)
