"""experiments/neural_no_density.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import neural_no_density as nn
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    assert [c.key for c in nn.cases(nn.Config.full())] == ["delta=0.05", "delta=0.2",
                                                           "w2_validation"]
    q = nn.Config.quick()
    cfg = replace(q, flow=replace(q.flow, n_blocks=1, iters=4, batch=64, n_train=300),
                  deltas=(0.1, 0.3), n_eval=100, n_w2=60, w2_reps=2, n_inv=40)
    values = {c.key: execute_case("neural_no_density", cfg, c, nn.run_case)
              for c in nn.cases(cfg)}
    forward = to_jsonable(nn.reduce(cfg, values))
    backward = to_jsonable(nn.reduce(cfg, dict(reversed(values.items()))))
    assert forward == backward
    assert [r["delta"] for r in forward["runs"]] == [0.1, 0.3]
    assert "inversion" in forward["runs"][0] and "inversion" not in forward["runs"][1]
