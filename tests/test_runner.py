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
