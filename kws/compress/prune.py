"""`kws prune`: iterative magnitude pruning with fine-tuning between rounds, or structured filter pruning.

    kws prune --run demo                   # unstructured: global magnitude pruning of conv + FC weights
    kws prune --run demo --structured      # tiny_conv: remove whole conv filters and the FC inputs they fed
    kws prune --run demo --set pruning.target_sparsity=0.8 --set pruning.rounds=5 --set pruning.rewind=init

Reads runs/<run>/model_float.pt (written by `kws train`). Each of `pruning.rounds` rounds raises the
sparsity along the schedule (`pruning.schedule`: cubic, Zhu & Gupta 2017, by default; or linear), which
reaches `pruning.target_sparsity` exactly at the last round, prunes, then fine-tunes for
`pruning.finetune_steps` Adam steps on training batches from a step stream disjoint from training's and QAT's.

- Unstructured: one global ranking of |w| over every Conv2d and Linear weight (not biases, not batch norm);
  exactly round(s * N) of the N weights are zero after a round of sparsity s. Masks are re-applied after
  every optimiser step, so pruned weights stay zero. The tensors keep their shapes (a sparse-aware
  runtime or compression gains from the zeros; the TFLite Micro dense kernels do not).
- Structured (tiny_conv only): keep the ceil((1 - s) * filters) filters with the largest L1 norm (at least
  one), and physically build a smaller TinyConv: conv weight [C', 1, 10, 8], FC in_features 25*20*C'. A
  removed filter still contributed relu(bias) at every position; that constant is folded into the FC bias,
  so before fine-tuning the small model computes what the big one with those filters zeroed computes.
- `pruning.rewind = 'init'`: lottery-ticket rewinding (Frankle & Carbin 2019): after each round's pruning,
  surviving weights go back to their values before training (runs/<run>/checkpoints/init.pt).

Writes into runs/<run>/ (each file atomically; model_pruned.pt last, so its presence means all is done):
  prune/round_NN.pt     the model after each round (the folder is replaced as a whole)
  prune_report.json     per round: sparsity, parameters, MACs, effective MACs, shapes, accuracies
  prune_report.md       the same as a Markdown table (round 0 is the float model)
  pruning.png           accuracy vs sparsity; nonzero parameters and effective MACs vs sparsity
  model_pruned.pt       the last round's model; a structured one records its filter count in its own
                        `model` settings: load it with kws.checkpoint.load_checkpoint_model
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kws.checkpoint import load_checkpoint, restore_model, save_checkpoint
from kws.config import ConfigError, KwsConfig, PruningConfig, config_to_dict, replace
from kws.errors import KwsError
from kws.fsutil import write_json
from kws.run import Run, as_run

# Fine-tuning batches come from steps PRUNE_STREAM + i: training uses steps 0..total and QAT
# 10,000,000 + i, so pruning never replays the exact augmented batches either of them saw.
PRUNE_STREAM = 20_000_000


@dataclass(frozen=True)
class PruneResult:
    """What a pruning run produced."""

    mode: str
    """'unstructured' or 'structured'."""
    rows: tuple[dict[str, Any], ...]
    """One dict per round (round 0 is the float model): the rows of prune_report.json."""
    float_test_accuracy: float
    """model_float.pt on the test split."""
    test_accuracy: float
    """The pruned model (last round) on the test split."""
    val_accuracy: float
    """The pruned model on the validation split."""
    sparsity: float
    """Fraction of the float model's conv + FC weights that are zero or removed in the pruned model."""
    checkpoint: Path
    """The written model_pruned.pt."""


# --------------------------------------------------------------------------------------------- schedule

def sparsity_schedule(target: float, rounds: int, kind: str = "cubic") -> list[float]:
    """Sparsity after each of `rounds` rounds; the last entry is exactly `target`.

    cubic (Zhu & Gupta 2017, "To prune, or not to prune", with initial sparsity 0 and one pruning
    event per round): s_r = target * (1 - (1 - r/R)^3). It prunes hard while the network is most
    redundant and gently near the target, where each weight matters more. linear: s_r = target * r/R.
    """
    PruningConfig(target_sparsity=target, rounds=rounds, schedule=kind).validate()
    if kind == "cubic":
        values = [target * (1.0 - (1.0 - r / rounds) ** 3) for r in range(1, rounds + 1)]
    else:
        values = [target * r / rounds for r in range(1, rounds + 1)]
    values[-1] = target  # exactly, whatever the float arithmetic above rounded to
    return values


def filters_to_keep(sparsity: float, filters: int) -> int:
    """ceil((1 - sparsity) * filters), at least 1: the filter count after structured pruning."""
    # Rounded to 9 places first: (1 - 0.3) * 10 is 7.000000000000001 in floats, and ceil would give 8.
    return max(1, math.ceil(round((1.0 - sparsity) * filters, 9)))


# ------------------------------------------------------------------------------------ unstructured masks

def prunable_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, weight) of every Conv2d and Linear, in module order: biases and batch norm are never pruned."""
    return [(f"{name}.weight", module.weight) for name, module in model.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear))]


def global_magnitude_masks(weights: Sequence[torch.Tensor], sparsity: float,
                           previous: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """0/1 masks (weight dtype) zeroing exactly round(sparsity * N) of the N weights, smallest |w| first.

    One ranking across all tensors (global, not per layer), so layers with many redundant weights (the
    FC of tiny_conv) give up more. Weights already masked by `previous` are pruned first whatever their
    value, so masks only ever grow: fine-tuning cannot resurrect a weight pruned in an earlier round.
    A stable sort breaks ties by position, so the same weights always give the same masks.
    """
    if not 0 <= sparsity < 1:
        raise ConfigError(f"sparsity must be in [0, 1), got {sparsity}")
    scores = []
    for i, weight in enumerate(weights):
        score = weight.detach().abs().flatten().to(torch.float64)
        if previous is not None:
            score = score.masked_fill(previous[i].flatten() == 0, -1.0)
        scores.append(score)
    flat = torch.cat(scores)
    count = int(round(sparsity * flat.numel()))
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.argsort(flat, stable=True)[:count]] = False
    masks, start = [], 0
    for weight in weights:
        masks.append(keep[start:start + weight.numel()].view_as(weight).to(weight.dtype))
        start += weight.numel()
    return masks


@torch.no_grad()
def apply_masks(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """weight *= mask for each (weight, mask) pair, in place."""
    for weight, mask in pairs:
        weight.mul_(mask)


# ---------------------------------------------------------------------------------- structured (filters)

def filter_l1_norms(model: nn.Module) -> torch.Tensor:
    """L1 norm of each tiny_conv filter's weights (the bias is not part of the ranking)."""
    return model.conv.conv.weight.detach().abs().sum(dim=(1, 2, 3))


def remove_filters(model: nn.Module, keep: Sequence[int], *, fold_removed: bool = True) -> nn.Module:
    """A new, smaller TinyConv with only the conv filters `keep` and the FC inputs they feed.

    The flatten is H,W,C, so FC input (h*W + w)*C + c belongs to channel c at (h, w): viewing the FC
    weight as [labels, H, W, C] and selecting along C removes exactly the removed filters' inputs.
    With `fold_removed`, each removed filter is treated as zeroed, not deleted: its output was the
    constant relu(bias) at every position, whose FC contribution moves into the FC bias, so the small
    model computes exactly what the big one with those filter weights set to zero computes.
    (Lottery-ticket rewinding slices initial weights with fold_removed=False: nothing to preserve there.)
    """
    from kws.models.tiny_conv import TinyConv

    if not isinstance(model, TinyConv):
        raise ConfigError(f"structured pruning supports tiny_conv only, got a {type(model).__name__}")
    conv = model.conv.conv
    channels = conv.out_channels
    keep = sorted(int(k) for k in keep)  # original order: exported filters stay in a recognisable sequence
    if not keep or len(set(keep)) != len(keep) or keep[0] < 0 or keep[-1] >= channels:
        raise ValueError(f"filters to keep must be distinct indices in 0..{channels - 1}, got {keep}")
    removed = [c for c in range(channels) if c not in set(keep)]
    out_h, out_w = model.conv.output_hw
    small = TinyConv(*model.input_shape, model.fc.out_features, dropout=model.dropout.p, filters=len(keep),
                     kernel=tuple(conv.kernel_size), stride=tuple(conv.stride)).to(conv.weight.dtype)
    small.train(model.training)
    index = torch.as_tensor(keep, dtype=torch.long)
    fc_weight = model.fc.weight.detach().view(model.fc.out_features, out_h, out_w, channels)
    with torch.no_grad():
        small.conv.conv.weight.copy_(conv.weight[index])
        if conv.bias is not None:
            small.conv.conv.bias.copy_(conv.bias[index])
        small.fc.weight.copy_(fc_weight[..., index].reshape(model.fc.out_features, -1))
        fc_bias = model.fc.bias.detach().clone()
        if fold_removed and removed and conv.bias is not None:
            gone = torch.as_tensor(removed, dtype=torch.long)
            constant = torch.relu(conv.bias.detach()[gone])                      # [R]: the removed outputs
            fc_bias += (fc_weight[..., gone] * constant).sum(dim=(1, 2, 3))       # summed over h, w and c
        small.fc.bias.copy_(fc_bias)
    return small


# ------------------------------------------------------------------------------------------- measuring

def measure(model: nn.Module, input_shape: tuple[int, int], dense_prunable: int) -> dict[str, Any]:
    """Parameters, nonzero parameters, MACs, effective MACs, sparsity (overall, per layer), shapes of `model`.

    Effective MACs count only multiplications by nonzero weights: a Conv2d's MACs are (output
    positions) x (weight elements), so each layer's figure scales by its nonzero share exactly.
    Sparsity is relative to the float model's `dense_prunable` conv + FC weights, so a removed filter
    counts as pruned just like a zeroed weight.
    """
    from kws.models.summary import summarize

    summary = summarize(model, input_shape)
    modules = dict(model.named_modules())
    effective = 0
    for layer in summary.layers:
        module = modules[layer.name]
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            weight = module.weight
            effective += layer.macs // weight.numel() * int(torch.count_nonzero(weight))
    prunable = prunable_weights(model)
    nonzero_prunable = sum(int(torch.count_nonzero(w)) for _, w in prunable)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "nonzero_params": sum(int(torch.count_nonzero(p)) for p in model.parameters()),
        "prunable_weights": sum(w.numel() for _, w in prunable),
        "zero_weights": sum(w.numel() - int(torch.count_nonzero(w)) for _, w in prunable),
        "sparsity": 1.0 - nonzero_prunable / dense_prunable,
        "macs": summary.total_macs,
        "effective_macs": effective,
        "shapes": {name: list(w.shape) for name, w in prunable},
        # Per layer, because global ranking spreads the zeros unevenly, and MACs follow the conv layers.
        "layer_sparsity": {name: 1.0 - int(torch.count_nonzero(w)) / w.numel() for name, w in prunable},
    }


# --------------------------------------------------------------------------------------------- the stage

def _check_inputs(config: KwsConfig, run: Run) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Every refusal that needs no data: (float checkpoint, init checkpoint or None)."""
    config.validate()  # sparsity outside [0, 1), rounds < 1, ... before anything is read or written
    settings = config.pruning
    if settings.structured and config.model.name != "tiny_conv":
        raise ConfigError(f"pruning.structured=true supports tiny_conv only, but model.name={config.model.name!r}; "
                          f"use unstructured pruning (pruning.structured=false, no --structured) for it")
    float_path = run.float_model
    if not float_path.is_file():
        raise KwsError(f"{float_path} does not exist: train the run first (kws train --run {run.name})")
    payload = load_checkpoint(float_path, expect=config)
    init = None
    if settings.rewind == "init":
        init_path = run.init_checkpoint
        if not init_path.is_file():
            raise KwsError(f"pruning.rewind='init' needs {init_path}, the weights before training, which `kws train` "
                           f"writes at step 0; this run has none (trained by an older version?). Retrain the run "
                           f"or set pruning.rewind='none'")
        init = load_checkpoint(init_path, expect=config)
    return payload, init


def prune(config: KwsConfig, run: "Run | str | Path", structured: bool | None = None, *,
          progress: bool = True) -> PruneResult:
    """Prune runs/<run>/model_float.pt round by round; see the module docstring for what is written."""
    from tqdm import tqdm

    from kws.fsutil import atomic_directory, atomic_write_text
    from kws.inference import evaluate_accuracy
    from kws.models import build_model
    from kws.prepared_data import FeatureExtractor, prepare_data

    run = as_run(run)
    if structured is not None:
        config = replace(config, pruning=replace(config.pruning, structured=structured))
    float_payload, init_payload = _check_inputs(config, run)
    settings = config.pruning
    mode = "structured" if settings.structured else "unstructured"
    labels = config.data.labels()
    input_shape = (config.frontend.num_frames, config.frontend.num_features)

    torch.manual_seed(config.training.seed)  # dropout during fine-tuning: the same run twice gives the same model
    model = build_model(config.model, config.frontend, len(labels))
    restore_model(float_payload, model, run.float_model)
    init_model = None
    if init_payload is not None:
        init_model = build_model(config.model, config.frontend, len(labels))
        restore_model(init_payload, init_model, run.init_checkpoint)

    extractor = FeatureExtractor(config)
    data = prepare_data(config, extractor, progress=progress)
    dense_prunable = sum(w.numel() for _, w in prunable_weights(model))
    filters0 = model.conv.conv.out_channels if settings.structured else 0
    kept = list(range(filters0))  # original indices of the surviving filters (structured)

    def row(round_index: int, scheduled: float, val_before: float) -> dict[str, Any]:
        figures = measure(model, input_shape, dense_prunable)
        out = {"round": round_index, "scheduled_sparsity": scheduled, **figures,
               "val_accuracy_before_finetune": val_before,
               "val_accuracy": evaluate_accuracy(model, data.val_features, data.val_labels),
               "test_accuracy": evaluate_accuracy(model, data.test_features, data.test_labels)}
        if settings.structured:
            out["filters"] = len(kept)
            out["kept_filters"] = list(kept)
        return out

    rows = [row(0, 0.0, float("nan"))]
    float_test = rows[0]["test_accuracy"]
    schedule = sparsity_schedule(settings.target_sparsity, settings.rounds, settings.schedule)
    masks: list[torch.Tensor] | None = None
    started = time.perf_counter()
    bar = tqdm(total=settings.rounds * settings.finetune_steps, desc=f"prune {config.model.name} ({mode})",
               unit="step", disable=not progress, dynamic_ncols=True)
    try:
        with atomic_directory(run.prune_rounds_dir, replace=True) as rounds_dir:
            for r, sparsity in enumerate(schedule, start=1):
                bar.set_postfix(round=f"{r}/{settings.rounds}", sparsity=f"{sparsity:.3f}")
                if settings.structured:
                    model = _prune_filters(model, filters_to_keep(sparsity, filters0), kept, init_model)
                    pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
                else:
                    weights = [w for _, w in prunable_weights(model)]
                    masks = global_magnitude_masks(weights, sparsity, masks)
                    if init_model is not None:  # rewind: survivors restart from their initial values
                        model.load_state_dict(init_model.state_dict())
                        weights = [w for _, w in prunable_weights(model)]
                    pairs = list(zip(weights, masks))
                    apply_masks(pairs)
                val_before = evaluate_accuracy(model, data.val_features, data.val_labels)
                _finetune(model, pairs, data, extractor, settings.finetune_steps, settings.finetune_learning_rate,
                          PRUNE_STREAM + (r - 1) * settings.finetune_steps, bar)
                rows.append(row(r, sparsity, val_before))
                bar.set_postfix(round=f"{r}/{settings.rounds}", sparsity=f"{rows[-1]['sparsity']:.3f}",
                                val=f"{rows[-1]['val_accuracy']:.3f}")
                save_checkpoint(rounds_dir / f"round_{r:02d}.pt", model=model, config=_pruned_config(config, model),
                                step=r * settings.finetune_steps, kind="pruned",
                                extra={"pruning": _identity(rows[-1], config)})
    finally:
        bar.close()

    report = {
        "model": config.model.name, "mode": mode, "labels": list(labels),
        "pruning": config_to_dict(settings), "float_test_accuracy": float_test,
        "seconds": time.perf_counter() - started, "rows": rows,
    }
    write_json(run.prune_report_json, report)
    title = f"{config.model.name} {mode} pruning ({run.name}, {settings.schedule} schedule)"
    atomic_write_text(run.prune_report_md, markdown_table(rows, structured=settings.structured, title=title))
    plot_pruning(rows, run.prune_plot, title=f"{config.model.name} {mode} pruning ({run.name})")
    # Written last (atomically, like every checkpoint): its presence means every other output is complete.
    checkpoint = save_checkpoint(run.pruned_model, model=model, config=_pruned_config(config, model),
                                 step=settings.rounds * settings.finetune_steps, kind="pruned",
                                 extra={"pruning": _identity(rows[-1], config)})
    last = rows[-1]
    return PruneResult(mode, tuple(rows), float_test, last["test_accuracy"], last["val_accuracy"], last["sparsity"],
                       checkpoint)


def _prune_filters(model: nn.Module, keep_count: int, kept: list[int], init_model: nn.Module | None) -> nn.Module:
    """Drop the smallest-L1 filters down to `keep_count`; `kept` (original indices) is updated in place."""
    if keep_count < len(kept):
        order = torch.argsort(filter_l1_norms(model), descending=True, stable=True)
        survivors = sorted(order[:keep_count].tolist())
        model = remove_filters(model, survivors)
        kept[:] = [kept[i] for i in survivors]
    if init_model is not None:  # rewind: the same filters and FC inputs, at their values before training
        model = remove_filters(init_model, kept, fold_removed=False)
    return model


def _finetune(model: nn.Module, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], data: Any, extractor: Any,
              steps: int, learning_rate: float, first_step: int, bar: Any) -> None:
    """Adam on training batches `first_step`.. with the masks held: pruned weights get no gradient and stay 0."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)  # fresh per round: no stale moments
    for i in range(steps):
        audio, y = data.batches.batch(first_step + i)
        model.train()
        loss = F.cross_entropy(model(extractor(audio)), torch.as_tensor(y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for weight, mask in pairs:
            if weight.grad is not None:
                weight.grad.mul_(mask)  # zero gradient keeps Adam's moments at 0, so no drift ...
        optimizer.step()
        apply_masks(pairs)  # ... and re-masking makes "stays exactly 0" independent of the optimiser
        bar.update(1)
    model.eval()


def _pruned_config(config: KwsConfig, model: nn.Module) -> KwsConfig:
    """The run config with the model settings the pruned network really has (tiny_conv's filter count)."""
    if config.model.name != "tiny_conv":
        return config
    return replace(config, model=replace(config.model, filters=int(model.conv.conv.out_channels)))


def _identity(last: dict[str, Any], config: KwsConfig) -> dict[str, Any]:
    """What a pruned checkpoint records about how it was made."""
    keys = ("round", "scheduled_sparsity", "sparsity", "params", "nonzero_params", "macs", "effective_macs",
            "filters", "kept_filters")
    return {**{k: last[k] for k in keys if k in last}, "settings": config_to_dict(config.pruning)}


# ------------------------------------------------------------------------------------------------ report

def _percent(value: float) -> str:
    return "n/a" if value != value else f"{value:.1%}"  # NaN: an empty split or no measurement


def markdown_table(rows: Sequence[dict[str, Any]], *, structured: bool, title: str = "") -> str:
    """One row per round (round 0: the float model) as a Markdown table."""
    header = ["round", "sparsity (scheduled)", "parameters", "nonzero parameters", "MACs", "effective MACs"]
    header.append("tensor shapes" if structured else "sparsity per layer")
    header += ["val acc before fine-tune", "val acc", "test acc"]
    lines = [f"# {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        cells = [str(r["round"]), f"{r['sparsity']:.4f} ({r['scheduled_sparsity']:.4f})", f"{r['params']:,}",
                 f"{r['nonzero_params']:,}", f"{r['macs']:,}", f"{r['effective_macs']:,}"]
        if structured:
            cells.append("; ".join(f"{name} {'x'.join(map(str, shape))}" for name, shape in r["shapes"].items()))
        else:
            cells.append("; ".join(f"{name.removesuffix('.weight')} {value:.3f}"
                                   for name, value in r["layer_sparsity"].items()))
        cells += [_percent(r[key]) for key in ("val_accuracy_before_finetune", "val_accuracy", "test_accuracy")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Sparsity: share of the float model's conv + FC weights that are zero or removed. Effective MACs "
                  "count multiplications by nonzero weights only. Round 0 is model_float.pt."]
    return "\n".join(lines) + "\n"


def plot_pruning(rows: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Accuracy vs sparsity (left); nonzero parameters and effective MACs vs sparsity (right, two axes)."""
    from kws.plots import pyplot, save_figure  # the house's Agg backend and atomic PNG write

    plt = pyplot()
    fig, (ax_acc, ax_size) = plt.subplots(1, 2, figsize=(11, 3.8))
    fig.subplots_adjust(wspace=0.35)  # room for the right panel's left-axis label
    sparsity = [r["sparsity"] for r in rows]
    ax_acc.plot(sparsity, [r["val_accuracy"] for r in rows], marker="o", label="validation")
    ax_acc.plot(sparsity, [r["test_accuracy"] for r in rows], marker="s", label="test")
    ax_acc.plot(sparsity, [r["val_accuracy_before_finetune"] for r in rows], marker="x", linestyle=":",
                label="validation, before fine-tune")
    for r in rows:
        ax_acc.annotate(str(r["round"]), (r["sparsity"], r["val_accuracy"]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=8)
    ax_acc.set_xlabel("sparsity (round numbers above the points)")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.05)
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(loc="lower left")
    ax_size.plot(sparsity, [r["nonzero_params"] for r in rows], marker="o", color="tab:blue")
    ax_size.set_xlabel("sparsity")
    ax_size.set_ylabel("nonzero parameters", color="tab:blue")
    ax_size.grid(alpha=0.3)
    ax_macs = ax_size.twinx()
    ax_macs.plot(sparsity, [r["effective_macs"] for r in rows], marker="s", color="tab:orange")
    ax_macs.set_ylabel("effective MACs", color="tab:orange")
    ax_size.set_ylim(bottom=0)
    ax_macs.set_ylim(bottom=0)
    fig.suptitle(title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


__all__ = ["PRUNE_STREAM", "PruneResult", "apply_masks", "filter_l1_norms", "filters_to_keep",
           "global_magnitude_masks", "markdown_table", "measure", "plot_pruning", "prunable_weights", "prune",
           "remove_filters", "sparsity_schedule"]
