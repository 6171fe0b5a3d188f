"""The Speech Commands loader: dataset index, the TensorFlow training recipe, decoded clip banks, stats.

Two on-disk layouts are read (auto-detected by `detect_layout`):

- 'full' (the real release and `kws data synth`): `<root>/<word>/<speaker>_nohash_<n>.wav`,
  `<root>/_background_noise_/*.wav`, optional `testing_list.txt` / `validation_list.txt`.
  Split by `data.split_method`: 'auto' (the lists when both exist, else the hash), 'hash', 'lists'.
- 'testset' (speech_commands_test_set_v0.02): folders yes, no, up, down, left, right, on, off, stop, go,
  `_unknown_` (`<word>_<speaker>_nohash_<n>.wav`) and `_silence_` (1 s noise cuts). Everything is the
  'testing' split; the 'training' and 'validation' lists come back empty.

The recipe is TensorFlow speech_commands `input_data.py` (`prepare_data_index`), driven by DataConfig:
per split, every clip of a wanted word; `ceil(n * unknown_percentage / 100)` clips of the other words
(a seeded sample; all of them when fewer exist); `ceil(n * silence_percentage / 100)` silence examples,
where n is the split's keyword count. Silence is generated from background noise in the full layout
(an Example with path "") and sampled from the real `_silence_` recordings in the test-set layout.

    from kws.config import load_config
    from kws.data.dataset import build_splits, load_clips, load_background_noise
    from kws.data.augment import Augmenter, TrainingBatches

    cfg = load_config("kws/configs/demo.toml")
    splits = build_splits(cfg.data, cfg.frontend)
    train = load_clips(splits["training"], cfg.data, cfg.frontend)   # int16 [N, clip_samples], cached
    noise = load_background_noise(cfg.data.data_dir, cfg.frontend)
    batches = TrainingBatches(train, Augmenter(cfg.data, cfg.frontend, noise), 100, cfg.training.seed)
    audio, labels = batches.batch(step)

Command line: `kws data stats --data DIR [--check-audio]` prints `dataset_stats` as a table.

Deviations from TensorFlow's recipe (all deliberate):
- Unknown and silence sampling use numpy's seeded generator per split, over sorted file lists, so the
  selection is the same on every machine and file system (TF used Python's `random` over glob order).
- Examples are returned in a stable order (keywords, unknown, silence, each sorted by path), not
  shuffled: training samples batches at random anyway (see kws.data.augment.TrainingBatches).
- In the test-set layout, silence comes from the real `_silence_` files and both unknown and silence are
  capped at what exists (TF's recipe never ran on that layout).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from kws.config import BACKGROUND_NOISE_DIR, SILENCE_LABEL, UNKNOWN_LABEL, DataConfig, FrontendConfig
from kws.data.audio import AudioFixes, fit_length, load_audio, to_int16
from kws.data.split import SPLITS, read_list, which_set
from kws.errors import AudioFormatError, DataError

_log = logging.getLogger(__name__)

LAYOUT_FULL = "full"
LAYOUT_TESTSET = "testset"

# The twelve-class test set's keyword folders (speech_commands_test_set_v0.02).
TESTSET_KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
TESTSET_UNKNOWN_DIR = UNKNOWN_LABEL
TESTSET_SILENCE_DIR = SILENCE_LABEL
TESTING_LIST = "testing_list.txt"
VALIDATION_LIST = "validation_list.txt"

# `<word>_<speaker>_nohash_<n>.wav` in the test set's _unknown_ folder.
_UNKNOWN_NAME = re.compile(r"^(?P<word>[^_]+)_.+_nohash_")

# Bump when the cache file format changes, so old caches are never misread.
_CACHE_VERSION = 1
FIX_KINDS: tuple[str, ...] = ("resampled", "downmixed", "converted")


@dataclass(frozen=True)
class Example:
    """One labelled clip of one split."""

    path: str
    """Absolute path of the WAV; "" for a silence example generated from background noise."""
    word: str
    """The spoken word (folder name or, in the test set's _unknown_, the file-name prefix); '_silence_' for silence."""
    label: int
    """Index into data.labels(): 0 silence, 1 unknown, 2.. the wanted words."""
    split: str
    """'training', 'validation' or 'testing'."""

    @property
    def generated(self) -> bool:
        """True for silence made from background noise (no file behind it)."""
        return not self.path


# --------------------------------------------------------------------------------------- file scanning

def _wavs(folder: Path) -> list[Path]:
    """The .wav files directly in `folder`, sorted (scandir: the real release has 105k files)."""
    try:
        with os.scandir(folder) as entries:
            found = [Path(e.path) for e in entries
                     if e.name.lower().endswith(".wav") and not e.name.startswith(".") and e.is_file()]
    except FileNotFoundError:
        return []
    return sorted(found)


def _subdirs(root: Path) -> dict[str, Path]:
    with os.scandir(root) as entries:
        return {e.name: Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")}


def _expected_layouts(root: Path) -> str:
    return (f"expected either the full layout ({root}/<word>/<speaker>_nohash_<n>.wav, plus "
            f"{root}/{BACKGROUND_NOISE_DIR}/*.wav) or the test-set layout (folders yes, no, ..., go, "
            f"{TESTSET_UNKNOWN_DIR} and {TESTSET_SILENCE_DIR} with .wav files)")


def detect_layout(root: str | os.PathLike[str]) -> str:
    """'full' or 'testset' for the dataset at `root`; DataError when it is missing, empty or neither."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"dataset folder {root} does not exist; set data.data_dir or pass --data "
                        "(`kws data synth` or `kws data download` create one)")
    if not root.is_dir():
        raise DataError(f"dataset path {root} is not a folder; {_expected_layouts(root)}")
    with os.scandir(root) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith("."))
    if not names:
        raise DataError(f"dataset folder {root} is empty; {_expected_layouts(root)}")
    subdirs = _subdirs(root)
    if TESTSET_UNKNOWN_DIR in subdirs or TESTSET_SILENCE_DIR in subdirs:
        if any(_wavs(d) for d in subdirs.values()):
            return LAYOUT_TESTSET
        raise DataError(f"dataset folder {root} has {TESTSET_UNKNOWN_DIR}/{TESTSET_SILENCE_DIR} folders but no "
                        f".wav files in any folder; {_expected_layouts(root)}")
    if any(_wavs(d) for name, d in subdirs.items() if not name.startswith("_")):
        return LAYOUT_FULL
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    raise DataError(f"dataset folder {root} has no word folders with .wav files (it holds: {shown}); "
                    f"{_expected_layouts(root)}")


def background_noise_files(root: str | os.PathLike[str]) -> list[Path]:
    """The .wav files in `<root>/_background_noise_/` (sorted; empty when the folder is absent)."""
    return _wavs(Path(root) / BACKGROUND_NOISE_DIR)


# ------------------------------------------------------------------------------------------ the index

@dataclass(frozen=True)
class _Index:
    """Everything build_splits and dataset_stats need, from one scan of the folder."""

    root: Path
    layout: str
    split_method: str
    """Resolved: 'hash', 'lists' or 'testset'."""
    splits: dict[str, list[Example]]
    word_counts: dict[str, dict[str, int]]
    """split -> word -> clips on disk (before unknown sampling)."""
    noise_files: tuple[Path, ...]
    all_files: tuple[Path, ...]
    """Every clip on disk (for --check-audio)."""


def _seed_entropy(seed: int) -> int:
    # SeedSequence wants non-negative integers; a negative config seed still maps to a fixed stream.
    return int(seed) % (1 << 63)


def _ceil_percent(count: int, percentage: float) -> int:
    # TF: int(math.ceil(set_size * percentage / 100)).
    return int(math.ceil(count * percentage / 100))


def _resolve_split_method(root: Path, method: str) -> str:
    have = [(root / name).is_file() for name in (TESTING_LIST, VALIDATION_LIST)]
    if method == "auto":
        return "lists" if all(have) else "hash"
    if method == "lists" and not all(have):
        missing = [name for name, ok in zip((TESTING_LIST, VALIDATION_LIST), have) if not ok]
        raise DataError(f"data.split_method='lists' but {root} has no {' or '.join(missing)}; "
                        "add the lists or use data.split_method='hash' (or 'auto')")
    return method


def _scan_full(root: Path) -> dict[str, list[Path]]:
    return {name: files for name, d in sorted(_subdirs(root).items())
            if not name.startswith("_") and (files := _wavs(d))}


def _scan_testset(root: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """word -> files (keyword folders by folder name, _unknown_ by file-name prefix), and the silence files."""
    words: dict[str, list[Path]] = {}
    for name, d in sorted(_subdirs(root).items()):
        if not name.startswith("_"):
            files = _wavs(d)
            if files:
                words.setdefault(name, []).extend(files)
    for path in _wavs(root / TESTSET_UNKNOWN_DIR):
        match = _UNKNOWN_NAME.match(path.name)
        word = match.group("word") if match else UNKNOWN_LABEL
        # Keyed apart from the folders: _unknown_ clips are always _unknown_ (see _index_testset).
        words.setdefault(f"{TESTSET_UNKNOWN_DIR}/{word}", []).append(path)
    return words, _wavs(root / TESTSET_SILENCE_DIR)


def _check_wanted(data: DataConfig, root: Path, available: Iterable[str], layout: str) -> None:
    available = sorted(available)
    for word in data.wanted_words:
        if word not in available:
            where = (f"{root}/{word}/*.wav" if layout == LAYOUT_FULL
                     else f"a {root}/{word}/ folder (test-set layout: {TESTSET_UNKNOWN_DIR} clips are always unknown)")
            raise DataError(f"wanted word {word!r} has no clips: expected {where}; words found: "
                            f"{', '.join(available) if available else 'none'} (check data.wanted_words)")


def _needs_noise(data: DataConfig) -> bool:
    return data.silence_percentage > 0 or (data.background_frequency > 0 and data.background_volume > 0)


def _sample(rng: np.random.Generator, items: Sequence[Path], k: int) -> list[Path]:
    """A seeded sample of k items, returned sorted so the order does not depend on the draw."""
    k = min(k, len(items))
    picked = rng.permutation(len(items))[:k]
    return sorted(items[i] for i in picked)


def _split_rng(data: DataConfig, split: str, stream: int) -> np.random.Generator:
    # One independent stream per (split, purpose): changing one split never reshuffles another.
    return np.random.default_rng([_seed_entropy(data.seed), SPLITS.index(split), stream])


def _assemble(data: DataConfig, split: str, keyword_files: list[tuple[str, Path]],
              unknown_pool: list[tuple[str, Path]], silence_pool: list[Path] | None) -> list[Example]:
    """The recipe for one split. silence_pool None means: generate silence from background noise."""
    label_of = {word: i + 2 for i, word in enumerate(data.wanted_words)}
    examples = [Example(str(p), w, label_of[w], split)
                for w, p in sorted(keyword_files, key=lambda wp: (label_of[wp[0]], str(wp[1])))]
    n = len(examples)
    unknown_pool = sorted(unknown_pool, key=lambda wp: str(wp[1]))
    word_of = {p: w for w, p in unknown_pool}
    chosen = _sample(_split_rng(data, split, 0), [p for _, p in unknown_pool],
                     _ceil_percent(n, data.unknown_percentage))
    examples += [Example(str(p), word_of[p], 1, split) for p in chosen]
    n_silence = _ceil_percent(n, data.silence_percentage)
    if silence_pool is None:
        examples += [Example("", SILENCE_LABEL, 0, split) for _ in range(n_silence)]
    else:
        silence = _sample(_split_rng(data, split, 1), sorted(silence_pool), n_silence)
        examples += [Example(str(p), SILENCE_LABEL, 0, split) for p in silence]
    return examples


def _index_full(data: DataConfig, root: Path) -> _Index:
    words = _scan_full(root)
    _check_wanted(data, root, words, LAYOUT_FULL)
    method = _resolve_split_method(root, data.split_method)
    noise = tuple(background_noise_files(root))
    if not noise and _needs_noise(data):
        raise DataError(
            f"no background noise: {root}/{BACKGROUND_NOISE_DIR}/ has no .wav files, but silence examples "
            f"(data.silence_percentage={data.silence_percentage:g}) and noise mixing "
            f"(data.background_frequency={data.background_frequency:g}) need it; add noise recordings there, "
            "or turn both off with --set data.silence_percentage=0 --set data.background_frequency=0")
    if method == "lists":
        testing, validation = read_list(root / TESTING_LIST), read_list(root / VALIDATION_LIST)

        def split_of(word: str, path: Path) -> str:
            rel = f"{word}/{path.name}"
            return "testing" if rel in testing else "validation" if rel in validation else "training"
    else:
        def split_of(word: str, path: Path) -> str:
            return which_set(path.name, data.validation_percentage, data.testing_percentage)

    wanted = set(data.wanted_words)
    keyword: dict[str, list[tuple[str, Path]]] = {s: [] for s in SPLITS}
    unknown: dict[str, list[tuple[str, Path]]] = {s: [] for s in SPLITS}
    word_counts: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    for word, files in words.items():
        for path in files:
            split = split_of(word, path)
            word_counts[split][word] += 1
            (keyword if word in wanted else unknown)[split].append((word, path))
    splits = {s: _assemble(data, s, keyword[s], unknown[s], None) for s in SPLITS}
    return _Index(root, LAYOUT_FULL, method, splits, {s: dict(sorted(c.items())) for s, c in word_counts.items()},
                  noise, tuple(p for files in words.values() for p in files))


def _index_testset(data: DataConfig, root: Path) -> _Index:
    words, silence = _scan_testset(root)
    folder_words = [w for w in words if not w.startswith(TESTSET_UNKNOWN_DIR + "/")]
    _check_wanted(data, root, folder_words, LAYOUT_TESTSET)
    wanted = set(data.wanted_words)
    keyword: list[tuple[str, Path]] = []
    unknown: list[tuple[str, Path]] = []
    counts: Counter[str] = Counter()
    for key, files in words.items():
        word = key.split("/", 1)[1] if key.startswith(TESTSET_UNKNOWN_DIR + "/") else key
        for path in files:
            counts[word] += 1
            (keyword if key in wanted else unknown).append((word, path))
    if silence:
        counts[SILENCE_LABEL] = len(silence)
    split = "testing"
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    splits[split] = _assemble(data, split, keyword, unknown, silence)
    word_counts = {s: {} for s in SPLITS}
    word_counts[split] = dict(sorted(counts.items()))
    all_files = tuple(p for files in words.values() for p in files) + tuple(silence)
    return _Index(root, LAYOUT_TESTSET, "testset", splits, word_counts, tuple(background_noise_files(root)),
                  all_files)


def _empty_splits(data: DataConfig, index: _Index) -> list[str]:
    """A message per split of this layout that ended up empty (a hash split configured at 0% is fine)."""
    problems = []
    method, root = index.split_method, index.root
    for split in (SPLITS if index.layout == LAYOUT_FULL else ("testing",)):
        if index.splits[split]:
            continue
        percentage = {"validation": data.validation_percentage, "testing": data.testing_percentage}.get(split)
        if method == "hash" and percentage == 0:
            continue  # asked for: an empty split by configuration is not an error
        words = ", ".join(data.wanted_words)
        if method == "lists":
            why = (f"{TESTING_LIST if split == 'testing' else VALIDATION_LIST} lists none of their clips"
                   if split != "training" else "the lists claim every clip")
            fix = "choose other data.wanted_words, fix the lists, or use data.split_method='hash'"
        elif method == "hash":
            why = "the speaker hash put none of their speakers there"
            fix = ("add clips from more speakers, or change data.validation_percentage / data.testing_percentage "
                   "(0 makes an empty split deliberate)")
        else:
            why = "the test-set folders hold none of them"
            fix = "check the folder"
        problems.append(f"the {split} split of {root} is empty: no clip of the wanted words ({words}) is in it "
                        f"({why}); {fix}")
    return problems


def _index(data: DataConfig) -> _Index:
    data.validate()
    root = Path(data.data_dir).expanduser().resolve()
    layout = detect_layout(root)
    return _index_full(data, root) if layout == LAYOUT_FULL else _index_testset(data, root)


def build_splits(data: DataConfig, frontend: FrontendConfig) -> dict[str, list[Example]]:
    """Examples per split ('training', 'validation', 'testing'), following the TF recipe (module docstring).

    The test-set layout fills only 'testing'. Raises DataError when the folder is missing, empty or in
    neither layout, a wanted word has no clips, noise is needed but absent, or a split ends up empty
    (except a hash split configured at 0%).
    """
    frontend.validate()
    index = _index(data)
    problems = _empty_splits(data, index)
    if problems:
        raise DataError(problems[0])
    return index.splits


# --------------------------------------------------------------------------------------- decoding

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
    """How many files were resampled / downmixed / converted (see kws.data.audio)."""
    skipped: tuple[tuple[str, str], ...]
    """(path, reason) of bad files left out (data.on_bad_audio='skip')."""
    cache_path: str = ""
    """The .npy this bank came from or was written to ("" when caching is off)."""
    from_cache: bool = False
    """True when nothing was decoded because the cache was valid."""

    def __len__(self) -> int:
        return int(self.audio.shape[0])

    def summary(self) -> str:
        """One line for logs: rows, fixes, skips, cache."""
        fixes = ", ".join(f"{v} {k}" for k, v in self.fixes.items() if v) or "no format fixes"
        where = f"; cache {self.cache_path}" + (" (hit)" if self.from_cache else "") if self.cache_path else ""
        return f"{len(self)} clips ({fixes}; {len(self.skipped)} bad files skipped{where})"


def _decode_one(path: str, sample_rate: int, clip_samples: int) -> tuple[np.ndarray, AudioFixes]:
    audio, fixes = load_audio(path, sample_rate)
    return to_int16(fit_length(audio, clip_samples)), fixes


def _decode_many(paths: Sequence[str], frontend: FrontendConfig, *, stop_on_error: bool, progress: bool,
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
               skipped: Sequence[tuple[str, str]], cache_path: str, from_cache: bool) -> ClipBank:
    kept = tuple(examples[i] for i in keep)
    return ClipBank(
        examples=kept, audio=audio,
        labels=np.array([e.label for e in kept], dtype=np.int64),
        generated_silence=np.array([e.generated for e in kept], dtype=bool),
        fixes=dict(fixes), skipped=tuple((str(p), str(r)) for p, r in skipped),
        cache_path=cache_path, from_cache=from_cache)


def _read_cache(npy: Path, meta_path: Path, key: str, examples: Sequence[Example], data: DataConfig,
                clip_samples: int) -> ClipBank | None:
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
    if audio.dtype != np.int16 or audio.shape != (len(keep), clip_samples):
        return None
    if skipped and data.on_bad_audio == "error":
        # The cache was made in 'skip' mode; 'error' mode must still stop at the bad file.
        path, reason = skipped[0]
        raise AudioFormatError(path, reason, "or set data.on_bad_audio='skip' to leave bad files out")
    return _bank_from(examples, keep, audio, fixes, skipped, str(npy), True)


def load_clips(examples: Sequence[Example], data: DataConfig, frontend: FrontendConfig, *,
               progress: bool = True) -> ClipBank:
    """Decode every example once into an int16 bank [N, clip_samples], cached in data.cache_dir.

    Files go through load_audio (resample / downmix / convert, counted) and fit_length. Bad files stop
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
        cached = _read_cache(npy, meta_path, key, examples, data, clip_samples)
        if cached is not None:
            return cached

    audio = np.zeros((len(examples), clip_samples), dtype=np.int16)
    fixes = dict.fromkeys(FIX_KINDS, 0)
    skipped: list[tuple[str, str]] = []
    bad_rows: set[int] = set()
    files = [i for i, e in enumerate(examples) if not e.generated]
    stop = data.on_bad_audio == "error"
    try:
        for pos, row, fix, error in _decode_many([examples[i].path for i in files], frontend, stop_on_error=stop,
                                                 progress=progress, desc="decoding clips"):
            i = files[pos]
            if error is not None:
                bad_rows.add(i)
                skipped.append((error.path, error.reason))
                continue
            audio[i] = row
            fixes["resampled"] += fix.resampled_from is not None
            fixes["downmixed"] += fix.downmixed_from is not None
            fixes["converted"] += fix.converted_from is not None
    except AudioFormatError as exc:
        advice = "set data.on_bad_audio='skip' to leave bad files out"
        raise AudioFormatError(exc.path, exc.reason, f"{exc.hint}; or {advice}" if exc.hint else advice) from None
    keep = [i for i in range(len(examples)) if i not in bad_rows]
    if bad_rows:
        audio = audio[keep]
        _log.warning("left out %d unreadable file(s) (data.on_bad_audio='skip'), first: %s: %s",
                     len(skipped), *skipped[0])
    if npy is None or meta_path is None:
        return _bank_from(examples, keep, audio, fixes, skipped, "", False)

    from kws.fsutil import atomic_path, atomic_write_text

    with atomic_path(npy) as tmp:
        np.save(tmp, audio)
    meta = {"version": _CACHE_VERSION, "key": key, "keep": keep, "fixes": fixes, "skipped": skipped,
            "frontend_spec": frontend.spec_hash(), "rows": len(keep), "clip_samples": clip_samples}
    atomic_write_text(meta_path, json.dumps(meta))
    return _bank_from(examples, keep, audio, fixes, skipped, str(npy), False)


def load_background_noise(root: str | os.PathLike[str], frontend: FrontendConfig) -> list[np.ndarray]:
    """Every `<root>/_background_noise_/*.wav` as mono float32 at the spec's rate (empty list if none).

    A bad noise file always raises AudioFormatError: there are few of them and each matters.
    """
    return [load_audio(path, frontend.sample_rate)[0] for path in background_noise_files(root)]


# ------------------------------------------------------------------------------------------- stats

@dataclass(frozen=True)
class DatasetStats:
    """What `kws data stats` prints: counts per split and label, words on disk, noise, audio health."""

    root: str
    layout: str
    """'full' or 'testset'."""
    split_method: str
    """'hash', 'lists' or 'testset' (resolved from data.split_method)."""
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    """The splits this layout has (all three, or 'testing' only)."""
    label_counts: dict[str, dict[str, int]]
    """split -> label -> examples chosen by the recipe."""
    word_counts: dict[str, dict[str, int]]
    """split -> word -> clips on disk."""
    noise_files: tuple[str, ...]
    noise_seconds: float
    generated_silence: dict[str, int]
    """split -> silence examples generated from noise (full layout)."""
    audio_checked: bool = False
    files_checked: int = 0
    fixes: dict[str, int] | None = None
    """resampled / downmixed / converted file counts (check_audio only)."""
    bad_files: int = 0
    first_bad: tuple[tuple[str, str], ...] = ()
    """Up to five (path, reason) of unusable files."""
    problems: tuple[str, ...] = ()
    """Why build_splits would refuse this dataset as configured (empty splits); stats still counts it."""

    def total(self, split: str) -> int:
        """Examples in one split."""
        return sum(self.label_counts[split].values())


def dataset_stats(data: DataConfig, frontend: FrontendConfig, check_audio: bool = False,
                  progress: bool = True) -> DatasetStats:
    """Count what build_splits would give; with check_audio also decode every clip on disk and report.

    Unlike build_splits, an empty split is not an error here: it is listed in `problems` and printed,
    since finding that out is why one asks for stats. The other DataErrors still apply. The audio check
    never stops at a bad file (it is a report); how training treats them is data.on_bad_audio.
    """
    import soundfile

    frontend.validate()
    index = _index(data)
    labels = data.labels()
    splits = SPLITS if index.layout == LAYOUT_FULL else ("testing",)
    label_counts = {s: {label: 0 for label in labels} for s in splits}
    generated = {s: 0 for s in splits}
    for s in splits:
        for ex in index.splits[s]:
            label_counts[s][labels[ex.label]] += 1
            generated[s] += ex.generated
    noise_seconds = 0.0
    for path in index.noise_files:
        try:
            info = soundfile.info(path)
            noise_seconds += info.frames / info.samplerate
        except (RuntimeError, soundfile.LibsndfileError):
            pass  # reported by check_audio; the count must not fail on it
    stats = DatasetStats(
        root=str(index.root), layout=index.layout, split_method=index.split_method, labels=labels,
        splits=splits, label_counts=label_counts, word_counts={s: index.word_counts[s] for s in splits},
        noise_files=tuple(str(p) for p in index.noise_files), noise_seconds=noise_seconds,
        generated_silence=generated, problems=tuple(_empty_splits(data, index)))
    if not check_audio:
        return stats
    paths = [str(p) for p in index.all_files] + [str(p) for p in index.noise_files]
    fixes = dict.fromkeys(FIX_KINDS, 0)
    bad: list[tuple[str, str]] = []
    for _, _, fix, error in _decode_many(paths, frontend, stop_on_error=False, progress=progress,
                                         desc="checking audio"):
        if error is not None:
            bad.append((error.path, error.reason))
            continue
        fixes["resampled"] += fix.resampled_from is not None
        fixes["downmixed"] += fix.downmixed_from is not None
        fixes["converted"] += fix.converted_from is not None
    return dataclasses.replace(stats, audio_checked=True, files_checked=len(paths), fixes=fixes,
                               bad_files=len(bad), first_bad=tuple(bad[:5]))


def print_stats(stats: DatasetStats) -> None:
    """Print the stats as rich tables: labels x splits (with totals), then words on disk, then notes."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{stats.root}[/bold]: {stats.layout} layout, split by {stats.split_method}",
                  highlight=False)
    table = Table(title="examples per split")
    table.add_column("label")
    for split in stats.splits:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right", style="bold")
    for label in stats.labels:
        row = [stats.label_counts[s][label] for s in stats.splits]
        table.add_row(label, *map(str, row), str(sum(row)))
    totals = [stats.total(s) for s in stats.splits]
    table.add_section()
    table.add_row("total", *map(str, totals), str(sum(totals)), style="bold")
    console.print(table)

    words = sorted({w for s in stats.splits for w in stats.word_counts[s]})
    word_table = Table(title="clips on disk per word")
    word_table.add_column("word")
    for split in stats.splits:
        word_table.add_column(split, justify="right")
    word_table.add_column("total", justify="right", style="bold")
    for word in words:
        row = [stats.word_counts[s].get(word, 0) for s in stats.splits]
        word_table.add_row(word, *map(str, row), str(sum(row)))
    console.print(word_table)

    generated = sum(stats.generated_silence.values())
    console.print(f"background noise: {len(stats.noise_files)} files, {stats.noise_seconds:.1f} s"
                  + (f"; {generated} silence examples are generated from it" if generated else ""))
    for problem in stats.problems:
        console.print(f"[yellow]warning[/yellow]: {problem}", highlight=False)
    if stats.audio_checked and stats.fixes is not None:
        fixes = ", ".join(f"{v} {k}" for k, v in stats.fixes.items())
        console.print(f"audio check: {stats.files_checked} files, {fixes}, {stats.bad_files} unusable")
        for path, reason in stats.first_bad:
            console.print(f"  [red]bad[/red] {path}: {reason}", highlight=False)
        if stats.bad_files > len(stats.first_bad):
            console.print(f"  ... and {stats.bad_files - len(stats.first_bad)} more")
        if stats.bad_files:
            console.print("  training stops at the first of these unless data.on_bad_audio='skip'")


__all__ = [
    "ClipBank", "DatasetStats", "Example", "LAYOUT_FULL", "LAYOUT_TESTSET", "TESTSET_KEYWORDS",
    "background_noise_files", "build_splits", "dataset_stats", "detect_layout", "load_background_noise",
    "load_clips", "print_stats",
]
