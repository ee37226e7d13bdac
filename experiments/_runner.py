"""Discover experiments, run them into ``results/``, plot ``figures/``, render paper_checks.md."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from experiments import _io
from experiments._api import Check

__all__ = ["collect_checks", "discover", "get", "make_config", "plot_one", "run_one"]

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


def result_path(name: str, profile: str = "full", results_dir: Path = _io.RESULTS) -> Path:
    """Path of an experiment's results file.

    Full-profile results (the committed, paper-quality evidence) are ``results/<name>.json``;
    quick-profile results go to ``results/quick/<name>.json`` so a quick run never overwrites them.
    """
    base = Path(results_dir)
    return base / f"{name}.json" if profile == "full" else base / profile / f"{name}.json"


def figure_path(name: str, profile: str = "full", figures_dir: Path = _io.FIGURES) -> Path:
    """Path of an experiment's figure (``figures/<name>.png`` or ``figures/quick/<name>.png``)."""
    base = Path(figures_dir)
    return base / f"{name}.png" if profile == "full" else base / profile / f"{name}.png"


def run_one(name: str, profile: str = "quick", *, seed: int | None = None,
            device: str | None = None, results_dir: Path = _io.RESULTS,
            figures_dir: Path | None = _io.FIGURES) -> dict:
    """Run one experiment, write its JSON atomically (and its figure), return the record."""
    mod = get(name)
    cfg = make_config(mod, profile, seed, device)
    t0 = time.perf_counter()
    results = mod.run(cfg)
    wall = time.perf_counter() - t0
    record = {
        "experiment": name,
        "title": mod.TITLE,
        "claims": list(mod.CLAIMS),
        "profile": profile,
        "config": dataclasses.asdict(cfg),
        "seed": cfg.seed,
        "wall_time_s": wall,
        "meta": _io.metadata(),
        "results": results,
    }
    record = _io.to_jsonable(record)
    _io.write_json(result_path(name, profile, results_dir), record)
    if figures_dir is not None:
        mod.plot(record["results"], figure_path(name, profile, figures_dir))
    return record


def plot_one(name: str, profile: str = "full", *, results_dir: Path = _io.RESULTS,
             figures_dir: Path = _io.FIGURES) -> Path:
    """Re-draw an experiment's figure from its results file only."""
    mod = get(name)
    path = result_path(name, profile, results_dir)
    if not path.exists():
        raise ValueError(f"no {profile} results for {name!r} at {path}; run it first")
    out = figure_path(name, profile, figures_dir)
    mod.plot(_io.read_json(path)["results"], out)
    return out


def collect_checks(names: Sequence[str] | None = None, *, profile: str = "best",
                   results_dir: Path = _io.RESULTS) -> tuple[list[Check], dict[str, dict]]:
    """Return all checks from existing results, and ``{name: record}`` of those results.

    ``profile="best"`` uses the full-profile results where they exist, else the quick ones.
    """
    if profile not in (*PROFILES, "best"):
        raise ValueError(f"profile must be quick, full or best, got {profile!r}")
    mods = discover()
    checks: list[Check] = []
    records: dict[str, dict] = {}
    for name in names or list(mods):
        order = ["full", "quick"] if profile == "best" else [profile]
        paths = [result_path(name, p, results_dir) for p in order]
        path = next((p for p in paths if p.exists()), None)
        if path is None:
            continue
        rec = _io.read_json(path)
        records[name] = rec
        for c in mods[name].checks(rec["results"]):
            checks.append(dataclasses.replace(c, experiment=name))
    return checks, records
