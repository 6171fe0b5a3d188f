"""The synthetic set's files besides the clips: background noise, split lists, README.md, manifest.json.

    from kws.data.synth_files import write_background, write_file, write_metadata
    write_file(root, relpath, wav, files)        # every file goes through here: files gets its SHA-256 and size
    names = write_background(root, cfg, sample_rate, babble, files)
    counts, split_counts = write_metadata(root, cfg, frontend, clips, speakers, names, versions, files)

manifest.json is written last: the Makefile treats it as the dataset's file target.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np

from kws.config import BACKGROUND_NOISE_DIR, FrontendConfig, SynthConfig
from kws.data import noise as noisegen
from kws.data.audio import to_int16
from kws.data.espeak import ISOLATION_AVAILABLE, EspeakLocation
from kws.data.split import SPLITS, which_set
from kws.data.synth_plan import BABBLE_TALKERS, TAG_NOISE, ClipTask, Speaker, seeded_rng
from kws.data.synth_render import wav_bytes

SPLIT_PERCENTAGES = (10.0, 10.0)
"""validation, testing: the lists are written exactly as the v0.02 release's."""
_MANIFEST_FORMAT = "kws-synth-manifest/1"


def _background(cfg: SynthConfig, sample_rate: int, babble: dict[int, dict[int, np.ndarray]]) -> dict[str, np.ndarray]:
    """The _background_noise_ recordings, float in [-1, 1], by file name."""
    n = int(round(cfg.background_seconds * sample_rate))
    rng = [seeded_rng(cfg.seed, TAG_NOISE, k) for k in range(6)]
    talkers = [[u / 32768.0 for _, u in sorted(babble.get(t, {}).items())] for t in range(BABBLE_TALKERS)]
    background = {
        "white_noise.wav": noisegen.normalise(noisegen.white_noise(rng[0], n), rms_dbfs=-16.0),
        "pink_noise.wav": noisegen.normalise(noisegen.colored_noise(rng[1], n, 1.0, sample_rate=sample_rate,
                                                                    highpass_hz=10.0), rms_dbfs=-16.0),
        "brown_noise.wav": noisegen.normalise(noisegen.colored_noise(rng[2], n, 2.0, sample_rate=sample_rate,
                                                                     highpass_hz=20.0), rms_dbfs=-16.0),
        "mains_hum_50hz.wav": noisegen.normalise(noisegen.mains_hum(rng[3], n, sample_rate, mains_hz=50.0),
                                                 rms_dbfs=-20.0),
        "mains_hum_60hz.wav": noisegen.normalise(noisegen.mains_hum(rng[4], n, sample_rate, mains_hz=60.0),
                                                 rms_dbfs=-20.0),
        "babble.wav": noisegen.normalise(noisegen.mix_talkers(rng[5], talkers, n, sample_rate), rms_dbfs=-18.0),
    }
    if cfg.everyday_noises:  # streams 6-8: the recordings above stay the same with or without these
        for k, (name, make) in enumerate((("running_water.wav", noisegen.running_water),
                                          ("machine.wav", noisegen.machine), ("clatter.wav", noisegen.clatter)), 6):
            background[name] = noisegen.normalise(make(seeded_rng(cfg.seed, TAG_NOISE, k), n, sample_rate),
                                                  rms_dbfs=-20.0)
    return background


_BACKGROUND_README = """\
# Background noise (synthetic)

Long 16 kHz mono 16-bit recordings, mixed under training clips and cut into `_silence_` examples,
like the real Speech Commands `_background_noise_/` folder. All are generated, none recorded:

- white_noise.wav: Gaussian white noise.
- pink_noise.wav: 1/f noise (equal energy per octave).
- brown_noise.wav: 1/f^2 noise (a low rumble), high-passed at 20 Hz.
- mains_hum_50hz.wav, mains_hum_60hz.wav: electrical hum with harmonics, slow drift, faint hiss.
- babble.wav: {talkers} overlapping espeak-ng talkers speaking pseudo-words in several languages
  (never a word of this dataset).
{everyday}"""

_EVERYDAY_README = """\
- running_water.wav: a running tap (hiss through a wandering resonance, bubbles).
- machine.wav: a motor or exercise bike (harmonics of a drifting rotation, pulsing noise, a slow rhythm).
- clatter.wav: doing the dishes (impacts ringing high resonances over a quiet water bed).
"""


def write_file(root: Path, relpath: str, data: bytes, files: dict[str, tuple[str, int]]) -> None:
    """Write root/relpath and record its (SHA-256, size) in `files` for the manifest."""
    # Plain writes: the whole folder is already atomic (built under a temporary name, renamed at the end).
    (root / relpath).write_bytes(data)
    files[relpath] = (hashlib.sha256(data).hexdigest(), len(data))


def write_background(root: Path, cfg: SynthConfig, sample_rate: int, babble: dict[int, dict[int, np.ndarray]],
                     files: dict[str, tuple[str, int]]) -> list[str]:
    """The _background_noise_ recordings (babble from the rendered utterances) and their README.md;
    returns the recordings' file names, sorted."""
    background = _background(cfg, sample_rate, babble)
    for name, audio in background.items():
        write_file(root, f"{BACKGROUND_NOISE_DIR}/{name}", wav_bytes(to_int16(audio), sample_rate), files)
    write_file(root, f"{BACKGROUND_NOISE_DIR}/README.md",
               _BACKGROUND_README.format(talkers=BABBLE_TALKERS,
                                         everyday=_EVERYDAY_README if cfg.everyday_noises else "").encode(), files)
    return sorted(background)


def tool_versions(espeak: str, location: EspeakLocation) -> dict[str, str]:
    """The versions README.md and manifest.json record (espeak-ng's is `espeak`, found at `location`)."""
    import scipy
    import soundfile

    from kws import __version__

    return {
        "kws": __version__,
        "espeak-ng": espeak,
        "espeak-ng source": location.source,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
    }


def _recorded_config(cfg: SynthConfig, frontend: FrontendConfig) -> dict:
    """The settings that shape the files (not out_dir or workers, which do not change a byte)."""
    synth = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()
             if k not in ("out_dir", "workers")}
    return {"synth": synth, "frontend": {"sample_rate": frontend.sample_rate,
                                         "clip_duration_ms": frontend.clip_duration_ms}}


def _bullet(text: str) -> str:
    """One Markdown list item, wrapped at 100 columns (Markdown joins the lines again)."""
    return textwrap.fill(text, width=100, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)


def _readme(cfg: SynthConfig, frontend: FrontendConfig, counts: dict[str, int], splits: dict[str, int],
            speakers: list[Speaker], versions: dict[str, str]) -> str:
    accents = sorted({s.language for s in speakers})
    variants = sorted({s.variant for s in speakers if s.variant}, key=str.lower)
    items = [
        "Keywords: " + ", ".join(f"{w} ({counts[w]} clips)" for w in cfg.keywords) + ".",
        f"Unknown words ({cfg.clips_per_unknown_word} clips each): {', '.join(cfg.unknown_words) or 'none'}.",
        f"{len(speakers)} synthetic speakers. A speaker is an espeak-ng voice with a base pitch, pitch range "
        f"and speed; files are `<word>/<speaker_id>_nohash_<n>.wav`, the speaker id being a hash of those "
        f"settings. Accents: {', '.join(accents)}. Variants: {', '.join(variants) or 'none'}.",
        f"Clips: {frontend.sample_rate} Hz mono 16-bit PCM WAV, exactly {frontend.clip_duration_ms} ms; "
        f"{cfg.min_speed_wpm}-{cfg.max_speed_wpm} words per minute, pitch {cfg.min_pitch}-{cfg.max_pitch}, "
        f"peak level {cfg.min_gain_db:g} to {cfg.max_gain_db:g} dBFS, the word at a random place (never cut "
        "off), a faint noise floor.",
        f"`{BACKGROUND_NOISE_DIR}/`: white, pink and brown noise, 50 and 60 Hz mains hum, babble; "
        f"{cfg.background_seconds:g} s each.",
        "`testing_list.txt`, `validation_list.txt`: the speaker-hash split of the release (10 % / 10 %): "
        f"training {splits['training']}, validation {splits['validation']}, testing {splits['testing']} clips.",
        "`manifest.json`: the settings used and the SHA-256 of every file (written last).",
    ]
    tools = "\n".join(f"- {name}: {version}" for name, version in versions.items())
    return f"""\
# Synthetic keyword set (kws data synth)

An offline stand-in for Google Speech Commands: every clip is text-to-speech from espeak-ng, laid
out exactly like the Speech Commands release, so the same tools read both. Synthetic speech is far
less varied than real speakers: use it to exercise the pipeline, not to judge a model.

{chr(10).join(_bullet(item) for item in items)}

Seed: {cfg.seed}. The same seed, settings and tool versions give byte-identical files, whatever the
number of workers. Rebuild with `kws data synth --seed {cfg.seed}` and the `[synth]` settings
recorded in manifest.json.

Tools:
{tools}

Licence: generated data, free to use for any purpose without conditions (CC0 1.0 public-domain
dedication). espeak-ng (GPL-3.0-or-later) only produced the audio; its licence does not extend to it.
"""


def write_metadata(root: Path, cfg: SynthConfig, frontend: FrontendConfig, clips: list[ClipTask],
                   speakers: list[Speaker], background: list[str], versions: dict[str, str],
                   files: dict[str, tuple[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """The split lists, README.md and, last, manifest.json; returns (clips per word, clips per split)."""
    split_of = {t.relpath: which_set(t.relpath, *SPLIT_PERCENTAGES) for t in clips}
    for split, name in (("testing", "testing_list.txt"), ("validation", "validation_list.txt")):
        lines = sorted(p for p, s in split_of.items() if s == split)
        write_file(root, name, "".join(f"{line}\n" for line in lines).encode(), files)
    counts = {w: 0 for w in (*cfg.keywords, *cfg.unknown_words)}
    for task in clips:
        counts[task.word] += 1
    split_counts = {s: sum(1 for v in split_of.values() if v == s) for s in SPLITS}
    write_file(root, "README.md", _readme(cfg, frontend, counts, split_counts, speakers, versions).encode(), files)

    manifest = {
        "format": _MANIFEST_FORMAT,
        "generator": "kws data synth",
        "seed": cfg.seed,
        "config": _recorded_config(cfg, frontend),
        "tools": versions,
        "deterministic_across_workers": ISOLATION_AVAILABLE,
        "counts": counts,
        "splits": split_counts,
        "speakers": [dataclasses.asdict(s) for s in sorted(speakers, key=lambda s: s.speaker_id)],
        "background": background,
        "files": [{"path": p, "sha256": files[p][0], "bytes": files[p][1]} for p in sorted(files)],
    }
    # Last: the Makefile treats manifest.json as the dataset's file target.
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return counts, split_counts


__all__ = ["SPLIT_PERCENTAGES", "tool_versions", "write_background", "write_file", "write_metadata"]
