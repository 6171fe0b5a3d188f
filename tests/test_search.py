"""The search's machinery without training (stand-in trial functions, tests/search_fakes.py): the TOML space, the
same trials for the same seed, resume after SIGKILL with nothing run or counted twice, failed trials recorded while
the search goes on, refusals before any training (impossible space, unreachable Ray, a changed space), the front.

    .venv/bin/python -m pytest tests/test_search.py -q        # seconds; the real trials are tests/test_search_e2e.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_fakes import BASE, CRASH, KILLED, fake_trial, objectives, search_config

from kws.config import ConfigError
from kws.search.executors import LocalExecutor
from kws.search.fit import SearchError, lower_bound, over_budget, refuse_impossible_space
from kws.search.folder import SearchFolder
from kws.search.front import dominates, pareto_indices, trial_rows
from kws.search.space import BudgetConfig, describe, load_search_config, search_config_from_values
from kws.search.study import run_search, study_trials
from kws.search.trial import classify, run_stage

REPO = Path(__file__).resolve().parents[1]


def _search(folder: Path, trials: int = 10, workers: int = 2) -> list:
    with LocalExecutor(workers, fake_trial) as executor:
        run_search(search_config(trials), SearchFolder(folder), executor, BASE)
    return study_trials(SearchFolder(folder))


def _summary(trials: list) -> list[tuple]:
    return [(t.number, t.state.name, t.params, t.values, t.user_attrs.get("reason")) for t in trials]


def _distinct(trials: list) -> list:
    return [t for t in trials if "repeat_of" not in t.user_attrs]


# ------------------------------------------------------------------------------------------ the TOML

def test_the_demo_search_config_loads_and_every_key_has_a_docstring():
    config = load_search_config(REPO / "kws" / "configs" / "search_demo.toml")
    assert config.search.trials == 16 and set(config.space.models) == {"tiny_conv", "ds_cnn"}
    assert config.baselines[0]["model"] == "tiny_conv" and config.baselines[0]["filters"] == 8
    import ast

    source = (REPO / "kws" / "search" / "space.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name.endswith(("Space", "Config", "Settings")):
            body = node.body
            for i, item in enumerate(body):
                if isinstance(item, ast.AnnAssign):
                    follows = body[i + 1] if i + 1 < len(body) else None
                    assert isinstance(follows, ast.Expr) and isinstance(follows.value, ast.Constant), \
                        f"{node.name}.{item.target.id} has no docstring"


@pytest.mark.parametrize("values, message", [
    ({"space": {"modles": ["tiny_conv"]}}, "unknown config key 'space.modles' (did you mean 'space.models'?)"),
    ({"space": {"models": []}}, "space.models is empty"),
    ({"space": {"models": ["resnet"]}}, "space.models holds 'resnet'"),
    ({"space": {"features": {"kinds": ["mlperf_mfcc"]}}}, "kinds the board's frontend computes"),
    ({"space": {"features": {"mel_bins": [20], "mfcc": [30]}}}, r"space.features.mfcc holds 30"),
    ({"space": {"tiny_conv": {"pruning": [1.0]}}}, r"space.tiny_conv.pruning holds 1.0"),
    ({"search": {"sampler": "grid"}}, "search.sampler must be one of tpe, nsga2, random"),
    ({"baseline": [{"filtres": 8}]}, r"baseline\[0\].filtres is not a search parameter"),
    ({"baseline": [{"filters": 3}]}, r"baseline\[0\].filters = 3 is not among its choices"),
    ({"budget": {"flash_bytes": 100_000}}, "budget leaves the firmware no room"),
])
def test_bad_search_configs_are_refused_by_name(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
                       if "did you mean" in message else message):
        search_config_from_values(values)


def test_describe_names_every_parameter_of_a_trial():
    assert describe({"model": "tiny_conv", "filters": 8, "kernel_time": 10, "kernel_freq": 8, "stride_time": 2,
                     "stride_freq": 2, "pruning": 0.5, "features": "logmel", "mel_bins": 40}) == \
        "tiny_conv f8 k10x8 s2x2 pruned 50%, logmel 40, pruned"
    assert describe({"model": "ds_cnn", "width": 64, "depth": 4, "features": "mfcc", "mel_bins": 40, "mfcc": 10,
                     "quantization": "qat"}) == "ds_cnn w64 d4, mfcc 10/40, qat"


# ------------------------------------------------------------------------------------------ budget

def test_lower_bounds_are_the_models_own_figures():
    params = {"model": "tiny_conv", "filters": 8, "kernel_time": 10, "kernel_freq": 8, "stride_time": 2,
              "stride_freq": 2, "pruning": 0.0, "features": "logmel", "mel_bins": 40, "quantization": "ptq"}
    bound = lower_bound(params, BASE)
    assert (bound.params, bound.macs) == (16_652, 336_000)  # TensorFlow's tiny_conv
    assert bound.activations == 25 * 20 * 8  # the convolution's output
    pruned = lower_bound({**params, "pruning": 0.5}, BASE)
    assert pruned.macs == 336_000 // 2  # 4 of 8 filters: half the convolution and half the FC
    assert over_budget(bound, BudgetConfig()) is None
    assert "parameters need at least 16,652 B" in over_budget(bound, BudgetConfig(flash_bytes=200 * 1024,
                                                                                   reserved_flash_bytes=170 * 1024))


def test_an_impossible_space_is_refused_before_anything_naming_its_smallest_model():
    logmel = {"kinds": ["logmel"]}  # on 10 MFCCs the FC layer would be a quarter as large
    config = search_config_from_values({"space": {"models": ["tiny_conv"], "tiny_conv": {"filters": [512, 1024]},
                                                  "features": logmel}})
    expected = (r"no model of this search space can fit nano33ble: even the smallest, tiny_conv f512 k10x8 s2x2, "
                r"logmel 40, ptq, cannot: its 1,065,476 parameters")
    with pytest.raises(SearchError, match=expected):
        refuse_impossible_space(config, BASE)
    ok = search_config_from_values({"space": {"models": ["tiny_conv"], "tiny_conv": {"filters": [8, 512]},
                                              "features": logmel}})
    assert refuse_impossible_space(ok, BASE) == 1  # the 512-filter one can never fit; trials of it are not trained


def test_kws_search_refuses_an_impossible_space_and_an_unreachable_ray_before_any_training(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    base = tmp_path / "base.toml"
    base.write_text(f'[data]\ndata_dir = "{data}"\n')
    impossible = tmp_path / "impossible.toml"
    impossible.write_text(f'[search]\nbase_config = "{base}"\n[space]\nmodels = ["tiny_conv"]\n'
                          f'[space.tiny_conv]\nfilters = [512]\n[space.features]\nkinds = ["logmel"]\n')
    fine = tmp_path / "fine.toml"
    fine.write_text(f'[search]\nbase_config = "{base}"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for config, extra, message in ((impossible, [], "no model of this search space can fit nano33ble"),
                                   (fine, ["--ray-address", "127.0.0.1:9"], "cannot reach the Ray cluster at "
                                                                            "127.0.0.1:9")):
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "kws", "search", "--config", str(config), *extra], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert time.monotonic() - t0 < 60
        assert not (tmp_path / "runs").exists()  # nothing was started


# ------------------------------------------------------------------------------------------ the study

def test_the_same_seed_gives_the_same_trials_whatever_the_number_of_workers(tmp_path):
    one = _summary(_search(tmp_path / "one", workers=1))
    two = _summary(_search(tmp_path / "two", workers=2))
    assert one == two
    assert [t[0] for t in one] == list(range(len(one))) and len(_distinct(_search(tmp_path / "one"))) == 10
    assert one[0][2]["filters"] == 8 and one[0][2]["mel_bins"] == 40  # the baseline ran first


def test_a_failing_trial_is_recorded_with_its_reason_and_the_search_goes_on(tmp_path):
    trials = {t.number: t for t in _search(tmp_path / "s")}
    assert len(_distinct(list(trials.values()))) == 10
    assert trials[CRASH].state.name == "FAIL" and trials[CRASH].user_attrs["state"] == "failed"
    assert trials[CRASH].user_attrs["reason"] == "the trial crashed: RuntimeError: boom (a trial function that raises)"
    assert trials[KILLED].state.name == "FAIL" and trials[KILLED].user_attrs["state"] == "killed"
    assert "SIGKILL" in trials[KILLED].user_attrs["reason"]
    complete = [t for t in _distinct(list(trials.values())) if t.state.name == "COMPLETE"]
    assert len(complete) == 8 and all(t.values[0] == objectives(t.params)["val_accuracy"] for t in complete)
    rows = trial_rows(trials.values())
    assert {r["state"] for r in rows} == {"complete", "failed", "killed"}


def test_a_search_killed_with_sigkill_resumes_with_the_same_trials_and_counts_none_twice(tmp_path):
    reference = _summary(_search(tmp_path / "reference"))
    folder = tmp_path / "killed"
    script = Path(__file__).with_name("search_fakes.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(script.parent)])}
    process = subprocess.Popen([sys.executable, str(script), str(folder), "10", "0.4"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it mid-search: some trials told, a batch running
        told = [t for t in study_trials(SearchFolder(folder)) if t.state.is_finished()]
        if len(told) >= 5:
            break
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = study_trials(SearchFolder(folder))
    assert 5 <= sum(t.state.is_finished() for t in before) < 10
    resumed = _summary(_search(folder))
    assert resumed == reference  # same parameters, same results, each number once
    assert [t[0] for t in resumed] == list(range(len(resumed)))


def test_more_trials_extend_a_finished_search(tmp_path):
    assert len(_distinct(_search(tmp_path / "s", trials=4))) == 4
    trials = _search(tmp_path / "s", trials=6)
    assert len(_distinct(trials)) == 6 and all(t.state.is_finished() for t in trials)


def test_a_point_already_measured_is_told_its_results_without_running_and_does_not_count(tmp_path):
    ran = []

    def counting(job):
        ran.append(job.number)
        return fake_trial(job)

    with LocalExecutor(2, counting) as executor:
        run_search(search_config(16), SearchFolder(tmp_path / "s"), executor, BASE)
    trials = study_trials(SearchFolder(tmp_path / "s"))
    repeats = [t for t in trials if "repeat_of" in t.user_attrs]
    assert repeats, "this seed's TPE proposes points it has tried (the test needs some)"
    assert sorted(ran) == sorted(t.number for t in _distinct(trials)) and len(ran) == 16
    for t in repeats:
        first = trials[t.user_attrs["repeat_of"]]
        assert t.params == first.params and t.values == first.values and t.number not in ran
        assert t.user_attrs["reason"].startswith(f"the parameters of trial {first.number}: its results")


def test_a_rerun_with_another_space_is_refused_naming_the_difference(tmp_path):
    from kws.search.setup import claim_folder

    folder = SearchFolder(tmp_path / "s")
    assert claim_folder(folder, search_config(), BASE) is True
    assert claim_folder(folder, search_config(trials=30), BASE) is False  # more trials: the same search
    with pytest.raises(SearchError, match=r"search.seed: 5 then, 6 now"):
        claim_folder(folder, search_config(seed=6), BASE)


# ------------------------------------------------------------------------------------------ trials, front

def test_a_stage_killed_by_sigkill_is_a_killed_trial_and_errors_keep_their_own_line(tmp_path):
    log = tmp_path / "t.log"
    code, text = run_stage([sys.executable, "-c", "import os, signal; print('working'); "
                            "os.kill(os.getpid(), signal.SIGKILL)"], tmp_path, log, 30, 1)
    assert code == -signal.SIGKILL and "working" in text
    state, reason = classify("train", code, text)
    assert state == "killed" and reason.startswith("train: killed by SIGKILL (the kernel's out-of-memory killer")
    assert classify("export", 2, "x\nkws: error: the model does not fit Arduino Nano 33\n")[0] == "over_budget"
    assert classify("train", 2, "kws: error: x.pt does not fit the configured model")[0] == "failed"
    assert classify("eval", 2, "kws: error: region `FLASH' overflowed by 12 bytes")[0] == "over_budget"
    assert classify("train", 1, "Traceback ...\nMemoryError\n") == ("failed", "train: out of memory: MemoryError")
    assert classify("export", 2, "noise\nkws: error: onnx2tf failed\nmore\n") == \
        ("failed", "export: exit status 2: kws: error: onnx2tf failed")
    code, _ = run_stage([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path, log, 1, 1)
    assert code is None  # a timeout: the stage was stopped


def test_the_front_is_the_fitting_trials_nothing_dominates():
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (2, 1)) and not dominates((1, 1), (1, 1))
    rows = [{"state": "complete", "fits": True, "val_accuracy": a, "instructions": i, "flash": f, "ram": r}
            for a, i, f, r in ((0.90, 500, 70, 40),     # 0: the small one
                               (0.95, 3000, 100, 43),   # 1: more accurate, bigger
                               (0.89, 600, 71, 41),     # 2: dominated by 0
                               (0.99, 100, 60, 30))]    # 3: dominates everything, but over budget
    rows[3]["fits"] = False
    rows.append({"state": "failed", "fits": None, "val_accuracy": None})
    assert pareto_indices(rows) == [0, 1]
