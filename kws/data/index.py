"""The Speech Commands index: which clips a dataset folder holds and the TensorFlow recipe's splits of them.

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
    from kws.data.index import build_splits
    from kws.data.clips import load_clips, load_background_noise
    from kws.data.augment import Augmenter, TrainingBatches

    cfg = load_config("kws/configs/demo.toml")
    splits = build_splits(cfg.data, cfg.frontend)
    train = load_clips(splits["training"], cfg.data, cfg.frontend)   # int16 [N, clip_samples], cached
    noise = load_background_noise(cfg.data.data_dir, cfg.frontend)
    batches = TrainingBatches(train, Augmenter(cfg.data, cfg.frontend, noise), 100, cfg.training.seed)
    audio, labels = batches.batch(step)

Decoding the clips is kws.data.clips; `kws data stats --data DIR [--check-audio]` is kws.data.stats.

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
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kws.config import BACKGROUND_NOISE_DIR, SILENCE_LABEL, UNKNOWN_LABEL, DataConfig, FrontendConfig
from kws.data.split import SPLITS, read_list, which_set
from kws.errors import DataError

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
class DatasetIndex:
    """Everything build_splits and kws.data.stats need, from one scan of the folder (see index_dataset)."""

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
    pools: dict[str, "SplitPools"] = dataclasses.field(default_factory=dict)
    """split -> every clip on disk in it, before the recipe's sampling (whole-folder evaluation)."""


@dataclasses.dataclass(frozen=True)
class SplitPools:
    """Every clip of one split, by kind: what the recipe samples from, and what a whole-folder evaluation takes."""

    keyword: tuple[tuple[str, Path], ...]
    """(word, file) of the wanted words."""
    other_words: tuple[tuple[str, Path], ...]
    """(word, file) of words outside data.wanted_words that have their own folder (other keywords)."""
    unknown_folder: tuple[tuple[str, Path], ...]
    """(word, file) of a test-set layout's _unknown_ folder (always unknown; empty in the full layout)."""
    silence: tuple[Path, ...] | None
    """A test-set layout's _silence_ clips; None in the full layout (silence is generated from noise)."""


def seed_entropy(seed: int) -> int:
    """A config seed as SeedSequence entropy (kws.data.augment seeds its streams the same way)."""
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
    return np.random.default_rng([seed_entropy(data.seed), SPLITS.index(split), stream])


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


def _index_full(data: DataConfig, root: Path) -> DatasetIndex:
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
    pools = {s: SplitPools(tuple(keyword[s]), tuple(unknown[s]), (), None) for s in SPLITS}
    return DatasetIndex(root, LAYOUT_FULL, method, splits,
                        {s: dict(sorted(c.items())) for s, c in word_counts.items()},
                        noise, tuple(p for files in words.values() for p in files), pools)


def _index_testset(data: DataConfig, root: Path) -> DatasetIndex:
    words, silence = _scan_testset(root)
    folder_words = [w for w in words if not w.startswith(TESTSET_UNKNOWN_DIR + "/")]
    _check_wanted(data, root, folder_words, LAYOUT_TESTSET)
    wanted = set(data.wanted_words)
    keyword: list[tuple[str, Path]] = []
    unknown: list[tuple[str, Path]] = []
    other_words: list[tuple[str, Path]] = []
    unknown_folder: list[tuple[str, Path]] = []
    counts: Counter[str] = Counter()
    for key, files in words.items():
        in_unknown = key.startswith(TESTSET_UNKNOWN_DIR + "/")
        word = key.split("/", 1)[1] if in_unknown else key
        for path in files:
            counts[word] += 1
            (keyword if key in wanted else unknown).append((word, path))
            if key not in wanted:
                (unknown_folder if in_unknown else other_words).append((word, path))
    if silence:
        counts[SILENCE_LABEL] = len(silence)
    split = "testing"
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    splits[split] = _assemble(data, split, keyword, unknown, silence)
    word_counts = {s: {} for s in SPLITS}
    word_counts[split] = dict(sorted(counts.items()))
    all_files = tuple(p for files in words.values() for p in files) + tuple(silence)
    pools = {s: SplitPools((), (), (), ()) for s in SPLITS}
    pools[split] = SplitPools(tuple(keyword), tuple(other_words), tuple(unknown_folder), tuple(silence))
    return DatasetIndex(root, LAYOUT_TESTSET, "testset", splits, word_counts, tuple(background_noise_files(root)),
                        all_files, pools)


SELECTIONS = ("recipe", "labelled", "all")
"""Which clips of a split an evaluation takes: `recipe` (TF's: the keywords plus unknown_percentage and
silence_percentage of sampled unknown and silence), `labelled` (every clip of the folders the labels name:
the wanted words, `_unknown_` and `_silence_`; test-set layout only), `all` (every clip; words outside the
wanted ones count as unknown)."""


def select_examples(data: DataConfig, index: DatasetIndex, split: str, selection: str) -> list[Example]:
    """The examples of `split` for a selection of SELECTIONS (DataError naming what cannot be done)."""
    if selection == "recipe":
        return index.splits[split]
    if selection not in SELECTIONS:
        raise DataError(f"the clip selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    pools = index.pools[split]
    if selection == "labelled" and pools.silence is None:
        raise DataError(f"{index.root} is a full-layout dataset: it has no {TESTSET_UNKNOWN_DIR}/ and "
                        f"{TESTSET_SILENCE_DIR}/ folders for 'labelled'; use 'all' (every clip, other words as "
                        f"unknown) or 'recipe'")
    label_of = {word: i + 2 for i, word in enumerate(data.wanted_words)}
    examples = [Example(str(p), w, label_of[w], split) for w, p in sorted(pools.keyword, key=lambda wp: str(wp[1]))]
    unknown = list(pools.unknown_folder) + (list(pools.other_words) if selection == "all" else [])
    examples += [Example(str(p), w, 1, split) for w, p in sorted(unknown, key=lambda wp: str(wp[1]))]
    if pools.silence is not None:
        examples += [Example(str(p), SILENCE_LABEL, 0, split) for p in sorted(pools.silence)]
    else:  # the full layout has no silence clips: the recipe's generated silence
        examples += [e for e in index.splits[split] if e.generated]
    return examples


def selection_mapping(data: DataConfig, index: DatasetIndex, split: str, selection: str) -> dict[str, str]:
    """Folder (or, in the full layout, word) -> the label its clips are scored as, for what the selection takes
    (results state it beside every accuracy)."""
    labels = data.labels()
    pools = index.pools[split]
    mapping = {w: w for w, _ in pools.keyword}
    if selection == "recipe":
        mapping["other words (a sample: data.unknown_percentage of the keywords' count)"] = UNKNOWN_LABEL
    elif selection == "all":
        mapping.update({w: UNKNOWN_LABEL for w, _ in pools.other_words})
    if pools.unknown_folder and selection != "recipe":
        mapping[TESTSET_UNKNOWN_DIR + "/"] = UNKNOWN_LABEL
    if pools.silence:
        mapping[TESTSET_SILENCE_DIR + "/" + (" (a sample)" if selection == "recipe" else "")] = SILENCE_LABEL
    elif any(e.generated for e in index.splits[split]):
        mapping["(silence generated from background noise)"] = SILENCE_LABEL
    assert set(mapping.values()) <= set(labels)
    return dict(sorted(mapping.items()))


def empty_splits(data: DataConfig, index: DatasetIndex) -> list[str]:
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


def index_dataset(data: DataConfig) -> DatasetIndex:
    """One scan of data.data_dir: layout, the recipe's splits, words on disk, noise and every clip file.

    DataError as build_splits, except that an empty split is not checked (empty_splits lists them).
    """
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
    index = index_dataset(data)
    problems = empty_splits(data, index)
    if problems:
        raise DataError(problems[0])
    return index.splits

def dataset_fingerprint(root: str | os.PathLike[str]) -> str:
    """A SHA-256 that changes when the dataset's files do: the bytes of its manifest.json (`kws data synth`
    writes one with every file's hash), else every .wav and .txt file's relative path, size and mtime.
    Training records it, so a run is never resumed on data that changed under it."""
    import hashlib

    root = Path(root)
    digest = hashlib.sha256()
    manifest = root / "manifest.json"
    if manifest.is_file():
        digest.update(b"manifest\0" + manifest.read_bytes())
        return digest.hexdigest()
    entries = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith((".wav", ".txt")):
                stat = os.stat(os.path.join(folder, name))
                entries.append((os.path.relpath(os.path.join(folder, name), root), stat.st_size, stat.st_mtime_ns))
    for rel, size, mtime in sorted(entries):
        digest.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


__all__ = ["DatasetIndex", "Example", "LAYOUT_FULL", "LAYOUT_TESTSET", "SELECTIONS", "SplitPools",
           "TESTSET_KEYWORDS", "background_noise_files", "build_splits", "dataset_fingerprint", "detect_layout",
           "empty_splits", "index_dataset", "seed_entropy", "select_examples", "selection_mapping"]
