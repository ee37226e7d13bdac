"""The experiment runner: discovery, atomic JSON, checks rendering, CLI errors."""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import _io, _runner
from experiments.__main__ import main
from experiments._api import RATIO_SLACK, Check, ratio_check
from experiments._paper_checks import render


def test_discovery_finds_experiments_with_full_shape():
    mods = _runner.discover()
    assert "gaussian_exact_rates" in mods
    for name, mod in mods.items():
        assert mod.CLAIMS and all(c.startswith("C") for c in mod.CLAIMS), name
        cq, cf = mod.Config.quick(), mod.Config.full()
        assert hasattr(cq, "seed") and hasattr(cf, "seed"), name


_GOOD = """
CLAIMS = ("C1",)
TITLE = "demo"
Config = run = plot = checks = None
"""


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A throw-away package ``fakeexp`` with one complete and one malformed experiment module."""
    pkg = tmp_path / "fakeexp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(_GOOD)
    (pkg / "bad.py").write_text('CLAIMS = ("C1",)\nTITLE = "bad"\nConfig = run = None\n')
    (pkg / "_helper.py").write_text("")  # private modules are not experiments
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("fakeexp")
    for name in [m for m in sys.modules if m == "fakeexp" or m.startswith("fakeexp.")]:
        del sys.modules[name]


def test_malformed_module_raises_naming_module_and_missing_names(fake_package):
    with pytest.raises(ValueError, match=r"fakeexp\.bad .*lacks plot, checks;"):
        _runner.discover(fake_package)
    with pytest.raises(ValueError, match=r"fakeexp\.bad .*lacks plot, checks;"):
        _runner.get("bad", fake_package)
    assert _runner.get("good", fake_package).TITLE == "demo"
    (Path(fake_package.__path__[0]) / "bad.py").unlink()
    assert list(_runner.discover(fake_package)) == ["good"]


def test_unknown_experiment_is_a_value_error():
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        _runner.get("nope")
    assert main(["run", "nope"]) == 2


def test_unknown_profile_is_a_value_error():
    with pytest.raises(ValueError, match="profile"):
        _runner.make_config(_runner.get("gaussian_step_oracle"), "medium")


def test_json_conversion_and_atomic_write(tmp_path):
    data = {"a": np.arange(3), "b": np.float64(np.inf), "c": (1, np.int64(2)), "d": np.bool_(True)}
    path = tmp_path / "x.json"
    _io.write_json(path, data)
    assert json.loads(path.read_text()) == {"a": [0, 1, 2], "b": "inf", "c": [1, 2], "d": True}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary left behind


def test_interrupted_write_leaves_previous_file(tmp_path):
    path = tmp_path / "x.json"
    _io.write_json(path, {"ok": 1})

    class Boom:
        pass

    with pytest.raises(TypeError):
        _io.write_json(path, {"bad": Boom()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_check_rejects_nan_and_bad_claim():
    with pytest.raises(ValueError, match="NaN"):
        Check("C1", "x", "g", float("nan"), 1.0, False, "k")
    with pytest.raises(ValueError, match="claim"):
        Check("X1", "x", "g", 1.0, 1.0, True, "k")
    assert not ratio_check("C2", "x", "g", 1.0 + 2 * RATIO_SLACK, "k").passed
    assert ratio_check("C2", "x", "g", 1.0 + RATIO_SLACK / 2, "k").passed


def test_render_marks_unchecked_claims_and_failures():
    c = Check("C2", "W ≤ b", "grid", 1.5, 1.0, False, "key", experiment="demo")
    rec = {"demo": {"profile": "quick", "wall_time_s": 1.0, "meta": {"commit": "abc"}}}
    text = render([c], rec)
    assert "**FAIL**" in text and "1 FAIL" in text
    assert "## C19" in text and "*Not yet checked.*" in text
    assert "figures/quick/demo.png" in text


def test_run_one_quick_roundtrip(tmp_path):
    rec = _runner.run_one("gaussian_step_oracle", "quick", results_dir=tmp_path,
                          figures_dir=tmp_path)
    path = _runner.result_path("gaussian_step_oracle", "quick", tmp_path)
    on_disk = json.loads(path.read_text())
    assert on_disk["results"] == rec["results"]
    assert on_disk["config"]["seed"] == 0 and on_disk["meta"]["versions"]["numpy"]
    assert _runner.figure_path("gaussian_step_oracle", "quick", tmp_path).exists()
    # reproducible: same config and seed give the same numbers
    rec2 = _runner.run_one("gaussian_step_oracle", "quick", results_dir=tmp_path / "b",
                           figures_dir=None)
    assert rec2["results"] == rec["results"]


# --- pipeline: crashes, NaN and stale results give FAIL rows (issue 9, item 6) -----------------

_FAST = "gaussian_step_oracle"


@pytest.fixture
def fresh_results(tmp_path):
    """Quick results of one fast experiment in a throw-away results folder."""
    _runner.run_one(_FAST, "quick", results_dir=tmp_path, figures_dir=None)
    return tmp_path


def _rows(results_dir, **kw):
    checks, records = _runner.collect_checks([_FAST], profile="quick", results_dir=results_dir,
                                             **kw)
    return checks, records, [c for c in checks if c.inequality.startswith("pipeline:")]


def _edit_record(results_dir, fn):
    path = _runner.result_path(_FAST, "quick", results_dir)
    rec = json.loads(path.read_text())
    fn(rec)
    _io.write_json(path, rec)


def test_fresh_results_have_fingerprint_and_no_pipeline_rows(fresh_results):
    checks, records, pipe = _rows(fresh_results)
    assert records[_FAST]["source_fingerprint"] == _io.source_fingerprint(_FAST)
    assert checks and not pipe and all(c.passed for c in checks)


def test_changed_code_gives_stale_fail_row_unless_allowed(fresh_results):
    _edit_record(fresh_results, lambda r: r["source_fingerprint"].update(theory="0" * 16))
    checks, _, pipe = _rows(fresh_results)
    mod = _runner.get(_FAST)
    assert len(pipe) == len(mod.CLAIMS) and not any(c.passed for c in pipe)
    assert all("stale results" in c.inequality and _FAST in c.inequality for c in pipe)
    assert all("theory/" in c.detail for c in pipe)
    _, _, pipe = _rows(fresh_results, allow_stale=True)
    assert not pipe


def test_record_without_fingerprint_counts_as_stale(fresh_results):
    _edit_record(fresh_results, lambda r: r.pop("source_fingerprint"))
    _, _, pipe = _rows(fresh_results)
    assert pipe and all("no source fingerprint" in c.inequality and not c.passed for c in pipe)


def test_nan_result_gives_fail_row_not_a_crash(fresh_results):
    def poison(rec):
        key = next(k for k, v in rec["results"].items() if isinstance(v, (float, list)))
        rec["results"][key] = "nan"

    _edit_record(fresh_results, poison)
    checks, records, pipe = _rows(fresh_results)  # must not raise
    assert any("contain NaN" in c.inequality for c in pipe)
    assert any(not c.passed for c in checks)
    text = render(checks, records)
    assert "**FAIL**" in text and _FAST in text


def test_checks_that_raise_give_fail_row(fresh_results, monkeypatch):
    mod = _runner.get(_FAST)

    def broken(results):
        return results["x"] + 1  # TypeError/KeyError, like arithmetic on "nan"

    monkeypatch.setattr(mod, "checks", broken)
    _, _, pipe = _rows(fresh_results)
    assert pipe and all("raised" in c.inequality and not c.passed for c in pipe)


def test_crashed_run_is_recorded_and_hides_previous_results(fresh_results, monkeypatch):
    mod = _runner.get(_FAST)
    run_case = mod.run_case

    def crash(cfg, case):
        raise RuntimeError("boom")

    monkeypatch.setattr(mod, "run_case", crash)
    with pytest.raises(RuntimeError, match="boom"):
        _runner.run_one(_FAST, "quick", results_dir=fresh_results, figures_dir=None)
    fail = _runner.failure_path(_FAST, "quick", fresh_results)
    assert json.loads(fail.read_text())["status"] == "crashed"
    assert _runner.result_path(_FAST, "quick", fresh_results).exists()  # old file kept ...
    checks, records, pipe = _rows(fresh_results)
    assert checks == pipe and pipe and all("crashed" in c.inequality for c in pipe)  # ... unused
    assert "RuntimeError: boom" in pipe[0].detail
    assert "**crashed**" in render(checks, records)
    monkeypatch.setattr(mod, "run_case", run_case)
    _runner.run_one(_FAST, "quick", results_dir=fresh_results, figures_dir=None)
    assert not fail.exists()
    assert not _rows(fresh_results)[2]


def test_cli_run_reports_crash_and_exits_nonzero(monkeypatch, tmp_path, capsys):
    mod = _runner.get(_FAST)

    def crash(cfg, case):
        raise RuntimeError("boom")

    monkeypatch.setattr(mod, "run_case", crash)
    assert main(["run", _FAST, "--results-dir", str(tmp_path), "--figures-dir",
                 str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"[CRASHED] {_FAST}, case " in err and "RuntimeError: boom" in err
    assert "Traceback" in err  # the failed case's traceback is shown


def test_fingerprint_ignores_docstrings_and_comments_not_code(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    d0 = _io.code_digest([src], tmp_path)
    src.write_text('"""Other doc."""\n# a comment\n\ndef f(x):\n    return x + 1\n')
    assert _io.code_digest([src], tmp_path) == d0
    src.write_text('"""Doc."""\n\ndef f(x):\n    return x + 2\n')
    assert _io.code_digest([src], tmp_path) != d0
    with pytest.raises(ValueError, match="name"):
        _io.source_fingerprint("no_such_experiment")


def test_find_nonfinite_paths():
    data = {"a": [1.0, "nan", {"b": float("nan")}], "c": "inf", "d": np.array([np.inf])}
    assert _io.find_nonfinite(data) == ["a[1]", "a[2].b"]
    assert _io.find_nonfinite(data, which=("inf",)) == ["c", "d[0]"]
    with pytest.raises(ValueError, match="which"):
        _io.find_nonfinite(data, which=("zero",))


# ----------------------------------------------------------------------------------------------
# Command-line failures: one line naming the argument or file, exit status 2, nothing computed
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, needle", [
    (["run", "merely_convex", "--jobs", "0"], "--jobs"),
    (["run", "merely_convex", "--jobs", "-3"], "--jobs"),
    (["run", "merely_convex", "--seed", "-1"], "--seed"),
    (["plot", "merely_convex", "--seed", "x"], "--seed"),
])
def test_bad_option_values_exit_2_with_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and needle in err and "\n" not in err


def test_full_profile_refuses_to_overwrite_committed_evidence(capsys):
    """No computing: the refusal comes before any run (the committed results/<name>.json exist)."""
    assert _runner.result_path("merely_convex", "full").exists()
    assert main(["run", "merely_convex", "--profile", "full"]) == 2
    assert "--overwrite-evidence" in capsys.readouterr().err


def test_unavailable_cuda_device_is_one_line_error(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    assert main(["run", "neural_gaussian", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --device cuda") and "\n" not in err


@pytest.mark.parametrize("content, needle", [
    ('{"experiment": "merely_convex", "results": {"a": "unterminated', "not a valid JSON"),
    ("{}", "not a results record"),
    ("[1, 2]", "not a results record"),
])
def test_broken_results_file_is_named(tmp_path, content, needle):
    path = _runner.result_path("merely_convex", "quick", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ValueError, match=needle) as exc:
        _runner.plot_one("merely_convex", "quick", results_dir=tmp_path, figures_dir=tmp_path)
    assert str(path) in str(exc.value)


def test_unwritable_output_folder_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="cannot create the output folder") as exc:
        _io.check_writable(blocker / "results")
    assert str(blocker / "results") in str(exc.value)


@pytest.mark.parametrize("seed, name", [(None, "x.json"), (0, "x.json"), (5, "x.seed5.json")])
def test_non_default_seed_has_its_own_paths(tmp_path, seed, name):
    assert _runner.result_path("x", "quick", tmp_path, seed).name == name
    assert _runner.result_path("x", "full", tmp_path, seed) == tmp_path / name
    assert _runner.figure_path("x", "quick", tmp_path, seed).name == name.replace(".json", ".png")
    assert _runner.failure_path("x", "quick", tmp_path, seed).name == name.replace(
        ".json", ".failed.json")


def test_keyboard_interrupt_is_one_line_exit_130(monkeypatch, capsys):
    def boom(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("experiments.__main__.cmd_list", boom)
    assert main(["list"]) == 130
    assert capsys.readouterr().err.strip().startswith("interrupted")


# ----------------------------------------------------------------------------------------------
# Per-block resume of neural experiments: checkpoints through the runner; Ctrl-C
# ----------------------------------------------------------------------------------------------


def test_checkpoint_path_outside_runner_is_none_and_tag_is_checked(tmp_path):
    from experiments._api import checkpoint_dir, checkpoint_path

    assert checkpoint_path("corr") is None  # run(cfg) called directly: no checkpoint
    with checkpoint_dir(tmp_path / "ck"):
        assert checkpoint_path("delta0.05") == tmp_path / "ck" / "delta0.05.pt"
        assert (tmp_path / "ck").is_dir()
    assert checkpoint_path("corr") is None
    for bad in ("", "../x", "a/b", ".hidden", 3):
        with pytest.raises(ValueError, match="tag"):
            checkpoint_path(bad)
    assert _runner.checkpoint_folder("x", "quick", tmp_path, 5) == \
        tmp_path / ".checkpoints" / "quick" / "x.seed5"


def _tiny_neural_gaussian(monkeypatch):
    """neural_gaussian's quick profile (2-D and 10-D, 2 blocks each), made smaller still."""
    import dataclasses

    mod = _runner.get("neural_gaussian")
    q = mod.Config.quick()
    tiny = dataclasses.replace(q, flow=dataclasses.replace(q.flow, iters=15, n_train=1000),
                               n_eval=300, n_residual=60, n_kl=500, n_check=40, n_null=2)
    monkeypatch.setattr(mod.Config, "quick", classmethod(lambda cls: tiny))
    assert tiny.datasets == ("corr", "gauss10") and tiny.flow.n_blocks == 2
    return mod


def test_interrupted_neural_run_resumes_after_last_finished_block(tmp_path, monkeypatch):
    import theory.flow._train as train_mod

    _tiny_neural_gaussian(monkeypatch)
    trained = []
    train_block, save = train_mod.train_block, train_mod.save_checkpoint

    def counting_train_block(*args, **kw):
        trained.append(kw["desc"])
        return train_block(*args, **kw)

    def save_then_interrupt(path, fp, flow, *args, **kw):
        save(path, fp, flow, *args, **kw)
        if Path(path).stem == "gauss10" and len(flow) == 1:  # Ctrl-C after its first block
            raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "train_block", counting_train_block)
    monkeypatch.setattr(train_mod, "save_checkpoint", save_then_interrupt)
    res_dir = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        _runner.run_one("neural_gaussian", "quick", results_dir=res_dir, figures_dir=None)
    ckpt = _runner.checkpoint_folder("neural_gaussian", "quick", res_dir)
    # one folder per case fingerprint (code, config, case), holding that case's checkpoints
    assert sorted(p.name for p in ckpt.rglob("*.pt")) == ["corr.pt", "gauss10.pt"]
    assert not _runner.result_path("neural_gaussian", "quick", res_dir).exists()
    assert not _runner.failure_path("neural_gaussian", "quick", res_dir).exists()
    assert trained == ["block 1", "block 2", "block 1"]  # corr 1-2, gauss10 1, then Ctrl-C
    monkeypatch.setattr(train_mod, "save_checkpoint", save)
    trained.clear()
    resumed = _runner.run_one("neural_gaussian", "quick", results_dir=res_dir, figures_dir=None)
    assert trained == ["block 2"]  # only gauss10's second block is trained again
    assert not ckpt.exists()  # deleted after the successful run
    trained.clear()
    fresh = _runner.run_one("neural_gaussian", "quick", results_dir=tmp_path / "fresh",
                            figures_dir=None)
    assert trained == ["block 1", "block 2"] * 2
    for rec in (resumed, fresh):  # per-data-set wall times are the only timings in results
        for r in rec["results"]["datasets"].values():
            assert r.pop("wall_s") > 0
    assert resumed["results"] == fresh["results"]  # bit for bit


_CTRL_C_DRIVER = """
import sys
from experiments.__main__ import main
if __name__ == "__main__":  # the spawned workers import this file too
    out = sys.argv[1]
    sys.exit(main(["run", "neural_gaussian", "neural_no_density", "--jobs", "2",
                   "--results-dir", out, "--figures-dir", out]))
"""


def test_ctrl_c_with_jobs_2_prints_one_line_and_no_worker_traceback(tmp_path):
    import os
    import signal
    import subprocess
    import time

    driver = tmp_path / "driver.py"
    driver.write_text(_CTRL_C_DRIVER)
    err_path = tmp_path / "stderr.txt"
    root = Path(__file__).resolve().parents[1]
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, str(driver), str(tmp_path / "out")], cwd=root,
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
        try:
            assert "running 2 records" in proc.stdout.readline()
            time.sleep(8.0)  # both workers are inside their cases
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.stdout.close()
    text = err_path.read_text()
    lines = [ln for ln in text.replace("\r", "\n").splitlines()
             if ln.strip() and "it/s" not in ln and "s/it" not in ln and "%|" not in ln]
    assert rc == 130, text[-2000:]
    assert "Traceback" not in text, text[-2000:]
    assert len(lines) == 1 and lines[0].startswith("interrupted"), lines
