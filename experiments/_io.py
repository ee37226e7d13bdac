"""Results files: JSON conversion, run metadata and atomic writes."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from theory.io import atomic_write_text

__all__ = ["FIGURES", "RESULTS", "ROOT", "metadata", "read_json", "to_jsonable", "write_json"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
FIGURES = ROOT / "figures"


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, dataclasses, tuples and non-finite floats to JSON values.

    ``inf``/``-inf``/``nan`` become the strings ``"inf"``, ``"-inf"``, ``"nan"`` (strict JSON).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if math.isfinite(f):
            return f
        return "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
    return obj


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (:func:`theory.io.atomic_write_text`)."""
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=1, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a results file."""
    with open(path) as f:
        return json.load(f)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10, check=False)
        commit = out.stdout.strip() or "unknown"
        # "+dirty" means the *code* differs from the commit (results/figures do not count)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "theory", "experiments", "pyproject.toml"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=False)
        return commit + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def metadata() -> dict[str, Any]:
    """Versions, commit and machine facts stored with every result."""
    import importlib.metadata as im

    versions = {}
    for pkg in ("numpy", "scipy", "POT", "torch", "matplotlib"):
        try:
            versions[pkg] = im.version(pkg)
        except im.PackageNotFoundError:
            versions[pkg] = None
    return {
        "commit": _git_commit(),
        "versions": versions,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
