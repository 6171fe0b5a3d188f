"""`kws data synth`: the offline synthetic keyword set, text-to-speech in Speech Commands layout.

With no internet there is no Google Speech Commands, so the default dataset is synthesised with
espeak-ng (the pip package `espeakng-loader`, no system install needed) and laid out exactly like
the real release, so every later stage reads either without knowing which it got:

    <out>/<word>/<speaker_id>_nohash_<n>.wav      16 kHz mono 16-bit, exactly clip_duration_ms long
    <out>/_background_noise_/*.wav                white, pink, brown noise, mains hum, babble
    <out>/testing_list.txt, validation_list.txt   the speaker-hash split (10 % / 10 %) as in the release
    <out>/README.md                               what it is, seed, tool versions, licence
    <out>/manifest.json                           config, counts, SHA-256 of every file (written last)

    kws data synth --config kws/configs/demo.toml --out data/synth [--seed 7] [--workers 2] [--replace]

    from kws.config import SynthConfig, FrontendConfig
    from kws.data.synth import synthesize
    print(synthesize(SynthConfig(out_dir="data/synth"), FrontendConfig()).summary())

Three steps, a module each: kws.data.synth_plan chooses the speakers (espeak-ng voices with a pitch,
range and speed) and every clip; kws.data.synth_render speaks them (each clip jitters its speaker's
speed and pitch, is placed at a random point of the window, never cut off: long words are re-spoken
faster, peak-normalised to a random gain, with a faint noise floor); kws.data.synth_files writes the
background noise, split lists, README.md and manifest.json.

Reproducible: every random choice comes from numpy SeedSequence((seed, tag, ...)) keyed by the word
and clip index, and every clip is synthesised from the same espeak-ng state (see kws.data.espeak),
so the same seed and config give byte-identical files whatever the worker count.
Atomic: everything is built in a temporary folder beside out_dir and renamed at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws.config import BACKGROUND_NOISE_DIR, ConfigError, FrontendConfig, SynthConfig
from kws.data.espeak import espeak_version, find_espeak
from kws.data.festival import festival_version, find_festival
from kws.data.flite import find_flite, flite_version
from kws.data.piper import piper_version, voice_files
from kws.data.split import SPLITS
from kws.data.synth_files import tool_versions, write_background, write_file, write_metadata
from kws.data.synth_plan import RECORDED_ENGINES, available_voices, plan_babble, plan_clips, plan_speakers
from kws.data.synth_render import RenderJob, run_tasks
from kws.data.vocabulary import extra_unknown_words
from kws.errors import KwsError
from kws.fsutil import atomic_directory

_BAD_WORD = re.compile(r"^[_.]|[/\\\0]|^\s|\s$")


@dataclass(frozen=True)
class SynthReport:
    """What `synthesize` wrote."""

    out_dir: Path
    """The finished dataset folder."""
    counts: dict[str, int]
    """Clips per word, keywords first."""
    keywords: tuple[str, ...]
    """Which of the words are keywords (the rest feed _unknown_)."""
    split_counts: dict[str, int]
    """Clips per split (training / validation / testing) by the speaker hash."""
    speakers: int
    """Distinct speakers."""
    voices: tuple[str, ...]
    """Voices the speakers use: espeak-ng accent+variant, flite:<voice>, festival:<voice> or piper:<voice>."""
    background: tuple[str, ...]
    """File names written in _background_noise_/."""
    background_seconds: float
    """Length of each background recording."""
    seconds: float
    """Wall-clock time taken."""
    workers: int
    """Worker processes used."""
    seed: int
    """The seed."""
    espeak_version: str
    """espeak-ng version that spoke."""

    @property
    def total_clips(self) -> int:
        """All word clips."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """A few human lines."""
        keyword_part = ", ".join(f"{w} {self.counts[w]}" for w in self.keywords)
        unknown = [w for w in self.counts if w not in self.keywords]
        unknown_clips = sum(self.counts[w] for w in unknown)
        accents = sorted({v.split("+")[0] for v in self.voices if ":" not in v})
        variants = sorted({v.split("+")[1] for v in self.voices if "+" in v})
        by_engine: dict[str, list[str]] = {}
        for v in self.voices:
            if ":" in v:  # engine:voice; espeak-ng voices are accent+variant
                engine, name = v.split(":", 1)
                by_engine.setdefault(engine, []).append(name)
        # Every recorded-voice engine is listed (in the pool's order); Piper's name is a proper noun.
        labels = {e: "Piper's" if e == "piper" else f"{e}'s" for e in RECORDED_ENGINES}
        recorded = "".join(f", {labels[e]} voices {', '.join(sorted(by_engine[e]))}"
                           for e in RECORDED_ENGINES if e in by_engine)
        rate = self.total_clips / self.seconds if self.seconds > 0 else float("inf")
        lines = [
            f"Synthesised {self.total_clips:,} clips into {self.out_dir} in {self.seconds:.1f} s "
            f"({rate:.0f} clips/s, {self.workers} worker{'s' if self.workers != 1 else ''}, seed {self.seed}).",
            f"  keywords: {keyword_part}; unknown: {len(unknown)} words, {unknown_clips:,} clips",
            f"  {self.speakers} speakers from {len(accents)} accents x {len(variants)} variants "
            f"(espeak-ng {self.espeak_version}){recorded}",
            "  split by speaker hash: " + ", ".join(f"{s} {self.split_counts.get(s, 0):,}" for s in SPLITS),
            f"  {BACKGROUND_NOISE_DIR}/: {', '.join(self.background)} ({self.background_seconds:g} s each)",
        ]
        return "\n".join(lines)


def _check_words(cfg: SynthConfig) -> None:
    for word in (*cfg.keywords, *cfg.unknown_words):
        if not word or _BAD_WORD.search(word):
            raise ConfigError(f"synth word {word!r} cannot be a folder name (empty, a path, leading '_' or '.', "
                              "or surrounding spaces)")
    words = [*cfg.keywords, *cfg.unknown_words]
    duplicates = sorted(w for w, c in Counter(w.lower() for w in words).items() if c > 1)  # case-blind file systems
    if duplicates:
        raise ConfigError(f"synth words appear twice: {duplicates}")
    if not cfg.background_seconds > 0:
        raise ConfigError(f"synth.background_seconds must be positive, got {cfg.background_seconds}")


def synthesize(cfg: SynthConfig, frontend: FrontendConfig, *, replace: bool = False,
               progress: bool = True) -> SynthReport:
    """Write the synthetic dataset to cfg.out_dir (atomically) and report what was written."""
    started = time.perf_counter()
    cfg.validate()
    frontend.validate()
    extra = extra_unknown_words(cfg)
    if extra:
        cfg = dataclasses.replace(cfg, unknown_words=(*cfg.unknown_words, *extra))
    _check_words(cfg)
    out_dir = Path(cfg.out_dir)
    if out_dir.exists() and not replace:
        raise KwsError(f"{out_dir} already exists; pass --replace (replace=True) to overwrite it, "
                       "or choose another --out")
    location = find_espeak()
    version = espeak_version(location)
    accents, variants, babble_languages = available_voices(location)

    speakers = plan_speakers(cfg, accents, variants)
    clips = plan_clips(cfg, speakers)
    babble_tasks = plan_babble(cfg, babble_languages, variants)
    workers = cfg.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(clips) + len(babble_tasks)))

    from tqdm import tqdm

    with contextlib.ExitStack() as stack:
        try:
            root = stack.enter_context(atomic_directory(out_dir, replace=replace))
        except FileExistsError:  # out_dir appeared since the check above
            raise KwsError(f"{out_dir} already exists; pass --replace (replace=True) to overwrite it") from None
        engines = {s.engine for s in speakers}
        if "piper" in engines:
            voice_files()  # a missing voice package is an error now, not in every worker
        job = RenderJob(cfg, frontend.sample_rate, frontend.clip_samples, location,
                        find_flite() if "flite" in engines else "", find_festival() if "festival" in engines else "")
        for word in (*cfg.keywords, *cfg.unknown_words):
            (root / word).mkdir()
        (root / BACKGROUND_NOISE_DIR).mkdir()
        files: dict[str, tuple[str, int]] = {}
        babble: dict[int, dict[int, np.ndarray]] = {}
        # Babble first: its utterances are the longest tasks, so they should not finish last.
        bar = stack.enter_context(tqdm(total=len(clips) + len(babble_tasks), unit="clip", desc="kws data synth",
                                       disable=not progress, dynamic_ncols=True))
        # closing(): stop the workers or the helper process at once, even if this loop fails.
        with contextlib.closing(run_tasks([*babble_tasks, *clips], job, workers)) as results:
            for result in results:
                if result[0] == "babble":
                    babble.setdefault(result[1], {})[result[2]] = result[3]
                else:
                    write_file(root, result[1], result[2], files)
                bar.update(1)
        bar.close()

        background = write_background(root, cfg, frontend.sample_rate, babble, files)
        versions = tool_versions(version, location)
        if job.flite:
            versions["flite"] = f"{flite_version(job.flite)} ({job.flite})"
        if job.festival:
            versions["festival"] = f"{festival_version()} ({job.festival})"
        if "piper" in engines:
            versions["piper"] = piper_version()
        counts, split_counts = write_metadata(root, cfg, frontend, clips, speakers, background, versions, files)

    return SynthReport(
        out_dir=out_dir, counts=counts, keywords=tuple(cfg.keywords), split_counts=split_counts,
        speakers=len(speakers),
        voices=tuple(sorted({f"{s.engine}:{s.voice}" if s.engine != "espeak" else s.voice for s in speakers})),
        background=tuple(background), background_seconds=cfg.background_seconds,
        seconds=time.perf_counter() - started, workers=workers, seed=cfg.seed, espeak_version=version)


__all__ = ["SynthReport", "synthesize"]
