"""Can a trial fit the board at all? Lower bounds of its flash and RAM, known before any training.

    bound = lower_bound(params, base_values)          # Footprint(weights, activations, macs, params)
    refuse_impossible_space(config, base_values)      # SearchError when no point of the space can ever fit

The bounds are the model's alone (kws.models.summary on the built network): every parameter takes at least one
byte of flash as int8, and the largest output of one layer must be in RAM. The firmware
(frontend, kernels, protocol, stacks) only adds to both, so a model over either bound can never fit; the
linker's figures of the M4 build decide for the others.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Mapping

from kws.config import KwsConfig, load_config_values
from kws.errors import KwsError
from kws.search.space import BudgetConfig, SearchConfig, describe, param_choices, trial_overrides

MAX_POINTS = 20_000
"""Most distinct model geometries the impossible-space check builds (a larger space is checked on its corners)."""


class SearchError(KwsError):
    """A search that cannot run as configured: the message says why and what to change."""


@dataclass(frozen=True)
class Footprint:
    """What the model alone needs on the board (lower bounds of the firmware's figures)."""

    params: int
    """Parameters (after structured pruning): at least this many bytes of flash as int8."""
    activations: int
    """Largest output of one layer, int8 bytes: at least this much RAM."""
    macs: int
    """Multiply-accumulates per inference."""


def trial_config(params: Mapping[str, Any], base_values: Mapping[str, Any]) -> KwsConfig:
    """The KwsConfig of a trial: the base config's values with the trial's layer over them (validated)."""
    from pathlib import Path

    return load_config_values([(Path("<search base>"), base_values), (Path("<trial>"), trial_overrides(params))])


def lower_bound(params: Mapping[str, Any], base_values: Mapping[str, Any]) -> Footprint:
    """The footprint of the trial's model (structured pruning applied to the filter count)."""
    from kws.compress.prune import filters_to_keep
    from kws.config import replace
    from kws.models import build_model
    from kws.models.summary import summarize

    config = trial_config(params, base_values)
    model_cfg = config.model
    if params.get("pruning"):
        model_cfg = replace(model_cfg, filters=filters_to_keep(float(params["pruning"]), model_cfg.filters))
    model = build_model(model_cfg, config.frontend, len(config.data.labels()))
    summary = summarize(model, (config.frontend.num_frames, config.frontend.num_features))
    largest = max((layer.activation_bytes for layer in summary.layers), default=0)
    return Footprint(summary.total_params, largest, summary.total_macs)


def over_budget(bound: Footprint, budget: BudgetConfig) -> str | None:
    """Why a model can never fit (its bounds against the firmware's limits), or None."""
    if bound.params > budget.flash_limit:
        return (f"its {bound.params:,} parameters need at least {bound.params:,} B of flash as int8; the firmware may "
                f"take {budget.flash_limit:,} B of {budget.board}'s flash")
    if bound.activations > budget.ram_limit:
        return (f"one layer's output needs {bound.activations:,} B of RAM as int8; the firmware may take "
                f"{budget.ram_limit:,} B of {budget.board}'s RAM")
    return None


def _geometries(config: SearchConfig) -> list[dict[str, Any]]:
    """One parameter set per distinct model geometry of the space (quantization does not change the size)."""
    choices = param_choices(config.space)
    feature_sets: list[dict[str, Any]] = []
    for kind in choices["features"]:
        for mel in choices["mel_bins"]:
            for coefficients in (choices["mfcc"] if kind == "mfcc" else (None,)):
                point = {"features": kind, "mel_bins": mel}
                if coefficients is not None:
                    point["mfcc"] = coefficients
                feature_sets.append(point)
    families = {"tiny_conv": ("filters", "kernel_time", "kernel_freq", "stride_time", "stride_freq", "pruning"),
                "ds_cnn": ("width", "depth")}
    points = []
    for model in choices["model"]:
        names = families[model]
        for values in itertools.product(*(choices[n] for n in names)):
            for features in feature_sets:
                points.append({"model": model, **dict(zip(names, values)), **features, "quantization": "ptq"})
    if len(points) > MAX_POINTS:  # the smallest corner of each family: fewest channels, most pruning, largest stride
        points = [min(points, key=lambda p: (p.get("filters") or p.get("width"), -(p.get("pruning") or 0),
                                             -(p.get("stride_time") or 0), p.get("depth") or 0, p["mel_bins"]))]
    return points


def refuse_impossible_space(config: SearchConfig, base_values: Mapping[str, Any]) -> int:
    """SearchError when no model of the space can fit the budget; else the number of geometries that might."""
    possible, smallest = 0, None
    for point in _geometries(config):
        bound = lower_bound(point, base_values)
        if over_budget(bound, config.budget) is None:
            possible += 1
        elif smallest is None or (bound.params, bound.activations) < (smallest[1].params, smallest[1].activations):
            smallest = (point, bound)
    if possible == 0 and smallest is not None:
        point, bound = smallest
        raise SearchError(f"no model of this search space can fit {config.budget.board}: even the smallest, "
                          f"{describe(point)}, cannot: {over_budget(bound, config.budget)}. Allow smaller models "
                          f"(space.*) or a larger budget (budget.*)")
    return possible


__all__ = ["Footprint", "MAX_POINTS", "SearchError", "lower_bound", "over_budget", "refuse_impossible_space",
           "trial_config"]
