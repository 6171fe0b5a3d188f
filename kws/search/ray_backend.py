"""Trials as Ray tasks on a cluster: the same trial function, one task per trial, no retries.

    kws search --config kws/configs/search_demo.toml --ray-address 10.0.0.5:6379     # a cluster's head
    ray start --head --port=6379 --num-cpus=8      # on the head (and `ray start --address=HEAD:6379` on workers)

Every node needs this repository at the same path with its .venv and the dataset, and the search folder on a
filesystem they all share (each trial writes runs/<search>/runs/<trial>/ from whichever node runs it).

Faults: a task is never retried by Ray (max_retries=0), so a trial is told to Optuna exactly once: a worker that
dies (killed, out of memory), a node that is lost, or a trial function that raises becomes a failed trial with
that reason, and the search goes on. An unreachable address is a SearchError before anything starts.
"""

from __future__ import annotations

import socket
from typing import Any, Iterator, Sequence

from kws.search.executors import TrialFunction, crashed
from kws.search.fit import SearchError
from kws.search.trial import TrialJob, TrialOutcome, run_trial

CONNECT_TIMEOUT_S = 5.0


def check_reachable(address: str) -> None:
    """SearchError unless something listens at the cluster's host:port ('auto' and 'local' are left to Ray)."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise SearchError(f"--ray-address {address!r} is not host:port (e.g. 127.0.0.1:6379, the head's GCS port), "
                          f"'auto' or ray://host:port")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SearchError(f"cannot reach the Ray cluster at {address}: {reason}; start one there with "
                          f"`ray start --head --port={port}`, or check --ray-address. Nothing was trained") from None


def failure_reason(exc: BaseException) -> tuple[str, str]:
    """(state, reason) of a Ray error that ended a trial's task."""
    from ray import exceptions as rex

    name = type(exc).__name__
    if isinstance(exc, getattr(rex, "OutOfMemoryError", ())):
        return "killed", "Ray's memory monitor killed the trial's worker (out of memory)"
    if isinstance(exc, getattr(rex, "NodeDiedError", ())):
        return "killed", "the Ray node running the trial was lost"
    if isinstance(exc, rex.WorkerCrashedError):
        return "killed", "the Ray worker running the trial died (killed, or out of memory)"
    if isinstance(exc, rex.TaskCancelledError):
        return "killed", "the trial's Ray task was cancelled"
    if isinstance(exc, rex.RayTaskError):
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        return "failed", f"the trial crashed on its Ray worker: {type(cause).__name__}: {str(cause).splitlines()[0]}"
    return "failed", f"Ray: {name}: {str(exc).splitlines()[0] if str(exc) else ''}"


class RayExecutor:
    """Trials as Ray tasks of `threads` CPUs each, on the cluster at `address`."""

    def __init__(self, address: str, threads: int = 1, trial_fn: TrialFunction = run_trial) -> None:
        check_reachable(address)
        import ray

        try:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SearchError(f"cannot connect to the Ray cluster at {address}: {str(exc).splitlines()[0]}. "
                              f"Nothing was trained") from None
        self._ray: Any = ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.threads = max(1, threads)
        self.workers = max(1, cpus // self.threads)
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        self.where = f"Ray cluster at {address} ({nodes} node(s), {cpus} CPUs: {self.workers} trials at once)"
        self._remote = ray.remote(num_cpus=self.threads, max_retries=0)(trial_fn)

    def run(self, jobs: Sequence[TrialJob]) -> Iterator[TrialOutcome]:
        ray = self._ray
        refs = {self._remote.remote(job): job for job in jobs}
        pending = list(refs)
        while pending:
            try:
                ready, pending = ray.wait(pending, num_returns=1)
            except Exception as exc:  # the driver lost the cluster itself (its head went away): no trial's fault
                raise SearchError(f"lost the Ray cluster ({self.where}): {type(exc).__name__}: {exc}; the trials told "
                                  f"so far are kept: run the same command again to resume") from None
            job = refs[ready[0]]
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                state, reason = failure_reason(exc)
                yield TrialOutcome(job.number, state, reason=reason)
            except Exception as exc:  # anything else the object store hands back is still this trial's failure
                yield crashed(job, exc, "Ray: ")

    def close(self) -> None:
        self._ray.shutdown()

    def stop(self) -> None:
        self.close()  # the driver leaving ends its tasks; their stages die with their workers (PDEATHSIG)

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["CONNECT_TIMEOUT_S", "RayExecutor", "check_reachable", "failure_reason"]
