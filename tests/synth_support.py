"""Shared by the voice-engine tests (tests/test_voices.py, tests/test_piper.py): a tiny synthetic set built
with one worker and again with two, for the check that the bytes do not depend on the worker count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kws.config import FrontendConfig, SynthConfig
from kws.data import synth


def synth_with_one_and_two_workers(tmp_path: Path, **settings: Any) -> tuple[synth.SynthReport, dict[str, Any]]:
    """Synthesise yes/no (6 clips each) and up (2 clips) with `settings` into tmp_path/w1 and tmp_path/w2; the
    one-worker report and the manifest, after asserting that both runs wrote the same manifest (every file's
    hash is in it)."""
    def build(workers: int) -> synth.SynthReport:
        cfg = SynthConfig(out_dir=str(tmp_path / f"w{workers}"), keywords=("yes", "no"), unknown_words=("up",),
                          clips_per_keyword=6, clips_per_unknown_word=2, background_seconds=1.0, workers=workers,
                          seed=7, **settings)
        return synth.synthesize(cfg, FrontendConfig(), progress=False)
    report = build(1)
    build(2)
    one, two = ((tmp_path / f"w{w}" / "manifest.json").read_bytes() for w in (1, 2))
    assert one == two
    return report, json.loads(one)
