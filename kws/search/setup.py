"""Before a search runs: its base config, its folder's identity, and every refusal that needs no training.

    base = base_values(config)                          # the base KwsConfig (validated) as a dict, paths absolute
    claim_folder(folder, config, base)                  # writes search.toml / base_config.toml, or refuses a rerun
                                                        # of the folder with another space, seed or base config

A search folder belongs to one search: a rerun with the same TOML resumes it (or extends it with more --trials);
one with another space, sampler, seed, batch size, budget or base config is refused, naming the first difference,
because its trials would not be comparable (and "identical trials for the same seed" would not hold).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from kws.config import config_to_dict, load_config
from kws.fsutil import atomic_write_text
from kws.search.fit import SearchError
from kws.search.folder import SearchFolder
from kws.search.space import SearchConfig, search_config_from_values, search_config_to_dict

EXECUTION_KEYS = ("trials", "trial_timeout_s", "real_speech")
"""search.* settings a rerun may change: how many trials and how patiently, not which ones."""


def base_config_values(config: SearchConfig) -> dict[str, Any]:
    """The base pipeline config of every trial (search.base_config + search.set), validated, as plain values."""
    base = load_config(config.search.base_config, config.search.set)
    return config_to_dict(base)


def trial_base_values(base: Mapping[str, Any]) -> dict[str, Any]:
    """The base values with the dataset, the clip cache (and a distillation teacher) as absolute paths: trials run
    in the search folder. SearchError when the dataset is not there."""
    values = {section: dict(settings) for section, settings in base.items()}
    data_dir = Path(values["data"]["data_dir"])
    if not data_dir.is_dir():
        raise SearchError(f"the base config's dataset {data_dir} does not exist (looked in {data_dir.resolve()}); "
                          f"make it first (`make data`, i.e. kws data synth, for data/synth)")
    values["data"]["data_dir"] = str(data_dir.resolve())
    if values["data"].get("cache_dir"):  # one cache of decoded clips for every trial (written atomically)
        values["data"]["cache_dir"] = str(Path(values["data"]["cache_dir"]).resolve())
    if values["training"].get("teacher"):
        values["training"]["teacher"] = str(Path(values["training"]["teacher"]).resolve())
    return values


def _identity(config: SearchConfig, base: Mapping[str, Any]) -> dict[str, Any]:
    values = search_config_to_dict(config)
    values["search"] = {k: v for k, v in values["search"].items() if k not in EXECUTION_KEYS}
    values["base"] = dict(base)
    return values


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path}: {a!r} then, {b!r} now"


def claim_folder(folder: SearchFolder, config: SearchConfig, base: Mapping[str, Any]) -> bool:
    """Write the folder's search.toml and base_config.toml on a first run (True); on a rerun, check they describe
    this search (False) or raise SearchError naming the first difference."""
    if folder.search_config.is_file():
        stored = search_config_from_values(tomllib.loads(folder.search_config.read_text(encoding="utf-8")),
                                           where=str(folder.search_config))
        stored_base = tomllib.loads(folder.base_config.read_text(encoding="utf-8"))
        before, now = _identity(stored, stored_base), _identity(config, base)
        if before != now:
            raise SearchError(f"search {folder.name} ({folder.dir}) was started with other settings "
                              f"({_first_difference(before, now)}); its trials would not be comparable. Use another "
                              f"--search name, or remove {folder.dir} to start over")
        return False
    folder.dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder.base_config, "# The pipeline config every trial of this search starts from (resolved).\n"
                      + tomli_w.dumps(dict(base)))
    atomic_write_text(folder.search_config, "# The search as it was started (kws search); a rerun must match it.\n"
                      + tomli_w.dumps(search_config_to_dict(config)))
    return True


def real_speech_folder(setting: str) -> Path | None:
    """The folder of search.real_speech ('auto': the shared real test set when present), None for no check."""
    import os

    if not setting:
        return None
    if setting != "auto":
        path = Path(setting)
        if not path.is_dir():
            raise SearchError(f"search.real_speech = {setting!r} is not a folder; give a Speech Commands test-set "
                              f"folder, 'auto' or ''")
        return path
    from kws.search.trial import REPO_ROOT

    shared = os.environ.get("KWS_SHARED_DATA")
    path = (Path(shared) if shared else REPO_ROOT.parent / "shared" / "data") / "sc-real-dev"
    return path if path.is_dir() else None


__all__ = ["EXECUTION_KEYS", "base_config_values", "claim_folder", "real_speech_folder", "trial_base_values"]
