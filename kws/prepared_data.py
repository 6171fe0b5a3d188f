"""What training, quantization, pruning and the export need from a dataset, loaded once.

    from kws.prepared_data import FeatureExtractor, prepare_data
    extractor = FeatureExtractor(config)               # audio -> dequantized int8 features (the device's values)
    data = prepare_data(config, extractor)             # splits, clip banks, augmentation, eval features, calibration

Shared by kws.train, kws.compress and export/ so none of them imports the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kws.config import KwsConfig
from kws.errors import KwsError

EVAL_BATCH = 500
"""Clips per batch when computing evaluation features."""


class FeatureExtractor:
    """Audio -> dequantized int8 features: exactly the values the int8 model will see on the device."""

    def __init__(self, config: KwsConfig) -> None:
        from kws.frontend import torch_frontend

        self.frontend = torch_frontend(config.frontend)
        self.scale = config.frontend.input_scale
        self.zero_point = config.frontend.input_zero_point

    @torch.no_grad()
    def __call__(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        audio_t = torch.as_tensor(audio, dtype=torch.float32)
        q = self.frontend.features_int8(audio_t).to(torch.float32)
        return (q - self.zero_point) * self.scale

    @torch.no_grad()
    def int8(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The int8 features themselves (for calibration sets and parity checks)."""
        return self.frontend.features_int8(torch.as_tensor(audio, dtype=torch.float32)).to(torch.int8)


@dataclass
class PreparedData:
    """Everything a run needs from the dataset, loaded once."""

    labels: tuple[str, ...]
    batches: Any
    val_features: torch.Tensor
    val_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor
    calibration: dict[str, Any]
    counts: dict[str, int]


def _eval_features(bank: Any, augmenter: Any, extractor: FeatureExtractor) -> tuple[torch.Tensor, torch.Tensor]:
    from kws.data.augment import eval_batches

    feats, labels = [], []
    for audio, y in eval_batches(bank, augmenter, EVAL_BATCH):
        feats.append(extractor(audio))
        labels.append(torch.as_tensor(np.asarray(y), dtype=torch.int64))
    if not feats:
        return torch.zeros(0), torch.zeros(0, dtype=torch.int64)
    return torch.cat(feats), torch.cat(labels)


_VALIDATION_STREAM = 0x76616C69  # "vali": the augmented validation copies' own random stream


def _augmented_features(bank: Any, augmenter: Any, extractor: FeatureExtractor, copies: int,
                        seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`copies` augmented copies of every clip of a bank (training.validation_copies), each batch drawn from
    (seed, stream, copy, first row): the same features on every run and for any batch order."""
    from kws.data.index import seed_entropy

    feats, labels = [], []
    for copy in range(copies):
        for start in range(0, len(bank), EVAL_BATCH):
            stop = min(start + EVAL_BATCH, len(bank))
            rng = np.random.default_rng([seed_entropy(seed), _VALIDATION_STREAM, copy, start])
            audio = augmenter.augment(np.asarray(bank.audio[start:stop]), bank.generated_silence[start:stop], rng)
            feats.append(extractor(audio))
            labels.append(torch.as_tensor(np.asarray(bank.labels[start:stop]), dtype=torch.int64))
    return torch.cat(feats), torch.cat(labels)


def dataset_relative(path: str, root: Path) -> str:
    """A clip's path as recorded in a run: relative to the dataset root (POSIX), so a copied or moved
    project (or dataset) still matches; "" (generated silence) stays ""."""
    if not path:
        return ""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def same_clip(recorded: str, current: str, root: Path) -> bool:
    """Whether a recorded calibration path names the current clip. Runs written before paths were stored
    relative hold absolute paths: their last components are compared with the relative form."""
    rel = dataset_relative(current, root)
    if not recorded or not Path(recorded).is_absolute():
        return recorded == rel
    parts = Path(rel).parts
    return Path(recorded).parts[-len(parts):] == parts


def choose_calibration(bank: Any, size: int, seed: int, root: Path | None = None) -> dict[str, Any]:
    """Fixed, recorded training-split rows for post-training quantization (drawn once, seeded); paths are
    stored relative to the dataset root `root` (runs are relocatable)."""
    rng = np.random.default_rng([seed, 0xCA1])
    count = min(size, len(bank))
    rows = np.sort(rng.choice(len(bank), size=count, replace=False))
    return {
        "seed": seed,
        "rows": rows.tolist(),
        "examples": [{"path": dataset_relative(bank.examples[r].path, root) if root else bank.examples[r].path,
                      "label": int(bank.labels[r]),
                      "generated_silence": bool(bank.generated_silence[r])} for r in rows],
    }


def data_root(config: KwsConfig) -> Path:
    """The dataset root as the loaders resolve it."""
    return Path(config.data.data_dir).expanduser().resolve()


def prepare_data(config: KwsConfig, extractor: FeatureExtractor, *, progress: bool = True) -> PreparedData:
    """Splits, decoded clip banks, augmentation and cached eval features for a run."""
    from kws.data.augment import Augmenter, TrainingBatches
    from kws.data.clips import load_background_noise, load_clips
    from kws.data.index import build_splits

    splits = build_splits(config.data, config.frontend)
    noises = load_background_noise(config.data.data_dir, config.frontend)
    augmenter = Augmenter(config.data, config.frontend, noises)
    banks = {name: load_clips(splits[name], config.data, config.frontend, progress=progress)
             for name in ("training", "validation", "testing")}
    for name in ("training", "validation"):
        if len(banks[name]) == 0:
            raise KwsError(f"the {name} split of {config.data.data_dir} is empty; training needs a full-layout "
                           f"dataset with training and validation clips")
    batches = TrainingBatches(banks["training"], augmenter, config.training.batch_size, config.training.seed)
    if config.training.validation_copies:
        val_x, val_y = _augmented_features(banks["validation"], augmenter, extractor,
                                           config.training.validation_copies, config.data.seed)
    else:
        val_x, val_y = _eval_features(banks["validation"], augmenter, extractor)
    test_x, test_y = _eval_features(banks["testing"], augmenter, extractor)
    calibration = choose_calibration(banks["training"], config.quantization.calibration_size, config.training.seed,
                                     data_root(config))
    return PreparedData(config.data.labels(), batches, val_x, val_y, test_x, test_y, calibration,
                        {name: len(bank) for name, bank in banks.items()})
