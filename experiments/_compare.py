"""Compare two results folders number for number (``python -m experiments compare A B``).

Two records agree when their ``results`` are equal exactly -- every float bit for bit, as stored
in JSON (shortest round-trip repr) -- apart from the keys that hold wall-clock times
(:data:`TIMING_KEYS`). The record's metadata (``meta``, ``wall_time_s``, ``case_times_s``,
``executor``) is not compared; ``config`` and ``source_fingerprint`` are, because records of
different configurations or code are not comparable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments import _io

__all__ = ["TIMING_KEYS", "compare_dirs", "compare_records", "diff_values"]

#: Keys inside ``results`` that hold wall-clock times (they differ between any two runs).
TIMING_KEYS = frozenset({"wall_s", "train_s", "train_times"})


def diff_values(a: Any, b: Any, path: str = "results", limit: int = 20) -> list[str]:
    """Where JSON values ``a`` and ``b`` differ (dotted paths, at most ``limit``; no timings)."""
    out: list[str] = []

    def walk(x: Any, y: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if type(x) is not type(y):
            out.append(f"{p}: {type(x).__name__} vs {type(y).__name__}")
        elif isinstance(x, dict):
            for k in sorted(set(x) | set(y)):
                if k in TIMING_KEYS:
                    continue
                if k not in x or k not in y:
                    out.append(f"{p}.{k}: only in {'first' if k in x else 'second'}")
                else:
                    walk(x[k], y[k], f"{p}.{k}")
        elif isinstance(x, list):
            if len(x) != len(y):
                out.append(f"{p}: length {len(x)} vs {len(y)}")
            else:
                for i, (u, v) in enumerate(zip(x, y, strict=True)):
                    walk(u, v, f"{p}[{i}]")
        elif x != y:
            out.append(f"{p}: {x!r} vs {y!r}")

    walk(a, b, path)
    return out


def compare_records(a: dict, b: dict) -> list[str]:
    """Differences between two results records (see the module docstring); empty if equal."""
    out = []
    for part in ("experiment", "profile", "seed", "config", "source_fingerprint"):
        if a.get(part) != b.get(part):
            out.append(f"{part}: {a.get(part)!r} vs {b.get(part)!r}")
    return out + diff_values(a.get("results"), b.get("results"))


def _records(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(Path(folder).glob("*.json"))
            if not p.name.endswith(".failed.json")}


def compare_dirs(dir_a: str | Path, dir_b: str | Path) -> dict[str, Any]:
    """Compare every experiment record of folder ``dir_a`` with the same file in ``dir_b``.

    Files that are not experiment records (benchmarks, summaries) are skipped.

    Returns:
        ``{"identical": [...], "different": {file: [differences]}, "missing": [...]}``
        (``missing``: records of ``dir_a`` absent from ``dir_b``).

    Raises:
        ValueError: naming the folder if one does not exist.
    """
    for d in (dir_a, dir_b):
        if not Path(d).is_dir():
            raise ValueError(f"{d}: no such results folder")
    a, b = _records(dir_a), _records(dir_b)
    report: dict[str, Any] = {"identical": [], "different": {}, "missing": []}
    for name, path in a.items():
        rec = _io.read_json(path)
        if not (isinstance(rec, dict) and "experiment" in rec and "results" in rec):
            continue
        if name not in b:
            report["missing"].append(name)
            continue
        diffs = compare_records(rec, _io.read_json(b[name]))
        if diffs:
            report["different"][name] = diffs
        else:
            report["identical"].append(name)
    return report
