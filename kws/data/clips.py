"""Decoded clips: a split's examples as one int16 bank, cached on disk, and the background noise.

    from kws.data.index import build_splits
    from kws.data.clips import load_background_noise, load_clips
    bank = load_clips(build_splits(cfg.data, cfg.frontend)["training"], cfg.data, cfg.frontend)
    bank.audio, bank.labels                     # int16 [N, clip_samples], int64 [N]
    noise = load_background_noise(cfg.data.data_dir, cfg.frontend)   # float32 arrays, one per file

The cache (data.cache_dir) is keyed by the example list, each file's size and mtime, and the frontend
spec; `decode_many` is the thread-pooled decoder kws.data.stats also uses to check every file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from kws.config import DataConfig, FrontendConfig
from kws.data.audio import AudioFixes, fit_length, load_audio, to_int16
from kws.data.index import Example, background_noise_files
from kws.errors import AudioFormatError

_log = logging.getLogger(__name__)

# Bump when the cache file format changes, so old caches are never misread.
_CACHE_VERSION = 2
FIX_KINDS: tuple[str, ...] = ("resampled", "downmixed", "converted", "trimmed")
"""What the decoder counts per file: the format fixes of kws.data.audio, and clips cut to clip_duration_ms."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing banks element-wise is never what is meant
class ClipBank:
    """Decoded clips of some examples: one int16 array, ready for batched augmentation."""

    examples: tuple[Example, ...]
    """The examples kept, row for row (skipped bad files are not here)."""
    audio: np.ndarray
    """int16 [N, clip_samples]; generated-silence rows are zeros (the augmenter supplies their noise).
    Loaded from the cache memory-mapped read-only."""
    labels: np.ndarray
    """int64 [N] label indices."""
    generated_silence: np.ndarray
    """bool [N]: True for silence generated from background noise. Real silence recordings
    (test-set layout) are ordinary rows with label 0 and False here."""
    fixes: dict[str, int]
    """How many files were resampled / downmixed / converted (see kws.data.audio), and how many were
    longer than one clip and trimmed to their first clip_duration_ms."""
    skipped: tuple[tuple[str, str], ...]
    """(path, reason) of bad files left out (data.on_bad_audio='skip')."""
    cache_path: str = ""
    """The .npy this bank came from or was written to ("" when caching is off)."""
    from_cache: bool = False
    """True when nothing was decoded because the cache was valid."""
    clip_seconds: float = 1.0
    """The clip length the rows were fitted to (for messages)."""

    def __len__(self) -> int:
        return int(self.audio.shape[0])

    def summary(self) -> str:
        """One line for logs: rows, fixes, skips, cache."""
        fixes = ", ".join(f"{v} {k}" for k, v in self.fixes.items() if v and k != "trimmed") or "no format fixes"
        if self.fixes.get("trimmed"):
            fixes += f"; {trimmed_note(self.fixes['trimmed'], self.clip_seconds)}"
        where = f"; cache {self.cache_path}" + (" (hit)" if self.from_cache else "") if self.cache_path else ""
        return f"{len(self)} clips ({fixes}; {len(self.skipped)} bad files skipped{where})"


def trimmed_note(count: int, clip_seconds: float) -> str:
    """How many clips are longer than one clip, and what is done to them (for logs and stats)."""
    clips = "clip is" if count == 1 else "clips are"
    return f"{count} {clips} longer than {clip_seconds:g} s: only the first {clip_seconds:g} s of each is used"


def count_fixes(counts: dict[str, int], fixes: AudioFixes) -> None:
    """Add one decoded file's fixes to per-kind counts (keys FIX_KINDS)."""
    counts["resampled"] += fixes.resampled_from is not None
    counts["downmixed"] += fixes.downmixed_from is not None
    counts["converted"] += fixes.converted_from is not None
    counts["trimmed"] += fixes.trimmed_from is not None


def _decode_one(path: str, sample_rate: int, clip_samples: int) -> tuple[np.ndarray, AudioFixes]:
    audio, fixes = load_audio(path, sample_rate)
    if audio.shape[0] > clip_samples:  # fit_length keeps the start only: say so, never silently
        fixes = replace(fixes, trimmed_from=int(audio.shape[0]))
    return to_int16(fit_length(audio, clip_samples)), fixes


def decode_many(paths: Sequence[str], frontend: FrontendConfig, *, stop_on_error: bool, progress: bool,
                desc: str) -> Iterator[tuple[int, np.ndarray | None, AudioFixes | None, AudioFormatError | None]]:
    """Decode files in a small thread pool (libsndfile and file reads release the GIL), in order.

    Yields (position, int16 row or None, fixes, error). With stop_on_error the first AudioFormatError
    propagates and pending work is cancelled.
    """
    from tqdm import tqdm

    def work(path: str) -> tuple[np.ndarray | None, AudioFixes | None, AudioFormatError | None]:
        try:
            row, fixes = _decode_one(path, frontend.sample_rate, frontend.clip_samples)
        except AudioFormatError as exc:
            if stop_on_error:
                raise
            return None, None, exc
        return row, fixes, None

    workers = max(1, min(4, os.cpu_count() or 1))
    with tqdm(total=len(paths), desc=desc, unit="clip", disable=not progress, leave=False) as bar, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for i, (row, fixes, error) in enumerate(pool.map(work, paths)):
                bar.update(1)
                yield i, row, fixes, error
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _cache_key(examples: Sequence[Example], frontend: FrontendConfig) -> str:
    digest = hashlib.sha256()
    digest.update(f"kws-clipbank-v{_CACHE_VERSION}\n{frontend.spec_hash()}\n".encode())
    for ex in examples:
        size, mtime = -1, -1
        if ex.path:
            try:
                st = os.stat(ex.path)
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:
                pass  # the decoder reports the missing file by name
        digest.update(json.dumps([ex.path, ex.word, ex.label, ex.split, size, mtime]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _bank_from(examples: Sequence[Example], keep: Sequence[int], audio: np.ndarray, fixes: dict[str, int],
               skipped: Sequence[tuple[str, str]], cache_path: str, from_cache: bool, clip_seconds: float) -> ClipBank:
    kept = tuple(examples[i] for i in keep)
    return ClipBank(
        examples=kept, audio=audio,
        labels=np.array([e.label for e in kept], dtype=np.int64),
        generated_silence=np.array([e.generated for e in kept], dtype=bool),
        fixes=dict(fixes), clip_seconds=clip_seconds, skipped=tuple((str(p), str(r)) for p, r in skipped),
        cache_path=cache_path, from_cache=from_cache)


def _read_cache(npy: Path, meta_path: Path, key: str, examples: Sequence[Example], data: DataConfig,
                frontend: FrontendConfig) -> ClipBank | None:
    """The cached bank, or None when absent or stale. The .json is written last: it is the commit mark."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != key or meta.get("version") != _CACHE_VERSION:
            return None
        keep = [int(i) for i in meta["keep"]]
        skipped = [(str(p), str(r)) for p, r in meta["skipped"]]
        fixes = {kind: int(meta["fixes"][kind]) for kind in FIX_KINDS}
        audio = np.load(npy, mmap_mode="r")
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, half-written by an older tool, or hand-edited: decode again
    if audio.dtype != np.int16 or audio.shape != (len(keep), frontend.clip_samples):
        return None
    if skipped and data.on_bad_audio == "error":
        # The cache was made in 'skip' mode; 'error' mode must still stop at the bad file.
        path, reason = skipped[0]
        raise AudioFormatError(path, reason, "or set data.on_bad_audio='skip' to leave bad files out")
    return _bank_from(examples, keep, audio, fixes, skipped, str(npy), True, frontend.clip_duration_ms / 1000)


def load_clips(examples: Sequence[Example], data: DataConfig, frontend: FrontendConfig, *,
               progress: bool = True) -> ClipBank:
    """Decode every example once into an int16 bank [N, clip_samples], cached in data.cache_dir.

    Files go through load_audio (resample / downmix / convert, counted) and fit_length (a longer file keeps
    its first clip_duration_ms: counted as trimmed, with one warning naming the first). Bad files stop
    the load with AudioFormatError (data.on_bad_audio='error') or are left out and reported ('skip').
    The cache key hashes the example list, each file's size and mtime, and the frontend spec, so any
    change re-decodes; the .npy and its .json are written atomically (.json last). data.cache_dir = ""
    turns caching off.
    """
    examples = list(examples)
    clip_samples = frontend.clip_samples
    npy = meta_path = None
    key = ""
    if data.cache_dir and examples:
        key = _cache_key(examples, frontend)
        npy = Path(data.cache_dir) / f"clips-{key[:20]}.npy"
        meta_path = npy.with_suffix(".json")
        cached = _read_cache(npy, meta_path, key, examples, data, frontend)
        if cached is not None:
            return cached

    audio = np.zeros((len(examples), clip_samples), dtype=np.int16)
    fixes = dict.fromkeys(FIX_KINDS, 0)
    skipped: list[tuple[str, str]] = []
    bad_rows: set[int] = set()
    files = [i for i, e in enumerate(examples) if not e.generated]
    first_long: tuple[str, float] | None = None
    stop = data.on_bad_audio == "error"
    try:
        for pos, row, fix, error in decode_many([examples[i].path for i in files], frontend, stop_on_error=stop,
                                                 progress=progress, desc="decoding clips"):
            i = files[pos]
            if error is not None:
                bad_rows.add(i)
                skipped.append((error.path, error.reason))
                continue
            audio[i] = row
            count_fixes(fixes, fix)
            if fix.trimmed_from is not None and first_long is None:
                first_long = (examples[i].path, fix.trimmed_from / frontend.sample_rate)
    except AudioFormatError as exc:
        advice = "set data.on_bad_audio='skip' to leave bad files out"
        raise AudioFormatError(exc.path, exc.reason, f"{exc.hint}; or {advice}" if exc.hint else advice) from None
    keep = [i for i in range(len(examples)) if i not in bad_rows]
    if bad_rows:
        audio = audio[keep]
        _log.warning("left out %d unreadable file(s) (data.on_bad_audio='skip'), first: %s: %s",
                     len(skipped), *skipped[0])
    clip_seconds = frontend.clip_duration_ms / 1000
    if first_long is not None:
        _log.warning("%s; first: %s (%.1f s)", trimmed_note(fixes["trimmed"], clip_seconds), *first_long)
    if npy is None or meta_path is None:
        return _bank_from(examples, keep, audio, fixes, skipped, "", False, clip_seconds)

    from kws.fsutil import atomic_path, atomic_write_text

    with atomic_path(npy) as tmp:
        np.save(tmp, audio)
    meta = {"version": _CACHE_VERSION, "key": key, "keep": keep, "fixes": fixes, "skipped": skipped,
            "frontend_spec": frontend.spec_hash(), "rows": len(keep), "clip_samples": clip_samples}
    atomic_write_text(meta_path, json.dumps(meta))
    return _bank_from(examples, keep, audio, fixes, skipped, str(npy), False, clip_seconds)


def load_background_noise(root: str | os.PathLike[str], frontend: FrontendConfig) -> list[np.ndarray]:
    """Every `<root>/_background_noise_/*.wav` as mono float32 at the spec's rate (empty list if none).

    A bad noise file always raises AudioFormatError: there are few of them and each matters.
    """
    return [load_audio(path, frontend.sample_rate)[0] for path in background_noise_files(root)]


__all__ = ["ClipBank", "FIX_KINDS", "count_fixes", "decode_many", "load_background_noise", "load_clips",
           "trimmed_note"]
