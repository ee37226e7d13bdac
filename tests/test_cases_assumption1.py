"""experiments/assumption1.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import assumption1 as a1
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    q = a1.Config.quick()
    keys = [c.key for c in a1.cases(q)]
    assert keys == ["seed=0", "floor,rep=0", "floor,rep=1", "floor,rep=2"]
    full = [c.key for c in a1.cases(a1.Config.full())]
    assert len(full) == len(set(full)) == 3 + 20
    cfg = replace(q, flow=replace(q.flow, iters=6, batch=64, n_train=300), eval_every=3,
                  n_est=150, n_eval=200, floor_reps=3, train_seeds=(0, 1))
    grid = a1.cases(cfg)
    done = {c.key: execute_case("assumption1", cfg, c, a1.run_case) for c in reversed(grid)}
    backward = to_jsonable(a1.reduce(cfg, done))
    forward = to_jsonable(a1.reduce(cfg, {c.key: done[c.key] for c in grid}))
    assert forward == backward and len(forward["curves"]) == 2
    assert forward["curves"][0]["it"] == [0, 3, 6]
