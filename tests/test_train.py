"""Training on a tiny synthetic set: learns well above chance, resumes after SIGKILL on the same path,
refuses foreign checkpoints, and the quantize stage simulates int8 close to float."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kws.checkpoint import CheckpointError, load_checkpoint
from kws.config import load_config

TINY = [
    "training.batch_size=32", "training.steps=[120,40]", "training.eval_every=40", "training.checkpoint_every=10",
    "quantization.calibration_size=40", "quantization.qat_steps=30",
]


def _overrides(data_dir: Path, cache: Path) -> list[str]:
    return TINY + [f"data.data_dir={data_dir}", f"data.cache_dir={cache}"]


def test_training_learns_and_writes_every_output(tiny_synth, tmp_path):
    from kws.train import train

    config = load_config(None, _overrides(tiny_synth, tmp_path / "cache"))
    result = train(config, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("config.toml", "model_float.pt", "calibration.json", "metrics.json", "training_curves.png",
                 "confusion_matrix.png", "checkpoints/last.pt"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    # 4 labels: guessing the largest class gives well under 50 %; 160 tiny steps already give far more.
    assert result.best_val_accuracy >= 0.7
    assert metrics["best_val_accuracy"] == result.best_val_accuracy
    assert len(metrics["test_confusion_matrix"]) == 4
    assert load_config(run / "config.toml") == config
    calibration = json.loads((run / "calibration.json").read_text())
    assert len(calibration["rows"]) == 40 and calibration["rows"] == sorted(set(calibration["rows"]))


def test_resume_after_sigkill_follows_the_uninterrupted_path(tiny_synth, tmp_path):
    overrides = _overrides(tiny_synth, tmp_path / "cache")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def kws_train(run: str, *extra: str) -> subprocess.Popen:
        args = [sys.executable, "-m", "kws", "train", "--run", run, "--quiet"]
        for item in overrides:
            args += ["--set", item]
        return subprocess.Popen(args + list(extra), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    straight = kws_train("straight")
    assert straight.wait(timeout=300) == 0, straight.stderr.read()

    killed = kws_train("killed")
    last = tmp_path / "runs" / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if last.exists() and load_checkpoint(last)["step"] >= 30:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    step_at_kill = load_checkpoint(last)["step"]
    assert 30 <= step_at_kill < 160, "the kill must land mid-run"
    assert not (tmp_path / "runs" / "killed" / "model_float.pt").exists()

    resumed = kws_train("killed")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    metrics = json.loads((tmp_path / "runs" / "killed" / "metrics.json").read_text())
    assert metrics["resumed_from_step"] >= step_at_kill
    a = load_checkpoint(tmp_path / "runs" / "straight" / "model_float.pt")
    b = load_checkpoint(tmp_path / "runs" / "killed" / "model_float.pt")
    assert a["step"] == b["step"]
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key


def test_foreign_checkpoints_and_configs_are_refused(tiny_synth, tmp_path):
    from kws.train import train

    config = load_config(None, _overrides(tiny_synth, tmp_path / "cache")
                         + ["training.steps=[20]", "training.learning_rates=[1e-3]"])
    train(config, tmp_path / "run", progress=False)
    other_labels = load_config(None, _overrides(tiny_synth, tmp_path / "cache") + ["data.wanted_words=['yes']"])
    with pytest.raises(CheckpointError, match=r"labels \['_silence_', '_unknown_', 'yes', 'no'\].*\['_silence_', "
                                              r"'_unknown_', 'yes'\]"):
        load_checkpoint(tmp_path / "run" / "model_float.pt", expect=other_labels)
    other_model = load_config(None, _overrides(tiny_synth, tmp_path / "cache") + ["model.name=ds_cnn"])
    with pytest.raises(CheckpointError, match="holds a 'tiny_conv' model but the config asks for 'ds_cnn'"):
        train(other_model, tmp_path / "run", progress=False)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt is not a kws checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.parametrize("content", ["garbage", "foreign pickle", "truncated"])
def test_unreadable_checkpoint_says_what_to_do_and_never_suggests_unsafe_loading(tmp_path, content):
    import collections
    import pickle

    path = tmp_path / "model_float.pt"
    if content == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif content == "foreign pickle":  # loadable only by running arbitrary pickle code
        path.write_bytes(pickle.dumps(collections.OrderedDict(a=collections.Counter(b=1))))
    else:
        torch.save({"format": "kws-checkpoint/1", "state_dict": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(path)
    message = str(raised.value)
    assert str(path) in message and "not a kws checkpoint" in message and "damaged" in message
    assert "kws train" in message and "restore" in message
    assert "weights_only" not in message and "succeed" not in message and "\n" not in message


def test_missing_wanted_word_fails_before_any_output(tiny_synth, tmp_path):
    from kws.errors import DataError
    from kws.train import train

    config = load_config(None, _overrides(tiny_synth, tmp_path / "cache") + ["data.wanted_words=['yes','marvin']"])
    with pytest.raises(DataError, match="marvin"):
        train(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("method", ["ptq", "qat"])
def test_quantize_simulates_int8_close_to_float(tiny_synth, tmp_path, method):
    from kws.compress.quantize import load_quantized, quantize
    from kws.train import train

    config = load_config(None, _overrides(tiny_synth, tmp_path / "cache"))
    train(config, tmp_path / "run", progress=False)
    result = quantize(config, tmp_path / "run", method, progress=False)
    report = json.loads((tmp_path / "run" / f"quant_{method}.json").read_text())
    assert report["int8_test_accuracy"] == result.int8_test_accuracy
    # int8 simulation of a healthy model stays within a few points of float on this tiny test split
    assert result.int8_test_accuracy >= result.float_test_accuracy - 0.1
    model = load_quantized(config, result.checkpoint)
    assert set(model.activation_ranges()) == {"conv", "fc"}


def test_distillation_loss_by_hand():
    from kws.train import distillation_loss

    student = torch.tensor([[2.0, 0.0]])
    teacher = torch.tensor([[0.0, 2.0]])
    target = torch.tensor([0])
    ce = torch.nn.functional.cross_entropy(student, target)
    # weight 0: plain cross-entropy; a teacher identical to the student adds nothing
    assert distillation_loss(student, teacher, target, 2.0, 0.0).item() == pytest.approx(ce.item())
    assert distillation_loss(student, student, target, 2.0, 1.0).item() == pytest.approx(0.0, abs=1e-7)
    # weight 1, T = 1: KL(p_t || p_s) with p_s = softmax([2, 0]), p_t = softmax([0, 2]) = reversed
    p = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    kl = (p.flip(0) * (p.flip(0).log() - p.log())).sum().item()
    assert distillation_loss(student, teacher, target, 1.0, 1.0).item() == pytest.approx(kl, rel=1e-6)
    # T^2 scaling: at T = 2 the soft term is 4 x KL of the softened distributions
    q = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    kl2 = (q.flip(0) * (q.flip(0).log() - q.log())).sum().item()
    assert distillation_loss(student, teacher, target, 2.0, 1.0).item() == pytest.approx(4 * kl2, rel=1e-6)


def test_distil_a_ds_cnn_teacher_into_tiny_conv(tiny_synth, tmp_path):
    from kws.train import train

    base = _overrides(tiny_synth, tmp_path / "cache")
    # A short teacher run: depthwise convolutions are slow on CPU, and any teacher exercises the path.
    teacher_cfg = load_config(None, base + ["model.name=ds_cnn", "model.width=8", "model.dropout=0.1",
                                            "training.steps=[40]", "training.learning_rates=[3e-3]"])
    train(teacher_cfg, tmp_path / "teacher", progress=False)
    student_cfg = load_config(None, base + [f"training.teacher={tmp_path / 'teacher' / 'model_float.pt'}"])
    result = train(student_cfg, tmp_path / "student", progress=False)
    assert result.best_val_accuracy >= 0.5
    wrong = load_config(None, base + ["data.wanted_words=['yes']",
                                      f"training.teacher={tmp_path / 'teacher' / 'model_float.pt'}"])
    with pytest.raises(CheckpointError, match="teacher .* was trained on labels"):
        train(wrong, tmp_path / "student2", progress=False)


def test_weight_average_by_hand():
    from kws.train import _averaged

    model = torch.nn.Linear(1, 1, bias=False)
    assert _averaged(model, 0.0) is None
    ema = _averaged(model, 0.75)
    expected = None
    for value in (4.0, 8.0, 0.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update_parameters(model)
        # The first update copies the weights; then average = 0.75 * average + 0.25 * weights.
        expected = value if expected is None else 0.75 * expected + 0.25 * value
        assert ema.module.weight.item() == pytest.approx(expected, abs=1e-6)  # float32 arithmetic
    assert expected == 0.75 * (0.75 * 4 + 0.25 * 8)


def test_weight_averaged_run_resumes_on_the_same_path_and_keeps_the_average(tiny_synth, tmp_path):
    from kws.train import train

    config = load_config(None, _overrides(tiny_synth, tmp_path / "cache") + ["training.ema_decay=0.9",
                                                                              "training.eval_every=160"])
    train(config, tmp_path / "straight", progress=False)
    train(config, tmp_path / "stopped", progress=False, stop_after=50)
    assert "ema" in load_checkpoint(tmp_path / "stopped" / "checkpoints" / "last.pt")
    train(config, tmp_path / "stopped", progress=False)
    a = load_checkpoint(tmp_path / "straight" / "model_float.pt")
    b = load_checkpoint(tmp_path / "stopped" / "model_float.pt")
    assert a["step"] == b["step"] and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    # The kept weights are the average, not the last step's (one validation, at the end: the best is the last).
    last = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    assert a["step"] == last["step"] == 160
    average = {k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")}
    assert average.keys() == a["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], average[k]) for k in average)
    assert any(not torch.equal(a["state_dict"][k], last["state_dict"][k]) for k in average)


def test_a_run_started_before_a_new_training_setting_still_resumes(tiny_synth, tmp_path):
    from kws.train import train

    config = load_config(None, _overrides(tiny_synth, tmp_path / "cache"))
    train(config, tmp_path / "run", progress=False, stop_after=20)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    del payload["training"]["ema_decay"]  # as written by a kws without the setting
    torch.save(payload, last)
    result = train(config, tmp_path / "run", progress=False)
    assert result.resumed_from == 20


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_label_smoothing_loss_by_hand(smoothing):
    import math

    from kws.train import _train_step

    class Bias(torch.nn.Module):  # logits = [2, 0, 0, 0] for every input
        def __init__(self) -> None:
            super().__init__()
            self.b = torch.nn.Parameter(torch.tensor([2.0, 0.0, 0.0, 0.0]))

        def forward(self, x):
            return self.b.expand(x.shape[0], 4)

    model = Bias()
    config = load_config(None, [f"training.label_smoothing={smoothing}"])
    loss, accuracy = _train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), None, None,
                                 torch.zeros(3, 1), torch.tensor([0, 0, 1]), config)
    z = math.log(math.exp(2) + 3)
    nll = [z - 2, z]  # -log p of label 0 and of label 1
    mean_over_labels = (4 * z - 2) / 4  # -mean_i log p_i: what smoothing spreads its weight over
    expected = sum((1 - smoothing) * n + smoothing * mean_over_labels for n in (nll[0], nll[0], nll[1])) / 3
    assert loss == pytest.approx(expected, rel=1e-6)  # float32 softmax
    assert accuracy == pytest.approx(2 / 3)


def test_dataset_fingerprint_follows_the_files(tiny_synth, tmp_path):
    import shutil

    from kws.data.index import dataset_fingerprint

    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    with_manifest = dataset_fingerprint(data)
    assert dataset_fingerprint(data) == with_manifest == dataset_fingerprint(tiny_synth)  # bytes, not paths
    (data / "manifest.json").write_text((data / "manifest.json").read_text() + " ")
    assert dataset_fingerprint(data) != with_manifest
    (data / "manifest.json").unlink()  # a dataset without a manifest (the real release): paths, sizes, mtimes
    listing = dataset_fingerprint(data)
    assert dataset_fingerprint(data) == listing
    wav = next((data / "yes").glob("*.wav"))
    os.utime(wav, ns=(wav.stat().st_atime_ns, wav.stat().st_mtime_ns + 1_000_000_000))
    assert dataset_fingerprint(data) != listing


def test_a_run_is_not_resumed_on_data_that_changed(tiny_synth, tmp_path):
    import shutil

    from kws.train import train

    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    config = load_config(None, TINY + [f"data.data_dir={data}", f"data.cache_dir={tmp_path / 'cache'}"])
    train(config, tmp_path / "run", progress=False, stop_after=20)
    manifest = data / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"seed": 7', '"seed": 7 '))  # as `kws data synth` anew
    with pytest.raises(CheckpointError, match="dataset has changed since.*--data-changed restart"):
        train(config, tmp_path / "run", progress=False)
    result = train(config, tmp_path / "run", progress=False, on_data_change="restart")
    assert result.resumed_from == 0 and (tmp_path / "run" / "model_float.pt").is_file()
    assert train(config, tmp_path / "run", progress=False).resumed_from == 160  # unchanged data: nothing to do
    # A run from before the fingerprint was recorded: a manifest newer than its last checkpoint counts as a change.
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    del payload["data_fingerprint"]
    torch.save(payload, last)
    assert train(config, tmp_path / "run", progress=False).resumed_from == 160
    os.utime(manifest, ns=(last.stat().st_mtime_ns + 10**9, last.stat().st_mtime_ns + 10**9))
    with pytest.raises(CheckpointError, match="dataset has changed since"):
        train(config, tmp_path / "run", progress=False)


def test_augmented_validation_copies_are_fixed_and_differ_from_the_clean_clips(tiny_synth, tmp_path):
    from kws.prepared_data import FeatureExtractor, prepare_data

    overrides = _overrides(tiny_synth, tmp_path / "cache") + [
        "data.speed_perturbation=0.1", "data.reverb_probability=0.5", "data.channel_probability=0.5"]
    clean_config = load_config(None, overrides)
    config = load_config(None, overrides + ["training.validation_copies=2"])
    clean = prepare_data(clean_config, FeatureExtractor(clean_config), progress=False)
    first = prepare_data(config, FeatureExtractor(config), progress=False)
    again = prepare_data(config, FeatureExtractor(config), progress=False)
    n = clean.val_labels.shape[0]
    assert first.val_features.shape[0] == first.val_labels.shape[0] == 2 * n
    assert torch.equal(first.val_labels, torch.cat([clean.val_labels, clean.val_labels]))
    assert torch.equal(first.val_features, again.val_features)  # drawn from data.seed: the same on every run
    assert not torch.equal(first.val_features[:n], clean.val_features)
    assert not torch.equal(first.val_features[:n], first.val_features[n:])  # two different copies
    assert torch.equal(first.test_features, clean.test_features)  # the test split stays clean


def test_mixup_loss_by_hand_and_draws_fixed_by_seed_and_step():
    import math

    from kws.config import ConfigError
    from kws.train import _mixup, _train_step

    model = torch.nn.Linear(2, 2, bias=False)  # logits = the (mixed) input
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    config = load_config(None, ["training.mixup_alpha=0.4"])
    x, target = torch.eye(2), torch.tensor([0, 1])
    loss, accuracy = _train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), None, None, x, target, config,
                                 (0.75, [1, 0]))
    # Mixed inputs [.75, .25] and [.25, .75]; 3/4 of the loss on the own labels (0, 1), 1/4 on the partner's (1, 0).
    z = math.log(math.exp(0.75) + math.exp(0.25))
    assert loss == pytest.approx(0.75 * (z - 0.75) + 0.25 * (z - 0.25), rel=1e-6)  # float32 softmax
    assert accuracy == 1.0

    assert _mixup(load_config(None, []), 3, 8) is None
    weight, order = _mixup(config, 3, 8)
    again = _mixup(config, 3, 8)
    assert weight == again[0] and list(order) == list(again[1]) and sorted(order) == list(range(8))
    assert 0.5 <= weight <= 1.0  # the batch's own labels keep the larger share
    assert [_mixup(config, s, 8)[0] for s in range(4)] != [weight] * 4  # a new draw per step
    with pytest.raises(ConfigError, match="mixup_alpha and training.teacher"):
        load_config(None, ["training.mixup_alpha=0.2", "training.teacher=runs/t/model_float.pt"])
    with pytest.raises(ConfigError, match=r"mixup_alpha must be in \[0, 10\]"):
        load_config(None, ["training.mixup_alpha=-1"])
