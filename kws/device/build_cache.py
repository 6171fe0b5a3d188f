"""Content-named build outputs, reused when present and written whole: the step both C builds share
(kws.device.cbuild for the host, kws.device.m4_build for the Cortex-M4).

    from kws.device.build_cache import build_once, compiler_identity
    key = my_digest(compiler_identity(cc), command, sources)      # the caller decides what the key covers
    obj = build_once(obj_dir / f"main-{key}.o", lambda partial: [*command, "-o", str(partial)],
                     lambda run: MyBuildError(run.stderr), sidecars=(".su",))

The caller names the target by a digest of every input, so a file already under that name is reused as
is and a changed input builds under a new name. The command writes into a private folder beside the
target; only when it succeeds do its outputs move into place, sidecars first and the target last, so a
target that exists is a complete build and a failed, crashed or interrupted one leaves nothing under a
final name. Concurrent builds of one target both succeed (os.replace of identical content); no lock.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["build_once", "compiler_identity"]


@functools.lru_cache(maxsize=8)
def compiler_identity(program: str) -> str:
    """The first line of `program --version` (or the path, when it prints nothing): a cache key part that
    changes when the compiler is upgraded under the same path."""
    run = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
    return run.stdout.splitlines()[0] if run.stdout else program


def build_once(target: Path, command: Callable[[Path], Sequence[str]],
               error: Callable[[subprocess.CompletedProcess[str]], Exception], *,
               sidecars: Sequence[str] = (), timeout: float = 300) -> Path:
    """`target` if it exists; else run `command(partial)`, which must write its output to `partial`, and
    move it to `target`. `sidecars` are suffixes of files the command writes beside `partial` (".su",
    ".map"): each that it made moves beside `target` first. A non-zero exit raises `error(run)`."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private folder rather than a temporary name: the compiler names its sidecars (-fstack-usage's
    # .su) after the output, so they must not collide with a concurrent build's either.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tmp-") as tmp:
        partial = Path(tmp) / target.name
        run = subprocess.run(list(command(partial)), capture_output=True, text=True, timeout=timeout)
        if run.returncode != 0:
            raise error(run)
        for suffix in sidecars:
            side = partial.with_suffix(suffix)
            if side.exists():
                os.replace(side, target.with_suffix(suffix))
        os.replace(partial, target)  # last: an existing target means a complete build
    return target
