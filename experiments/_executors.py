"""Executors: where the cases of a sweep run (this process, local processes, or Dask).

Every executor takes a list of :class:`Task` and yields ``(index, Outcome)`` as tasks finish, in
any order; :func:`run_task` is the one function that computes a task, whichever executor calls it
(in this process, in a ``ProcessPoolExecutor`` worker or on a Dask worker), and it never raises
for an error of the case: the error travels back as an :class:`Outcome` naming the experiment
and the case, so one failed case loses nothing else.

- ``serial``: in this process, in the given order.
- ``processes``: a local ``concurrent.futures.ProcessPoolExecutor`` (spawned workers).
- ``dask``: Dask distributed (optional dependency, ``pip install '.[dask]'``), on a
  ``LocalCluster`` of ``workers`` single-threaded worker processes, or on an existing scheduler
  (``address``, e.g. one started by ``dask-jobqueue`` on Slurm). A worker that dies (killed,
  out of memory) has its cases rescheduled by Dask on the other workers.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from experiments._api import checkpoint_dir
from experiments._cases import Case, execute_case, plan

__all__ = ["EXECUTORS", "Outcome", "Task", "make_executor", "run_task"]

EXECUTORS = ("serial", "processes", "dask")


@dataclass(frozen=True)
class Task:
    """One case to compute (picklable: it travels to the worker)."""

    experiment: str
    config: Any
    case: Case
    threads: int = 1
    checkpoints: str | None = None  # the record's checkpoint folder (experiments._api)
    quiet: bool = True  # silence the experiment's own progress bars (JKO_QUIET=1)
    priority: float = 0.0  # larger starts first (estimated seconds)

    @property
    def label(self) -> str:
        """``experiment/case`` (seed included when not the default)."""
        seed = getattr(self.config, "seed", 0)
        return f"{self.experiment}{'' if not seed else f'[seed {seed}]'}/{self.case.key}"


@dataclass(frozen=True)
class Outcome:
    """What a task produced: its value, or the error (``"Type: message"``) and traceback."""

    value: Any = None
    error: str | None = None
    traceback: str = ""
    wall_s: float = 0.0
    exception: BaseException | None = None  # only in this process (serial), for re-raising


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """``JKO_QUIET=1`` inside the block when ``on`` (restored after)."""
    before = os.environ.get("JKO_QUIET")
    if on:
        os.environ["JKO_QUIET"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("JKO_QUIET", None)
        else:
            os.environ["JKO_QUIET"] = before


def run_task(task: Task, keep_exception: bool = False) -> Outcome:
    """Compute ``task`` (see :func:`experiments._cases.execute_case`); errors become outcomes.

    ``KeyboardInterrupt`` is not caught: an interrupted case is not a finished one.
    """
    t0 = time.perf_counter()
    try:
        mod = importlib.import_module(f"experiments.{task.experiment}")
        run_case = plan(mod, task.config).run_case
        with checkpoint_dir(task.checkpoints), _quiet(task.quiet):
            value = execute_case(task.experiment, task.config, task.case, run_case, task.threads)
    except Exception as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                       wall_s=time.perf_counter() - t0,
                       exception=exc if keep_exception else None)
    return Outcome(value=value, wall_s=time.perf_counter() - t0)


class _Serial:
    """Tasks one after the other in this process."""

    kind = "serial"
    workers = 1

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Outcome]]:
        for i, task in enumerate(tasks):
            yield i, run_task(task, keep_exception=True)

    def close(self) -> None:
        pass


#: Ctrl-C state of a ``processes`` worker (Ctrl-C reaches the whole process group).
_WORKER = {"in_task": False, "raised": False}


def _worker_sigint(signum, frame) -> None:
    """SIGINT in a worker: stop the running case once (KeyboardInterrupt), never when idle."""
    if _WORKER["in_task"] and not _WORKER["raised"]:
        _WORKER["raised"] = True
        raise KeyboardInterrupt


def _init_worker() -> None:
    """Pool initializer: Ctrl-C stops a worker's case quietly (no traceback from the worker)."""
    signal.signal(signal.SIGINT, _worker_sigint)


def _pool_task(task: Task) -> Outcome | None:
    """:func:`run_task` in a pool worker; ``None`` if interrupted (then it computes no more)."""
    if _WORKER["raised"]:
        return None
    _WORKER["in_task"] = True
    try:
        return run_task(task)
    except KeyboardInterrupt:
        return None
    finally:
        _WORKER["in_task"] = False


class _Processes:
    """A pool of ``workers`` spawned local processes."""

    kind = "processes"

    def __init__(self, workers: int) -> None:
        import multiprocessing

        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker)
        self._interrupted = False

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Outcome]]:
        order = sorted(range(len(tasks)), key=lambda i: -tasks[i].priority)
        futures = {self._pool.submit(_pool_task, tasks[i]): i for i in order}
        try:
            for fut in as_completed(futures):
                try:
                    out = fut.result()
                except Exception as exc:  # BrokenProcessPool: a worker died
                    out = Outcome(error=f"{type(exc).__name__}: {exc} (a worker process died; "
                                        "rerun to compute the missing cases)")
                if out is None:  # a worker was interrupted on its own
                    raise KeyboardInterrupt
                yield futures[fut], out
        except KeyboardInterrupt:
            self._interrupted = True
            raise

    def close(self) -> None:
        if self._interrupted:  # forward Ctrl-C (if it reached only this process)
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                try:
                    os.kill(proc.pid, signal.SIGINT)
                except OSError:  # already gone
                    pass
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    """Dask distributed: a ``LocalCluster`` of ``workers`` processes, or ``address``."""

    kind = "dask"

    def __init__(self, workers: int, address: str | None, threads: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("--executor dask needs Dask distributed, an optional dependency: "
                             "pip install -c constraints.txt -e '.[dask]'"
                             ) from None
        self._cluster = None
        if address is not None:
            try:
                self.client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ValueError(f"--address {address}: no Dask scheduler answered ({exc})"
                                 ) from None
        else:
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                         processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR)
            self.client = Client(self._cluster)
        self.workers = len(self.client.scheduler_info()["workers"]) or workers
        self.address = self.client.scheduler.address
        self._threads = threads

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Outcome]]:
        from distributed import as_completed as dask_completed

        futures = {}
        for i, task in enumerate(tasks):
            fut = self.client.submit(run_task, task, key=f"{task.label}-{i}", pure=False,
                                     priority=int(task.priority * 1000))
            futures[fut.key] = (i, fut)
        for fut in dask_completed([f for _, f in futures.values()]):
            i = futures[fut.key][0]
            try:
                out = fut.result()
            except Exception as exc:  # KilledWorker: the case killed workers repeatedly
                out = Outcome(error=f"{type(exc).__name__}: {exc}")
            fut.release()
            yield i, out

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, workers: int = 1, address: str | None = None, threads: int = 1):
    """The executor ``kind`` (one of :data:`EXECUTORS`).

    Raises:
        ValueError: naming the argument, for an unknown kind, ``workers < 1``, an ``address``
            without ``kind="dask"``, Dask missing, or a scheduler that does not answer.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if address is not None and kind != "dask":
        raise ValueError("--address needs --executor dask")
    if kind == "serial":
        return _Serial()
    if kind == "processes":
        return _Processes(workers)
    return _Dask(workers, address, threads)
