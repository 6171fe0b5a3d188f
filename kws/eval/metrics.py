"""Classification metrics as pure functions, each tested on hand-computed cases (tests/test_metrics.py).

    from kws.eval.metrics import confusion_matrix, accuracy
    cm = confusion_matrix(y_true, y_pred, num_labels)   # rows: true label, columns: predicted

Wake-word trainers have shipped bugs in exactly this kind of code, so nothing here touches a model,
a file or a random number: arrays in, numbers out.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int) -> np.ndarray:
    """int64 [num_labels, num_labels]; entry [t, p] counts clips of true label t predicted as p."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_labels):
            raise ValueError(f"{name} has labels outside 0..{num_labels - 1}")
    flat = np.bincount(y_true * num_labels + y_pred, minlength=num_labels * num_labels)
    return flat.reshape(num_labels, num_labels)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of clips whose prediction equals the label; NaN for no clips (never a silent 0 or 1)."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    if y_true.size == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def per_label_recall(cm: np.ndarray) -> np.ndarray:
    """Recall per true label (diagonal over row sums); NaN for labels with no clips."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / rows, np.nan)


# ----------------------------------------------------------------------------- clip-level detection

def detection_rates(positive_scores: np.ndarray, negative_scores: np.ndarray, threshold: float) -> tuple[float, float]:
    """(false reject rate, false accept rate) of "score >= threshold" for one keyword.

    Positives are clips of the keyword, negatives every other clip (other keywords, unknown, silence).
    A rate over no clips is NaN.
    """
    pos = np.asarray(positive_scores, dtype=np.float64).ravel()
    neg = np.asarray(negative_scores, dtype=np.float64).ravel()
    frr = float(np.mean(pos < threshold)) if pos.size else float("nan")
    far = float(np.mean(neg >= threshold)) if neg.size else float("nan")
    return frr, far


def roc_curve(positive_scores: np.ndarray, negative_scores: np.ndarray) -> dict[str, np.ndarray]:
    """Every distinct operating point of "score >= threshold", thresholds descending.

    Returns thresholds, far (= false positive rate), frr, tpr (= 1 - frr). The first point is the
    threshold +inf (nothing accepted: far 0, frr 1) and the last accepts everything (far 1, frr 0), so the
    curve always spans the unit square.
    """
    pos = np.asarray(positive_scores, dtype=np.float64).ravel()
    neg = np.asarray(negative_scores, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("a ROC curve needs at least one positive and one negative clip")
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    pos_sorted = np.sort(pos)
    neg_sorted = np.sort(neg)
    # accepted(t) = count of scores >= t
    tp = pos.size - np.searchsorted(pos_sorted, thresholds, side="left")
    fp = neg.size - np.searchsorted(neg_sorted, thresholds, side="left")
    thresholds = np.concatenate([[np.inf], thresholds])
    tpr = np.concatenate([[0.0], tp / pos.size])
    far = np.concatenate([[0.0], fp / neg.size])
    return {"thresholds": thresholds, "far": far, "tpr": tpr, "frr": 1.0 - tpr}


def auc(far: np.ndarray, tpr: np.ndarray) -> float:
    """Area under the ROC curve by the trapezoid rule (points ordered by increasing far)."""
    far = np.asarray(far, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    order = np.lexsort((tpr, far))
    x, y = far[order], tpr[order]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def equal_error_rate(far: np.ndarray, frr: np.ndarray) -> float:
    """The rate where FAR equals FRR, linearly interpolated between the two ROC points that bracket it."""
    far = np.asarray(far, dtype=np.float64)
    frr = np.asarray(frr, dtype=np.float64)
    diff = far - frr  # rises from -1 (nothing accepted) to +1 (everything accepted) along the curve
    crossing = np.nonzero(diff >= 0)[0]
    if crossing.size == 0:
        return float("nan")
    i = int(crossing[0])
    if i == 0 or diff[i] == 0:
        return float(far[i])
    # between point i-1 (diff < 0) and i (diff > 0)
    t = -diff[i - 1] / (diff[i] - diff[i - 1])
    return float(far[i - 1] + t * (far[i] - far[i - 1]))


def operating_point(curve: dict[str, np.ndarray], target_far: float) -> dict[str, float]:
    """The threshold with the lowest FRR among those whose FAR <= target_far (ties: the higher threshold)."""
    far, frr, thresholds = curve["far"], curve["frr"], curve["thresholds"]
    allowed = np.nonzero(far <= target_far)[0]
    best = allowed[np.argmin(frr[allowed])]  # far[0] == 0, so there is always a candidate
    candidates = allowed[frr[allowed] == frr[best]]
    best = int(candidates[0])  # thresholds descend: the first is the highest
    return {"threshold": float(thresholds[best]), "far": float(far[best]), "frr": float(frr[best])}


# ------------------------------------------------------------------------------------- streaming

def match_detections(detections: list[tuple[float, str]], events: list[tuple[float, float, str]],
                     tolerance_s: float) -> dict[str, object]:
    """Match streamed detections to labelled keyword events.

    detections: (time_s, label) reported by the recognizer; events: (start_s, end_s, label) of the
    spoken keywords. A detection matches the earliest unmatched event of its label whose window
    [start, end + tolerance] contains its time; each event matches at most once, so a second detection
    of one word counts as a false accept. Returns matched (event index, detection index, delay from the
    event's end in s), false_accepts (detection indices) and missed (event indices).
    """
    order = sorted(range(len(detections)), key=lambda i: detections[i][0])
    used: set[int] = set()
    matched: list[tuple[int, int, float]] = []
    false_accepts: list[int] = []
    for d in order:
        time_s, label = detections[d]
        hit = None
        for e, (start, end, event_label) in enumerate(events):
            if e in used or event_label != label:
                continue
            if start <= time_s <= end + tolerance_s:
                if hit is None or start < events[hit][0]:
                    hit = e
        if hit is None:
            false_accepts.append(d)
        else:
            used.add(hit)
            matched.append((hit, d, time_s - events[hit][1]))
    missed = [e for e in range(len(events)) if e not in used]
    return {"matched": matched, "false_accepts": false_accepts, "missed": missed}


def collapse_within(times_s: list[float], window_s: float) -> list[float]:
    """Keep a time only if it is more than window_s after the last kept one (suppression)."""
    kept: list[float] = []
    for t in sorted(times_s):
        if not kept or t - kept[-1] > window_s:
            kept.append(t)
    return kept


def streaming_metrics(detections: list[tuple[float, str]], events: list[tuple[float, float, str]],
                      duration_s: float, tolerance_s: float, suppression_s: float = 0.0) -> dict[str, float]:
    """False accepts per hour, false reject rate and detection delay of a labelled stream.

    False accepts of one label closer together than suppression_s count once (what a user perceives
    as one false wake-up). FA/hour divides by the whole stream's duration.
    """
    if duration_s <= 0:
        raise ValueError(f"stream duration must be positive, got {duration_s}")
    result = match_detections(detections, events, tolerance_s)
    by_label: dict[str, list[float]] = {}
    for d in result["false_accepts"]:  # type: ignore[union-attr]
        time_s, label = detections[d]
        by_label.setdefault(label, []).append(time_s)
    false_accepts = sum(len(collapse_within(times, suppression_s)) for times in by_label.values())
    delays = [delay for _, _, delay in result["matched"]]  # type: ignore[union-attr]
    return {
        "events": float(len(events)),
        "detections": float(len(detections)),
        "false_accepts": float(false_accepts),
        "false_accepts_per_hour": false_accepts / (duration_s / 3600.0),
        "false_reject_rate": len(result["missed"]) / len(events) if events else float("nan"),  # type: ignore[arg-type]
        "mean_delay_s": float(np.mean(delays)) if delays else float("nan"),
        "max_delay_s": float(np.max(delays)) if delays else float("nan"),
    }


def latency_summary(latencies_us: np.ndarray) -> dict[str, float]:
    """p50 / p95 / max / mean of device-timed latencies in microseconds (nearest-rank percentiles)."""
    values = np.sort(np.asarray(latencies_us, dtype=np.float64).ravel())
    if values.size == 0:
        return {"count": 0.0, "p50": float("nan"), "p95": float("nan"), "max": float("nan"), "mean": float("nan")}

    def rank(p: float) -> float:
        # nearest-rank: the smallest value with at least p % of the data at or below it
        return float(values[max(0, int(np.ceil(p / 100.0 * values.size)) - 1)])

    return {"count": float(values.size), "p50": rank(50), "p95": rank(95), "max": float(values[-1]),
            "mean": float(values.mean())}
