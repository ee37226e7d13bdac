"""Sweeps: many records (experiments × seeds) computed case by case on one executor.

:func:`run_sweep` plans every record's cases (``experiments/_cases.py``), takes the finished ones
from the case cache (``experiments/_cache.py``), hands the rest to an executor
(``experiments/_executors.py``) -- the costliest first, estimated from the last record's case
times -- and, as soon as a record's last case is in, reduces its cases in case order, writes the
results file atomically and draws its figure. One progress bar counts cases across all workers.

A failed case is reported with its experiment, case and traceback; the record gets a failure
record (``_runner.failure_path``), every other case and record goes on, and the finished cases
of the failed record stay cached, so a rerun computes only the missing ones. Ctrl-C stops the
workers; finished cases stay cached and training checkpoints stay, nothing half-written remains.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from experiments import _io, _runner
from experiments._cache import CaseCache, case_fingerprint
from experiments._cases import Plan, plan, reduce_cases
from experiments._executors import Outcome, Task, make_executor

__all__ = ["Job", "JobResult", "run_sweep"]


@dataclass(frozen=True)
class Job:
    """One record to produce: an experiment at a profile and seed (``None``: the default)."""

    name: str
    profile: str = "quick"
    seed: int | None = None
    device: str | None = None

    @property
    def label(self) -> str:
        """``name`` or ``name (seed N)``."""
        return self.name if self.seed is None else f"{self.name} (seed {self.seed})"


@dataclass
class JobResult:
    """How a record ended: ``record`` written, or ``error`` (with the failed ``case``)."""

    job: Job
    record: dict | None = None
    error: str | None = None
    case: str | None = None
    traceback: str = ""
    exception: BaseException | None = None
    n_cases: int = 0
    n_cached: int = 0


@dataclass
class _State:
    job: Job
    mod: Any
    config: Any
    plan: Plan
    source: dict[str, str]
    cache: CaseCache
    checkpoints: Path
    fingerprints: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    failed: tuple[str, Outcome] | None = None
    n_cached: int = 0


def _cache_folder(job: Job, results_dir: Path) -> Path:
    base = _runner.checkpoint_folder(job.name, job.profile, results_dir, job.seed)
    return Path(results_dir) / ".cases" / job.profile / base.name


def _estimates(state: _State, results_dir: Path) -> dict[str, float]:
    """Estimated seconds per case, from the last record of the same experiment, profile and seed.

    That record is looked for in ``results_dir``, then in the repository's ``results/`` (so a
    sweep into a fresh folder is still scheduled by the committed timings), then the same for
    the default seed (a new seed costs about what seed 0 cost). Its case times are
    used where the keys match; other cases share its wall time by their ``cost`` hints. Without
    any record, a case's estimate is its cost hint relative to its experiment (1 per case).
    """
    cases = state.plan.cases
    total_cost = sum(c.cost for c in cases)
    wall, times = float(len(cases)), {}
    job = state.job
    folders = dict.fromkeys((Path(results_dir), _io.RESULTS))
    for folder, seed in [(f, job.seed) for f in folders] + [(f, None) for f in folders]:
        path = _runner.result_path(job.name, job.profile, folder, seed)
        try:
            rec = _io.read_record(path) if path.exists() else None
        except ValueError:
            rec = None
        if rec is not None and rec.get("status") == "ok":
            wall = float(rec.get("wall_time_s", wall))
            times = rec.get("case_times_s") or {}
            break
    return {c.key: float(times.get(c.key, wall * c.cost / total_cost)) for c in cases}


def _prepare(job: Job, results_dir: Path, threads: int, theory_digest: str | None) -> _State:
    mod = _runner.get(job.name)
    config = _runner.make_config(mod, job.profile, job.seed, job.device)
    source = _io.source_fingerprint(job.name, theory_digest=theory_digest)
    p = plan(mod, config)
    fps = {c.key: case_fingerprint(job.name, c, config, threads, source) for c in p.cases}
    state = _State(job, mod, config, p, source, CaseCache(_cache_folder(job, results_dir)),
                   _runner.checkpoint_folder(job.name, job.profile, results_dir, job.seed), fps)
    for c in p.cases:
        hit, stored = state.cache.load(c.key, fps[c.key])
        if hit:
            state.values[c.key], state.times[c.key] = stored
            state.n_cached += 1
        else:
            state.pending.add(c.key)
    return state


def _record(state: _State, executor: dict) -> dict:
    results = reduce_cases(state.config, state.plan.cases, state.values, state.plan.reduce)
    cfg, mod = state.config, state.mod
    return _io.to_jsonable({
        "experiment": state.job.name,
        "title": mod.TITLE,
        "claims": list(mod.CLAIMS),
        "profile": state.job.profile,
        "status": "ok",
        "config": dataclasses.asdict(cfg),
        "seed": cfg.seed,
        "wall_time_s": sum(state.times.values()),
        "case_times_s": {c.key: state.times[c.key] for c in state.plan.cases},
        "executor": executor,
        "meta": _io.metadata(),
        "source_fingerprint": state.source,
        "results": results,
    })


def _failure(job: Job, mod: Any, config: Any, source: dict | None, error: str, tb: str,
             wall: float, case: str | None) -> dict:
    return {
        "experiment": job.name,
        "title": mod.TITLE,
        "claims": list(mod.CLAIMS),
        "profile": job.profile,
        "status": "crashed",
        "error": error if case is None else f"case {case}: {error}",
        "case": case,
        "traceback": tb,
        "config": _io.to_jsonable(dataclasses.asdict(config)) if config is not None else None,
        "seed": getattr(config, "seed", job.seed),
        "wall_time_s": wall,
        "meta": _io.metadata(),
        "source_fingerprint": source,
    }


def _finish(state: _State, results_dir: Path, figures_dir: Path | None,
            executor: dict) -> JobResult:
    """Reduce, write and plot a record whose cases are all in (or record its failure)."""
    job = state.job
    res = JobResult(job, n_cases=len(state.plan.cases), n_cached=state.n_cached)
    fail_path = _runner.failure_path(job.name, job.profile, results_dir, job.seed)
    if state.failed is not None:
        key, out = state.failed
        res.error, res.case, res.traceback, res.exception = (out.error, key, out.traceback,
                                                             out.exception)
    else:
        try:
            record = _record(state, executor)
            _io.write_json(_runner.result_path(job.name, job.profile, results_dir, job.seed),
                           record)
            if figures_dir is not None:
                state.mod.plot(record["results"], _runner.figure_path(
                    job.name, job.profile, figures_dir, job.seed))
        except Exception as exc:
            import traceback

            res.error, res.traceback, res.exception = (f"{type(exc).__name__}: {exc}",
                                                       traceback.format_exc(), exc)
        else:
            res.record = record
            fail_path.unlink(missing_ok=True)
            state.cache.clear()
            import shutil

            shutil.rmtree(state.checkpoints, ignore_errors=True)
            return res
    _io.write_json(fail_path, _failure(job, state.mod, state.config, state.source, res.error,
                                       res.traceback, sum(state.times.values()), res.case))
    return res


def run_sweep(jobs: Sequence[Job], *, executor: str = "serial", workers: int = 1,
              address: str | None = None, threads: int = 1,
              results_dir: Path = _io.RESULTS, figures_dir: Path | None = _io.FIGURES,
              on_result: Callable[[JobResult], None] | None = None,
              progress: bool = True) -> list[JobResult]:
    """Compute the records ``jobs`` case by case on ``executor``; return how each ended.

    Args:
        jobs: the records (distinct).
        executor: ``"serial"``, ``"processes"`` or ``"dask"`` (``experiments/_executors.py``).
        workers: worker processes (``processes``, or dask's ``LocalCluster``).
        address: a running Dask scheduler (``tcp://host:port``) instead of a LocalCluster.
        threads: torch/BLAS threads per case (the record depends on it; default 1).
        results_dir, figures_dir: where records and figures go (``figures_dir=None``: none).
        on_result: called with each :class:`JobResult` as soon as its record is finished.
        progress: show one bar over the cases to compute (also off with ``JKO_QUIET=1``).

    Returns:
        One :class:`JobResult` per job, in the order of ``jobs``.

    Raises:
        ValueError: for bad arguments (named), before anything is computed.
        KeyboardInterrupt: after stopping the workers (finished cases stay cached).
    """
    if len(set(jobs)) != len(jobs):
        raise ValueError("jobs: duplicate records")
    results_dir = Path(results_dir)
    states: list[_State] = []
    done: dict[int, JobResult] = {}
    digest = None
    for i, job in enumerate(jobs):
        try:
            st = _prepare(job, results_dir, threads, digest)
        except Exception as exc:  # cases() raised: the record fails, the others go on
            import traceback

            mod = _runner.get(job.name)
            res = JobResult(job, error=f"{type(exc).__name__}: {exc}", case="(planning)",
                            traceback=traceback.format_exc(), exception=exc)
            _io.write_json(_runner.failure_path(job.name, job.profile, results_dir, job.seed),
                           _failure(job, mod, None, None, res.error, res.traceback, 0.0,
                                    "(planning)"))
            done[i] = res
            states.append(None)  # type: ignore[arg-type]
            continue
        digest = st.source["theory"]
        states.append(st)
    ex = make_executor(executor, workers, address, threads)
    info = {"kind": ex.kind, "workers": ex.workers, "threads": threads}
    quiet = ex.kind != "serial" or progress  # the experiments' own bars would break the one bar
    tasks: list[Task] = []
    owner: list[int] = []
    for i, st in enumerate(states):
        if st is None:
            continue
        est = _estimates(st, results_dir)
        for c in st.plan.cases:
            if c.key in st.pending:
                # one checkpoint folder per case fingerprint (code, config, case): a checkpoint
                # left by other code or another config is never offered to train_flow, which
                # refuses to overwrite a file it cannot resume
                tasks.append(Task(st.job.name, st.config, c, threads,
                                  str(st.checkpoints / st.fingerprints[c.key]), quiet,
                                  est[c.key]))
                owner.append(i)

    def finish(i: int) -> None:
        done[i] = _finish(states[i], results_dir, figures_dir, info)
        if on_result is not None:
            on_result(done[i])

    bar = tqdm(total=len(tasks), desc=f"cases ({ex.kind}, {ex.workers} worker"
               f"{'s' if ex.workers > 1 else ''})", unit="case", dynamic_ncols=True,
               disable=True if (not progress or os.environ.get("JKO_QUIET") == "1") else None)
    try:
        for i, st in enumerate(states):  # records whose cases are all cached
            if st is not None and not st.pending:
                finish(i)
        for t, out in ex.run(tasks):
            i, st = owner[t], states[owner[t]]
            key = tasks[t].case.key
            st.pending.discard(key)
            st.times[key] = out.wall_s
            if out.error is None:
                st.values[key] = out.value
                st.cache.store(key, st.fingerprints[key], (out.value, out.wall_s))
            elif st.failed is None:
                st.failed = (key, out)
                bar.write(f"[CASE FAILED] {tasks[t].label}: {out.error}")
            bar.set_postfix_str(tasks[t].label, refresh=False)
            bar.update()
            if not st.pending:
                finish(i)
    finally:
        bar.close()
        ex.close()
    return [done[i] for i in range(len(jobs))]
