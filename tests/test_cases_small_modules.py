"""The small experiments as cases: unique keys, and a reduction independent of completion order.

Each module's quick cases are run (as the runner runs them, ``execute_case``) in reversed order;
``reduce`` must give the same results dict from those values as from the values in case order.
"""

import json

import pytest

from experiments import _io, _runner
from experiments._cases import execute_case

NAMES = ["forward_backward", "general_functionals", "inversion_error", "no_density_1d",
         "no_density", "merely_convex", "gaussian_step_oracle", "lagrangian_validation"]


@pytest.mark.parametrize("name", NAMES)
def test_cases_unique_and_reduce_order_independent(name):
    mod = _runner.get(name)
    cfg = mod.Config.quick()
    grid = mod.cases(cfg)
    keys = [c.key for c in grid]
    assert len(set(keys)) == len(keys)
    done = {c.key: execute_case(name, cfg, c, mod.run_case) for c in reversed(grid)}
    in_order = mod.reduce(cfg, {k: done[k] for k in keys})
    reversed_ = mod.reduce(cfg, done)
    assert json.dumps(_io.to_jsonable(reversed_)) == json.dumps(_io.to_jsonable(in_order))
