"""Shared fixtures: where the real Speech Commands audio is, the tiny synthetic set, and small seeded helpers.

Real audio lives in ../shared/data (or $KWS_SHARED_DATA). In CI (CI=true) it is always present, so a
missing folder fails the test; on a developer machine without it, the test is skipped and says why.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Iterator

# Before torch is imported anywhere: passive OpenMP waiting (see kws.cli.main for the measurement).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def sigint_ignored(ignored: bool = True) -> Iterator[None]:
    """Children started inside inherit an ignored SIGINT, as a shell script's background jobs do (bash
    ignores SIGINT there); the test process's own handler comes back afterwards."""
    previous = signal.getsignal(signal.SIGINT)
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def shared_data_root() -> Path:
    """The folder holding sc-real-dev/, sc-mini/ and speech_commands_v0.02_lists/."""
    env = os.environ.get("KWS_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def require_shared(name: str) -> Path:
    """Path of ../shared/data/<name>; fails in CI and skips elsewhere when absent."""
    path = shared_data_root() / name
    if not path.exists():
        message = f"real audio {path} is absent (set KWS_SHARED_DATA to the folder holding {name})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + ": CI always has it")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def sc_real_dev() -> Path:
    """Real clips in the canonical test-set layout (twelve folders)."""
    return require_shared("sc-real-dev")


@pytest.fixture(scope="session")
def sc_mini() -> Path:
    """Real clips in the full-dataset layout with lists and _background_noise_."""
    return require_shared("sc-mini")


@pytest.fixture(scope="session")
def official_lists() -> Path:
    """The official v0.02 testing_list.txt and validation_list.txt."""
    return require_shared("speech_commands_v0.02_lists")


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """A small synthetic keyword set (yes/no + a few unknown words), made once per session (~15 s)."""
    from kws.config import FrontendConfig, SynthConfig
    from kws.data.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "set"
    synthesize(SynthConfig(out_dir=str(out), keywords=("yes", "no"), unknown_words=("up", "down", "left", "right",
                                                                                      "go", "stop"),
                           clips_per_keyword=40, clips_per_unknown_word=6, background_seconds=5.0, seed=7),
               FrontendConfig(), progress=False)
    return out


# ------------------------------------------------------------------------------ host C builds (firmware/core)

def fail_or_skip(message: str) -> None:
    """A missing tool: fails in CI (CI=true), where it must exist; skips elsewhere, saying why."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI must have it)")
    pytest.skip(message)


# Sanitizer findings must fail the run: abort with a non-zero exit on the first report.
SANITIZER_ENV = {"ASAN_OPTIONS": "halt_on_error=1:abort_on_error=0:detect_leaks=1",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


@pytest.fixture(scope="session")
def c_build(tmp_path_factory):
    """Build a host driver of firmware/host/tests against the core, once per session and config:

        exe = c_build("frontend_dump", FrontendConfig(feature_type="mfcc"), sanitize=True)

    sanitize=True needs ASan/UBSan (missing: fail in CI, skip elsewhere); "auto" uses them when present.
    No C compiler: fail in CI, skip elsewhere.
    """
    from kws.config import FrontendConfig
    from kws.device.cbuild import CBuildError, build_program, compiler, sanitizer_support

    try:
        cc = compiler()
    except CBuildError as exc:
        fail_or_skip(str(exc))
    build_dir = tmp_path_factory.mktemp("cbuild")

    def build(driver: str, cfg=None, sanitize=True) -> Path:
        ok, reason = sanitizer_support(cc)
        if sanitize is True and not ok:
            fail_or_skip(f"sanitizers unavailable: {reason}")
        return build_program(driver, cfg or FrontendConfig(), build_dir, sanitize=bool(sanitize) and ok)

    return build


# ------------------------------------------------------------------------------ device tests (kws.device)

@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """runs/tiny/ with config.toml and export/ as `kws export` writes them, for a small seeded model
    (tests/tiny_export.py: ~15 s, TensorFlow). Tests copy it before changing anything."""
    from tiny_export import build_tiny_export

    return build_tiny_export(tmp_path_factory.mktemp("tiny_export") / "runs" / "tiny")


@pytest.fixture(scope="session")
def core_build_dir(tmp_path_factory) -> Path:
    """One build folder for the core's shared library (the emulator's), shared by the session."""
    return tmp_path_factory.mktemp("core_build")
