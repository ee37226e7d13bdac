"""Cases: the unit of work the runner schedules (serially, in processes, or on Dask).

An experiment may split its grid into independent **cases** (one trajectory, one training run,
one seed, ...) by defining, beside ``run``/``plot``/``checks`` (``experiments/_api.py``):

- ``cases(config) -> list[Case]`` -- the grid, in the order the reduction reads it;
- ``run_case(config, case) -> Any`` -- the computation of one case: a picklable value (numpy
  arrays, dicts, floats; no open files, no torch modules), depending only on ``config`` and
  ``case`` (every random number is drawn from a generator seeded from them);
- ``reduce(config, results) -> dict`` -- a pure, cheap function of ``results`` (``{case.key:
  value}`` in case order) returning the experiment's results dict;
- ``run(config)`` defined as ``run_cases(config, cases, run_case, reduce)``, so that a direct
  call (a test, a notebook, the mutation test) computes exactly what the runner computes.

Every case, whatever the executor, goes through :func:`execute_case`: fixed CPU thread counts
(torch and BLAS), global RNGs seeded from ``(config.seed, experiment, case.key)``, then
``run_case``. Results therefore do not depend on the executor, on the number of workers or on the
order in which cases finish: bit-identical records (``tests/test_executors.py``).

An experiment without ``cases`` is one case (key ``"all"``) whose value is ``run(config)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["Case", "case_seed", "execute_case", "plan", "reduce_cases", "run_cases",
           "thread_limits"]

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,=+-]*")


@dataclass(frozen=True)
class Case:
    """One independent piece of an experiment's grid.

    Attributes:
        key: unique within the experiment, stable across runs (letters, digits, ``_ . , = + -``;
            e.g. ``"d=5,seed=1"``); names the case in progress bars, errors and the case cache.
        params: picklable, JSON-able arguments of ``run_case`` (part of the cache fingerprint).
        cost: relative cost (any positive unit; default 1); the runner starts costly cases
            first so that the last worker is not left with the longest case.
    """

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    cost: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise ValueError(f"key must be letters, digits or '_.,=+-' (not first), "
                             f"got {self.key!r}")
        if not isinstance(self.params, Mapping):
            raise ValueError(f"params must be a mapping, got {type(self.params).__name__}")
        if not (isinstance(self.cost, (int, float)) and self.cost > 0):
            raise ValueError(f"cost must be a positive number, got {self.cost!r}")

    def param_json(self) -> str:
        """``params`` as canonical JSON (sorted keys; part of the cache fingerprint)."""
        return json.dumps(_jsonable(self.params), sort_keys=True, separators=(",", ":"))


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__name__, **_jsonable(dataclasses.asdict(obj))}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float):
        return repr(obj)  # exact, and NaN/inf safe
    return obj


def case_seed(seed: int, experiment: str, key: str) -> int:
    """The seed of the global RNGs while case ``key`` of ``experiment`` runs (63-bit integer).

    ``SHA-256(f"{seed}/{experiment}/{key}")`` truncated: independent of the executor, the worker
    and the order of cases. A case that draws random numbers should still seed its own
    generators from ``config`` and ``case`` (as every experiment here does); this only makes a
    stray global draw reproducible.
    """
    digest = hashlib.sha256(f"{int(seed)}/{experiment}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@contextlib.contextmanager
def thread_limits(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads and ``n`` BLAS/OpenMP threads.

    Reductions split over threads add in a thread-dependent order, so fixed counts are what
    makes a case's result independent of the machine it runs on (and ``n = 1`` per worker keeps
    two workers on two cores from oversubscribing them).

    Raises:
        ValueError: if ``n`` is not an integer >= 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"threads must be an integer >= 1, got {n!r}")
    from theory.flow import torch_threads

    with torch_threads(int(n)), _blas_controller().limit(limits=int(n)):
        yield


@functools.cache
def _blas_controller():
    """The process's threadpoolctl controller (finding the BLAS libraries costs ~0.1 s)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _seed_globals(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy global state: seeded for stray draws)
    torch.manual_seed(seed)


def execute_case(experiment: str, config: Any, case: Case,
                 run_case: Callable[[Any, Case], Any], threads: int = 1) -> Any:
    """Run one case the way every executor runs it (see the module docstring).

    Args:
        experiment: the experiment's name (for the global seed).
        config: the experiment's ``Config`` (must have ``seed``).
        case: the case.
        run_case: the experiment's ``run_case``.
        threads: torch and BLAS threads inside the case (:func:`thread_limits`).

    Returns:
        ``run_case(config, case)``.
    """
    with thread_limits(threads):
        _seed_globals(case_seed(config.seed, experiment, case.key))
        return run_case(config, case)


def reduce_cases(config: Any, cases: Sequence[Case], values: Mapping[str, Any],
                 reduce: Callable[[Any, dict[str, Any]], dict]) -> dict:
    """``reduce(config, {key: value})`` with the values in case order, whatever order they came.

    Raises:
        ValueError: naming the missing or unknown case keys.
    """
    keys = [c.key for c in cases]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"cases: duplicate keys {dup}")
    missing = [k for k in keys if k not in values]
    extra = [k for k in values if k not in set(keys)]
    if missing or extra:
        raise ValueError(f"values: missing cases {missing[:5]}, unknown cases {extra[:5]}")
    return reduce(config, {k: values[k] for k in keys})


def run_cases(config: Any, cases: Callable[[Any], Sequence[Case]],
              run_case: Callable[[Any, Case], Any],
              reduce: Callable[[Any, dict[str, Any]], dict], *, threads: int = 1,
              experiment: str | None = None) -> dict:
    """Run every case in order in this process and reduce: an experiment's ``run``.

    ``experiment`` defaults to the name of the module defining ``run_case``
    (``experiments.<name>``), which is the name the runner uses.
    """
    name = experiment or run_case.__module__.rpartition(".")[2]
    grid = list(cases(config))
    values = {c.key: execute_case(name, config, c, run_case, threads) for c in grid}
    return reduce_cases(config, grid, values, reduce)


@dataclass(frozen=True)
class Plan:
    """An experiment's cases and how to compute and reduce them (:func:`plan`)."""

    cases: tuple[Case, ...]
    run_case: Callable[[Any, Case], Any]
    reduce: Callable[[Any, dict[str, Any]], dict]
    split: bool  # False: the experiment has no ``cases`` (one case, ``run`` itself)


def _single(config: Any, values: dict[str, Any]) -> dict:
    return values["all"]


def plan(mod: ModuleType, config: Any) -> Plan:
    """The cases of experiment module ``mod`` for ``config`` (one case if it defines none).

    Raises:
        ValueError: naming the module if it defines only some of ``cases, run_case, reduce``,
            or if its cases are empty or have duplicate keys.
    """
    have = [hasattr(mod, a) for a in ("cases", "run_case", "reduce")]
    if any(have) and not all(have):
        raise ValueError(f"experiment module {mod.__name__} defines some but not all of "
                         "cases, run_case, reduce (see experiments/_cases.py)")
    if not all(have):
        return Plan((Case("all"),), _RunWhole(mod.__name__), _single, split=False)
    grid = tuple(mod.cases(config))
    if not grid or not all(isinstance(c, Case) for c in grid):
        raise ValueError(f"{mod.__name__}.cases(config) must return a non-empty list of Case")
    keys = [c.key for c in grid]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{mod.__name__}.cases(config): duplicate keys "
                         f"{sorted({k for k in keys if keys.count(k) > 1})}")
    return Plan(grid, mod.run_case, mod.reduce, split=True)


@dataclass(frozen=True)
class _RunWhole:
    """``run_case`` of an experiment without cases: its ``run`` (picklable by module name)."""

    module: str

    def __call__(self, config: Any, case: Case) -> dict:
        import importlib

        return importlib.import_module(self.module).run(config)
