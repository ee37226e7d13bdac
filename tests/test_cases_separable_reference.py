"""experiments/separable_reference.py as cases: unique keys, an order-independent reduction."""

from dataclasses import replace

from experiments import separable_reference as sr
from experiments._cases import execute_case
from experiments._io import to_jsonable


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    keys = [c.key for c in sr.cases(sr.Config.quick())]
    assert len(set(keys)) == len(keys) == 9 + 4 + 1
    assert {"gauss,d=10,n=2000", "direct=skewed+bimodal,block=2", "refine"} <= set(keys)
    cfg = replace(sr.Config.quick(), gammas=(0.5,) * 2, gauss_dims=(2, 3), gauss_ns=(100, 200),
                  direct_n_nodes=40, direct_blocks=(1,), refine_ns=(100, 200, 400),
                  n_samples=200)
    values = {c.key: execute_case("separable_reference", cfg, c, sr.run_case)
              for c in sr.cases(cfg)}
    forward = to_jsonable(sr.reduce(cfg, values))
    backward = to_jsonable(sr.reduce(cfg, dict(reversed(values.items()))))
    assert forward == backward
    assert list(forward["gauss"]) == ["2", "3"]
    assert list(forward["direct"]) == ["bimodal x student_t5", "skewed x bimodal"]
