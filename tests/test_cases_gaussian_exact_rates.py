"""experiments/gaussian_exact_rates.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import gaussian_exact_rates as ger
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    for cfg in (ger.Config.quick(), ger.Config.full()):
        keys = [c.key for c in ger.cases(cfg)]
        assert len(keys) == len(set(keys)) == len(cfg.dims) * len(cfg.gammas) + 4
    cfg = replace(ger.Config.quick(), dims=(1, 3), gammas=(0.5, 2.0), n_steps=20)
    grid = ger.cases(cfg)
    done = {c.key: execute_case("gaussian_exact_rates", cfg, c, ger.run_case)
            for c in reversed(grid)}
    backward = to_jsonable(ger.reduce(cfg, done))
    forward = to_jsonable(ger.reduce(cfg, {c.key: done[c.key] for c in grid}))
    assert forward == backward
    # trajectories in the grid's order: d, then γ, then data covariance, then target
    assert [(c["d"], c["gamma"], c["cov_kind"], c["target"]) for c in forward["cases"]] == [
        (d, g, k, t) for d in cfg.dims for g in cfg.gammas for k in cfg.cov_kinds
        for t in cfg.targets]
