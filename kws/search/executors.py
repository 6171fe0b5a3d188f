"""Where trials run: here, as many at once as the cores allow (the default), or on a Ray cluster (ray_backend).

    with LocalExecutor(workers=2) as executor:
        for outcome in executor.run(jobs):         # outcomes as the trials finish, in any order
            ...

Both run the same trial function (kws.search.trial.run_trial). A trial function that raises is a failed trial
with the exception as its reason: an executor never loses a trial and never reports one twice.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterator, Protocol, Sequence

from kws.search.trial import TrialJob, TrialOutcome, run_trial, stop_running_stages

TrialFunction = Callable[[TrialJob], TrialOutcome]


class Executor(Protocol):
    workers: int
    """Trials that can run at once."""
    where: str
    """Where trials run, for people ('local, 2 workers', 'Ray cluster at ...')."""

    def run(self, jobs: Sequence[TrialJob]) -> Iterator[TrialOutcome]: ...

    def close(self) -> None: ...

    def stop(self) -> None: ...


def local_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def crashed(job: TrialJob, exc: BaseException, where: str = "") -> TrialOutcome:
    """A failed trial for a trial function that raised."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:400]
    return TrialOutcome(job.number, "failed", reason=f"{where}the trial crashed: {text}")


class LocalExecutor:
    """Trials in threads of this process, each running its chain of `kws` processes."""

    def __init__(self, workers: int, trial_fn: TrialFunction = run_trial) -> None:
        self.workers = max(1, workers)
        self.where = f"local, {self.workers} at once"
        self._trial_fn = trial_fn
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kws-trial")

    def run(self, jobs: Sequence[TrialJob]) -> Iterator[TrialOutcome]:
        pending: dict[Future, TrialJob] = {self._pool.submit(self._trial_fn, job): job for job in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: pending[f].number):
                job = pending.pop(future)
                exc = future.exception()
                yield crashed(job, exc) if exc is not None else future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """Stop the running trials' stages now (the search was interrupted), then close."""
        stop_running_stages()
        self.close()

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Executor", "LocalExecutor", "TrialFunction", "crashed", "local_cores"]
