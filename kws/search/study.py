"""The search loop: Optuna's multi-objective study in the search folder, trials asked in batches, run, told once.

    ran = run_search(config, folder, executor, base_values)     # trials run now; the study holds them all

Objectives: validation accuracy of the int8 model (maximised), instructions per inference on the M4 board, flash
and RAM of its firmware (minimised); constraints: flash and RAM within the budget (Optuna's trial constraints: an
over-budget trial is measured but never on the front). The sampler is Optuna's (TPE, NSGA-II or random), seeded
with search.seed + the trial's number.

Determinism and resume: trials are asked in batches of search.batch_size, each batch after every trial of the batch
before was told, and each trial's sampler is seeded by its number. So the parameters of trial n depend only on the
seed, the batch size and the results before its batch: the same on 1 core or 16 Ray workers, and the same after a
kill. The study lives in runs/<search>/study.journal (JournalStorage: append-only, nothing lost by a kill). A
search started again finds the trials the killed one left RUNNING, runs them again with their recorded parameters
(their training resumes from its checkpoint), fills their batch (its bounds are recorded in the study), and goes
on; every trial is told exactly once. One search process per folder (its lock), so a RUNNING trial found at the
start is always a dead process's. A sampled point an earlier trial measured is told that trial's results without
running (training is seeded: it would make the same model) and does not count towards search.trials.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping, Sequence

from kws.config import config_to_toml
from kws.fsutil import atomic_write_text
from kws.search.executors import Executor
from kws.search.fit import lower_bound, over_budget, trial_config
from kws.search.folder import SearchFolder
from kws.search.space import SearchConfig, describe, suggest
from kws.search.trial import TrialJob, TrialOutcome

STUDY_NAME = "kws-search"
OBJECTIVES = (("val_accuracy", "maximize"), ("instructions", "minimize"), ("flash", "minimize"), ("ram", "minimize"))
"""The trial values Optuna optimises, in order, with their directions."""
MAX_ASKED = 3
"""A search asks at most this many times search.trials trials (repeats included) before it stops."""
Say = Callable[[str], None]


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def make_sampler(config: SearchConfig, number: int, explore: bool = False) -> Any:
    """The configured sampler, seeded for trial `number`; Optuna's random sampler when `explore`."""
    optuna = _optuna()
    s = config.search
    seed = s.seed * 1_000_003 + number
    if s.sampler == "random" or explore:
        return optuna.samplers.RandomSampler(seed=seed)
    if s.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=s.population)
    # constant_liar: a batch's running trials count as bad results, so one batch rarely asks the same point twice.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=s.startup_trials, constant_liar=True)


def open_study(folder: SearchFolder, config: SearchConfig) -> Any:
    """The folder's study, created (with the baselines enqueued first) if it does not exist yet."""
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder.dir.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(folder.storage)))
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage, load_if_exists=True,
                                directions=[direction for _, direction in OBJECTIVES])
    if not study.user_attrs.get("baselines_enqueued"):
        for baseline in config.baselines:
            study.enqueue_trial(dict(baseline))
        study.set_user_attr("baselines_enqueued", True)
    return study


def _next_number(study: Any, optuna: Any) -> int:
    """The number the next study.ask() gets: the first enqueued trial still waiting, else a new one."""
    trials = study.get_trials(deepcopy=False)
    waiting = [t.number for t in trials if t.state == optuna.trial.TrialState.WAITING]
    return min(waiting) if waiting else len(trials)


def counted(trials: Sequence[Any]) -> int:
    """Finished trials that count towards search.trials: a repeat of an earlier trial's parameters does not."""
    return sum(1 for t in trials if t.state.is_finished() and "repeat_of" not in t.user_attrs)


def next_batch(study: Any, config: SearchConfig, target: int) -> list[Any]:
    """The trials to run now (optuna Trial objects, parameters suggested): the batch of the first unfinished
    trial, i.e. those a dead search left RUNNING and new ones up to the batch's end. A batch holds batch_size
    trials, fewer when fewer are missing; its bounds are recorded in the study, so a resumed batch is the same."""
    optuna = _optuna()
    trials = study.get_trials(deepcopy=False)
    stale = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    unfinished = [t.number for t in trials if not t.state.is_finished()]
    start = min(unfinished) if unfinished else len(trials)
    recorded = study.user_attrs.get("batch")
    if stale and recorded and recorded[0] <= min(t.number for t in stale) < recorded[1]:
        end, explore = int(recorded[1]), bool(recorded[2:3] and recorded[2])
    else:
        missing = max(target - counted(trials), 0)
        end = min(start + min(config.search.batch_size, missing), MAX_ASKED * target)
        end = max(end, max((t.number + 1 for t in stale), default=0))
        # A batch that only repeated measured points: the sampler is stuck there; the next batch draws at random.
        before = [t for t in trials if recorded and recorded[0] <= t.number < recorded[1] and t.state.is_finished()]
        explore = bool(before) and all("repeat_of" in t.user_attrs for t in before)
        study.set_user_attr("batch", [start, end, explore])
    batch = []
    for frozen in stale:
        # Re-suggesting returns the recorded values (after a kill between ask and suggest, the rest are drawn).
        study.sampler = make_sampler(config, frozen.number, explore)
        trial = optuna.trial.Trial(study, frozen._trial_id)  # FrozenTrial has no public id; Trial() needs it
        suggest(trial, config.space)
        batch.append(trial)
    while (number := _next_number(study, optuna)) < end:
        study.sampler = make_sampler(config, number, explore)
        trial = study.ask()
        if trial.number != number:  # pragma: no cover - Optuna pops the first waiting trial
            raise RuntimeError(f"Optuna gave trial {trial.number}, expected {number}")
        suggest(trial, config.space)
        batch.append(trial)
    return sorted(batch, key=lambda t: t.number)


def _write_trial_config(folder: SearchFolder, number: int, params: Mapping[str, Any],
                        base_values: Mapping[str, Any]) -> None:
    folder.configs_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder.trial_config(number), config_to_toml(trial_config(params, base_values)))


def tell(study: Any, trial: Any, config: SearchConfig, outcome: TrialOutcome) -> None:
    """Record the outcome as the trial's attributes, then tell Optuna its values (or FAIL)."""
    optuna = _optuna()
    budget = config.budget
    attrs: dict[str, Any] = {"state": outcome.state, "reason": outcome.reason, "seconds": round(outcome.seconds, 1),
                             "stages": outcome.stages, "host": outcome.host}
    values = outcome.values
    if outcome.ok:
        skip = ("params", "stage_seconds", "seconds", "host", "state", "reason", "stages", "constraint", "fits")
        attrs.update({k: v for k, v in values.items() if k not in skip})
        attrs["constraint"] = [float(values["flash"] - budget.flash_limit), float(values["ram"] - budget.ram_limit)]
        attrs["fits"] = max(attrs["constraint"]) <= 0
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if outcome.ok:  # Optuna's constraints (<= 0 is feasible): the samplers prefer trials that fit
        trial.set_constraint("flash_over_limit", attrs["constraint"][0])
        trial.set_constraint("ram_over_limit", attrs["constraint"][1])
        study.tell(trial, [float(values[name]) for name, _ in OBJECTIVES])
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def run_search(config: SearchConfig, folder: SearchFolder, executor: Executor, base_values: Mapping[str, Any], *,
               say: Say = lambda text: None, on_told: Callable[[], None] = lambda: None) -> int:
    """Run trials until the study has config.search.trials finished ones (repeats of an earlier trial's parameters
    are told its results without running and do not count; at most MAX_ASKED times that many are asked); the
    number of trials told by this call."""
    study = open_study(folder, config)
    target = config.search.trials
    ran = 0
    while True:
        trials = study.get_trials(deepcopy=False)
        if not any(t.state.name == "RUNNING" for t in trials):
            if counted(trials) >= target:
                return ran
            if sum(1 for t in trials if t.state.is_finished()) >= MAX_ASKED * target:
                say(f"stopped after {MAX_ASKED * target} trials: the sampler keeps proposing parameters already "
                    f"tried ({counted(trials)} distinct of the {target} asked for); widen the space")
                return ran
        batch = {trial.number: trial for trial in next_batch(study, config, target)}
        jobs: list[TrialJob] = []
        twins: dict[int, int] = {}  # a trial with the parameters of an earlier one of its batch -> that one
        for number, trial in batch.items():
            params = dict(trial.params)
            outcome = _known_outcome(study, number, params, config, base_values)
            if outcome is None:
                twin = next((job.number for job in jobs if job.params == params), None)
                if twin is not None:
                    twins[number] = twin
                    continue
                _write_trial_config(folder, number, params, base_values)
                jobs.append(TrialJob(number, params, str(folder.dir.resolve()), config.search.eval_clips,
                                     config.search.trial_timeout_s, getattr(executor, "threads", 1)))
                say(f"trial {number}: {describe(params)}: started ({executor.where})")
                continue
            tell(study, trial, config, outcome)  # over budget before training, or a repeat: nothing to run
            ran += 1
            say(_outcome_line(outcome, params))
            on_told()
        for outcome in executor.run(jobs):
            told = [(outcome.number, outcome)] + [(n, _repeat(n, outcome)) for n, t in twins.items()
                                                  if t == outcome.number]
            for number, result in told:
                tell(study, batch[number], config, result)
                ran += 1
                say(_outcome_line(result, batch[number].params))
            on_told()


def _known_outcome(study: Any, number: int, params: Mapping[str, Any], config: SearchConfig,
                   base_values: Mapping[str, Any]) -> TrialOutcome | None:
    """The outcome of a trial known without running it: a model that can never fit (its lower bounds), or the
    same parameters as an earlier complete trial (training is seeded: it would give the same model again)."""
    why = over_budget(lower_bound(params, base_values), config.budget)
    if why is not None:
        return TrialOutcome(number, "over_budget", reason=f"before training: {why}")
    for earlier in study.get_trials(deepcopy=False):
        if earlier.number < number and earlier.params == params and earlier.state.name == "COMPLETE":
            values = {**earlier.user_attrs, "repeat_of": earlier.user_attrs.get("repeat_of", earlier.number)}
            return TrialOutcome(number, "complete", values, reason=f"the parameters of trial {values['repeat_of']}: "
                                f"its results, not run again")
    return None


def _repeat(number: int, first: TrialOutcome) -> TrialOutcome:
    """Trial `number`'s outcome when it had the parameters of `first`, run in the same batch."""
    if first.ok:
        return TrialOutcome(number, "complete", {**first.values, "repeat_of": first.number},
                            f"the parameters of trial {first.number}: its results, not run again")
    return TrialOutcome(number, first.state, {}, f"the parameters of trial {first.number}, which ended: {first.reason}")


def _outcome_line(outcome: TrialOutcome, params: Mapping[str, Any]) -> str:
    if outcome.ok:
        v = outcome.values
        return (f"trial {outcome.number}: {describe(params)}: val accuracy {v['val_accuracy']:.1%}, "
                f"{v['instructions']:,} instructions, flash {v['flash']:,} B, RAM {v['ram']:,} B "
                f"({outcome.seconds:.0f} s)")
    return f"trial {outcome.number}: {describe(params)}: {outcome.state.replace('_', ' ')}: {outcome.reason}"


def study_trials(folder: SearchFolder) -> list[Any]:
    """Every trial of the folder's study (FrozenTrial), read-only."""
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not folder.storage.is_file():
        return []
    storage = JournalStorage(JournalFileBackend(str(folder.storage)))
    return optuna.load_study(study_name=STUDY_NAME, storage=storage).get_trials(deepcopy=False)


__all__ = ["MAX_ASKED", "OBJECTIVES", "STUDY_NAME", "counted", "make_sampler", "next_batch",
           "open_study", "run_search", "study_trials", "tell"]
