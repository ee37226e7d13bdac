"""Every experiment's quick profile runs end to end: JSON, figure, and passing checks.

This is the default-suite version of ``python -m experiments run all --profile quick``; the full
profiles (paper figures) are run by hand and committed under results/ and figures/.
"""

import json

import pytest

from experiments import _plotting, _runner

NAMES = list(_runner.discover())


@pytest.mark.parametrize("name", NAMES)
def test_quick_profile_end_to_end(name, tmp_path):
    rec = _runner.run_one(name, "quick", results_dir=tmp_path, figures_dir=tmp_path)
    path = _runner.result_path(name, "quick", tmp_path)
    assert json.loads(path.read_text())["results"] == rec["results"]
    fig = _runner.figure_path(name, "quick", tmp_path)
    assert fig.exists() and fig.stat().st_size > 10_000
    problems = _plotting.AUDITS.get(fig.name)
    assert problems == [], f"{name}: figure breaks experiments/_plotting.py's rules: {problems}"
    mod = _runner.get(name)
    checks = mod.checks(rec["results"])
    assert checks, f"{name} produced no paper_checks rows"
    assert {c.claim for c in checks} <= set(mod.CLAIMS), "rows for claims the module does not list"
    failed = [f"{c.claim}: {c.inequality}: {c.measured} vs {c.threshold}" for c in checks
              if not c.passed]
    assert not failed, failed
