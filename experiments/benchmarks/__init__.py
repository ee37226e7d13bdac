"""Benchmarks (timings, not tests): ``python -m experiments bench [NAME...]``.

Each module ``experiments/benchmarks/<name>.py`` defines ``TITLE`` and
``run(quick: bool) -> dict`` returning ``{"table": <markdown str>, ...numbers}``. Results go to
``results/bench_<name>.json`` (``results/quick/`` for ``--profile quick``); the table is printed
(and pasted into the README).
Timings are ratios within one run over several repeats: machines are shared and noisy.
"""

from __future__ import annotations

import importlib
import pkgutil
import time

from experiments import _io

__all__ = ["discover", "main"]


_REQUIRED = ("TITLE", "run")


def discover() -> dict:
    """Return ``{name: module}`` of the benchmark modules.

    Raises:
        ValueError: naming the module and the missing names, for a module without TITLE or run.
    """
    import experiments.benchmarks as pkg

    mods = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            mod = importlib.import_module(f"experiments.benchmarks.{info.name}")
            missing = [attr for attr in _REQUIRED if not hasattr(mod, attr)]
            if missing:
                raise ValueError(f"benchmark module {mod.__name__} lacks {', '.join(missing)}")
            mods[info.name] = mod
    return dict(sorted(mods.items()))


def main(names: list[str], quick: bool = False) -> int:
    """Run benchmarks, write ``results/bench_<name>.json``, print their tables."""
    mods = discover()
    if names in ([], ["all"]):
        names = list(mods)
    for n in names:
        if n not in mods:
            raise ValueError(f"unknown benchmark {n!r}; known: {', '.join(mods)}")
    for n in names:
        t0 = time.perf_counter()
        res = mods[n].run(quick=quick)
        rec = {"benchmark": n, "title": mods[n].TITLE, "quick": quick,
               "wall_time_s": time.perf_counter() - t0, "meta": _io.metadata(), "results": res}
        # quick runs never overwrite the committed full benchmark results
        out = _io.RESULTS / ("quick/" if quick else "") / f"bench_{n}.json"
        _io.write_json(out, rec)
        print(f"## {mods[n].TITLE}\n\n{res['table']}\n")
    return 0
