"""The neural_block benchmark: timing harness, floor block, time-to-KL thresholds, table."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from experiments.benchmarks import neural_block as nb
from theory.flow import FlowConfig, train_block


def test_first_below_takes_the_first_crossing_and_reports_not_reached():
    cum = [1.0, 2.0, 3.0, 4.0, 5.0]
    kl = [0.5, 0.008, 0.012, 0.002, 0.0009]  # crosses 1e-2 at block 2, then rises above again
    out = nb.first_below(cum, kl)
    assert out == {"0.01": {"time_s": 2.0, "block": 2}, "0.003": {"time_s": 4.0, "block": 4},
                   "0.001": {"time_s": 5.0, "block": 5},
                   "0.0003": {"time_s": None, "block": None}}
    with pytest.raises(ValueError, match="cum_time_s and kl"):
        nb.first_below(cum, kl[:-1])


def test_no_div_block_is_the_same_map_with_zero_logdet_and_trains():
    cfg = FlowConfig(d=2, hidden=(8, 8), batch=64, iters=5, lr=1e-2)
    floor = nb._block(cfg, "none")
    ref = nb._block(cfg, "autograd")  # the same field call f(x, t) as the floor's
    for p in ref.field.parameters():  # a non-identity field (make_block zeroes the last layer)
        torch.nn.init.normal_(p, std=0.3)
    floor.field.load_state_dict(ref.field.state_dict())
    x = torch.randn(50, 2)
    y, ell = floor(x)
    y_ref, ell_ref = ref(x)
    assert torch.equal(y, y_ref)
    assert torch.equal(ell, torch.zeros(50)) and ell_ref.abs().max() > 0
    before = [p.detach().clone() for p in floor.parameters()]
    hist = train_block(floor, torch.randn(200, 2) + 2.0, cfg, gamma=0.5)
    assert all(h["div"] == 0.0 for h in hist)
    assert any(not torch.equal(a, b) for a, b in zip(before, floor.parameters(), strict=True))


def test_time_modes_interleaves_all_modes_and_respects_the_budget():
    kw = dict(hidden=(8, 8), time_dependent=True, batch=32, d=3, threads=1)
    m = nb.time_modes(**kw, rounds=2, chunk_s=0.0, max_iters=1)
    assert set(m["t"]) == set(nb.MODES) and m["rounds"] == 2
    for mode in nb.MODES:
        assert len(m["t_rounds"][mode]) == 2 and m["iters"][mode] == 1
        assert math.isfinite(m["t"][mode]) and m["t"][mode] > 0
        assert m["t"][mode] == float(np.median(m["t_rounds"][mode]))
    # a tiny budget cuts the rounds to min_rounds; chunks grow to reach chunk_s (capped)
    m = nb.time_modes(**kw, rounds=5, min_rounds=2, chunk_s=10.0, max_iters=3, budget_s=1e-9)
    assert m["rounds"] == 2 and set(m["iters"].values()) == {3}


@pytest.mark.parametrize("bad, match", [
    (dict(rounds=0), "rounds"), (dict(min_rounds=3), "min_rounds"),
    (dict(max_iters=0), "max_iters"), (dict(chunk_s=-1.0), "chunk_s"),
    (dict(budget_s=float("nan")), "budget_s")])
def test_time_modes_rejects_bad_arguments(bad, match):
    kw = dict(rounds=2, chunk_s=0.0, max_iters=1) | bad
    with pytest.raises(ValueError, match=match):
        nb.time_modes((8,), True, 16, 2, 1, **kw)


def _row(size, d, speedup, threads=1):
    t = {"none": 0.1, "exact": 0.25, "autograd": 0.25 * speedup, "hutchinson": 0.2}
    return {"size": size, "d": d, "threads": threads, "rounds": 3, "t_s": t,
            "div_cost_s": {k: t[k] - t["none"] for k in nb.MODES[:3]},
            "speedup_autograd": speedup, "speedup_hutchinson": 0.8}


def test_render_says_plainly_which_target_is_missed_and_why():
    rows = [_row(nb.IFLOW_SIZE, 2, 1.4), _row(nb.IFLOW_SIZE, 30, 2.7),
            _row(nb.DEFAULT_SIZE, 2, 2.0), _row(nb.DEFAULT_SIZE, 30, 22.0)]
    cfg = json.loads(json.dumps(dataclasses.asdict(nb.TIME_TO_KL_CFG)))
    res = {"rows": rows, "loadavg_1min": [1.0, 1.5],
           "time_to_kl": {"config": cfg, "cum_time_s": [10.0, 20.0], "kl": [0.02, 0.005],
                          "kl_se": [0.001, 0.001],
                          "first_below": nb.first_below([10.0, 20.0], [0.02, 0.005])}}
    table = nb.render(res)
    lines = table.splitlines()
    missed = next(x for x in lines if f"d = 2, {nb.IFLOW_SIZE}" in x)
    assert "measured 1.4×" in missed and "MISSED" in missed and "Reason" in missed
    assert "double-backward" in missed and "parameter-only" in missed
    met = next(x for x in lines if f"d = 30, {nb.DEFAULT_SIZE}" in x)
    assert "measured 22.0×" in met and "**met**" in met and "Reason" not in met
    assert "| cumulative training time | 20 s (block 2) | not reached | not reached | " \
           "not reached |" in lines
    assert sum(x.startswith(f"| {nb.IFLOW_SIZE} |") for x in lines) == 2


@pytest.mark.slow
def test_quick_profile_end_to_end():
    res = nb.run(quick=True)
    assert res["table"] == nb.render(res)
    json.dumps(res)  # JSON-able
    got = {(r["size"], r["d"], r["threads"]) for r in res["rows"]}
    assert {(s, d, 1) for s in nb.SIZES for d in nb._PROFILES[True]["dims"]} <= got
    assert len(res["time_to_kl"]["kl"]) == 2
