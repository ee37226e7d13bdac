"""Results files: JSON conversion, run metadata and atomic writes."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from theory.io import atomic_write_text

__all__ = ["FIGURES", "RESULTS", "ROOT", "check_writable", "code_digest", "find_nonfinite",
           "metadata", "read_json", "read_record", "source_fingerprint", "to_jsonable",
           "write_json"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
FIGURES = ROOT / "figures"
THEORY = ROOT / "theory"
EXPERIMENTS = ROOT / "experiments"


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
    """Read a JSON file.

    Raises:
        ValueError: naming the file if it cannot be read or is not valid JSON (e.g. truncated).
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a valid JSON results file ({exc})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None


def read_record(path: Path) -> dict:
    """Read a results record: a JSON object with a ``results`` object (or a failure record).

    Raises:
        ValueError: naming the file if it is not valid JSON or not a results record.
    """
    rec = read_json(path)
    if not isinstance(rec, dict) or not (isinstance(rec.get("results"), dict)
                                         or rec.get("status") == "crashed"):
        raise ValueError(f"{path}: not a results record (no 'results' object); rerun the "
                         "experiment to rewrite it")
    return rec


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and check that files can be written in it.

    Raises:
        ValueError: naming the folder if it cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{folder}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{folder}: output folder is not writable")
    return folder


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


def find_nonfinite(obj: Any, prefix: str = "", which: tuple[str, ...] = ("nan",)) -> list[str]:
    """Return the dotted keys of ``obj`` holding a non-finite number (as stored in a results file).

    Args:
        obj: a JSON value (as :func:`read_json` returns it) or a Python/numpy structure.
        prefix: the key of ``obj`` itself (used in the returned paths).
        which: which values to report, among ``"nan"``, ``"inf"``, ``"-inf"``; both the strings
            written by :func:`to_jsonable` and the floats count.

    Returns:
        The keys (``"a.b[3]"``) in depth-first order.
    """
    bad = {"nan", "inf", "-inf"}
    if not set(which) <= bad:
        raise ValueError(f"which must be a subset of {sorted(bad)}, got {which!r}")
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += find_nonfinite(v, f"{prefix}.{k}" if prefix else str(k), which)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += find_nonfinite(v, f"{prefix}[{i}]", which)
    elif isinstance(obj, np.ndarray):
        out += find_nonfinite(obj.tolist(), prefix, which)
    elif isinstance(obj, str):
        if obj in which:
            out.append(prefix)
    elif isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        f = float(obj)
        if ("nan" if math.isnan(f) else "inf" if f > 0 else "-inf") in which:
            out.append(prefix)
    return out


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Remove the docstring of the module and of every class and function of ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_digest(paths: list[Path], root: Path = ROOT) -> str:
    """SHA-256 (hex, 16 characters) of the code of ``paths``, blind to comments and docstrings.

    Each file is parsed, its docstrings removed, and its AST dumped without line numbers, so an
    edit of a comment, a docstring or the layout leaves the digest unchanged while any change of
    the code changes it. The file names (relative to ``root``) are part of the digest.

    Raises:
        ValueError: naming the file, if one does not parse.
    """
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as e:
            raise ValueError(f"cannot parse {path}: {e}") from e
        rel = path.resolve().relative_to(root.resolve()) if path.is_absolute() else path
        h.update(str(rel).replace(os.sep, "/").encode())
        h.update(b"\0")
        h.update(ast.dump(_strip_docstrings(tree), include_attributes=False).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def source_fingerprint(name: str, *, experiments_dir: Path = EXPERIMENTS,
                       theory_dir: Path = THEORY, root: Path = ROOT,
                       theory_digest: str | None = None) -> dict[str, str]:
    """The source fingerprint of experiment ``name``: digests of the code behind its results.

    ``theory_digest`` (the ``"theory"`` part, when already computed) saves re-reading theory/.

    Returns:
        ``{"experiment": digest of experiments/<name>.py, "theory": digest of every .py file
        under theory/}`` (see :func:`code_digest`; comments and docstrings do not count).

    Raises:
        ValueError: naming ``name`` if ``experiments/<name>.py`` does not exist.
    """
    mod = Path(experiments_dir) / f"{name}.py"
    if not mod.is_file():
        raise ValueError(f"name: no experiment module {mod}")
    return {"experiment": code_digest([mod], root),
            "theory": theory_digest or code_digest(sorted(Path(theory_dir).rglob("*.py")), root)}
