"""The search's TOML: the space of models, features and compression to try, the board budget, and how to search.

    config = load_search_config("kws/configs/search_demo.toml")       # ConfigError naming any unknown key
    params = suggest(optuna_trial, config.space)                      # {"model": "tiny_conv", "filters": 8, ...}
    layer = trial_overrides(params)                                   # laid over the base config of every trial

Every list is the set of choices for one setting (Optuna samples categorically, so the same seed always gives the
same trials). Sizes only a model family has are sampled only for it: tiny_conv's filters, kernel, stride and
structured pruning ratio; DS-CNN's width and depth. A pruned trial is quantized post-training (the export
calibrates the pruned network), so `quantization` is sampled only for unpruned ones. `[[baseline]]` tables name
trials to run first (any subset of the parameters; the rest are sampled), e.g. TensorFlow's tiny_conv.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kws.config import DEVICE_FEATURE_TYPES, ConfigError
from kws.model_names import MODEL_NAMES
from kws.typed_toml import build_dataclass, config_to_dict

SAMPLERS = ("tpe", "nsga2", "random")
KIB = 1024


@dataclass(frozen=True)
class TinyConvSpace:
    """tiny_conv sizes to try (model.filters, model.kernel, model.stride) and its structured pruning."""

    filters: tuple[int, ...] = (4, 8, 16)
    """Convolution filters (TensorFlow's tiny_conv has 8)."""
    kernel_time: tuple[int, ...] = (10,)
    """Kernel height in frames."""
    kernel_freq: tuple[int, ...] = (8,)
    """Kernel width in feature channels."""
    stride_time: tuple[int, ...] = (2,)
    """Stride along time."""
    stride_freq: tuple[int, ...] = (2,)
    """Stride along the feature channels."""
    pruning: tuple[float, ...] = (0.0,)
    """Structured pruning ratios: the share of the filters `kws prune --structured` removes (0 = not pruned)."""


@dataclass(frozen=True)
class DsCnnSpace:
    """DS-CNN sizes to try (model.width, model.depth)."""

    width: tuple[int, ...] = (16, 32, 64)
    """Channels of every layer (MLPerf Tiny's DS-CNN has 64)."""
    depth: tuple[int, ...] = (1, 2, 4)
    """Depthwise-separable blocks (MLPerf Tiny's has 4)."""


@dataclass(frozen=True)
class FeatureSpace:
    """Frontend settings to try (frontend.feature_type, n_mels, n_mfcc)."""

    kinds: tuple[str, ...] = ("logmel", "mfcc")
    """Feature kinds the board's frontend computes from audio (kws.config.DEVICE_FEATURE_TYPES: logmel, mfcc,
    tflm_micro; mlperf_mfcc is host only)."""
    mel_bins: tuple[int, ...] = (40,)
    """Mel filterbank channels (the model's input width for log-mel)."""
    mfcc: tuple[int, ...] = (10,)
    """MFCC coefficients kept (the model's input width for MFCC); each must be <= every mel_bins choice."""


@dataclass(frozen=True)
class SpaceConfig:
    """What a trial may be."""

    models: tuple[str, ...] = ("tiny_conv", "ds_cnn")
    """Model families."""
    tiny_conv: TinyConvSpace = field(default_factory=TinyConvSpace)
    """tiny_conv's sizes and pruning."""
    ds_cnn: DsCnnSpace = field(default_factory=DsCnnSpace)
    """DS-CNN's sizes."""
    features: FeatureSpace = field(default_factory=FeatureSpace)
    """Frontend settings."""
    quantization: tuple[str, ...] = ("ptq", "qat")
    """int8 methods for unpruned trials: 'ptq' (post-training) or 'qat' (quantization-aware fine-tuning)."""

    def validate(self) -> None:
        """ConfigError naming the first list that is empty or holds a value no trial can use."""
        _choices("space.models", self.models, lambda m: m in MODEL_NAMES, f"one of {', '.join(MODEL_NAMES)}")
        if "tiny_conv" in self.models:
            t = self.tiny_conv
            for name in ("filters", "kernel_time", "kernel_freq", "stride_time", "stride_freq"):
                _choices(f"space.tiny_conv.{name}", getattr(t, name), lambda v: v >= 1, "integers >= 1")
            _choices("space.tiny_conv.pruning", t.pruning, lambda r: 0 <= r < 1, "ratios in [0, 1)")
        if "ds_cnn" in self.models:
            _choices("space.ds_cnn.width", self.ds_cnn.width, lambda v: v >= 1, "integers >= 1")
            _choices("space.ds_cnn.depth", self.ds_cnn.depth, lambda v: v >= 0, "integers >= 0")
        f = self.features
        _choices("space.features.kinds", f.kinds, lambda k: k in DEVICE_FEATURE_TYPES,
                 f"kinds the board's frontend computes: {', '.join(DEVICE_FEATURE_TYPES)}")
        _choices("space.features.mel_bins", f.mel_bins, lambda v: 1 <= v <= 128, "integers in 1..128")
        if "mfcc" in f.kinds:
            _choices("space.features.mfcc", f.mfcc, lambda v: 1 <= v <= min(f.mel_bins),
                     f"integers in 1..{min(f.mel_bins)} (the smallest mel_bins choice)")
        _choices("space.quantization", self.quantization, lambda m: m in ("ptq", "qat"), "'ptq' or 'qat'")


@dataclass(frozen=True)
class BudgetConfig:
    """The target board's memory, what the M4 build does not contain, and the headroom kept free.

    A trial fits when  firmware flash + reserved_flash_bytes <= flash_bytes * (1 - headroom)  and the same for RAM;
    the firmware's figures are the linker's for the M4 board build, which has the Nano 33 BLE Sense's memory map
    but not the Arduino mbed core."""

    board: str = "nano33ble"
    """The board's name (labels, the plot)."""
    flash_bytes: int = 1024 * KIB
    """Flash of the board (the Nano 33 BLE Sense: 1 MB)."""
    ram_bytes: int = 256 * KIB
    """RAM of the board (the Nano 33 BLE Sense: 256 KB)."""
    headroom: float = 0.10
    """Share of each memory kept free."""
    reserved_flash_bytes: int = 170 * KIB
    """Flash the M4 build leaves out: the Arduino mbed core (kws.device.budget's estimate, ~170 KiB)."""
    reserved_ram_bytes: int = 40 * KIB
    """RAM the M4 build leaves out: mbed OS heap and thread stacks (kws.device.budget's estimate, ~40 KiB)."""

    @property
    def flash_limit(self) -> int:
        """Bytes of flash the M4 firmware may take."""
        return int(self.flash_bytes * (1 - self.headroom)) - self.reserved_flash_bytes

    @property
    def ram_limit(self) -> int:
        """Bytes of RAM the M4 firmware may take."""
        return int(self.ram_bytes * (1 - self.headroom)) - self.reserved_ram_bytes

    def validate(self) -> None:
        if not 0 <= self.headroom < 1:
            raise ConfigError(f"budget.headroom must be in [0, 1), got {self.headroom}")
        if self.flash_limit <= 0 or self.ram_limit <= 0:
            raise ConfigError(f"budget leaves the firmware no room: flash limit {self.flash_limit:,} B, RAM limit "
                              f"{self.ram_limit:,} B (reserved bytes and headroom exceed the board's memory)")


@dataclass(frozen=True)
class SearchSettings:
    """How to search: the base pipeline config of every trial, the sampler, the measurement."""

    base_config: str = "kws/configs/demo.toml"
    """The pipeline config every trial starts from (data, training recipe, recognizer), relative to where kws runs."""
    set: tuple[str, ...] = ()
    """`section.key=value` overrides of the base config for every trial: the short schedule (training.steps,
    quantization.qat_steps, pruning.finetune_steps, ...)."""
    trials: int = 16
    """Trials to run (--trials overrides; a rerun with more extends the search). A sampled point that an earlier
    trial already measured is told that trial's results without running and does not count."""
    seed: int = 0
    """Seed of the sampler: the same seed (and batch_size) gives the same trials, however many workers run them."""
    sampler: str = "tpe"
    """Optuna's multi-objective sampler: 'tpe' (MOTPE), 'nsga2' (NSGA-II) or 'random'."""
    startup_trials: int = 8
    """Random trials before TPE models the results (tpe only)."""
    population: int = 8
    """NSGA-II's population size (nsga2 only)."""
    batch_size: int = 2
    """Trials sampled together, from the results of every batch before; at most this many run at once."""
    eval_clips: int = 2
    """Test clips the M4 board runs (audio in, over the serial protocol) to measure instructions per inference and
    the frontend's per frame."""
    trial_timeout_s: float = 3600.0
    """A trial still running after this long is stopped and recorded as failed."""
    real_speech: str = "auto"
    """Folder of real speech (Speech Commands test-set layout) on which the front's models are checked, never
    optimised: 'auto' = $KWS_SHARED_DATA/sc-real-dev or ../shared/data/sc-real-dev when present; '' = no check."""

    def validate(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"search.sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        for name in ("trials", "batch_size", "eval_clips", "startup_trials", "population"):
            if getattr(self, name) < 1:
                raise ConfigError(f"search.{name} must be >= 1, got {getattr(self, name)}")
        if self.population < 2:
            raise ConfigError(f"search.population must be >= 2, got {self.population}")
        if not self.trial_timeout_s > 0:
            raise ConfigError(f"search.trial_timeout_s must be positive, got {self.trial_timeout_s}")


@dataclass(frozen=True)
class SearchConfig:
    """A search's whole TOML (baselines aside: `[[baseline]]` tables, see `baselines`)."""

    search: SearchSettings = field(default_factory=SearchSettings)
    """How to search."""
    space: SpaceConfig = field(default_factory=SpaceConfig)
    """What a trial may be."""
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    """The board every trial must fit."""
    baselines: tuple[dict[str, Any], ...] = ()
    """Trials run first ([[baseline]] tables of parameters; the missing ones are sampled)."""

    def validate(self) -> "SearchConfig":
        self.search.validate()
        self.space.validate()
        self.budget.validate()
        for i, baseline in enumerate(self.baselines):
            check_baseline(baseline, self.space, f"baseline[{i}]")
        return self


# ------------------------------------------------------------------------------------------ parameters

PARAMS = ("model", "filters", "kernel_time", "kernel_freq", "stride_time", "stride_freq", "pruning", "width", "depth",
          "features", "mel_bins", "mfcc", "quantization")
"""Every parameter a trial can have, in the order they are sampled."""


def _choices(key: str, values: tuple[Any, ...], ok: Any, what: str) -> None:
    if not values:
        raise ConfigError(f"{key} is empty: give at least one choice")
    bad = [v for v in values if not ok(v)]
    if bad:
        raise ConfigError(f"{key} holds {bad[0]!r}; it takes {what}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{key} lists a choice twice: {list(values)}")


def param_choices(space: SpaceConfig) -> dict[str, tuple[Any, ...]]:
    """The choices of every parameter."""
    t, d, f = space.tiny_conv, space.ds_cnn, space.features
    return {"model": space.models, "filters": t.filters, "kernel_time": t.kernel_time, "kernel_freq": t.kernel_freq,
            "stride_time": t.stride_time, "stride_freq": t.stride_freq, "pruning": t.pruning, "width": d.width,
            "depth": d.depth, "features": f.kinds, "mel_bins": f.mel_bins, "mfcc": f.mfcc,
            "quantization": space.quantization}


def check_baseline(values: Mapping[str, Any], space: SpaceConfig, where: str) -> None:
    """ConfigError for a baseline naming an unknown parameter or a value outside its choices."""
    choices = param_choices(space)
    for key, value in values.items():
        if key not in choices:
            raise ConfigError(f"{where}.{key} is not a search parameter; parameters: {', '.join(PARAMS)}")
        if value not in choices[key]:
            raise ConfigError(f"{where}.{key} = {value!r} is not among its choices {list(choices[key])}")


def suggest(trial: Any, space: SpaceConfig) -> dict[str, Any]:
    """Sample one trial's parameters with an Optuna trial (define-by-run: a family's sizes only for it)."""
    choices = param_choices(space)

    def pick(name: str) -> Any:
        return trial.suggest_categorical(name, list(choices[name]))

    params: dict[str, Any] = {"model": pick("model")}
    if params["model"] == "tiny_conv":
        for name in ("filters", "kernel_time", "kernel_freq", "stride_time", "stride_freq", "pruning"):
            params[name] = pick(name)
    else:
        params["width"], params["depth"] = pick("width"), pick("depth")
    params["features"] = pick("features")
    params["mel_bins"] = pick("mel_bins")
    if params["features"] == "mfcc":
        params["mfcc"] = pick("mfcc")
    if not params.get("pruning"):
        params["quantization"] = pick("quantization")
    return params


def export_source(params: Mapping[str, Any]) -> str:
    """The checkpoint a trial exports: 'pruned' when pruned, else its quantization method."""
    return "pruned" if params.get("pruning") else str(params.get("quantization", "ptq"))


def describe(params: Mapping[str, Any]) -> str:
    """A short name of a trial's parameters: 'tiny_conv f8 k10x8 s2x2, logmel 40, ptq'."""
    if params.get("model") == "tiny_conv":
        model = (f"tiny_conv f{params['filters']} k{params['kernel_time']}x{params['kernel_freq']} "
                 f"s{params['stride_time']}x{params['stride_freq']}")
        if params.get("pruning"):
            model += f" pruned {params['pruning']:.0%}"
    else:
        model = f"ds_cnn w{params.get('width')} d{params.get('depth')}"
    features = (f"mfcc {params.get('mfcc')}/{params.get('mel_bins')}" if params.get("features") == "mfcc"
                else f"logmel {params.get('mel_bins')}")
    return f"{model}, {features}, {export_source(params)}"


def trial_overrides(params: Mapping[str, Any]) -> dict[str, Any]:
    """The config layer a trial lays over the base config: model, frontend, quantization and pruning settings."""
    model: dict[str, Any] = {"name": params["model"]}
    if params["model"] == "tiny_conv":
        model.update(filters=params["filters"], kernel=[params["kernel_time"], params["kernel_freq"]],
                     stride=[params["stride_time"], params["stride_freq"]])
    else:
        model.update(width=params["width"], depth=params["depth"])
    frontend: dict[str, Any] = {"feature_type": params["features"], "n_mels": params["mel_bins"]}
    if params["features"] == "mfcc":
        frontend["n_mfcc"] = params["mfcc"]
    layer: dict[str, Any] = {"model": model, "frontend": frontend,
                             "quantization": {"method": params.get("quantization", "ptq")}}
    if params.get("pruning"):  # rounds and fine-tuning steps come from the base config (search.set)
        layer["pruning"] = {"structured": True, "target_sparsity": float(params["pruning"])}
    return layer


# ------------------------------------------------------------------------------------------ loading

def load_search_config(path: str | Path, trials: int | None = None) -> SearchConfig:
    """The search TOML at `path`, validated (unknown keys are errors); `trials` overrides search.trials."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"search config {path} does not exist")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"search config {path} is not valid TOML: {exc}") from None
    return search_config_from_values(values, trials, where=str(path))


def search_config_from_values(values: Mapping[str, Any], trials: int | None = None, where: str = "") -> SearchConfig:
    """A SearchConfig from parsed TOML values (see load_search_config)."""
    values = dict(values)
    baselines = values.pop("baseline", [])
    suffix = f" (in {where})" if where else ""
    if not isinstance(baselines, list) or not all(isinstance(b, dict) for b in baselines):
        raise ConfigError(f"'baseline' must be an array of tables ([[baseline]]){suffix}")
    if trials is not None:
        values["search"] = {**values.get("search", {}), "trials": trials}
    try:
        config = build_dataclass(SearchConfig, values, "")
        config = SearchConfig(config.search, config.space, config.budget, tuple(dict(b) for b in baselines))
        return config.validate()
    except ConfigError as exc:
        raise ConfigError(f"{exc}{suffix}") from None


def search_config_to_dict(config: SearchConfig) -> dict[str, Any]:
    """The config as plain TOML/JSON values (baselines as `baseline`)."""
    values = config_to_dict(SearchConfig(config.search, config.space, config.budget))
    values.pop("baselines", None)
    if config.baselines:
        values["baseline"] = [dict(b) for b in config.baselines]
    return values


__all__ = ["BudgetConfig", "DsCnnSpace", "FeatureSpace", "PARAMS", "SAMPLERS", "SearchConfig",
           "SearchSettings", "SpaceConfig", "TinyConvSpace", "check_baseline", "describe", "export_source",
           "load_search_config", "param_choices", "search_config_from_values", "search_config_to_dict", "suggest",
           "trial_overrides"]
