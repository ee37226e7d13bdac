"""Command line: ``python -m experiments list | run NAME...|all | plot NAME...|all | checks``.

Also ``python -m experiments bench [NAME...]`` for the timing benchmarks, and
``python -m experiments mutants [--only ID...]`` for the mutation test of the checks
(docs/mutants.md).

Options: ``--profile quick|full``, ``--seed N`` (N >= 0; a non-default seed writes
``<name>.seed<N>.json``), ``--jobs N`` (N >= 1 experiments in parallel processes),
``--device cpu|cuda`` (torch experiments only), ``run --overwrite-evidence`` (required to replace
committed full-profile results); ``checks --allow-stale`` accepts results whose source
fingerprint differs from the current code, ``checks --output PATH`` writes the report elsewhere.
Command-line errors print one line naming the argument or file and exit with status 2. Ctrl-C
prints one line and exits with status 130 (with ``--jobs N`` too: the workers stop quietly); a
neural experiment's training checkpoints (``results/.checkpoints/``) survive it, so its next run
resumes after the last finished block.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from experiments import _io, _runner
from experiments._paper_checks import render, write


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``error: ...``), exit status 2."""

    def error(self, message: str) -> None:  # noqa: D102 (argparse API)
        self.exit(2, f"error: {message} (see: python -m experiments --help)\n")


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return v


def _check_device(device: str | None) -> None:
    """Fail before computing if a torch device is not available in this build."""
    if device is None or device == "cpu":
        return
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device}: not a torch device name") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: this torch build has no CUDA device available "
                         f"(torch {torch.__version__}); use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {device}: only cpu and cuda are supported")


def _names(args_names: list[str]) -> list[str]:
    if args_names == ["all"]:
        return list(_runner.discover())
    for n in args_names:
        _runner.get(n)  # raises ValueError for unknown names
    return args_names


def _run_task(task: tuple[str, str, int | None, str | None]) -> tuple[str, float, str | None]:
    """Run one experiment; return (name, wall time, error text or None) instead of raising."""
    name, profile, seed, device = task
    t0 = time.perf_counter()
    try:
        rec = _runner.run_one(name, profile, seed=seed, device=device)
    except Exception as exc:  # recorded by run_one in a failure record; reported below
        return name, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    return name, rec["wall_time_s"], None


#: Ctrl-C state of a ``--jobs`` worker process (Ctrl-C reaches the whole process group).
_WORKER = {"interrupted": False, "in_task": False, "raised": False}


def _worker_sigint(signum, frame) -> None:
    """SIGINT in a worker: stop the running task once (KeyboardInterrupt), never when idle."""
    _WORKER["interrupted"] = True
    if _WORKER["in_task"] and not _WORKER["raised"]:
        _WORKER["raised"] = True
        raise KeyboardInterrupt


def _init_worker() -> None:
    """Pool initializer: Ctrl-C stops a worker's task quietly (no traceback from the worker)."""
    signal.signal(signal.SIGINT, _worker_sigint)


def _pool_task(task: tuple[str, str, int | None, str | None]
               ) -> tuple[str, float, str | None] | None:
    """:func:`_run_task` in a worker; ``None`` if interrupted (then no further task runs).

    An interrupted experiment writes no results and no failure record; its checkpoints stay,
    so the next run resumes after the last finished block.
    """
    if _WORKER["interrupted"]:
        return None
    _WORKER["in_task"] = True
    try:
        return _run_task(task)
    except KeyboardInterrupt:
        return None
    finally:
        _WORKER["in_task"] = False


def _interrupt_workers(ex: ProcessPoolExecutor) -> None:
    """Forward Ctrl-C to the pool's workers (if it reached only this process) and stop them."""
    for proc in list((getattr(ex, "_processes", None) or {}).values()):
        try:
            os.kill(proc.pid, signal.SIGINT)
        except OSError:  # already gone
            pass
    ex.shutdown(wait=True, cancel_futures=True)


def _report(name: str, wall: float, error: str | None, profile: str, seed: int | None) -> None:
    if error is None:
        print(f"[done] {name}: {wall:.1f} s -> {_runner.result_path(name, profile, seed=seed)}, "
              f"{_runner.figure_path(name, profile, seed=seed)}", flush=True)
    else:
        print(f"[CRASHED] {name} after {wall:.1f} s: {error} (recorded in "
              f"{_runner.failure_path(name, profile, seed=seed)})", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    names = _names(args.names)
    _check_device(args.device)
    for n in names:  # unwritable outputs are found before any computing
        _io.check_writable(_runner.result_path(n, args.profile, seed=args.seed).parent)
        _io.check_writable(_runner.figure_path(n, args.profile, seed=args.seed).parent)
    if args.profile == "full" and not args.overwrite_evidence:
        existing = [str(_runner.result_path(n, "full", seed=args.seed)) for n in names
                    if _runner.result_path(n, "full", seed=args.seed).exists()]
        if existing:
            raise ValueError(f"--profile full would overwrite committed evidence "
                             f"({', '.join(existing[:3])}{', ...' if len(existing) > 3 else ''}); "
                             "add --overwrite-evidence (make: OVERWRITE=1) to replace it")
    tasks = [(n, args.profile, args.seed, args.device) for n in names]
    t0 = time.perf_counter()
    crashed = []
    if args.jobs > 1 and len(tasks) > 1:
        ex = ProcessPoolExecutor(args.jobs, initializer=_init_worker)
        try:
            print(f"running {len(tasks)} experiments ({args.profile}) in {args.jobs} processes "
                  "...", flush=True)
            for out in ex.map(_pool_task, tasks):
                if out is None:  # a worker was interrupted on its own
                    raise KeyboardInterrupt
                name, wall, error = out
                _report(name, wall, error, args.profile, args.seed)
                crashed += [name] if error else []
        except KeyboardInterrupt:
            _interrupt_workers(ex)
            raise
        ex.shutdown()
    else:
        for i, task in enumerate(tasks, 1):
            print(f"[{i}/{len(tasks)}] {task[0]} ({args.profile}) ...", flush=True)
            name, wall, error = _run_task(task)
            _report(name, wall, error, args.profile, args.seed)
            crashed += [name] if error else []
    print(f"all done in {time.perf_counter() - t0:.1f} s"
          + (f"; CRASHED: {', '.join(crashed)}" if crashed else ""))
    return 1 if crashed else 0


def cmd_plot(args: argparse.Namespace) -> int:
    for n in _names(args.names):
        print(f"{n} -> {_runner.plot_one(n, args.profile, seed=args.seed)}")
    return 0


def cmd_checks(args: argparse.Namespace) -> int:
    checks, records = _runner.collect_checks(profile=args.profile, allow_stale=args.allow_stale)
    extra = []
    if args.profile == "best":
        # Quick re-runs (e.g. from `make main`) must pass too, even where full results are used.
        qchecks, qrec = _runner.collect_checks(profile="quick", allow_stale=args.allow_stale)
        qfail = [c for c in qchecks if not c.passed]
        note = (f"Quick-profile reproduction: {len(qrec)} experiments have quick results "
                f"(results/quick/); {len(qchecks) - len(qfail)} of their {len(qchecks)} checks "
                f"pass" + ("." if not qfail else ", FAILED: " + "; ".join(
                    f"{c.claim} [{c.experiment}] {c.inequality}" for c in qfail) + "."))
        extra.append(note)
        best_quick = {n for n, r in records.items() if r["profile"] == "quick"}
        checks_all = checks + [c for c in qfail if c.experiment not in best_quick]
    else:
        checks_all = checks
    path = Path(args.output) if args.output else _io.ROOT / "paper_checks.md"
    _io.check_writable(path.parent)
    write(path, render(checks, records, notes=extra))
    failed = [c for c in checks_all if not c.passed]
    print(f"wrote {path}: {len(checks)} checks from {len(records)} experiments, "
          f"{len(failed)} failed")
    for c in failed:
        print(f"  FAIL {c.claim} [{c.experiment}] {c.inequality}: measured {c.measured:.6g} "
              f"> {c.threshold:.6g}")
    return 1 if failed else 0


def cmd_mutants(args: argparse.Namespace) -> int:
    from experiments import _mutants

    return _mutants.main(only=args.only, list_only=args.list, write_docs=not args.no_docs)


def cmd_list(args: argparse.Namespace) -> int:
    for name, mod in _runner.discover().items():
        print(f"{name:28s} {','.join(mod.CLAIMS):24s} {mod.TITLE}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from experiments import benchmarks

    return benchmarks.main(args.names, quick=args.profile == "quick")


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="python -m experiments", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list experiments and their claims")
    for cmd in ("run", "plot"):
        sp = sub.add_parser(cmd, help=f"{cmd} experiments (names or 'all')")
        sp.add_argument("names", nargs="+")
        sp.add_argument("--profile", choices=_runner.PROFILES, default="quick")
        sp.add_argument("--seed", type=_nonneg_int, default=None,
                        help="seed (>= 0); a non-default seed writes <name>.seed<N>.json")
        sp.add_argument("--jobs", type=_positive_int, default=1,
                        help="experiments run in parallel processes (>= 1)")
        sp.add_argument("--device", default=None, help="torch device for neural experiments")
        if cmd == "run":
            sp.add_argument("--overwrite-evidence", action="store_true",
                            help="allow --profile full to replace committed results/<name>.json")
    sc = sub.add_parser("checks", help="regenerate paper_checks.md; exit 1 if a check fails")
    sc.add_argument("--profile", choices=(*_runner.PROFILES, "best"), default="best",
                    help="which results to use (best: full where present, else quick)")
    sc.add_argument("--output", default=None, metavar="PATH",
                    help="write the report here instead of the committed paper_checks.md")
    sc.add_argument("--allow-stale", action="store_true",
                    help="accept results whose source fingerprint differs from the current code "
                         "(default: such results give a FAIL row)")
    sm = sub.add_parser("mutants", help="mutation test: inject bugs into theory/, one at a time, "
                                        "and record which checks catch each (docs/mutants.md)")
    sm.add_argument("--only", nargs="+", default=None, metavar="ID",
                    help="mutant ids (or experiment names: the mutants that reach them)")
    sm.add_argument("--list", action="store_true", help="list the catalogue and exit")
    sm.add_argument("--no-docs", action="store_true",
                    help="do not rewrite docs/mutants.md (results/mutants.json is still written)")
    sb = sub.add_parser("bench", help="run benchmarks (names or 'all'); prints tables")
    sb.add_argument("names", nargs="*", default=["all"])
    sb.add_argument("--profile", choices=_runner.PROFILES, default="full")
    args = p.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run, "plot": cmd_plot, "checks": cmd_checks,
                "bench": cmd_bench, "mutants": cmd_mutants}[args.cmd](args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (results written so far are complete; a partial result is never "
              "written; neural experiments resume after their last finished block)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
