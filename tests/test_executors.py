"""Cases, the case cache and the executors: records identical whatever runs them (issue 13).

The Dask tests start a real ``distributed.LocalCluster`` (2 single-threaded worker processes).
"""

import json
import math
import os
import signal
import sys
import threading
import time

import pytest

from experiments import _cases, _runner
from experiments.__main__ import main
from experiments._cases import Case, case_seed, plan, reduce_cases
from experiments._compare import compare_records, diff_values
from experiments._executors import make_executor
from experiments._sweep import Job, run_sweep

#: a small Gaussian experiment and a small neural one (each split into several cases)
GAUSS, NEURAL = "gaussian_exact_rates", "neural_no_density"


def _records(results_dir, names, profile="quick"):
    return {n: json.loads(_runner.result_path(n, profile, results_dir).read_text())
            for n in names}


@pytest.fixture(scope="module")
def serial_records(tmp_path_factory):
    """The serial run of both experiments: the reference every executor must reproduce."""
    out = tmp_path_factory.mktemp("serial")
    res = run_sweep([Job(GAUSS), Job(NEURAL)], results_dir=out, figures_dir=None,
                    progress=False)
    assert all(r.error is None for r in res)
    return _records(out, [GAUSS, NEURAL])


# --- the protocol --------------------------------------------------------------------------


def test_case_rejects_bad_keys_params_and_costs():
    for kw, match in (({"key": ""}, "key"), ({"key": "a/b"}, "key"), ({"key": "-a"}, "key"),
                      ({"key": "a", "params": [1]}, "params"), ({"key": "a", "cost": 0}, "cost"),
                      ({"key": "a", "cost": float("nan")}, "cost")):
        with pytest.raises(ValueError, match=match):
            Case(**kw)


def test_case_seed_is_stable_and_distinct():
    assert case_seed(0, "x", "a") == case_seed(0, "x", "a")
    seeds = {case_seed(s, e, k) for s in (0, 1) for e in ("x", "y") for k in ("a", "b")}
    assert len(seeds) == 8 and all(0 <= s < 2**63 for s in seeds)


def test_reduce_reads_values_in_case_order_whatever_their_order():
    grid = [Case(f"c{i}") for i in range(5)]
    values = {f"c{i}": i for i in reversed(range(5))}
    assert reduce_cases(None, grid, values, lambda cfg, v: list(v)) == [f"c{i}" for i in
                                                                         range(5)]
    with pytest.raises(ValueError, match="missing cases"):
        reduce_cases(None, grid, {"c0": 0}, lambda cfg, v: v)


def test_plan_of_every_experiment_has_unique_keys_in_both_profiles():
    for name, mod in _runner.discover().items():
        for profile in ("quick", "full"):
            p = plan(mod, _runner.make_config(mod, profile))
            assert len({c.key for c in p.cases}) == len(p.cases), (name, profile)


def test_plan_rejects_a_partial_protocol(monkeypatch):
    mod = _runner.get(GAUSS)
    monkeypatch.delattr(mod, "reduce")
    with pytest.raises(ValueError, match="some but not all"):
        plan(mod, mod.Config.quick())


def test_thread_limits_validates_and_restores():
    import torch

    before = torch.get_num_threads()
    with _cases.thread_limits(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with _cases.thread_limits(0):
            pass


def test_make_executor_names_its_bad_arguments(monkeypatch):
    with pytest.raises(ValueError, match="executor must be"):
        make_executor("threads")
    with pytest.raises(ValueError, match="workers"):
        make_executor("processes", 0)
    with pytest.raises(ValueError, match="--address needs"):
        make_executor("serial", address="tcp://127.0.0.1:1")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed
    with pytest.raises(ValueError, match=r"pip install .*\[dask\]"):
        make_executor("dask", 2)


def test_compare_sees_one_ulp_and_ignores_timings():
    a = {"x": [1.0, 2.0], "wall_s": 3.0, "d": {"train_s": 1.0, "y": 0.1}}
    b = {"x": [1.0, 2.0], "wall_s": 9.0, "d": {"train_s": 7.0, "y": 0.1}}
    assert diff_values(a, b) == []
    b["d"]["y"] = math.nextafter(0.1, 1.0)
    assert diff_values(a, b) == ["results.d.y: 0.1 vs 0.10000000000000002"]


# --- executors give bit-identical records --------------------------------------------------


def test_serial_run_equals_the_experiments_own_run(serial_records):
    """The runner computes what ``mod.run(config)`` computes (tests, notebooks, mutants)."""
    from experiments import _io

    mod = _runner.get(GAUSS)
    direct = _io.to_jsonable(mod.run(mod.Config.quick()))
    assert diff_values(json.loads(json.dumps(direct)), serial_records[GAUSS]["results"]) == []


def test_processes_executor_reproduces_serial(serial_records, tmp_path):
    res = run_sweep([Job(GAUSS), Job(NEURAL)], executor="processes", workers=2,
                    results_dir=tmp_path, figures_dir=None, progress=False)
    assert all(r.error is None for r in res)
    for name, rec in _records(tmp_path, [GAUSS, NEURAL]).items():
        assert compare_records(rec, serial_records[name]) == [], name
        assert rec["executor"] == {"kind": "processes", "workers": 2, "threads": 1}


def test_dask_local_cluster_reproduces_serial(serial_records, tmp_path):
    pytest.importorskip("distributed")
    res = run_sweep([Job(NEURAL), Job(GAUSS)], executor="dask", workers=2,
                    results_dir=tmp_path, figures_dir=tmp_path, progress=False)
    assert all(r.error is None for r in res)
    for name, rec in _records(tmp_path, [GAUSS, NEURAL]).items():
        assert compare_records(rec, serial_records[name]) == [], name
        assert rec["executor"]["kind"] == "dask" and rec["executor"]["workers"] == 2
        assert set(rec["case_times_s"]) == {c.key for c in plan(
            _runner.get(name), _runner.get(name).Config.quick()).cases}
        assert _runner.figure_path(name, "quick", tmp_path).exists()
    assert not (tmp_path / ".cases").exists() or not any((tmp_path / ".cases").rglob("*.pkl"))


def test_dask_sweep_completes_when_a_worker_is_killed(serial_records, tmp_path):
    """SIGKILL a worker while it computes a case: Dask reruns the case elsewhere."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out: dict = {}
        sweep = threading.Thread(target=lambda: out.update(res=run_sweep(
            [Job(NEURAL)], executor="dask", address=cluster.scheduler_address,
            results_dir=tmp_path, figures_dir=None, progress=False)))
        sweep.start()
        killed, deadline = None, time.time() + 120
        while killed is None and time.time() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                killed = client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.02)
        sweep.join(timeout=600)
        assert killed is not None and not sweep.is_alive()
        pids = set(client.run(os.getpid).values())
    assert killed not in pids  # the worker did die (its nanny started a new one)
    (res,) = out["res"]
    assert res.error is None
    rec = _records(tmp_path, [NEURAL])[NEURAL]
    assert compare_records(rec, serial_records[NEURAL]) == []


# --- resumable: a failed case loses nothing else ---------------------------------------------


def test_failed_case_is_reported_and_a_rerun_computes_only_it(serial_records, tmp_path,
                                                              monkeypatch):
    mod = _runner.get(GAUSS)
    keys = [c.key for c in plan(mod, mod.Config.quick()).cases]
    assert len(keys) > 1
    bad = keys[len(keys) // 2]
    run_case, calls = mod.run_case, []

    def flaky(config, case):
        calls.append(case.key)
        if case.key == bad:
            raise RuntimeError("boom")
        return run_case(config, case)

    monkeypatch.setattr(mod, "run_case", flaky)
    (res,) = run_sweep([Job(GAUSS)], results_dir=tmp_path, figures_dir=None, progress=False)
    assert res.case == bad and "RuntimeError: boom" in res.error
    assert "raise RuntimeError" in res.traceback
    fail = json.loads(_runner.failure_path(GAUSS, "quick", tmp_path).read_text())
    assert fail["status"] == "crashed" and fail["case"] == bad and bad in fail["error"]
    assert calls == keys  # every other case still ran
    calls.clear()
    monkeypatch.setattr(mod, "run_case", lambda c, k: (calls.append(k.key), run_case(c, k))[1])
    (res,) = run_sweep([Job(GAUSS)], results_dir=tmp_path, figures_dir=None, progress=False)
    assert res.error is None and calls == [bad] and res.n_cached == len(keys) - 1
    assert not _runner.failure_path(GAUSS, "quick", tmp_path).exists()
    rec = _records(tmp_path, [GAUSS])[GAUSS]
    assert compare_records(rec, serial_records[GAUSS]) == []  # cached values are exact


def test_cache_is_keyed_by_config_and_code(tmp_path):
    from experiments._cache import CaseCache, case_fingerprint

    mod = _runner.get(GAUSS)
    cfg = mod.Config.quick()
    case = plan(mod, cfg).cases[0]
    src = {"experiment": "a", "theory": "b"}
    fp = case_fingerprint(GAUSS, case, cfg, 1, src)
    assert fp != case_fingerprint(GAUSS, case, _runner.make_config(mod, "quick", 3), 1, src)
    assert fp != case_fingerprint(GAUSS, case, cfg, 2, src)
    assert fp != case_fingerprint(GAUSS, case, cfg, 1, {**src, "theory": "c"})
    cache = CaseCache(tmp_path / "c")
    cache.store(case.key, fp, {"v": 1.5})
    assert cache.load(case.key, fp) == (True, {"v": 1.5})
    assert cache.load(case.key, "0" * 16) == (False, None)
    (tmp_path / "c" / f"{case.key}.{fp}.pkl").write_bytes(b"\x80truncated")
    assert cache.load(case.key, fp) == (False, None)  # unreadable counts as missing


# --- seeds as a sweep dimension --------------------------------------------------------------


def test_seeds_sweep_writes_one_record_per_seed_and_reports_the_worst(tmp_path, capsys):
    rd, fd = str(tmp_path / "r"), str(tmp_path / "f")
    args = ["run", "no_density", "lagrangian_validation", "--seeds", "0-2", "--results-dir", rd,
            "--figures-dir", fd, "--profile", "quick"]
    assert main(args) == 0
    out = capsys.readouterr().out
    quick = tmp_path / "r" / "quick"
    assert sorted(p.name for p in quick.glob("no_density*.json")) == [
        "no_density.json", "no_density.seed1.json", "no_density.seed2.json"]
    if not _runner.get("lagrangian_validation").STOCHASTIC:
        assert "default seed only: lagrangian_validation" in out
        assert not list(quick.glob("lagrangian_validation.seed*"))
    rows = _runner.collect_seed_sweeps(profile="quick", results_dir=tmp_path / "r")
    assert rows and {r.experiment for r in rows} == {"no_density"}
    assert all(r.seeds == (0, 1, 2) and len(r.measured) == 3 for r in rows)
    for r in rows:
        worst = max(r.measured) if all(r.passed) else None
        assert worst is None or r.check.measured == worst
    from experiments._paper_checks import render_sweeps

    text = "\n".join(render_sweeps(rows))
    assert "### no_density (seeds 0–2)" in text and "3/3" in text
    assert main(["run", "no_density", "--seed", "1", "--seeds", "0-2", "--results-dir", rd]) == 2


def test_cli_rejects_bad_seed_specs(capsys):
    for spec in ("3-1", "a", "-1", "1,,2"):
        with pytest.raises(SystemExit) as exc:
            main(["run", "no_density", "--seeds", spec])
        assert exc.value.code == 2
    assert "--seeds" in capsys.readouterr().err


def test_costliest_cases_first_from_the_last_record(serial_records, tmp_path):
    """Estimates come from the last record's case times (same seed, else the default seed)."""
    from experiments import _io
    from experiments._sweep import _estimates, _prepare

    rec = dict(serial_records[GAUSS])
    times = {k: float(i + 1) for i, k in enumerate(rec["case_times_s"])}
    rec["case_times_s"] = times
    _io.write_json(_runner.result_path(GAUSS, "quick", tmp_path), rec)
    for seed in (None, 3):
        state = _prepare(Job(GAUSS, seed=seed), tmp_path, 1, None)
        assert _estimates(state, tmp_path) == times


@pytest.mark.parametrize("argv, pinned", [
    (["run", "all"], True), (["run", "x", "--threads", "1"], True),
    (["run", "x", "--threads", "4"], False), (["run", "x", "--threads=2"], False),
    (["checks"], False), ([], False)])
def test_run_starts_thread_pools_single_threaded(monkeypatch, argv, pinned):
    from experiments.__main__ import _single_threaded_pools

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    _single_threaded_pools(argv)
    assert (os.environ.get("OMP_NUM_THREADS") == "1") == pinned
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # an explicit setting wins
    _single_threaded_pools(["run", "all"])
    assert os.environ["OMP_NUM_THREADS"] == "3"
