"""experiments/gaussian_inexact.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import gaussian_inexact as gi
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    for cfg in (gi.Config.quick(), gi.Config.full()):
        grid = gi.cases(cfg)
        keys = [c.key for c in grid]
        assert len(keys) == len(set(keys))
        # every trajectory of the grid is in exactly one case, with its ε
        assert [(c.params["d"], c.params["gamma"], c.params["target"], *t) for c in grid
                if c.params["part"] == "grid" for t in c.params["trajectories"]] == \
            gi._trajectories(cfg)
    cfg = replace(gi.Config.quick(), dims=(1, 2), gammas=(0.5,), data=("shift", "singular"),
                  kinds=("mean", "map"), eps_grid=(1e-3, 1e-1), n_steps=4, stat_dims=(2,),
                  stat_gammas=(5.0,), stat_targets=("standard",), stat_eps=(1e-3,),
                  fig_eps=(1e-2,), fig_steps=4)
    grid = gi.cases(cfg)
    done = {c.key: execute_case("gaussian_inexact", cfg, c, gi.run_case) for c in reversed(grid)}
    backward = to_jsonable(gi.reduce(cfg, done))
    forward = to_jsonable(gi.reduce(cfg, {c.key: done[c.key] for c in grid}))
    assert forward == backward
    assert forward["n_trajectories"] == 2 * 1 * 2 * 2 * 2 and len(forward["stationary"]) == 2
