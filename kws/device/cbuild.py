"""Build the portable C core (firmware/core) with the host compiler: test drivers and a shared library.

    from kws.config import FrontendConfig
    from kws.device.cbuild import build_program, build_shared_library
    exe = build_program("frontend_dump", FrontendConfig(), sanitize=True)   # firmware/host/tests/frontend_dump.c
    lib = build_shared_library(FrontendConfig())                             # the core as libkws_core-<hash>.so

    python -m kws.device.cbuild --driver protocol_fuzz --sanitize            # prints the executable's path

Every build first writes kws_frontend_tables.h for the config into `<build dir>/<spec hash>/generated/`
(never into git), then compiles with `-std=c99 -Wall -Wextra -Werror -pedantic` (the house rules of
the core; a warning fails the build) plus `-fsanitize=address,undefined -fno-omit-frame-pointer` when
asked. Outputs are named by a hash of every input (sources, headers, flags, compiler), so an unchanged
build is reused and a changed one never picks up a stale binary. The default build dir is
build/firmware under the repository (ignored by git); $CC overrides the compiler (default `cc`).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from kws.config import FrontendConfig
from kws.device.build_cache import build_once, compiler_identity
from kws.errors import KwsError

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE_DIR = REPO_ROOT / "firmware" / "core"
HOST_TESTS_DIR = REPO_ROOT / "firmware" / "host" / "tests"
DEFAULT_BUILD_DIR = REPO_ROOT / "build" / "firmware"
CORE_SOURCES = ("kws_fft.c", "kws_frontend.c", "kws_micro_frontend.c", "kws_features.c", "kws_recognizer.c",
                "kws_frame.c", "kws_msg.c", "kws_app.c", "kws_app_io.c", "kws_app_pipeline.c", "kws_app_binary.c",
                "kws_app_console.c")
# Linked into every driver of firmware/host/tests: what the drivers share (test_io.h, test_app.h).
DRIVER_HELPERS = ("test_io.c", "test_app.c")
WARNING_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all")

__all__ = ["CBuildError", "build_program", "build_shared_library", "compiler", "generate_tables",
           "sanitizer_support", "CORE_DIR", "HOST_TESTS_DIR"]


class CBuildError(KwsError):
    """The host C build failed or cannot run here; the message says what and shows the compiler output."""


def compiler() -> str:
    """The host C compiler: $CC, else `cc` on PATH; CBuildError when there is none."""
    name = os.environ.get("CC", "cc")
    path = shutil.which(name)
    if path is None:
        raise CBuildError(f"no C compiler: {name!r} is not on PATH (install gcc or set CC)")
    return path


@functools.lru_cache(maxsize=4)
def sanitizer_support(cc: str | None = None) -> tuple[bool, str]:
    """(True, "") when `cc` can build and run an ASan+UBSan program, else (False, the reason)."""
    cc = cc or compiler()
    with tempfile.TemporaryDirectory(prefix="kws-san-") as tmp:
        source = Path(tmp) / "probe.c"
        source.write_text("#include <stdlib.h>\nint main(void) { char *p = malloc(4); p[0] = 1; "
                          "free(p); return 0; }\n", encoding="utf-8")
        exe = Path(tmp) / "probe"
        built = subprocess.run([cc, *SANITIZE_FLAGS, str(source), "-o", str(exe)], capture_output=True, text=True,
                               timeout=120)
        if built.returncode != 0:
            return False, f"{cc} cannot build with {' '.join(SANITIZE_FLAGS[:1])}: {built.stderr.strip()[-400:]}"
        ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
        if ran.returncode != 0:
            return False, f"a sanitizer-built program does not run here: {ran.stderr.strip()[-400:]}"
    return True, ""


def generate_tables(cfg: FrontendConfig, build_dir: Path | None = None) -> Path:
    """Write kws_frontend_tables.h for `cfg` (only if its text changed); returns its folder."""
    from kws.frontend_tables import HEADER_NAME, render_header
    from kws.fsutil import atomic_write_text

    folder = Path(build_dir or DEFAULT_BUILD_DIR) / cfg.spec_hash()[:16] / "generated"
    text = render_header(cfg)
    path = folder / HEADER_NAME
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return folder


def _digest(paths: Sequence[Path], flags: Sequence[str], cc: str) -> str:
    h = hashlib.sha256()
    h.update(compiler_identity(cc).encode())
    h.update("\0".join(flags).encode())
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _run_compiler(command: list[str], target: Path, what: str) -> Path:
    """`target`, reused or built by `command` (which ends in -o) whole: build_cache.build_once."""
    return build_once(target, lambda partial: [*command, str(partial)],
                      lambda run: CBuildError(f"compiling {what} failed:\n{' '.join(run.args)}\n{run.stderr.strip()}"))


def _object(source: Path, include_dirs: Sequence[Path], headers: Sequence[Path], flags: Sequence[str], cc: str,
            obj_dir: Path) -> Path:
    command = [cc, *flags, *(f"-I{d}" for d in include_dirs), "-c", str(source), "-o"]
    target = obj_dir / f"{source.stem}-{_digest([source, *headers], command, cc)}.o"
    return _run_compiler(command, target, source.name)


def _compile(out: Path, sources: Sequence[Path], include_dirs: Sequence[Path], flags: Sequence[str],
             cc: str, link_flags: Sequence[str] = ()) -> Path:
    """Objects per source (cached by content, built in parallel), then one link."""
    headers = sorted(p for d in include_dirs for p in Path(d).glob("*.h"))
    obj_dir = out.parent.parent / "obj"
    with ThreadPoolExecutor(max_workers=min(len(sources), os.cpu_count() or 1)) as pool:
        objects = list(pool.map(lambda s: _object(s, include_dirs, headers, flags, cc, obj_dir), sources))
    command = [cc, *flags, *link_flags, *(str(o) for o in objects), "-lm", "-o"]
    target = out.with_name(f"{out.name}-{_digest(objects, command, cc)}{out.suffix}")
    return _run_compiler(command, target, out.name)


def _flags(sanitize: bool, optimize: str | None, extra: Sequence[str]) -> list[str]:
    # -O1 under the sanitizers: they slow -O2 compiles of the core ~3x for no extra findings.
    flags = [*WARNING_FLAGS, optimize or ("-O1" if sanitize else "-O2"), "-g"]
    if sanitize:
        flags += SANITIZE_FLAGS
    return [*flags, *extra]


def _check_sanitizers(sanitize: bool, cc: str) -> None:
    if sanitize:
        ok, reason = sanitizer_support(cc)
        if not ok:
            raise CBuildError(f"sanitizers unavailable: {reason}")


def build_program(driver: str | Path, cfg: FrontendConfig, build_dir: Path | None = None, *, sanitize: bool = False,
                  optimize: str | None = None, extra_flags: Sequence[str] = ()) -> Path:
    """Compile the core plus one driver (a name in firmware/host/tests, or a path to a .c file; one in
    firmware/host/tests also gets DRIVER_HELPERS) into an executable; returns its path. CBuildError (with
    the compiler's messages) when it does not build."""
    cc = compiler()
    _check_sanitizers(sanitize, cc)
    source = Path(driver)
    if source.suffix != ".c":
        source = HOST_TESTS_DIR / f"{driver}.c"
    if not source.exists():
        raise CBuildError(f"no driver source {source}")
    generated = generate_tables(cfg, build_dir)
    helpers = [HOST_TESTS_DIR / name for name in DRIVER_HELPERS] if source.resolve().parent == HOST_TESTS_DIR else []
    sources = [*(CORE_DIR / name for name in CORE_SOURCES), *helpers, source]
    name = source.stem + ("-asan" if sanitize else "")
    out = generated.parent / "bin" / name
    return _compile(out, sources, [generated, CORE_DIR, source.parent], _flags(sanitize, optimize, extra_flags), cc)


def build_shared_library(cfg: FrontendConfig, build_dir: Path | None = None, *, sanitize: bool = False,
                         optimize: str | None = None, extra_flags: Sequence[str] = ()) -> Path:
    """Compile the core alone as a shared library (for ctypes: kws/device/ccore.py); returns its path.

    A sanitizer build loaded into Python needs the ASan runtime preloaded (LD_PRELOAD=$(cc
    -print-file-name=libasan.so)); the default is a plain build.
    """
    cc = compiler()
    _check_sanitizers(sanitize, cc)
    generated = generate_tables(cfg, build_dir)
    sources = [CORE_DIR / name for name in CORE_SOURCES]
    out = generated.parent / "lib" / ("libkws_core-asan.so" if sanitize else "libkws_core.so")
    flags = [*_flags(sanitize, optimize, extra_flags), "-fPIC"]
    return _compile(out, sources, [generated, CORE_DIR], flags, cc, link_flags=["-shared"])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build one driver or the shared library for the default (or a run's) frontend."""
    parser = argparse.ArgumentParser(prog="python -m kws.device.cbuild", description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--driver", help="driver name in firmware/host/tests (e.g. frontend_dump) or a .c path")
    what.add_argument("--shared", action="store_true", help="build the core as a shared library")
    parser.add_argument("--config", type=Path, help="a run's config.toml (default: FrontendConfig defaults)")
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument("--sanitize", action="store_true", help="ASan + UBSan")
    args = parser.parse_args(argv)
    cfg = FrontendConfig()
    if args.config is not None:
        from kws.config import load_config

        cfg = load_config(args.config).frontend
    try:
        path = (build_shared_library(cfg, args.build_dir, sanitize=args.sanitize) if args.shared
                else build_program(args.driver, cfg, args.build_dir, sanitize=args.sanitize))
    except KwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
