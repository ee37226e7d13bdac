"""The mutation-test harness (``python -m experiments mutants``, experiments/_mutants.py).

Fast: every catalogued mutant can be built (its source edit matches exactly once) and applying it
patches every reference while restoring leaves each patched attribute identical to the original,
also when the body raises. Slow: a few mutants are run against the quick experiments and must be
killed by a ``paper_checks.md`` row.
"""

import pytest

from experiments import _mutants as M

_get = M.lookup


@pytest.fixture(scope="module")
def everything_imported():
    M._import_everything()


def test_catalogue_ids_unique_and_claims_named():
    ids = [m.id for m in M.CATALOGUE]
    assert len(ids) == len(set(ids)) and len(ids) >= 25
    for m in M.CATALOGUE:
        assert m.claims and all(c.startswith("C") for c in m.claims), m.id
        assert m.what, m.id
        assert (m.kind == "scale") == (m.factor != 1.0), m.id


@pytest.mark.parametrize("mutant", M.CATALOGUE, ids=lambda m: m.id)
def test_patch_and_restore_leave_originals_identical(mutant, everything_imported):
    where = M.holders(mutant.target)
    assert where, f"{mutant.target} is referenced nowhere"
    before = [_get(o, k) for o, k in where]
    raw = M._resolve(mutant.target)[2]
    assert all(b is raw for b in before)
    with M.applied(mutant) as patched:
        assert {(id(o), k) for o, k in patched} == {(id(o), k) for o, k in where}
        now = [_get(o, k) for o, k in where]
        assert all(x is not raw for x in now) and all(x is now[0] for x in now)
    assert all(_get(o, k) is b for (o, k), b in zip(where, before, strict=True))
    with pytest.raises(RuntimeError, match="inside"), M.applied(mutant):
        raise RuntimeError("inside")
    assert all(_get(o, k) is b for (o, k), b in zip(where, before, strict=True))


def test_scale_mutant_changes_the_value(everything_imported):
    from theory import bounds

    m = next(m for m in M.CATALOGUE if m.id == "bounds.w2_contraction_factor*1.01")
    assert float(bounds.w2_contraction_factor(1.0, 1.0)) == 0.5
    with M.applied(m):
        assert float(bounds.w2_contraction_factor(1.0, 1.0)) == pytest.approx(0.505, rel=1e-15)
    assert float(bounds.w2_contraction_factor(1.0, 1.0)) == 0.5


def test_source_mutant_must_match_once(everything_imported):
    bad = M.Mutant("x", "theory.bounds:w2_one_step", "w", ("C3",), old="no such text", new="")
    with pytest.raises(ValueError, match="occurs 0 times"):
        M.replacement(bad)


def test_unknown_only_is_a_value_error():
    with pytest.raises(ValueError, match="only"):
        M._select(["no-such-mutant"])


@pytest.mark.slow
@pytest.mark.parametrize("ids,experiments", [
    (["bounds.w2_contraction_factor*0.99", "gaussian.kl.mean-half",
      "gaussian.exact_step.isotropic-branch"], ["gaussian_exact_rates"]),
])
def test_selected_mutants_are_killed(ids, experiments):
    chosen = [m for m in M.CATALOGUE if m.id in ids]
    rec = M.run_catalogue(experiments, mutants=chosen)
    status = {r["id"]: r["status"] for r in rec["mutants"]}
    assert status == dict.fromkeys(ids, "killed"), status


def test_render_lists_survivors_and_kills():
    rec = {"meta": {"commit": "abc"}, "wall_time_s": 1.0, "experiments": ["e"],
           "baseline_failures": [], "counts": {"killed": 1, "survived": 1},
           "mutants": [
               {"id": "a", "kind": "scale", "target": "theory.bounds:f", "factor": 1.01,
                "what": "w", "claims": ["C2"], "status": "killed", "equivalent": "",
                "killed_by": [{"row": "e:C2:k", "measured": 1.01, "threshold": 1.0}],
                "pipeline": []},
               {"id": "b", "kind": "source", "target": "theory.bounds:g", "edit": ["x", "y"],
                "what": "w", "claims": ["C3"], "status": "survived", "equivalent": "",
                "killed_by": [], "pipeline": [], "closest_passing_ratio_row": None}]}
    text = M.render(rec)
    assert "`e:C2:k` (1.01 vs 1)" in text and "**SURVIVED**" in text
    assert "Not caught by any row: `b`." in text


def test_cli_list(capsys):
    from experiments.__main__ import main

    assert main(["mutants", "--list"]) == 0
    assert "gaussian.worst-direction.sign" in capsys.readouterr().out
