"""The build-output cache both C builds share (kws.device.build_cache): a present target is reused, a failed
or interrupted build leaves nothing under a final name, sidecars move in before the target; and the host
build's names follow its inputs (the M4 build's: tests/test_m4_build.py::test_build_is_cached_by_content).

    .venv/bin/python -m pytest -q tests/test_build_cache.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import fail_or_skip

from kws.device import build_cache
from kws.device.build_cache import build_once


class Failed(Exception):
    pass


def _sh(script: str, calls: list[Path]):
    """A stand-in compiler: `script` runs under sh with $1 = the partial output; each run is recorded."""
    def command(partial: Path) -> list[str]:
        calls.append(partial)
        return ["sh", "-c", script, "sh", str(partial)]
    return command


def _fail(run: subprocess.CompletedProcess[str]) -> Exception:
    return Failed(run.stderr)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_present_target_is_reused_without_running_the_command(tmp_path):
    calls: list[Path] = []
    target = tmp_path / "out" / "prog-abc.o"
    assert build_once(target, _sh('printf built > "$1"', calls), _fail) == target
    assert target.read_text() == "built" and len(calls) == 1
    stamp = target.stat().st_mtime_ns
    assert build_once(target, _sh('printf again > "$1"', calls), _fail) == target
    assert len(calls) == 1 and target.stat().st_mtime_ns == stamp and target.read_text() == "built"
    assert calls[0].parent.parent == target.parent and calls[0].name == target.name  # private folder beside it
    assert _leftovers(target.parent) == ["prog-abc.o"]


def test_sidecars_move_in_with_the_target_and_missing_ones_are_skipped(tmp_path):
    target = tmp_path / "prog-abc.elf"
    script = 'printf elf > "$1"; printf map > "${1%.elf}.map"'
    build_once(target, _sh(script, []), _fail, sidecars=(".map", ".su"))
    assert target.read_text() == "elf" and target.with_suffix(".map").read_text() == "map"
    assert _leftovers(tmp_path) == ["prog-abc.elf", "prog-abc.map"]


def test_a_failed_build_raises_the_callers_error_and_leaves_nothing(tmp_path):
    target = tmp_path / "prog-abc.o"
    script = 'printf half > "$1"; printf side > "${1%.o}.su"; echo "error: undeclared" >&2; exit 1'
    with pytest.raises(Failed, match="error: undeclared"):
        build_once(target, _sh(script, []), _fail, sidecars=(".su",))
    assert _leftovers(tmp_path) == []


def test_an_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C while the compiler is half way through its output: no target, no temporary folder."""
    target = tmp_path / "prog-abc.o"

    def interrupted(args, **kwargs):
        Path(args[-1]).write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(build_cache.subprocess, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_once(target, lambda partial: ["cc", "-o", str(partial)], _fail)
    assert _leftovers(tmp_path) == []


def test_host_build_names_follow_sources_and_flags(tmp_path):
    """cbuild: an unchanged build is reused as is; a changed driver or flag builds a new name, and a changed
    driver recompiles only itself."""
    from kws.config import FrontendConfig
    from kws.device.cbuild import CBuildError, build_program, compiler

    try:
        compiler()
    except CBuildError as exc:
        fail_or_skip(str(exc))
    driver = tmp_path / "drv.c"
    driver.write_text("int main(void) { return 0; }\n", encoding="utf-8")
    build_dir = tmp_path / "build"

    def build(*flags: str) -> Path:
        return build_program(driver, FrontendConfig(), build_dir, optimize="-O0", extra_flags=flags)

    def objects() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in build_dir.glob("*/obj/*.o")}

    first = build()
    built = objects()
    stamp = first.stat().st_mtime_ns
    assert build() == first and first.stat().st_mtime_ns == stamp and objects() == built
    driver.write_text("int main(void) { return 1; }\n", encoding="utf-8")
    second = build()
    assert second != first and subprocess.run([str(second)]).returncode == 1
    assert len(objects()) == len(built) + 1 and all(objects()[name] == t for name, t in built.items())
    assert build("-DKWS_UNUSED_FLAG=1") not in (first, second)
    assert not [p for p in build_dir.rglob("*") if p.name.startswith(".tmp")]
