"""Command line: ``python -m experiments list | run NAME...|all | plot NAME...|all | checks``.

Also ``python -m experiments bench [NAME...]`` for the timing benchmarks,
``python -m experiments mutants [--only ID...]`` for the mutation test of the checks
(docs/mutants.md), and ``python -m experiments compare DIR_A DIR_B`` to compare two results
folders number for number (docs/numerics.md, "Executors").

``run`` computes every experiment case by case (``experiments/_cases.py``) on an executor:
``--executor serial`` (default), ``processes`` or ``dask`` with ``--workers N`` (a Dask
``LocalCluster``) or ``--address tcp://host:port`` (a running scheduler, e.g. from dask-jobqueue);
``--jobs N`` is shorthand for ``--executor processes --workers N``. Records are bit-identical
whatever the executor (``--threads N`` torch/BLAS threads per case, default 1, is part of the
record). ``--seeds 0-9`` writes one record per seed of every stochastic experiment.
Finished cases are cached (``results/.cases/``): after a crash, a killed worker or Ctrl-C, the
same command recomputes only the missing cases.

Options: ``--profile quick|full``, ``--seed N`` (N >= 0; a non-default seed writes
``<name>.seed<N>.json``), ``--device cpu|cuda`` (torch experiments only), ``--results-dir``,
``--figures-dir``, ``run --overwrite-evidence`` (required to replace committed full-profile
results), ``run --summary PATH`` (the sweep's timings, JSON); ``checks --allow-stale`` accepts
results whose source fingerprint differs from the current code, ``checks --output PATH`` writes
the report elsewhere. Command-line errors print one line naming the argument or file and exit
with status 2. Ctrl-C prints one line and exits with status 130 (the workers stop quietly); a
neural experiment's training checkpoints (``results/.checkpoints/``) and the finished cases
survive it, so the next run resumes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _single_threaded_pools(argv: list[str]) -> None:
    """For ``run`` at one thread per case, start OpenMP/BLAS pools with one thread.

    Thread pools are sized when numpy, scipy and torch load. Pools started wide and limited to
    one thread per case afterwards ran numpy-heavy cases up to 1.7x slower than pools started
    with one thread (``docs/numerics.md`` §8), with the same results. So this runs before those
    libraries are imported; explicit environment settings win, and ``--threads N > 1`` keeps
    the defaults.
    """
    if not argv or argv[0] != "run":
        return
    threads = "1"
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif a.startswith("--threads="):
            threads = a.partition("=")[2]
    if threads == "1":
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")


if __name__ == "__main__":
    _single_threaded_pools(sys.argv[1:])

from experiments import _io, _runner  # noqa: E402 (after the thread pools are set up)
from experiments._executors import EXECUTORS  # noqa: E402
from experiments._paper_checks import relation, render, write  # noqa: E402


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
    """Experiment names as given (``all``: every experiment), unknown names named first."""
    known = list(_runner.discover())
    unknown = [n for n in args_names if n != "all" and n not in known]
    if unknown:
        raise ValueError(f"unknown experiment{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; known: all, {', '.join(known)}")
    if "all" in args_names:
        return known
    return list(dict.fromkeys(args_names))


def _seed_list(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,5-7"`` -> sorted distinct seeds (each >= 0)."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            a, b = int(lo), int(hi) if hi else int(lo)
            if a < 0 or b < a:
                raise ValueError
            seeds.update(range(a, b + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be seeds >= 0 like 0-9 or 0,3,5-7, got {text!r}") from None
    return sorted(seeds)


def _jobs(args: argparse.Namespace, names: list[str]) -> list:
    """The records to compute: names × seeds (deterministic experiments: the default seed)."""
    from experiments._sweep import Job

    if args.seeds is None:
        return [Job(n, args.profile, args.seed, args.device) for n in names]
    jobs, skipped = [], []
    for n in names:
        stochastic = getattr(_runner.get(n), "STOCHASTIC", True)
        seeds = args.seeds if stochastic else [s for s in args.seeds if s == _runner.DEFAULT_SEED]
        skipped += [] if stochastic else [n]
        jobs += [Job(n, args.profile, None if s == _runner.DEFAULT_SEED else s, args.device)
                 for s in seeds]
    if skipped:
        print(f"deterministic (results do not depend on the seed), default seed only: "
              f"{', '.join(skipped)}", flush=True)
    return jobs


def _report(res, profile: str, results_dir: Path, figures_dir: Path | None) -> None:
    job = res.job
    if res.error is None:
        rec = res.record
        cached = f", {res.n_cached} from the case cache" if res.n_cached else ""
        fig = (f", {_runner.figure_path(job.name, profile, figures_dir, job.seed)}"
               if figures_dir is not None else "")
        print(f"[done] {job.label}: {rec['wall_time_s']:.1f} s in {res.n_cases} case"
              f"{'s' if res.n_cases > 1 else ''}{cached} -> "
              f"{_runner.result_path(job.name, profile, results_dir, job.seed)}{fig}",
              flush=True)
    else:
        where = f", case {res.case}" if res.case else ""
        print(f"[CRASHED] {job.label}{where}: {res.error} (recorded in "
              f"{_runner.failure_path(job.name, profile, results_dir, job.seed)})\n"
              f"{res.traceback.rstrip()}", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from experiments._sweep import run_sweep

    names = _names(args.names)
    _check_device(args.device)
    if args.seeds is not None and args.seed is not None:
        raise ValueError("--seed and --seeds: give one of them")
    executor = args.executor or ("processes" if args.jobs > 1 else "serial")
    workers = args.workers or (args.jobs if args.jobs > 1 else os.cpu_count() or 1)
    if args.address is not None and executor != "dask":
        raise ValueError("--address needs --executor dask")
    results_dir = Path(args.results_dir) if args.results_dir else _io.RESULTS
    figures_dir = Path(args.figures_dir) if args.figures_dir else _io.FIGURES
    jobs = _jobs(args, names)
    for j in jobs:  # unwritable outputs are found before any computing
        _io.check_writable(_runner.result_path(j.name, j.profile, results_dir, j.seed).parent)
        _io.check_writable(_runner.figure_path(j.name, j.profile, figures_dir, j.seed).parent)
    if args.profile == "full" and not args.overwrite_evidence:
        existing = [str(p) for p in (_runner.result_path(j.name, "full", results_dir, j.seed)
                                     for j in jobs) if p.exists()]
        if existing:
            raise ValueError(f"--profile full would overwrite committed evidence "
                             f"({', '.join(existing[:3])}{', ...' if len(existing) > 3 else ''}); "
                             "add --overwrite-evidence (make: OVERWRITE=1) to replace it")
    print(f"running {len(jobs)} record{'s' if len(jobs) > 1 else ''} ({args.profile}) on "
          f"{executor}" + (f" ({workers} workers)" if executor != "serial" else "") + " ...",
          flush=True)
    t0 = time.perf_counter()
    results = run_sweep(jobs, executor=executor, workers=workers, address=args.address,
                        threads=args.threads, results_dir=results_dir, figures_dir=figures_dir,
                        on_result=lambda r: _report(r, args.profile, results_dir, figures_dir))
    elapsed = time.perf_counter() - t0
    crashed = [r.job.label for r in results if r.error is not None]
    if args.summary:
        _io.write_json(Path(args.summary), {
            "command": "python -m experiments " + " ".join(sys.argv[1:]),
            "profile": args.profile, "executor": executor,
            "workers": workers if executor != "serial" else 1, "threads": args.threads,
            "elapsed_s": elapsed,
            "records": [{"experiment": r.job.name, "seed": r.job.seed,
                         "status": "ok" if r.error is None else "crashed",
                         "case": r.case, "n_cases": r.n_cases, "n_cached": r.n_cached,
                         "case_time_sum_s": r.record["wall_time_s"] if r.record else None}
                        for r in results],
            "meta": _io.metadata()})
    print(f"all done in {elapsed:.1f} s" + (f"; CRASHED: {', '.join(crashed)}" if crashed
                                            else ""))
    return 1 if crashed else 0


def cmd_plot(args: argparse.Namespace) -> int:
    dirs = {k: Path(v) for k, v in (("results_dir", args.results_dir),
                                     ("figures_dir", args.figures_dir)) if v}
    for n in _names(args.names):
        print(f"{n} -> {_runner.plot_one(n, args.profile, seed=args.seed, **dirs)}")
    return 0


def _checks_output(args: argparse.Namespace) -> Path:
    """Where ``checks`` writes: ``--output``, else the committed ``paper_checks.md`` for the
    full profile and ``results/quick/paper_checks.md`` for any report that uses quick results."""
    if args.output:
        return Path(args.output)
    return _io.ROOT / "paper_checks.md" if args.profile == "full" else \
        _results_dir(args) / "quick" / "paper_checks.md"


def _results_dir(args: argparse.Namespace) -> Path:
    return Path(args.results_dir) if getattr(args, "results_dir", None) else _io.RESULTS


def cmd_checks(args: argparse.Namespace) -> int:
    """Write the checks report; exit 1 if a row fails, 2 if there is nothing to check.

    The committed ``paper_checks.md`` is a function of the committed full-profile results only
    (so regenerating it on an unchanged checkout reproduces it byte for byte). A report that uses
    quick results (``--profile best`` or ``quick``) goes to ``results/quick/`` and carries a note
    on the quick re-runs and on the full-profile rows that FAIL, which count towards its exit
    status too: a quick report never hides a known FAIL.
    """
    path = _checks_output(args)
    rdir = _results_dir(args)
    checks, records = _runner.collect_checks(profile=args.profile, allow_stale=args.allow_stale,
                                             results_dir=rdir)
    if not checks:
        folder = rdir / "quick" if args.profile == "quick" else rdir
        raise ValueError(f"--profile {args.profile}: no results to check in {folder}/ (run "
                         f"`python -m experiments run all --profile "
                         f"{'full' if args.profile == 'full' else 'quick'}` first)")
    notes, extra_fail = [], []
    if args.profile != "full":
        qchecks, qrec = ((checks, records) if args.profile == "quick" else
                         _runner.collect_checks(profile="quick", allow_stale=args.allow_stale,
                                                results_dir=rdir))
        qfail = [c for c in qchecks if not c.passed]
        notes.append(f"Quick-profile reproduction: {len(qrec)} experiments have quick results "
                     f"(results/quick/); {len(qchecks) - len(qfail)} of their {len(qchecks)} "
                     "checks pass" + ("." if not qfail else ", FAILED: " + "; ".join(
                         f"{c.claim} [{c.experiment}] {c.inequality}" for c in qfail) + "."))
        fchecks, _ = _runner.collect_checks(profile="full", allow_stale=args.allow_stale,
                                            results_dir=rdir)
        ffail = [c for c in fchecks if not c.passed]
        notes.append(f"Committed full-profile evidence: {len(fchecks)} checks, "
                     f"{len(ffail)} FAIL" + ("." if not ffail else ": " + "; ".join(
                         f"{c.claim} [{c.experiment}] {c.inequality} "
                         f"({relation(c.measured, c.threshold)})" for c in ffail) + "."))
        extra_fail = [*qfail, *ffail]
    sweeps = _runner.collect_seed_sweeps(profile="full" if args.profile == "best"
                                         else args.profile, allow_stale=args.allow_stale,
                                         results_dir=rdir)
    _io.check_writable(path.parent)
    write(path, render(checks, records, notes=notes, sweeps=sweeps))
    failed = [c for c in checks if not c.passed]
    failed += [r.check for r in sweeps if not all(r.passed)]
    failed = list({(c.experiment, c.claim, c.key, c.inequality, c.measured): c
                   for c in (*failed, *extra_fail)}.values())  # a row once, however reached
    print(f"wrote {path}: {len(checks)} checks from {len(records)} experiments, "
          f"{len(failed)} failed")
    if path == _io.ROOT / "paper_checks.md" and rdir == _io.RESULTS:
        from experiments._report import write_report

        # the committed HTML report beside it; no HEAD commit in it (each record shows its
        # own), so regenerating on an unchanged checkout reproduces it byte for byte
        print(f"wrote {write_report(rdir / 'report.html', 'full', results_dir=rdir, commit='')}")
        from experiments._recipe_doc import write_recipe_doc

        doc = write_recipe_doc(rdir, _io.ROOT / "docs/neural_recipe.md")
        if doc is not None:
            print(f"wrote {doc}")
    for c in failed:
        print(f"  FAIL {c.claim} [{c.experiment}] {c.inequality}: "
              f"{relation(c.measured, c.threshold)}")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from experiments._report import cli as report_cli

    return report_cli(args)


def cmd_mutants(args: argparse.Namespace) -> int:
    from experiments import _mutants

    return _mutants.main(only=args.only, list_only=args.list, write_docs=not args.no_docs)


def cmd_compare(args: argparse.Namespace) -> int:
    from experiments._compare import compare_dirs

    report = compare_dirs(args.dir_a, args.dir_b)
    for name in report["identical"]:
        print(f"identical  {name}")
    for name, diffs in report["different"].items():
        print(f"DIFFERENT  {name}: " + "; ".join(diffs[:3]))
    for name in report["missing"]:
        print(f"MISSING    {name} (not in {args.dir_b})")
    out = {"dir_a": args.dir_a, "dir_b": args.dir_b, **report}
    if args.summaries:
        sa, sb = (_io.read_json(Path(p)) for p in args.summaries)
        out["runs"] = {"a": sa, "b": sb}
        out["speedup"] = sa["elapsed_s"] / sb["elapsed_s"]
        print(f"elapsed: {sa['elapsed_s']:.1f} s ({sa['executor']}, {sa['workers']} worker(s)) "
              f"vs {sb['elapsed_s']:.1f} s ({sb['executor']}, {sb['workers']} worker(s)): "
              f"speed-up {out['speedup']:.2f}x")
    if args.output:
        _io.write_json(Path(args.output), out)
    n_bad = len(report["different"]) + len(report["missing"])
    print(f"{len(report['identical'])} identical, {len(report['different'])} different, "
          f"{len(report['missing'])} missing")
    return 1 if n_bad else 0


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
                        help="shorthand for --executor processes --workers N")
        sp.add_argument("--device", default=None, help="torch device for neural experiments")
        sp.add_argument("--results-dir", default=None, metavar="DIR",
                        help="results folder (default: results/)")
        sp.add_argument("--figures-dir", default=None, metavar="DIR",
                        help="figures folder (default: figures/)")
        if cmd == "run":
            sp.add_argument("--overwrite-evidence", action="store_true",
                            help="allow --profile full to replace committed results/<name>.json")
            sp.add_argument("--executor", choices=EXECUTORS, default=None,
                            help="where cases run: serial (default), processes, dask")
            sp.add_argument("--workers", type=_positive_int, default=None,
                            help="worker processes (processes, dask LocalCluster; default: "
                                 "--jobs, else the number of CPUs)")
            sp.add_argument("--address", default=None, metavar="tcp://HOST:PORT",
                            help="a running Dask scheduler (dask-jobqueue, Kubernetes) instead "
                                 "of a LocalCluster")
            sp.add_argument("--threads", type=_positive_int, default=1,
                            help="torch/BLAS threads per case (default 1; part of the record)")
            sp.add_argument("--seeds", type=_seed_list, default=None, metavar="SPEC",
                            help="sweep seeds, e.g. 0-9 or 0,3,5-7: one record per seed of "
                                 "every stochastic experiment")
            sp.add_argument("--summary", default=None, metavar="PATH",
                            help="write the sweep's timing summary (JSON) here")
    sc = sub.add_parser("checks", help="regenerate paper_checks.md; exit 1 if a check fails")
    sc.add_argument("--profile", choices=(*_runner.PROFILES, "best"), default="full",
                    help="which results to use (default full: the committed evidence; best: "
                         "full where present, else quick)")
    sc.add_argument("--output", default=None, metavar="PATH",
                    help="write the report here (default: paper_checks.md for --profile full, "
                         "results/quick/paper_checks.md otherwise)")
    sc.add_argument("--results-dir", default=None, metavar="DIR",
                    help="results folder to check (default: results/)")
    sc.add_argument("--allow-stale", action="store_true",
                    help="accept results whose source fingerprint differs from the current code "
                         "(default: such results give a FAIL row)")
    sr = sub.add_parser("report", help="write one self-contained HTML report (claims, rows, "
                                       "figures, findings, provenance)")
    sr.add_argument("--profile", choices=(*_runner.PROFILES, "best"), default="full",
                    help="which results to use (default full; best: full where present, else "
                         "quick)")
    sr.add_argument("--output", default=None, metavar="PATH",
                    help="default: results/report.html (quick: results/quick/report.html)")
    sr.add_argument("--allow-stale", action="store_true",
                    help="accept results whose source fingerprint differs from the current code")
    sm = sub.add_parser("mutants", help="mutation test: inject bugs into theory/, one at a time, "
                                        "and record which checks catch each (docs/mutants.md)")
    sm.add_argument("--only", nargs="+", default=None, metavar="ID",
                    help="mutant ids (or experiment names: the mutants that reach them)")
    sm.add_argument("--list", action="store_true", help="list the catalogue and exit")
    sm.add_argument("--no-docs", action="store_true",
                    help="do not rewrite docs/mutants.md (results/mutants.json is still written)")
    sq = sub.add_parser("compare", help="compare two results folders number for number "
                                        "(exit 1 if any record differs)")
    sq.add_argument("dir_a")
    sq.add_argument("dir_b")
    sq.add_argument("--summaries", nargs=2, default=None, metavar=("SUMMARY_A", "SUMMARY_B"),
                    help="the two runs' --summary files: adds their elapsed times and speed-up")
    sq.add_argument("--output", default=None, metavar="PATH", help="write the report (JSON)")
    sb = sub.add_parser("bench", help="run benchmarks (names or 'all'); prints tables")
    sb.add_argument("names", nargs="*", default=["all"])
    sb.add_argument("--profile", choices=_runner.PROFILES, default="full")
    args = p.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run, "plot": cmd_plot, "checks": cmd_checks,
                "bench": cmd_bench, "mutants": cmd_mutants, "compare": cmd_compare,
                "report": cmd_report}[args.cmd](args)
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
