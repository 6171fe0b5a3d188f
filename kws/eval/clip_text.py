"""What a person reads after `kws eval` (clips): accuracy, per-keyword operating points, latency, link figures.

    print("\n".join(describe(result)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

if TYPE_CHECKING:
    from kws.eval.device_eval import EvalResult


def operating_point_text(op: dict[str, float], target_far: float) -> str:
    """'at clip FAR <= 0.01: score >= 212 gives FRR 28.0 % (FAR 0.9 %)', or that no threshold reaches it."""
    if not np.isfinite(op["threshold"]):  # the curve's first point: nothing accepted
        return f"at clip FAR <= {target_far:g}: no score threshold gets there (ties at the top of the scale)"
    return (f"at clip FAR <= {target_far:g}: score >= {op['threshold']:.0f} gives FRR {op['frr']:.2%} "
            f"(FAR {op['far']:.2%})")


def describe(result: "EvalResult") -> Iterator[str]:
    """Lines for the terminal: accuracy, per-keyword operating point, latency, link figures."""
    s = result.summary
    yield (f"on-device accuracy {s['accuracy']:.2%} on {s['clips']} clips ({s['board']}, {s['feed']} feed; "
           f"{result.evaluated_now} evaluated now, {s['clips'] - result.evaluated_now} from the journal)")
    if "data" in s:
        unknown = sorted(k for k, v in s.get("mapping", {}).items() if v == "_unknown_")
        yield (f"  data: {s['data_dir']} ({s['data']}), {s['split']} split, selection '{s['selection']}'"
               + (f"; scored as _unknown_: {', '.join(unknown)}" if unknown else ""))
    for word, entry in s["per_keyword"].items():
        if "operating_point" in entry:
            yield (f"  {word}: AUC {entry['auc']:.4f}, EER {entry['eer']:.2%}; "
                   f"{operating_point_text(entry['operating_point'], s['target_far'])}")
    lat = s["latency"]
    if lat["frontend"]["count"]:
        yield (f"  frontend per frame p50 {lat['frontend']['p50']:.0f} us, p95 {lat['frontend']['p95']:.0f} us; "
               f"inference p50 {lat['inference']['p50']:.0f} us, p95 {lat['inference']['p95']:.0f} us")
    else:
        yield f"  inference p50 {lat['inference']['p50']:.0f} us, p95 {lat['inference']['p95']:.0f} us"
    link = s["link"]
    yield (f"  link: {link.get('link_resends', 0)} resends, {link['clip_retries']} clips run again, "
           f"{link['board_resets']} board resets handled; wrote {result.paths['summary']} and "
           f"{result.paths['scores'].name}")


__all__ = ["describe", "operating_point_text"]
