"""The front's models on real speech: a check beside the objectives, never one of them.

    accuracies = check_front(folder, rows, Path("../shared/data/sc-real-dev"), say=print)   # {trial: accuracy}

Each front trial's exported int8 model runs on every clip of the folder (kws.eval.real_speech, both label
mappings; the table shows mapping (a), the folders the labels name), written to the trial run's eval/real.json,
and the accuracies by trial to the search's real_speech.json. The search never reads these while choosing trials.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from kws.errors import KwsError
from kws.fsutil import write_json
from kws.search.folder import SearchFolder


def recorded(folder: SearchFolder) -> dict[int, float]:
    """Real-speech accuracy (mapping a) by trial number, as checked so far."""
    try:
        values = json.loads(folder.real_speech.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {int(k): float(v["accuracy"]) for k, v in values.get("trials", {}).items() if "accuracy" in v}


def check_front(folder: SearchFolder, rows: Sequence[dict[str, Any]], data_dir: Path,
                say: Callable[[str], None] = lambda text: None) -> dict[int, float]:
    """Run the front's models not checked yet on `data_dir`; every accuracy checked so far, by trial."""
    from kws.eval.real_speech import evaluate_folder

    try:
        values = json.loads(folder.real_speech.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        values = {"data_dir": str(data_dir.resolve()), "mapping": "a", "trials": {}}
    for row in rows:
        if not row["front"] or str(row["trial"]) in values["trials"]:
            continue
        run = folder.trial_run(row["trial"])
        try:
            result = evaluate_folder(run, data_dir)
        except KwsError as exc:  # a check: its failure is said and recorded, and the search's results stand
            say(f"real speech (check): trial {row['trial']} could not be checked: {exc}")
            values["trials"][str(row["trial"])] = {"error": str(exc)}
            write_json(folder.real_speech, values)
            continue
        mapping = result["mappings"]["a"]
        values["trials"][str(row["trial"])] = {"accuracy": mapping["accuracy"], "clips": mapping["clips"],
                                               "all_words_accuracy": result["mappings"]["b"]["accuracy"]}
        say(f"real speech (check, not optimised): trial {row['trial']} {mapping['accuracy']:.1%} on "
            f"{mapping['clips']} clips of {data_dir}")
        write_json(folder.real_speech, values)
    return recorded(folder)


__all__ = ["check_front", "recorded"]
