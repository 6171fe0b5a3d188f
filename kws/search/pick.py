"""`kws search pick TRIAL --run NAME`: any measured trial of a search as a normal run, ready for `make flash`.

    run = pick_trial(SearchFolder.named("search_demo"), 7, Run.named("small"))
    # then: make flash RUN=small     (or kws flash --run small; make report RUN=small after an evaluation)

Copies the trial's run (config, checkpoints, calibration set, quantization and pruning reports, the export with its
compiled C, its real-speech check) into runs/<NAME>/, leaving out what belongs to the search: its resumable training
state and the short M4 evaluation that measured it (a normal evaluation of the new run replaces it). The trial's
config names the dataset and the clip cache by absolute paths (its commands ran in the search folder); the copy
gets the base config's own spelling back when it names the same folder. search_trial.json records where the run
came from and what the search measured (`make` reads its export source, so `make flash RUN=NAME` deploys exactly
the trial's model, and the report gains a "Search" section); search_front.png is the search's front plot at the
time of the pick. File times are set in pipeline order, so make sees every stage as up to date.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import tomllib
from pathlib import Path
from typing import Any

from kws.config import config_to_toml, load_config_values
from kws.errors import KwsError
from kws.fsutil import write_json
from kws.run import Run
from kws.search.folder import SearchFolder

LEFT_OUT = ("checkpoints", "eval", "report", "sketch", ".lock")
"""What a picked run does not take from its trial."""
# Make's file targets, oldest first: config, training outputs, compression outputs, the export.
_ORDER = (("config.toml",), ("calibration.json", "model_float.pt", "metrics.json"),
          ("model_ptq.pt", "model_qat.pt", "model_pruned.pt", "quant_ptq.json", "quant_qat.json", "prune_report.json"))


def _trial_record(folder: SearchFolder, number: int) -> tuple[int, dict[str, Any]]:
    """(the trial whose run holds the model, its search_trial.json) of a complete trial; KwsError otherwise."""
    from kws.search.study import study_trials

    trials = {t.number: t for t in study_trials(folder)}
    if not trials:
        raise KwsError(f"{folder.dir} holds no search (no {folder.storage.name}); run `kws search` first")
    if number not in trials:
        raise KwsError(f"search {folder.name} has no trial {number}; its trials are 0..{max(trials)}")
    trial = trials[number]
    state = trial.user_attrs.get("state") or trial.state.name.lower()
    if state != "complete":
        reason = trial.user_attrs.get("reason") or "it has not finished"
        complete = sorted(n for n, t in trials.items() if t.user_attrs.get("state") == "complete")
        raise KwsError(f"trial {number} of search {folder.name} is {state} ({reason}); pick a complete one: "
                       f"{', '.join(map(str, complete)) or 'none yet'}")
    source = int(trial.user_attrs.get("repeat_of", number))
    record_path = folder.trial_result(source)
    if not record_path.is_file() or not folder.trial_run(source).parity.is_file():
        raise KwsError(f"trial {source}'s run {folder.trial_run(source).dir} lacks its export or {record_path.name}; "
                       f"was the search folder changed by hand?")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record.update(fits=trial.user_attrs.get("fits"), trial=number)
    return source, record


def _base_spelling(config_text: str, folder: SearchFolder) -> str:
    """The trial config with its paths (dataset, clip cache, teacher) as the base config spells them (same folder)."""
    try:
        base = tomllib.loads(folder.base_config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return config_text
    values = tomllib.loads(config_text)
    changed = False
    for section, key in (("data", "data_dir"), ("data", "cache_dir"), ("training", "teacher")):
        mine, theirs = values.get(section, {}).get(key), base.get(section, {}).get(key)
        if mine and theirs and mine != theirs and Path(theirs).resolve() == Path(mine).resolve():
            values[section][key] = theirs
            changed = True
    if not changed:
        return config_text
    return config_to_toml(load_config_values([(Path("config.toml"), values)]))


def _touch_in_order(run: Run) -> None:
    """mtimes in pipeline order (a second apart), the export newest: make finds every stage up to date."""
    now = time.time()
    groups = [[run.dir / name for name in names] for names in _ORDER]
    groups.append([p for p in run.export_dir.rglob("*") if p.is_file()] + [run.parity])
    for i, paths in enumerate(groups):
        stamp = now - (len(groups) - i)
        for path in paths:
            if path.is_file():
                os.utime(path, (stamp, stamp))


def pick_trial(folder: SearchFolder, number: int, run: Run) -> Run:
    """Copy trial `number` of the search into `run` (see the module docstring); KwsError if the run exists."""
    source, record = _trial_record(folder, number)
    trial_run = folder.trial_run(source)
    if run.dir.exists() and any(p.name != ".lock" for p in run.dir.iterdir()):
        raise KwsError(f"run {run.name} exists ({run.dir}); pick into a new name, or remove that folder first")
    with run.lock("kws search pick"):
        for item in sorted(trial_run.dir.iterdir()):
            if item.name in LEFT_OUT or item == trial_run.search_trial:
                continue
            target = run.dir / item.name
            if item.is_dir():
                shutil.copytree(item, target)
            else:
                shutil.copy2(item, target)
        if trial_run.real_speech.is_file():  # the same model: its real-speech check stays valid
            run.real_speech.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(trial_run.real_speech, run.real_speech)
        run.config_path.write_text(_base_spelling(trial_run.config_path.read_text(encoding="utf-8"), folder),
                                   encoding="utf-8")
        if folder.front_png.is_file():
            shutil.copy2(folder.front_png, run.search_front)
        write_json(run.search_trial, {**record, "search": folder.name, "search_dir": str(folder.dir.resolve()),
                                      "trial_run": str(trial_run.dir.resolve()), "picked": time.strftime("%F %T")})
        _touch_in_order(run)
    return run


__all__ = ["LEFT_OUT", "pick_trial"]
