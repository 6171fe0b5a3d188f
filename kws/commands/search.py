"""`kws search`: hardware-aware multi-objective search (kws.search), and `kws search pick` / `kws search show`.

    kws search --config kws/configs/search_demo.toml --trials 16               # local: as many at once as cores allow
    kws search --config kws/configs/search_demo.toml --ray-address HOST:6379   # on a Ray cluster
    kws search show --search search_demo                                       # the table and front again
    kws search pick 7 --search search_demo --run small                         # then: make flash RUN=small
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

from kws.commands.common import add_quiet_option, stderr_say


def _folder(args: argparse.Namespace) -> Any:
    from kws.search.folder import SearchFolder

    name = args.search or (args.config.stem if getattr(args, "config", None) else None)
    if not name:
        from kws.errors import KwsError

        raise KwsError("name the search with --search NAME (its folder is runs/NAME/)")
    return SearchFolder.named(name)


def _executor(args: argparse.Namespace, batch_size: int) -> Any:
    from kws.search.executors import LocalExecutor, local_cores

    if args.ray_address:
        from kws.search.ray_backend import RayExecutor

        return RayExecutor(args.ray_address, threads=args.threads_per_trial)
    workers = args.workers or max(1, local_cores() // args.threads_per_trial)
    return LocalExecutor(min(workers, batch_size))


def _refresh(folder: Any, config: Any) -> list[dict[str, Any]]:
    """Rewrite trials.csv/.md/.json and front.png from the study; the rows."""
    from kws.search.front import plot_front, trial_rows, write_tables
    from kws.search.real_check import recorded
    from kws.search.study import study_trials

    rows = trial_rows(study_trials(folder), recorded(folder))
    title = f"search {folder.name}"
    write_tables(rows, config.budget, folder.trials_csv, folder.trials_md, folder.trials_json, title)
    plot_front(rows, config.budget, folder.front_png)
    return rows


def _search(args: argparse.Namespace) -> int:
    from kws.search.fit import refuse_impossible_space
    from kws.search.ray_backend import check_reachable
    from kws.search.setup import base_config_values, claim_folder, real_speech_folder, trial_base_values
    from kws.search.space import load_search_config
    from kws.search.study import run_search

    if args.config is None:
        from kws.errors import KwsError

        raise KwsError("kws search needs --config FILE (a search TOML, e.g. kws/configs/search_demo.toml)")
    say = stderr_say(args)
    config = load_search_config(args.config, trials=args.trials)
    folder = _folder(args)
    base = base_config_values(config)
    trial_base = trial_base_values(base)
    real = real_speech_folder(config.search.real_speech)
    if args.ray_address:  # before any training, and before the space check's few seconds
        check_reachable(args.ray_address)
    else:  # every trial measures on the M4 board: without its toolchain each one would fail at its last stage
        from kws.device.m4 import toolchain_problem

        problem = toolchain_problem()
        if problem:
            from kws.errors import KwsError

            raise KwsError(f"trials are measured on the M4 board under QEMU, but {problem}")
    possible = refuse_impossible_space(config, trial_base)
    with folder.lock_run.lock("kws search"):
        fresh = claim_folder(folder, config, base)
        executor = _executor(args, config.search.batch_size)
        say(f"search {folder.name} ({'new' if fresh else 'resumed'}): {config.search.trials} trials, "
            f"{config.search.sampler} sampler, seed {config.search.seed}, batch {config.search.batch_size}; "
            f"{possible} model geometries may fit {config.budget.board}; trials run {executor.where}")
        started = time.monotonic()
        try:
            ran = run_search(config, folder, executor, trial_base, say=say,
                             on_told=lambda: _refresh(folder, config))
        except BaseException:
            executor.stop()
            raise
        executor.close()
        minutes = (time.monotonic() - started) / 60
        rows = _refresh(folder, config)
        if real is not None:
            from kws.search.real_check import check_front

            check_front(folder, rows, real, say)
            rows = _refresh(folder, config)
    _summary(folder, rows, ran, minutes, print)
    return 0


def _summary(folder: Any, rows: list[dict[str, Any]], ran: int, minutes: float, out: Callable[[str], None]) -> None:
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    rate = f", {ran / minutes * 60:.1f} trials/hour" if ran and minutes > 0 else ""
    out(f"search {folder.name}: {len(rows)} trials ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
        f"{ran} run now in {minutes:.1f} min{rate}")
    for row in sorted((r for r in rows if r["front"]), key=lambda r: r["instructions"]):
        real = f", real speech {row['real_accuracy']:.1%}" if row.get("real_accuracy") is not None else ""
        out(f"  front: trial {row['trial']:>3}  {row['describe']:<46} val {row['val_accuracy']:.1%}  "
            f"{row['instructions']:>11,} instr  flash {row['flash']:>9,} B  RAM {row['ram']:>8,} B{real}")
    out(f"wrote {folder.trials_md}, {folder.trials_csv.name}, {folder.front_png.name}; deploy a trial with "
        f"`kws search pick TRIAL --search {folder.name} --run NAME`, then `make flash RUN=NAME`")


def _show(args: argparse.Namespace) -> int:
    import tomllib

    from kws.errors import KwsError
    from kws.search.space import search_config_from_values

    folder = _folder(args)
    if not folder.search_config.is_file():
        raise KwsError(f"no search in {folder.dir} (no {folder.search_config.name}); run `kws search` first")
    config = search_config_from_values(tomllib.loads(folder.search_config.read_text(encoding="utf-8")))
    rows = _refresh(folder, config)
    sys.stdout.write(folder.trials_md.read_text(encoding="utf-8"))
    _summary(folder, rows, 0, 0.0, print)
    return 0


def _pick(args: argparse.Namespace) -> int:
    from kws.run import Run
    from kws.search.pick import pick_trial

    run = pick_trial(_folder(args), args.trial, Run.named(args.run))
    print(f"trial {args.trial} of search {args.search} is run {run.name} ({run.dir}); deploy it with "
          f"`make flash RUN={run.name}` (or `kws flash --run {run.name}`), evaluate it with `make eval RUN={run.name}`")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="hardware-aware multi-objective search: train, compress, compile and "
                                                "measure on the M4 board per trial (Optuna; local or Ray)",
                                 description=__doc__.split("\n")[0])
    search.add_argument("--config", type=Path, default=None, help="the search TOML (kws/configs/search_*.toml)")
    search.add_argument("--search", default=None, help="the search's name: its folder is runs/NAME/ (default: the "
                                                       "config file's name)")
    search.add_argument("--trials", type=int, default=None, help="trials to run (default: search.trials; a point "
                                                                 "already tried is reused, not counted); a rerun with "
                                                                 "more extends the search")
    search.add_argument("--workers", type=int, default=0, help="trials at once, locally (default: cores / "
                                                               "--threads-per-trial, at most search.batch_size)")
    search.add_argument("--threads-per-trial", type=int, default=1, help="CPU threads of each trial (default 1)")
    search.add_argument("--ray-address", default=None, help="run the trials on the Ray cluster at HOST:PORT (or "
                                                            "'auto') instead of here")
    add_quiet_option(search)
    search.set_defaults(handler=_search)
    actions = search.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="rewrite and print the trials table and the front plot")
    show.add_argument("--search", required=True, help="the search's name (runs/NAME/)")
    show.set_defaults(handler=_show)
    pick = actions.add_parser("pick", help="a trial as a normal run that `make flash RUN=NAME` deploys")
    pick.add_argument("trial", type=int, help="the trial's number (trials.md)")
    pick.add_argument("--search", required=True, help="the search's name (runs/NAME/)")
    pick.add_argument("--run", required=True, help="the new run's name (runs/NAME/)")
    pick.set_defaults(handler=_pick)
