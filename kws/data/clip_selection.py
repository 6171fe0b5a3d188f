"""The clips an evaluation runs: one split's examples (the training recipe's selection), an evenly spread
subset, decoded once, and each clip's audio and int8 features exactly as the device gets them.

    from kws.data.clip_selection import select_clips
    clips = select_clips(config.data, config.frontend, "testing", limit=200)
    clips.audio(k), clips.features(k), clips.name(k), clips.labels, clips.sha256()
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kws.errors import KwsError

if TYPE_CHECKING:
    from kws.config import DataConfig, FrontendConfig
    from kws.data.clips import ClipBank
    from kws.data.index import Example


class ClipSelectionError(KwsError):
    """The split cannot be evaluated (unknown or empty); the message says why."""


@dataclass
class ClipSet:
    """The clips to evaluate: examples of one split, their decoded audio and the deterministic eval audio."""

    data_dir: Path
    split: str
    examples: list["Example"]
    split_indices: np.ndarray
    """Each clip's index in the whole split (seeds generated silence exactly as a full evaluation would)."""
    bank: "ClipBank"
    frontend: "FrontendConfig"
    augmenter: Any
    selection: str = "recipe"
    """Which clips of the split (kws.data.index.SELECTIONS)."""
    mapping: dict[str, str] = dataclasses.field(default_factory=dict)
    """Folder or word -> the label it is scored as."""

    def __len__(self) -> int:
        return len(self.examples)

    def name(self, k: int) -> str:
        """The clip as a person finds it: its path under the dataset, or the generated silence's index."""
        example = self.examples[k]
        if example.generated:
            return f"_silence_ (generated from background noise, split index {int(self.split_indices[k])})"
        try:
            return Path(example.path).relative_to(self.data_dir).as_posix()
        except ValueError:
            return example.path

    def audio(self, k: int) -> np.ndarray:
        """int16 [clip_samples]: the clip as the device hears it in evaluation (no augmentation)."""
        from kws.data.audio import to_int16

        x = self.augmenter.eval_audio(np.asarray(self.bank.audio[k:k + 1]), self.bank.generated_silence[k:k + 1],
                                      self.split_indices[k:k + 1])
        return to_int16(x[0])

    def features(self, k: int) -> np.ndarray:
        """int8 [frames, features]: the reference features of audio(k) (kws.frontend, the definition)."""
        from kws.frontend import reference_features_int8

        return reference_features_int8(self.audio(k), self.frontend)

    @property
    def labels(self) -> np.ndarray:
        return np.array([e.label for e in self.examples], dtype=np.int64)

    def truth_for(self, data_labels: Sequence[str], model_labels: Sequence[str]) -> np.ndarray:
        """Each clip's label as an index into `model_labels` (a model trained elsewhere may order its outputs
        differently from data.labels(); the names must be the same set)."""
        if tuple(data_labels) == tuple(model_labels):
            return self.labels
        if sorted(data_labels) != sorted(model_labels):
            raise ClipSelectionError(f"the model's labels ({','.join(model_labels)}) are not the data's "
                                     f"({','.join(data_labels)}): a clip's truth would have no score")
        index = np.array([list(model_labels).index(name) for name in data_labels], dtype=np.int64)
        return index[self.labels]

    def sha256(self) -> str:
        """A hash of the clip list (names, labels, split indices): a journal is only resumed for the same list."""
        digest = hashlib.sha256()
        for k, example in enumerate(self.examples):
            digest.update(json.dumps([self.name(k), example.word, example.label, int(self.split_indices[k])])
                          .encode("utf-8") + b"\n")
        return digest.hexdigest()


def spread_subset(n: int, limit: int | None) -> np.ndarray:
    """Indices of an evenly spread subset of n items (all of them without a limit): every stretch of the
    split, hence every label of an ordered split, keeps its share."""
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def select_clips(data: "DataConfig", frontend: "FrontendConfig", split: str = "testing", limit: int | None = None,
                 *, progress: bool = True, selection: str = "recipe") -> ClipSet:
    """The split's examples (`selection`: kws.data.index.SELECTIONS, the training recipe's by default), a
    spread subset of `limit`, decoded (cached)."""
    from kws.data.augment import Augmenter
    from kws.data.clips import load_background_noise, load_clips
    from kws.data.index import SELECTIONS, build_splits, index_dataset, select_examples, selection_mapping
    from kws.data.split import SPLITS

    if split not in SPLITS:
        raise ClipSelectionError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if selection not in SELECTIONS:
        raise ClipSelectionError(f"--select must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    build_splits(data, frontend)  # the recipe's checks (missing words, noise, empty splits) with their messages
    index = index_dataset(data)
    examples = select_examples(data, index, split, selection)
    mapping = selection_mapping(data, index, split, selection)
    if not examples:
        raise ClipSelectionError(f"the {split} split of {data.data_dir} is empty: nothing to evaluate "
                              f"(a test-set layout folder only has 'testing')")
    chosen = spread_subset(len(examples), limit)
    selected = [examples[int(i)] for i in chosen]
    bank = load_clips(selected, data, frontend, progress=progress)
    if len(bank) != len(selected):  # data.on_bad_audio='skip' left unreadable files out
        skipped = {path for path, _ in bank.skipped}
        keep = [j for j, e in enumerate(selected) if e.generated or e.path not in skipped]
        chosen, selected = chosen[keep], [selected[j] for j in keep]
    root = Path(data.data_dir).expanduser().resolve()
    noise = load_background_noise(root, frontend) if bank.generated_silence.any() else []
    return ClipSet(root, split, selected, chosen, bank, frontend, Augmenter(data, frontend, noise), selection,
                   mapping)


__all__ = ["ClipSelectionError", "ClipSet", "select_clips", "spread_subset"]
