"""Train a keyword model in PyTorch with TensorFlow's speech_commands recipe, resumably.

    kws train --config kws/configs/demo.toml --run demo        # or: make train RUN=demo

Writes into runs/<run>/:
  config.toml              the resolved config
  checkpoints/last.pt      resumable state (weights, optimizer, step, RNG, history), every N steps
  model_float.pt           the best-validation weights (the stage's product; later stages read it)
  calibration.json         the recorded calibration set for post-training quantization
  metrics.json             history, best step, test accuracy, confusion matrix, throughput
  training_curves.png, confusion_matrix.png

A run killed at any moment (even SIGKILL) and started again continues from its last checkpoint:
batches depend only on (seed, step) and the RNG state is saved, so the resumed run follows the path
the uninterrupted one would have taken. Features are computed on the fly from augmented audio by the
batched torch frontend, quantized to int8 exactly as the device will see them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kws.checkpoint import CheckpointError, load_checkpoint, restore_model, save_checkpoint
from kws.config import KwsConfig, TrainingConfig, config_to_dict, load_config, write_resolved_config
from kws.errors import KwsError
from kws.fsutil import write_json
from kws.inference import evaluate_accuracy, predict
from kws.prepared_data import FeatureExtractor, PreparedData, prepare_data
from kws.run import Run, as_run


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run produced."""

    run_dir: Path
    """The run folder."""
    best_step: int
    """Step of the best validation accuracy."""
    best_val_accuracy: float
    """Validation accuracy of model_float.pt."""
    test_accuracy: float
    """Test-split accuracy of model_float.pt."""
    resumed_from: int
    """Step this invocation started at (0 for a fresh run)."""


def schedule(config: KwsConfig) -> list[tuple[int, float]]:
    """(end_step, learning_rate) per stage: TF's 15,000 @ 1e-3 then 3,000 @ 1e-4 by default."""
    out, end = [], 0
    for steps, lr in zip(config.training.steps, config.training.learning_rates):
        end += steps
        out.append((end, lr))
    return out


def learning_rate_at(step: int, stages: list[tuple[int, float]]) -> float:
    """The learning rate in force at `step` (0-based)."""
    for end, lr in stages:
        if step < end:
            return lr
    return stages[-1][1]


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor, temperature: float,
                      weight: float) -> torch.Tensor:
    """(1 - weight) * CE(student, labels) + weight * T^2 * KL(teacher_T || student_T).

    The T^2 factor keeps the soft-target gradients on the same scale as the hard ones (Hinton et al.).
    """
    hard = F.cross_entropy(student, target)
    soft = F.kl_div(F.log_softmax(student / temperature, dim=1), F.log_softmax(teacher / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return (1 - weight) * hard + weight * temperature**2 * soft


def load_teacher(config: KwsConfig) -> torch.nn.Module:
    """The frozen teacher of training.teacher, checked against this run's labels and feature spec."""
    from kws.config import ModelConfig
    from kws.models import build_model

    path = Path(config.training.teacher)
    payload = load_checkpoint(path)
    labels = list(config.data.labels())
    if payload["labels"] != labels:
        raise CheckpointError(f"teacher {path} was trained on labels {payload['labels']} but this run has {labels}")
    if payload["frontend_hash"] != config.frontend.spec_hash():
        raise CheckpointError(f"teacher {path} was trained with another feature spec; distillation needs the same "
                              f"[frontend] settings")
    teacher_cfg = ModelConfig(**payload["model"])
    teacher = build_model(teacher_cfg, config.frontend, len(labels))
    restore_model(payload, teacher, path)
    teacher.eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


def _check_resume(run: Run, config: KwsConfig, fingerprint: str, on_data_change: str) -> dict[str, Any] | None:
    last = run.last_checkpoint
    run_dir = run.dir
    if not last.exists():
        return None
    payload = load_checkpoint(last, expect=config)
    saved_fingerprint = payload.get("data_fingerprint")
    if saved_fingerprint is None:  # a run started before the fingerprint was recorded: a newer manifest tells
        manifest = Path(config.data.data_dir) / "manifest.json"
        changed = manifest.is_file() and manifest.stat().st_mtime_ns > last.stat().st_mtime_ns
    else:
        changed = saved_fingerprint != fingerprint
    if changed:
        if on_data_change == "restart":
            return None
        raise CheckpointError(
            f"{run_dir} was trained on {config.data.data_dir} as it was then; the dataset has changed since "
            f"(files added, removed or rewritten). Train it again from the start with `kws train --run {run.name} "
            f"--data-changed restart` (its model is replaced when the new one is done), or use another --run name")
    saved = payload.get("training")
    if saved is not None:  # settings added since the run started count as their defaults
        saved = {**config_to_dict(TrainingConfig()), **saved}
    if saved is not None and _without_device(saved) != _without_device(config_to_dict(config.training)):
        raise CheckpointError(
            f"{run_dir} was started with training settings {saved}; the config now has "
            f"{config_to_dict(config.training)}. Use another --run name, or delete {run_dir} to start over")
    saved_data = payload.get("data")
    if saved_data is not None and saved_data != config_to_dict(config.data):
        raise CheckpointError(f"{run_dir} was started on other data settings; use another --run name or delete it")
    return payload


def train(config: KwsConfig, run: "Run | str | Path", *, progress: bool = True,
          stop_after: int | None = None, on_data_change: str = "error") -> TrainResult:
    """Train (or resume) the configured model into the run folder; see the module docstring for the outputs.

    `stop_after` ends this invocation after that many steps (tests use it to simulate an interruption).
    A run whose dataset changed since it started (kws.data.index.dataset_fingerprint) is never resumed:
    on_data_change 'error' refuses, 'restart' trains from the start (what `make` wants after new data).
    """
    from tqdm import tqdm

    from kws.data.index import dataset_fingerprint
    from kws.models import build_model

    run = as_run(run)
    run_dir = run.dir
    config.validate()
    if on_data_change not in ("error", "restart"):
        raise ValueError(f"on_data_change must be 'error' or 'restart', got {on_data_change!r}")
    fingerprint = dataset_fingerprint(config.data.data_dir)
    resume = _check_resume(run, config, fingerprint, on_data_change)  # refuse a foreign run before any work
    existing = run.config_path
    if existing.exists() and resume is not None and load_config(existing) != config:
        raise CheckpointError(f"{existing} differs from this config; use another --run name or delete {run_dir}")

    torch.manual_seed(config.training.seed)
    labels = config.data.labels()
    device = training_device(config.training.device)
    model = build_model(config.model, config.frontend, len(labels)).to(device)
    extractor = FeatureExtractor(config)
    data = prepare_data(config, extractor, progress=progress)  # dataset errors surface before anything is written
    write_resolved_config(config, run_dir)
    _write_calibration(run, data.calibration)

    teacher = load_teacher(config).to(device) if config.training.teacher else None
    stages = schedule(config)
    total_steps = stages[-1][0]
    optimizer = torch.optim.Adam(model.parameters(), lr=stages[0][1])
    ema = _averaged(model, config.training.ema_decay)
    history: list[dict[str, Any]] = []
    step = 0
    best = {"step": -1, "val_accuracy": -1.0}
    if resume is not None:
        restore_model(resume, model, run.last_checkpoint)
        if ema is not None:
            ema.load_state_dict(resume["ema"])
        optimizer.load_state_dict(resume["optimizer"])
        torch.set_rng_state(resume["torch_rng"])
        history = list(resume["history"])
        best = dict(resume["best"])
        step = int(resume["step"])
    else:
        # The weights before any step: lottery-ticket rewinding (kws prune) resets survivors to these.
        save_checkpoint(run.init_checkpoint, model=model, config=config, step=0, kind="init")
    start_step = step

    bar = tqdm(total=total_steps, initial=step, desc=f"train {config.model.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    window: list[tuple[float, float]] = []
    started = time.perf_counter()
    try:
        while step < total_steps:
            if stop_after is not None and step - start_step >= stop_after:
                break
            lr = learning_rate_at(step, stages)
            for group in optimizer.param_groups:
                group["lr"] = lr
            audio, y = data.batches.batch(step)
            x = _spec_augment(extractor(audio), config, step).to(device)
            target = torch.as_tensor(y, device=device)
            window.append(_train_step(model, optimizer, ema, teacher, x, target, config, _mixup(config, step, len(y))))
            step += 1
            window = window[-50:]
            bar.update(1)
            if step % config.training.eval_every == 0 or step == total_steps:
                kept = model if ema is None else ema.module  # the weights the run keeps
                val_acc = evaluate_accuracy(kept, data.val_features, data.val_labels)
                train_loss = float(np.mean([w[0] for w in window]))
                train_acc = float(np.mean([w[1] for w in window]))
                history.append({"step": step, "lr": lr, "train_loss": train_loss, "train_accuracy": train_acc,
                                "val_accuracy": val_acc})
                if val_acc > best["val_accuracy"]:
                    best = {"step": step, "val_accuracy": val_acc}
                    save_checkpoint(run.best_checkpoint, model=kept, config=config, step=step)
                bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}", val=f"{val_acc:.3f}")
            elif step % 10 == 0:
                bar.set_postfix(loss=f"{window[-1][0]:.3f}", acc=f"{np.mean([w[1] for w in window]):.3f}")
            if step % config.training.checkpoint_every == 0 or step == total_steps:
                _save_last(run, model, optimizer, config, step, history, best, ema, fingerprint)
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    steps_done = step - start_step
    if step < total_steps:
        _save_last(run, model, optimizer, config, step, history, best, ema, fingerprint)
        return TrainResult(run_dir, best["step"], best["val_accuracy"], float("nan"), start_step)
    return _finish(config, run, model, data, history, best, start_step, steps_done, elapsed)


_SPEC_STREAM = 0x73706563  # "spec"
_MIXUP_STREAM = 0x6D697875  # "mixu"


def training_device(setting: str) -> torch.device:
    """training.device as a torch device: 'auto' is CUDA when torch sees a GPU, else the CPU; 'cuda' without a
    GPU is a KwsError naming the setting."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise KwsError("training.device = 'cuda' but torch sees no GPU; use 'auto' or 'cpu'")
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def _without_device(training: dict[str, Any]) -> dict[str, Any]:
    """Training settings without `device`: a run may resume on another device (and older checkpoints lack it)."""
    return {k: v for k, v in training.items() if k != "device"}


def _spec_augment(x: torch.Tensor, config: KwsConfig, step: int) -> torch.Tensor:
    """SpecAugment masks (training.spec_*) on a feature batch, filled with each example's mean; the masks
    depend only on (training.seed, step), so a resumed run draws the same ones."""
    t = config.training
    if not (t.spec_time_masks or t.spec_freq_masks):
        return x
    from kws.data.augment import spec_augment_masks
    from kws.data.index import seed_entropy

    rng = np.random.default_rng([seed_entropy(t.seed), _SPEC_STREAM, step])
    mask = spec_augment_masks(rng, tuple(x.shape), t.spec_time_masks, t.spec_time_mask_frames, t.spec_freq_masks,
                              t.spec_freq_mask_bins)
    return torch.where(torch.from_numpy(mask), x.mean(dim=(1, 2), keepdim=True), x)


def _mixup(config: KwsConfig, step: int, batch: int) -> tuple[float, np.ndarray] | None:
    """Mixup's weight and partner order for one batch (training.mixup_alpha), None when off; they depend only
    on (training.seed, step), so a resumed run draws the same ones."""
    t = config.training
    if not t.mixup_alpha:
        return None
    from kws.data.index import seed_entropy

    rng = np.random.default_rng([seed_entropy(t.seed), _MIXUP_STREAM, step])
    weight = float(rng.beta(t.mixup_alpha, t.mixup_alpha))
    return max(weight, 1.0 - weight), rng.permutation(batch)  # the larger share keeps the batch's own labels


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                ema: "torch.optim.swa_utils.AveragedModel | None", teacher: torch.nn.Module | None, x: torch.Tensor,
                target: torch.Tensor, config: KwsConfig,
                mixup: tuple[float, np.ndarray] | None = None) -> tuple[float, float]:
    """One optimizer step (and the weight average's update); (loss, batch accuracy against `target`)."""
    model.train()
    smoothing = config.training.label_smoothing
    if mixup is None:
        logits = model(x)
        loss = F.cross_entropy(logits, target, label_smoothing=smoothing)
    else:
        weight, order = mixup
        partner = torch.as_tensor(order, device=x.device)
        logits = model(weight * x + (1.0 - weight) * x[partner])
        loss = weight * F.cross_entropy(logits, target, label_smoothing=smoothing) + \
            (1.0 - weight) * F.cross_entropy(logits, target[partner], label_smoothing=smoothing)
    if teacher is not None:
        loss = distillation_loss(logits, teacher(x), target, config.training.distill_temperature,
                                 config.training.distill_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if ema is not None:
        ema.update_parameters(model)
    return loss.item(), (logits.argmax(1) == target).float().mean().item()


def _averaged(model: torch.nn.Module, decay: float) -> "torch.optim.swa_utils.AveragedModel | None":
    """The exponential moving average of `model`'s weights and buffers (training.ema_decay), None when 0."""
    if decay == 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _save_last(run: Run, model: torch.nn.Module, optimizer: torch.optim.Optimizer, config: KwsConfig,
               step: int, history: list[dict[str, Any]], best: dict[str, Any],
               ema: "torch.optim.swa_utils.AveragedModel | None" = None, fingerprint: str | None = None) -> None:
    extra = {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(), "history": history,
             "best": best, "training": config_to_dict(config.training), "data": config_to_dict(config.data)}
    if fingerprint is not None:
        extra["data_fingerprint"] = fingerprint
    if ema is not None:
        extra["ema"] = ema.state_dict()
    save_checkpoint(run.last_checkpoint, model=model, config=config, step=step, kind="resume", extra=extra)


def _write_calibration(run: Run, calibration: dict[str, Any]) -> None:
    from kws.fsutil import atomic_write_text

    atomic_write_text(run.calibration_clips, json.dumps(calibration, indent=1))


def _finish(config: KwsConfig, run: Run, model: torch.nn.Module, data: PreparedData,
            history: list[dict[str, Any]], best: dict[str, Any], start_step: int, steps_done: int,
            elapsed: float) -> TrainResult:
    import shutil

    from kws.eval.metrics import accuracy, confusion_matrix
    from kws.fsutil import atomic_path

    best_payload = load_checkpoint(run.best_checkpoint, expect=config)
    restore_model(best_payload, model)
    predictions = predict(model, data.test_features).numpy()
    truth = data.test_labels.numpy()
    test_acc = accuracy(truth, predictions)
    cm = confusion_matrix(truth, predictions, len(data.labels)) if truth.size else np.zeros((0, 0), np.int64)
    with atomic_path(run.float_model) as tmp:
        shutil.copyfile(run.best_checkpoint, tmp)
    clips_per_s = steps_done * config.training.batch_size / elapsed if elapsed > 0 and steps_done else None
    if clips_per_s is None and run.metrics.is_file():  # a rerun of a finished run trains nothing: keep the figure
        clips_per_s = json.loads(run.metrics.read_text(encoding="utf-8")).get("throughput_clips_per_s")
    metrics = {
        "model": config.model.name,
        "labels": list(data.labels),
        "split_sizes": data.counts,
        "steps": schedule(config)[-1][0],
        "best_step": best["step"],
        "best_val_accuracy": best["val_accuracy"],
        "test_accuracy": test_acc,
        "test_confusion_matrix": cm.tolist(),
        "history": history,
        "throughput_clips_per_s": clips_per_s,
        "resumed_from_step": start_step,
        "config": json.loads(json.dumps(config_to_dict(config))),
    }
    write_json(run.metrics, metrics)
    from kws.plots import plot_confusion_matrix, plot_training_curves

    plot_training_curves(history, run.training_curves, title=f"{config.model.name} ({run.name})")
    if truth.size:
        plot_confusion_matrix(cm, data.labels, run.confusion_matrix,
                              title=f"test split: accuracy {test_acc:.1%}")
    return TrainResult(run.dir, best["step"], best["val_accuracy"], test_acc, start_step)


__all__ = ["TrainResult", "distillation_loss", "learning_rate_at", "load_teacher", "schedule", "train",
           "training_device"]
