"""How a run's int8 model does on a whole folder of real speech, under both label mappings, on the host.

    from kws.eval.real_speech import evaluate_folder, describe_folder
    result = evaluate_folder(run, Path("../shared/data/sc-real-dev"))     # writes runs/<run>/eval/real.json
    print("\\n".join(describe_folder(result)))

The mappings (kws.data.index.SELECTIONS): (a) `labelled`, the folders the labels name (yes, no, _unknown_,
_silence_: 890 clips of sc-real-dev), and (b) `all`, every folder, the other keywords counting as unknown
(2,748 clips). Scores are the exported int8 model's, run by the TensorFlow Lite Micro runtime on the reference
int8 features: exactly what the board computes (tests/test_emulator.py), without the serial line, so the
whole folder takes seconds. Per keyword: false rejects (its clips not classified as it), false accepts (other
clips classified as it), ROC AUC of its score; and which other words fire which keyword.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from kws.config import replace
from kws.eval.analysis import analyze_clips, keyword_indices
from kws.eval.headroom import bias_headroom, describe_headroom
from kws.fsutil import write_json
from kws.run import Run, as_run

MAPPINGS = {"a": "labelled", "b": "all"}
"""The issue's names for the two mappings -> kws.data.index selections."""


def folder_scores(run: Run, data_dir: Path, selection: str, *, progress: bool = False,
                  model_path: Path | None = None) -> dict[str, Any]:
    """truth, int8 scores, words and clip names of every selected clip of `data_dir`'s testing split."""
    from tqdm import tqdm

    from kws.data.clip_selection import select_clips
    from kws.device.artifacts import ExportedModel
    from kws.device.emulator import TflmModel

    config = run.config()
    exported = ExportedModel.load(run, model_path, config=config)
    data = replace(config.data, data_dir=str(data_dir))
    clips = select_clips(data, config.frontend, "testing", progress=progress, selection=selection)
    model = TflmModel(exported.model, exported.arena_bytes)
    scores = np.stack([model(clips.features(k)) for k in tqdm(range(len(clips)), desc=f"real ({selection})",
                                                                 unit="clip", disable=not progress)])
    return {"truth": clips.truth_for(data.labels(), exported.labels), "scores": scores.astype(np.int8),
            "labels": list(exported.labels),
            "words": [e.word for e in clips.examples], "mapping": clips.mapping, "data_dir": str(clips.data_dir),
            "selection": selection}


def summarize(labels: Sequence[str], truth: np.ndarray, scores: np.ndarray, words: Sequence[str],
              deploy_threshold: int = 200) -> dict[str, Any]:
    """Accuracy; per keyword FRR / FAR (top-1 decisions) and ROC AUC; which words outside the keywords fire
    each keyword (top-1), most first; how far per-keyword biases chosen on these clips could go
    (kws.eval.headroom)."""
    truth = np.asarray(truth, dtype=np.int64)
    predicted = np.asarray(scores).argmax(axis=1)
    analysis = analyze_clips(labels, truth, scores, target_far=0.01, deploy_threshold=deploy_threshold)
    per_keyword: dict[str, Any] = {}
    for k in keyword_indices(labels):
        mine, others = truth == k, truth != k
        fired = Counter(w for w, t, p in zip(words, truth, predicted) if t != k and p == k)
        per_keyword[labels[k]] = {
            "clips": int(mine.sum()),
            "false_reject_rate": float((predicted[mine] != k).mean()) if mine.any() else float("nan"),
            "false_accept_rate": float((predicted[others] == k).mean()) if others.any() else float("nan"),
            "auc": analysis["per_keyword"][labels[k]].get("auc", float("nan")),
            "fired_by": dict(fired.most_common()),
        }
    return {"clips": int(truth.size), "accuracy": analysis["accuracy"], "per_keyword": per_keyword,
            "confusion_matrix": analysis["confusion_matrix"], "bias_headroom": bias_headroom(labels, truth, scores)}


def evaluate_folder(run: "Run | str | Path", data_dir: Path, *, progress: bool = False,
                    model_path: Path | None = None) -> dict[str, Any]:
    """Both mappings on `data_dir`; written to runs/<run>/eval/real.json (what the report shows)."""
    from kws.data.kind import dataset_kind

    run = as_run(run)
    deploy_threshold = run.config().deploy.detection_threshold
    result: dict[str, Any] = {"data_dir": str(Path(data_dir).resolve()), "data": dataset_kind(data_dir),
                              "model": str(model_path or run.export_model), "mappings": {}}
    for name, selection in MAPPINGS.items():
        scored = folder_scores(run, Path(data_dir), selection, progress=progress, model_path=model_path)
        summary = summarize(scored["labels"], scored["truth"], scored["scores"], scored["words"], deploy_threshold)
        summary.update({"selection": selection, "mapping": scored["mapping"]})
        result["mappings"][name] = summary
    write_json(run.real_speech, result)
    return result


def describe_folder(result: dict[str, Any]) -> Iterator[str]:
    """The table a person reads: both mappings, per keyword FRR / FAR / AUC, the words that fire keywords."""
    yield f"data: {result['data_dir']} ({result['data']}); model {result['model']}"
    for name, m in result["mappings"].items():
        unknown = sorted(k for k, v in m["mapping"].items() if v == "_unknown_")
        yield (f"({name}) {m['selection']}: accuracy {m['accuracy']:.1%} on {m['clips']} clips"
               f"  [scored as _unknown_: {', '.join(unknown)}]")
        for word, k in m["per_keyword"].items():
            fired = ", ".join(f"{w} {n}" for w, n in list(k["fired_by"].items())[:6]) or "none"
            yield (f"    {word:>8}: false rejects {k['false_reject_rate']:6.1%}  false accepts "
                   f"{k['false_accept_rate']:6.1%}  AUC {k['auc']:.3f}   fired by: {fired}")
        if "bias_headroom" in m:  # real.json files written before it existed have none
            yield "    " + describe_headroom(m["bias_headroom"])


__all__ = ["MAPPINGS", "describe_folder", "evaluate_folder", "folder_scores", "summarize"]
