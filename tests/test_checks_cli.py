"""The ``checks`` and ``run`` command lines: idempotent reports, digits that show a FAIL, errors.

Issue "a newcomer's first hour": the committed ``paper_checks.md`` is a function of the committed
full-profile results only; a report with nothing to check is an error; a FAIL line prints
digits that make its relation true; unknown experiment names are named.
"""

from __future__ import annotations

import os
import stat

from hypothesis import given
from hypothesis import strategies as st

from experiments import _io
from experiments.__main__ import main
from experiments._paper_checks import fmt_pair, relation
from theory.io import atomic_write_text


def test_checks_reproduces_committed_paper_checks(tmp_path):
    """`checks` (full profile) regenerates the committed file byte for byte."""
    out = tmp_path / "paper_checks.md"
    main(["checks", "--output", str(out)])
    assert out.read_bytes() == (_io.ROOT / "paper_checks.md").read_bytes()


def test_checks_ignores_quick_results(tmp_path):
    """Quick results beside the full ones do not change the full-profile report."""
    rdir = tmp_path / "results"
    (rdir / "quick").mkdir(parents=True)
    for p in _io.RESULTS.glob("*.json"):
        (rdir / p.name).write_bytes(p.read_bytes())
    (rdir / "quick" / "gaussian_inexact.json").write_bytes(
        (_io.RESULTS / "gaussian_inexact.json").read_bytes())
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    main(["checks", "--results-dir", str(rdir), "--output", str(a)])
    (rdir / "quick" / "gaussian_inexact.json").unlink()
    main(["checks", "--results-dir", str(rdir), "--output", str(b)])
    assert a.read_bytes() == b.read_bytes()
    assert "Quick-profile reproduction" not in a.read_text(encoding="utf-8")


def test_checks_with_nothing_to_check_is_an_error(tmp_path, capsys):
    out = tmp_path / "pc.txt"
    rc = main(["checks", "--profile", "quick", "--results-dir", str(tmp_path),
               "--output", str(out)])
    assert rc == 2
    assert "no results to check" in capsys.readouterr().err
    assert not out.exists()


def test_quick_report_names_known_full_profile_fails(tmp_path, capsys):
    """A quick report carries the full-profile FAIL rows and exits 1 on them."""
    rdir = tmp_path / "results"
    (rdir / "quick").mkdir(parents=True)
    for p in _io.RESULTS.glob("*.json"):
        (rdir / p.name).write_bytes(p.read_bytes())
    rec = _io.read_json(_io.RESULTS / "gaussian_exact_rates.json")
    (rdir / "quick" / "gaussian_exact_rates.json").write_text(
        __import__("json").dumps(rec), encoding="utf-8")
    bad = dict(rec)
    bad["source_fingerprint"] = {"experiment": "0" * 16, "theory": "0" * 16}  # stale: FAIL rows
    (rdir / "gaussian_exact_rates.json").write_text(__import__("json").dumps(bad),
                                                    encoding="utf-8")
    out = tmp_path / "quick.txt"
    rc = main(["checks", "--profile", "quick", "--results-dir", str(rdir), "--output", str(out)])
    text = out.read_text(encoding="utf-8")
    assert rc == 1
    assert "Committed full-profile evidence" in text and "stale results" in text
    assert "FAIL" in capsys.readouterr().out


def test_default_output_of_a_quick_report_is_not_the_committed_file(tmp_path):
    import argparse

    from experiments.__main__ import _checks_output

    ns = argparse.Namespace(output=None, profile="best", results_dir=str(tmp_path))
    assert _checks_output(ns) == tmp_path / "quick" / "paper_checks.md"
    ns = argparse.Namespace(output=None, profile="full", results_dir=None)
    assert _checks_output(ns) == _io.ROOT / "paper_checks.md"


def test_fail_line_prints_the_digits_that_make_it_true():
    assert relation(0.99999999871, 1 - 1e-9) == "measured 0.9999999987 < threshold 0.999999999"
    assert relation(1.78336, 1.0) == "measured 1.78336 > threshold 1"
    assert "1 > 1" not in relation(1 + 1e-12, 1.0)


@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False))
def test_printed_pair_keeps_the_order(a, b):
    sa, sb = fmt_pair(a, b)
    order = (a > b) - (a < b)
    assert ((float(sa) > float(sb)) - (float(sa) < float(sb))) == order


def test_run_names_the_unknown_experiment(capsys):
    rc = main(["run", "all", "nosuchexp"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "'nosuchexp'" in err and "'all'" not in err.split(";")[0]


def test_atomic_files_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = tmp_path / "r.json"
        atomic_write_text(p, "{}")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
    finally:
        os.umask(old)
