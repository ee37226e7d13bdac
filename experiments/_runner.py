"""Discover experiments, run them into ``results/``, plot ``figures/``, render paper_checks.md."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments import _io
from experiments._api import Check

__all__ = ["SeedRow", "checkpoint_folder", "collect_checks", "collect_seed_sweeps", "discover",
           "failure_path", "get", "make_config", "pipeline_checks", "plot_one", "result_path",
           "run_one"]

_REQUIRED = ("CLAIMS", "TITLE", "Config", "run", "plot", "checks")
PROFILES = ("quick", "full")


def _names(package: ModuleType) -> list[str]:
    """Names of the experiment modules of ``package`` (sorted), without importing them."""
    return sorted(info.name for info in pkgutil.iter_modules(package.__path__)
                  if not info.name.startswith("_") and not info.ispkg)


def _load(package: ModuleType, name: str) -> ModuleType:
    """Import ``package.name`` and check that it has every required name."""
    mod = importlib.import_module(f"{package.__name__}.{name}")
    missing = [attr for attr in _REQUIRED if not hasattr(mod, attr)]
    if missing:
        raise ValueError(
            f"experiment module {mod.__name__} ({mod.__file__}) lacks {', '.join(missing)}; "
            f"every module without a leading underscore must define {', '.join(_REQUIRED)} "
            f"(see experiments/_api.py), or be renamed to start with an underscore")
    return mod


def _package(package: ModuleType | None) -> ModuleType:
    if package is None:
        import experiments as package
    return package


def discover(package: ModuleType | None = None) -> dict[str, ModuleType]:
    """Return ``{name: module}`` for every experiment module of ``package`` (sorted by name).

    Every module without a leading underscore in ``package`` (default: :mod:`experiments`) is an
    experiment and must define all of ``CLAIMS, TITLE, Config, run, plot, checks``
    (``experiments/_api.py``); subpackages (e.g. ``benchmarks``) are skipped.

    Raises:
        ValueError: naming the module and the missing names, for a module that lacks some.
    """
    package = _package(package)
    return {name: _load(package, name) for name in _names(package)}


def get(name: str, package: ModuleType | None = None) -> ModuleType:
    """Return the experiment module ``name`` (importing only that module).

    Raises:
        ValueError: for an unknown name, listing the known ones, or for a malformed module
            (see :func:`discover`).
    """
    package = _package(package)
    names = _names(package)
    if name not in names:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(names)}")
    return _load(package, name)


def make_config(mod: ModuleType, profile: str, seed: int | None = None,
                device: str | None = None) -> Any:
    """Build ``mod.Config`` for a profile, overriding ``seed`` and ``device`` when given."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    cfg = getattr(mod.Config, profile)()
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    if seed is not None:
        changes["seed"] = int(seed)
    if device is not None and "device" in fields:
        changes["device"] = device
    return dataclasses.replace(cfg, **changes) if changes else cfg


#: The seed of every experiment's default ``Config``; results of any other seed get their own path.
DEFAULT_SEED = 0


def _seed_suffix(seed: int | None) -> str:
    return "" if seed is None or int(seed) == DEFAULT_SEED else f".seed{int(seed)}"


def result_path(name: str, profile: str = "full", results_dir: Path = _io.RESULTS,
                seed: int | None = None) -> Path:
    """Path of an experiment's results file.

    Full-profile results (the committed, paper-quality evidence) are ``results/<name>.json``;
    quick-profile results go to ``results/quick/<name>.json`` so a quick run never overwrites them.
    A non-default ``seed`` writes ``<name>.seed<N>.json`` beside them (never the default's file).
    """
    base = Path(results_dir) if profile == "full" else Path(results_dir) / profile
    return base / f"{name}{_seed_suffix(seed)}.json"


def figure_path(name: str, profile: str = "full", figures_dir: Path = _io.FIGURES,
                seed: int | None = None) -> Path:
    """Path of an experiment's figure (``figures/<name>.png`` or ``figures/quick/<name>.png``)."""
    base = Path(figures_dir) if profile == "full" else Path(figures_dir) / profile
    return base / f"{name}{_seed_suffix(seed)}.png"


def failure_path(name: str, profile: str = "full", results_dir: Path = _io.RESULTS,
                 seed: int | None = None) -> Path:
    """Path of the failure record of an experiment's last run (beside its results file).

    :func:`run_one` writes it (atomically) when the run or its figure raises, and removes it after
    a successful run; while it exists, :func:`collect_checks` reports the experiment as FAIL
    instead of reading the (older) results file.
    """
    return result_path(name, profile, results_dir, seed).with_suffix(".failed.json")


def checkpoint_folder(name: str, profile: str = "full", results_dir: Path = _io.RESULTS,
                      seed: int | None = None) -> Path:
    """Checkpoint folder of an experiment run: ``results/.checkpoints/<profile>/<name>[.seed<N>]``.

    :func:`run_one` hands it to the experiment (:func:`experiments._api.checkpoint_path`), so
    an interrupted neural run resumes after its last finished block, and deletes it after a
    successful run. The folder is git-ignored.
    """
    return Path(results_dir) / ".checkpoints" / profile / f"{name}{_seed_suffix(seed)}"


def run_one(name: str, profile: str = "quick", *, seed: int | None = None,
            device: str | None = None, results_dir: Path = _io.RESULTS,
            figures_dir: Path | None = _io.FIGURES, threads: int = 1) -> dict:
    """Run one experiment in this process, write its JSON atomically (and its figure).

    The experiment is computed case by case (``experiments/_cases.py``) by the serial executor
    of :func:`experiments._sweep.run_sweep`, exactly as the other executors compute it. The
    record stores the source fingerprint of the code that produced it
    (:func:`experiments._io.source_fingerprint`); :func:`collect_checks` compares it with the
    current code. If a case, the reduction or the figure raises, a failure record is written
    atomically to :func:`failure_path` and the exception is re-raised, so that the previous
    results file is never again reported as current; a successful run removes it.

    Finished cases are cached (``experiments/_cache.py``) and training checkpoints are written
    to :func:`checkpoint_folder`: after a crash or an interrupt (Ctrl-C) the next run of the same
    configuration recomputes only the missing cases and resumes a training after its last
    finished block. Both are deleted once the record is written.

    Returns:
        The record (as written to :func:`result_path`).
    """
    from experiments._sweep import Job, run_sweep

    (res,) = run_sweep([Job(name, profile, seed, device)], executor="serial",
                       threads=threads, results_dir=results_dir, figures_dir=figures_dir,
                       progress=False)
    if res.error is not None:
        if res.exception is not None:
            raise res.exception
        raise RuntimeError(f"{name}, case {res.case}: {res.error}")
    return res.record


def plot_one(name: str, profile: str = "full", *, results_dir: Path = _io.RESULTS,
             figures_dir: Path = _io.FIGURES, seed: int | None = None) -> Path:
    """Re-draw an experiment's figure from its results file only.

    Raises:
        ValueError: naming the file if the results are missing, not valid JSON or not a
            results record.
    """
    mod = get(name)
    path = result_path(name, profile, results_dir, seed)
    if not path.exists():
        raise ValueError(f"no {profile} results for {name!r} at {path}; run it first")
    rec = _io.read_record(path)
    if rec.get("status") == "crashed":
        raise ValueError(f"{path}: the last run crashed; nothing to plot")
    out = figure_path(name, profile, figures_dir, seed)
    mod.plot(rec["results"], out)
    return out


def _pipeline_row(claim: str, what: str, measured: float, key: str, detail: str,
                  name: str) -> Check:
    return Check(claim, f"pipeline: {what}", "the experiment's last run", float(measured), 0.0,
                 False, key, "equality", detail, experiment=name)


def pipeline_checks(name: str, record: dict, claims: Sequence[str], *,
                    fingerprint: dict[str, str] | None, allow_stale: bool = False) -> list[Check]:
    """FAIL rows for a record that cannot be evidence: crashed, stale, or holding NaN.

    Args:
        name: the experiment.
        record: its results record (or failure record, ``status == "crashed"``).
        claims: the claims to put a row under (one row each, so every claim the experiment
            serves shows the failure).
        fingerprint: the current source fingerprint (None: do not compare).
        allow_stale: report a differing or missing fingerprint as current.

    Returns:
        The FAIL rows (empty when the record is current, complete and NaN-free).
    """
    problems: list[tuple[str, float, str, str]] = []
    if record.get("status") == "crashed":
        problems.append((f"experiment {name} crashed in its last run", 1.0, "error",
                         f"{record.get('error', 'unknown error')}; the previous results file, "
                         f"if any, is not used (rerun the experiment)"))
    elif not allow_stale and fingerprint is not None:
        stored = record.get("source_fingerprint")
        if not isinstance(stored, dict):
            problems.append((f"stale results of {name}: no source fingerprint", 1.0,
                             "source_fingerprint", "recorded before source fingerprints; rerun "
                             "the experiment (or pass --allow-stale)"))
        else:
            changed = [part for part in ("experiment", "theory")
                       if stored.get(part) != fingerprint.get(part)]
            if changed:
                where = " and ".join(f"experiments/{name}.py" if p == "experiment" else "theory/"
                                     for p in changed)
                problems.append((f"stale results of {name}: code changed since",
                                 float(len(changed)), "source_fingerprint",
                                 f"{where} changed since the run (AST digests differ); rerun "
                                 f"the experiment (or pass --allow-stale)"))
    if record.get("status") != "crashed":
        nans = _io.find_nonfinite(record.get("results", {}), "results")
        if nans:
            shown = ", ".join(nans[:5]) + (f" (+{len(nans) - 5} more)" if len(nans) > 5 else "")
            problems.append((f"results of {name} contain NaN", float(len(nans)), nans[0],
                             f"{len(nans)} NaN value(s): {shown}"))
    return [_pipeline_row(claim, what, m, key, detail, name)
            for what, m, key, detail in problems for claim in claims]


def _checks_of(mod: ModuleType, name: str, record: dict) -> list[Check]:
    """The experiment's own rows, or one FAIL row per claim if ``checks`` raises."""
    try:
        rows = list(mod.checks(record["results"]))
    except Exception as exc:
        return [_pipeline_row(claim, f"checks of {name} raised", 1.0, "results",
                              f"{type(exc).__name__}: {exc}", name) for claim in mod.CLAIMS]
    return [dataclasses.replace(c, experiment=name) for c in rows]


def collect_checks(names: Sequence[str] | None = None, *, profile: str = "best",
                   results_dir: Path = _io.RESULTS,
                   allow_stale: bool = False) -> tuple[list[Check], dict[str, dict]]:
    """Return all checks from existing results, and ``{name: record}`` of those results.

    ``profile="best"`` uses the full-profile results where they exist, else the quick ones. A
    profile whose last run crashed (a failure record, :func:`failure_path`) counts as existing
    and gives FAIL rows; so do results whose source fingerprint differs from the current code
    (unless ``allow_stale``), results holding NaN, and an experiment whose ``checks`` raises
    (:func:`pipeline_checks`). An experiment with neither results nor a failure record gives no
    rows.
    """
    if profile not in (*PROFILES, "best"):
        raise ValueError(f"profile must be quick, full or best, got {profile!r}")
    mods = discover()
    checks: list[Check] = []
    records: dict[str, dict] = {}
    theory_digest = None
    for name in names or list(mods):
        order = ["full", "quick"] if profile == "best" else [profile]
        rec = None
        for p in order:
            for path in (failure_path(name, p, results_dir), result_path(name, p, results_dir)):
                if path.exists():
                    rec = _io.read_record(path)
                    break
            if rec is not None:
                break
        if rec is None:
            continue
        records[name] = rec
        claims = list(mods[name].CLAIMS)
        current = _io.source_fingerprint(name, theory_digest=theory_digest)
        theory_digest = current["theory"]
        bad = pipeline_checks(name, rec, claims, fingerprint=current, allow_stale=allow_stale)
        checks += bad
        if rec.get("status") != "crashed":
            checks += _checks_of(mods[name], name, rec)
    return checks, records


@dataclasses.dataclass(frozen=True)
class SeedRow:
    """One check of a seed sweep: the same row of ``checks`` over every seed's record.

    Attributes:
        check: the row of the worst seed (largest ``measured``; a failing seed first).
        experiment: the experiment.
        seeds: the seeds, in order.
        measured: ``measured`` per seed (same order).
        passed: ``passed`` per seed.
    """

    check: Check
    experiment: str
    seeds: tuple[int, ...]
    measured: tuple[float, ...]
    passed: tuple[bool, ...]

    @property
    def interval(self) -> tuple[float, float, float, float, float]:
        """(min, max, mean, 95% t-interval low, high) of ``measured`` across seeds."""
        import numpy as np
        from scipy import stats

        x = np.asarray(self.measured, dtype=float)
        m = float(x.mean())
        if len(x) < 2:
            return float(x.min()), float(x.max()), m, m, m
        half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
        return float(x.min()), float(x.max()), m, m - half, m + half


def _seed_files(name: str, profile: str, results_dir: Path) -> dict[int, Path]:
    base = result_path(name, profile, results_dir)
    out = {DEFAULT_SEED: base} if base.exists() else {}
    for p in base.parent.glob(f"{name}.seed*.json"):
        tail = p.name[len(name) + len(".seed"):-len(".json")]
        if tail.isdigit():
            out[int(tail)] = p
    return dict(sorted(out.items()))


def collect_seed_sweeps(names: Sequence[str] | None = None, *, profile: str = "full",
                        results_dir: Path = _io.RESULTS,
                        allow_stale: bool = False) -> list[SeedRow]:
    """The checks of every experiment that has records for more than one seed, row by row.

    For each experiment with ``<name>.json`` and at least one ``<name>.seed<N>.json`` (written
    by ``run --seeds``), every record gives its ``checks`` rows (or its pipeline FAIL rows:
    crashed, stale, NaN); row *i* of every seed forms one :class:`SeedRow`. A seed whose rows
    do not line up with the default seed's (different count or claims) gives one FAIL row.
    """
    mods = discover()
    out: list[SeedRow] = []
    for name in names or list(mods):
        files = _seed_files(name, profile, results_dir)
        if len(files) < 2:
            continue
        mod = mods[name]
        current = _io.source_fingerprint(name)
        per_seed: dict[int, list[Check]] = {}
        for seed, path in files.items():
            fail = failure_path(name, profile, results_dir, None if seed == DEFAULT_SEED
                                else seed)
            rec = _io.read_record(fail if fail.exists() else path)
            bad = pipeline_checks(name, rec, list(mod.CLAIMS), fingerprint=current,
                                  allow_stale=allow_stale)
            per_seed[seed] = bad or _checks_of(mod, name, rec)
        seeds = tuple(per_seed)
        shape = [(c.claim, c.key) for c in per_seed[seeds[0]]]
        for seed in seeds[1:]:
            if [(c.claim, c.key) for c in per_seed[seed]] != shape:
                out.append(SeedRow(_pipeline_row(mod.CLAIMS[0], f"seed {seed} of {name} gives "
                                   "other rows than the default seed", 1.0, "results",
                                   "rerun the sweep", name), name, seeds, (1.0,), (False,)))
                per_seed = {s: r for s, r in per_seed.items() if s != seed}
        seeds = tuple(per_seed)
        for i in range(len(shape)):
            rows = [per_seed[s][i] for s in seeds]
            worst = max(rows, key=lambda c: (not c.passed, c.measured))
            out.append(SeedRow(worst, name, seeds, tuple(c.measured for c in rows),
                               tuple(c.passed for c in rows)))
    return out
