"""experiments/neural_toy2d.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import neural_toy2d as nt
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    q = nt.Config.quick()
    keys = [c.key for c in nt.cases(q)]
    assert keys == ["mixture", *q.toys, "budget=0.25"] and len(set(keys)) == len(keys)
    cfg = replace(q, flow=replace(q.flow, n_blocks=2, iters=6, n_train=600),
                  toys=("moons",), n_eval=200, n_residual=40, n_w2=100, w2_reps=2, n_show=50,
                  n_grid=40, n_mass=400)
    values = {c.key: execute_case("neural_toy2d", cfg, c, nt.run_case) for c in nt.cases(cfg)}
    forward = to_jsonable(nt.reduce(cfg, values))
    backward = to_jsonable(nt.reduce(cfg, dict(reversed(values.items()))))
    assert forward == backward
    # the sweep's last point (fraction 1) is the main mixture run
    assert forward["sweep"]["budgets"] == [4, 12]
    assert forward["sweep"]["kl"][-1] == forward["datasets"]["mixture"]["diagnostics"][-1]["kl"]


def test_the_one_recipe_is_shared_with_neural_recipe():
    from experiments import neural_recipe

    assert nt.FLOW == neural_recipe.recipe(2)
    assert replace(nt.FLOW, d=30) == neural_recipe.recipe(30)
