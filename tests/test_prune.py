"""Pruning: the schedule ends exactly at the target, global masks zero exactly the smallest weights, structured
pruning shrinks tiny_conv and computes what the masked model computes, reports have one row per round, and bad
settings fail before anything is written.

    .venv/bin/python -m pytest tests/test_prune.py -q

One tiny float model is trained per module (on the session's tiny synthetic set) and copied into each test's
own run folder; each stage run then fine-tunes for a handful of steps only.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch

from kws.checkpoint import CheckpointError, load_checkpoint, load_checkpoint_model, restore_model
from kws.compress.prune import (
    filter_l1_norms,
    filters_to_keep,
    global_magnitude_masks,
    prunable_weights,
    prune,
    remove_filters,
    sparsity_schedule,
)
from kws.config import ConfigError, FrontendConfig, ModelConfig, load_config, replace
from kws.errors import KwsError
from kws.models import build_model, tiny_model_config

TINY = [
    "training.batch_size=32", "training.steps=[100]", "training.learning_rates=[2e-3]", "training.eval_every=50",
    "training.checkpoint_every=50", "quantization.calibration_size=10",
    "pruning.rounds=3", "pruning.finetune_steps=8", "pruning.finetune_learning_rate=5e-4",
]
PRUNE_OUTPUTS = ("prune", "prune_report.json", "prune_report.md", "pruning.png", "model_pruned.pt")
# tiny_conv at 49x40 with 4 labels: 8 filters of 10x8 plus a 4 x 4000 FC.
DENSE_WEIGHTS = 8 * 80 + 4 * 4000


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These models are tiny: on a busy 2-core machine, thread hand-offs cost ten times the arithmetic.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tiny_synth, tmp_path_factory) -> tuple[list[str], Path]:
    """(overrides, run folder) of one tiny trained tiny_conv; tests copy the run, never write into it."""
    from kws.train import train

    base = tmp_path_factory.mktemp("prune")
    overrides = TINY + [f"data.data_dir={tiny_synth}", f"data.cache_dir={base / 'cache'}"]
    config = load_config(None, overrides)
    run = base / "trained"
    train(config, run, progress=False)
    init = run / "checkpoints" / "init.pt"
    if not init.exists():  # a train.py that predates init.pt: the same weights, rebuilt the way train() seeds them
        from kws.checkpoint import save_checkpoint

        torch.manual_seed(config.training.seed)
        save_checkpoint(init, model=build_model(config.model, config.frontend, 4), config=config, step=0, kind="init")
    return overrides, run


def _run_copy(trained: tuple[list[str], Path], tmp_path: Path, *extra: str):
    overrides, source = trained
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("model_float.pt", "config.toml", "calibration.json", "checkpoints/init.pt"):
        shutil.copyfile(source / name, run / name)
    return load_config(None, overrides + list(extra)), run


def _zeros(model: torch.nn.Module) -> int:
    return sum(w.numel() - int(torch.count_nonzero(w)) for _, w in prunable_weights(model))


# ------------------------------------------------------------------------------------------ pure parts

def test_schedule_reaches_the_target_exactly_at_the_last_round():
    # cubic, target 0.8 over 4 rounds: 0.8 * (1 - (1 - r/4)^3) = 0.4625, 0.7, 0.7875, 0.8 (by hand)
    assert sparsity_schedule(0.8, 4, "cubic") == pytest.approx([0.4625, 0.7, 0.7875, 0.8], abs=1e-12)
    assert sparsity_schedule(0.9, 3, "linear") == pytest.approx([0.3, 0.6, 0.9], abs=1e-12)
    for kind in ("cubic", "linear"):
        for target in (0.0, 0.1, 0.37, 0.5, 0.95, 0.999):
            for rounds in range(1, 8):
                values = sparsity_schedule(target, rounds, kind)
                assert len(values) == rounds and values[-1] == target  # exactly, not approximately
                assert all(0 <= a <= b for a, b in zip(values, values[1:]))
    with pytest.raises(ConfigError, match=r"target_sparsity must be in \[0, 1\), got 1.0"):
        sparsity_schedule(1.0, 3)
    with pytest.raises(ConfigError, match="rounds must be >= 1"):
        sparsity_schedule(0.5, 0)


def test_filters_to_keep_rounds_up_and_keeps_one():
    assert [filters_to_keep(s, 8) for s in (0.0, 0.5, 0.6, 0.75, 0.99)] == [8, 4, 4, 2, 1]
    assert filters_to_keep(0.3, 10) == 7  # (1 - 0.3) * 10 is 7.000000000000001 in floats


def test_global_masks_zero_exactly_the_smallest_weights_across_layers():
    a = torch.tensor([[0.1, -5.0], [3.0, 0.2]])
    b = torch.tensor([-0.05, 4.0, 1.0])
    masks = global_magnitude_masks([a, b], 3 / 7)  # the three smallest |w| over both: 0.05, 0.1, 0.2
    assert torch.equal(masks[0], torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert torch.equal(masks[1], torch.tensor([0.0, 1.0, 1.0]))
    # Masks only grow: a pruned weight that has since become large stays pruned, the next smallest joins.
    grown = a.clone()
    grown[0, 0] = 100.0
    masks2 = global_magnitude_masks([grown, b], 4 / 7, masks)
    assert torch.equal(masks2[0], torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert torch.equal(masks2[1], torch.tensor([0.0, 1.0, 0.0]))


def test_unstructured_masks_skip_biases_and_batch_norm():
    torch.manual_seed(0)
    model = build_model(tiny_model_config("ds_cnn"), FrontendConfig(), 4).eval()
    names = [name for name, _ in prunable_weights(model)]
    assert names and all(name.endswith(".weight") and "bn" not in name for name in names)
    untouched = {k: v.clone() for k, v in model.state_dict().items() if k not in names}
    weights = [w for _, w in prunable_weights(model)]
    total = sum(w.numel() for w in weights)
    with torch.no_grad():
        for w, m in zip(weights, global_magnitude_masks(weights, 0.6)):
            w.mul_(m)
    assert _zeros(model) == round(0.6 * total)
    for key, value in model.state_dict().items():
        if key in untouched:
            assert torch.equal(value, untouched[key]), key
    assert torch.isfinite(model(torch.randn(2, 49, 40))).all()


def test_structured_model_equals_the_masked_model_before_finetuning():
    torch.manual_seed(0)
    big = build_model(replace(ModelConfig(), dropout=0.0), FrontendConfig(), 4).eval()
    with torch.no_grad():
        # Positive biases: a removed filter then still outputs relu(bias) > 0 everywhere, so the FC bias fold
        # is exercised rather than trivially zero.
        big.conv.conv.bias.uniform_(0.05, 0.5)
    keep_count = filters_to_keep(0.6, 8)
    survivors = sorted(torch.argsort(filter_l1_norms(big), descending=True)[:keep_count].tolist())
    removed = [c for c in range(8) if c not in survivors]
    small = remove_filters(big, survivors).eval()
    assert tuple(small.conv.conv.weight.shape) == (4, 1, 10, 8)
    assert small.fc.in_features == 25 * 20 * 4
    assert sum(p.numel() for p in small.parameters()) == 4 * 81 + 4 * 2000 + 4

    masked = copy.deepcopy(big)
    with torch.no_grad():
        masked.conv.conv.weight[removed] = 0.0  # pruning = those filter weights are zero; biases stay
    x = torch.randn(16, 49, 40)
    with torch.no_grad():
        # float32: the 2000-term FC sums in another order than the 4000-term one, so only rounding may differ.
        assert torch.allclose(small(x), masked(x), rtol=0, atol=1e-4)
        # float64 (the fold computed in float64 too): rounding is ~1e-15 there, while a wrong FC column or a
        # missing fold would be ~1e-1, so this is equality up to the summation order.
        big64, masked64 = copy.deepcopy(big).double(), copy.deepcopy(masked).double()
        small64 = remove_filters(big64, survivors).eval()
        assert small64.fc.weight.dtype == torch.float64
        assert torch.allclose(small64(x.double()), masked64(x.double()), rtol=0, atol=1e-12)
        # ... and the fold is what makes it so: dropping the removed filters' relu(bias) changes the outputs.
        unfolded = remove_filters(big64, survivors, fold_removed=False).eval()
        assert (unfolded(x.double()) - masked64(x.double())).abs().max() > 1e-3
    with pytest.raises(ConfigError, match="tiny_conv only"):
        remove_filters(build_model(tiny_model_config("ds_cnn"), FrontendConfig(), 4), [0])


# ------------------------------------------------------------------------------------------ the stage

def test_unstructured_reaches_the_target_exactly_and_still_predicts(trained, tmp_path):
    from kws.inference import predict

    config, run = _run_copy(trained, tmp_path, "pruning.target_sparsity=0.75")
    result = prune(config, run, progress=False)
    assert result.mode == "unstructured"
    model = build_model(config.model, config.frontend, 4)
    restore_model(load_checkpoint(run / "model_pruned.pt", expect=config), model)  # same shapes as the float model
    assert _zeros(model) == round(0.75 * DENSE_WEIGHTS) == 12_480
    assert torch.count_nonzero(model.conv.conv.bias) == 8 and torch.count_nonzero(model.fc.bias) == 4
    schedule = sparsity_schedule(0.75, 3, "cubic")
    for r, sparsity in enumerate(schedule, start=1):  # every round on the schedule, counted in the weights
        restore_model(load_checkpoint(run / "prune" / f"round_{r:02d}.pt", expect=config), model)
        assert _zeros(model) == round(sparsity * DENSE_WEIGHTS)
    features = torch.randn(5, 49, 40)
    assert predict(model, features).shape == (5,)
    assert 0 <= result.val_accuracy <= 1 and result.sparsity == pytest.approx(0.75, abs=1 / DENSE_WEIGHTS)

    report = json.loads((run / "prune_report.json").read_text())
    rows = report["rows"]
    assert [row["round"] for row in rows] == [0, 1, 2, 3]  # round 0 is the float model
    assert [row["scheduled_sparsity"] for row in rows[1:]] == schedule
    last = rows[-1]
    # effective MACs by hand: 500 conv positions x nonzero conv taps + one MAC per nonzero FC weight
    assert last["effective_macs"] == 500 * int(torch.count_nonzero(model.conv.conv.weight)) + \
        int(torch.count_nonzero(model.fc.weight))
    assert rows[0]["macs"] == rows[0]["effective_macs"] == 336_000
    assert last["nonzero_params"] == rows[0]["params"] - 12_480
    table = [line for line in (run / "prune_report.md").read_text().splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 4 and "effective MACs" in table[0]
    assert (run / "pruning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print("\nunstructured:", [(round(r["sparsity"], 4), r["val_accuracy_before_finetune"], r["val_accuracy"],
                               r["test_accuracy"]) for r in rows])


def test_structured_shrinks_shapes_and_the_model_runs(trained, tmp_path):
    from kws.inference import predict

    config, run = _run_copy(trained, tmp_path, "pruning.target_sparsity=0.5")
    result = prune(config, run, structured=True, progress=False)
    rows = json.loads((run / "prune_report.json").read_text())["rows"]
    # cubic over 3 rounds to 0.5: sparsity 0.352, 0.481, 0.5 -> keep ceil(8 * (1 - s)) = 6, 5, 4 filters
    assert [row["filters"] for row in rows] == [8, 6, 5, 4]
    assert rows[-1]["shapes"] == {"conv.conv.weight": [4, 1, 10, 8], "fc.weight": [4, 25 * 20 * 4]}
    assert result.sparsity == 0.5 and rows[-1]["macs"] == 25 * 20 * 4 * 80 + 4 * 2000
    # The pruned checkpoint is a different architecture from the run config: the strict check refuses it,
    # load_checkpoint_model builds it from its own model settings.
    with pytest.raises(CheckpointError, match="model settings"):
        load_checkpoint(run / "model_pruned.pt", expect=config)
    model, payload = load_checkpoint_model(run / "model_pruned.pt", expect=config)
    assert payload["model"]["filters"] == 4
    assert tuple(model.conv.conv.weight.shape) == (4, 1, 10, 8) and model.fc.in_features == 2000
    assert predict(model, torch.randn(3, 49, 40)).shape == (3,)
    other_labels = load_config(None, trained[0] + ["data.wanted_words=['yes']"])
    with pytest.raises(CheckpointError, match="labels"):
        load_checkpoint_model(run / "model_pruned.pt", expect=other_labels)
    md = (run / "prune_report.md").read_text()
    assert "conv.conv.weight 4x1x10x8" in md and "fc.weight 4x2000" in md
    print("\nstructured:", [(r["filters"], r["val_accuracy_before_finetune"], r["val_accuracy"], r["test_accuracy"])
                            for r in rows])


def test_rewind_resets_survivors_to_their_initial_values(trained, tmp_path):
    config, run = _run_copy(trained, tmp_path, "pruning.rewind=init", "pruning.finetune_steps=0",
                            "pruning.rounds=2", "pruning.target_sparsity=0.5")
    prune(config, run, progress=False)
    pruned = load_checkpoint(run / "model_pruned.pt", expect=config)["state_dict"]
    init = load_checkpoint(run / "checkpoints" / "init.pt", expect=config)["state_dict"]
    zeros = 0
    for key in pruned:
        kept = pruned[key] != 0
        zeros += int((~kept).sum()) if key.endswith("weight") else 0
        assert torch.equal(pruned[key][kept], init[key][kept]), key  # no fine-tuning: survivors are the init values
    assert zeros == round(0.5 * DENSE_WEIGHTS)

    # A run without init.pt (trained before `kws train` wrote it): a clear error, nothing written.
    config, run = _run_copy(trained, tmp_path / "old", "pruning.rewind=init")
    (run / "checkpoints" / "init.pt").unlink()
    with pytest.raises(KwsError, match=r"rewind='init' needs .*init\.pt.*pruning\.rewind='none'"):
        prune(config, run, progress=False)
    assert not any((run / name).exists() for name in PRUNE_OUTPUTS)


@pytest.mark.parametrize("change, message", [
    ({"target_sparsity": 1.0}, r"target_sparsity must be in \[0, 1\), got 1.0"),
    ({"target_sparsity": -0.1}, r"target_sparsity must be in \[0, 1\), got -0.1"),
    ({"rounds": 0}, "rounds must be >= 1, got 0"),
])
def test_bad_settings_fail_before_any_output(trained, tmp_path, change, message):
    config, run = _run_copy(trained, tmp_path)
    bad = replace(config, pruning=replace(config.pruning, **change))  # replace() skips load_config's checks
    with pytest.raises(ConfigError, match=message):
        prune(bad, run, progress=False)
    assert not any((run / name).exists() for name in PRUNE_OUTPUTS)


def test_missing_model_and_unsupported_structured_are_clear_errors(trained, tmp_path, monkeypatch, capsys):
    from kws.cli import main

    config, run = _run_copy(trained, tmp_path)
    with pytest.raises(ConfigError, match="supports tiny_conv only.*'ds_cnn'"):
        prune(replace(config, model=tiny_model_config("ds_cnn")), run, structured=True, progress=False)
    empty = tmp_path / "untrained"
    empty.mkdir()
    with pytest.raises(KwsError, match=r"model_float\.pt does not exist: train the run first \(kws train --run "
                                       r"untrained\)"):
        prune(config, empty, progress=False)
    monkeypatch.chdir(tmp_path)
    assert main(["prune", "--run", "cli", "--quiet", "--set", "pruning.target_sparsity=1.5"]) == 2
    assert "pruning.target_sparsity must be in [0, 1), got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
