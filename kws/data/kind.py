"""What a dataset folder is, in words a results table can carry beside an accuracy: synthetic speech made by
`kws data synth` (its manifest says so), or recorded speech.

    dataset_kind(Path("data/synth"))            # 'synthetic (kws data synth: espeak-ng text-to-speech)'
    dataset_kind(Path("../shared/data/sc-real-dev"))   # 'real recorded speech'
"""

from __future__ import annotations

import json
from pathlib import Path

SYNTHETIC = "synthetic (kws data synth: espeak-ng text-to-speech)"
REAL = "real recorded speech"


def dataset_kind(root: str | Path) -> str:
    """SYNTHETIC when root/manifest.json is a kws synth manifest, else REAL."""
    manifest = Path(root) / "manifest.json"
    try:
        fmt = json.loads(manifest.read_text(encoding="utf-8")).get("format", "")
    except (OSError, ValueError, AttributeError):
        return REAL
    return SYNTHETIC if isinstance(fmt, str) and fmt.startswith("kws-synth-manifest") else REAL


__all__ = ["REAL", "SYNTHETIC", "dataset_kind"]
