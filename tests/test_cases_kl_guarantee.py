"""experiments/kl_guarantee.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import kl_guarantee as kg
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    q = kg.Config.quick()
    keys = [c.key for c in kg.cases(q)]
    assert len(set(keys)) == len(keys) == 4 * 5  # (2 shapes, 2 γ) × (theorem, 2 seeds, ...)
    assert "anisotropic,d=2,gamma=0.5,mixed.s1" in keys
    cfg = replace(q, gammas=(2.0,), eps_exponents=(-1.0, -4.0, 4), c_controls=(0.5,))
    values = {c.key: execute_case("kl_guarantee", cfg, c, kg.run_case) for c in kg.cases(cfg)}
    forward = to_jsonable(kg.reduce(cfg, values))
    backward = to_jsonable(kg.reduce(cfg, dict(reversed(values.items()))))
    assert forward == backward
    # the curves of a (shape, d, γ) in the serial order: kinds (mixed per seed), controls, fixed N
    assert [(c["kind"], c["c"], c["seed"]) for c in forward["cases"][0]["curves"]] == [
        ("mean", 1.0, 0), ("map", 1.0, 0), ("mixed", 1.0, 0), ("mixed", 1.0, 1),
        ("mean", 0.5, 0), ("mean", None, 0)]
