"""The neural_stall benchmark: per-block bookkeeping against closed forms, and a quick run."""

import numpy as np
import pytest
import torch

from experiments.benchmarks import neural_stall as ns
from theory import gaussian
from theory.flow import FlowConfig, Gaussian, JKOFlow, make_block


def test_per_block_kl_of_identity_blocks_is_the_closed_form_and_gain_zero():
    mean, cov = np.array([1.0, -0.5]), np.array([[1.5, 0.3], [0.3, 0.8]])
    data = Gaussian(mean, cov)
    flow = JKOFlow()
    for g in (0.5, 1.0):
        flow.append(make_block(FlowConfig()), g)  # zero output layer: the identity map
    x = torch.as_tensor(data.sample(20000, np.random.default_rng(0)))
    rows = ns._per_block(flow, data, x, batch=500)
    exact = gaussian.kl(mean, cov)
    # k3 on 20000 points of a mild Gaussian pair: relative SE ~1e-2
    assert abs(rows[0]["kl_before"] - exact) < 0.05 * exact
    for r in rows:
        assert r["gain"] == 0.0 and r["kl_after"] == r["kl_before"]
        factor = 1 - (1 + r["gamma"]) ** -2
        assert r["exact_gain_at_least"] == pytest.approx(r["kl_before"] * factor)
        # identity map: loss minus identity's loss is exactly 0 per point
        assert r["loss_minus_identity_se"] == 0.0 and r["loss_se"] > 0.0


@pytest.mark.slow
def test_quick_profile_runs_and_tabulates():
    res = ns.run(quick=True)
    assert set(res["placements"]) == set(ns.PLACEMENTS)
    for r in res["placements"].values():
        assert np.all(np.isfinite(r["kl"])) and len(r["kl"]) == ns.PROFILES[True]["n_blocks"]
    assert res["late_block"]["kl_after_retrained"] > 0
    assert "front-loaded, tanh" in res["table"]


@pytest.mark.parametrize("name", ["neural_block", "neural_stall"])
def test_readme_benchmark_table_is_the_results_files_table(name):
    # the README pastes the benchmark's table; it must be exactly what the results file holds
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    table = json.loads((root / "results" / f"bench_{name}.json").read_text())["results"]["table"]
    assert table.strip() in (root / "README.md").read_text()


def test_crater_of_identity_flow_is_the_data_density_ratio_and_bands_sum():
    mean, cov = np.array([0.5, -0.2]), np.array([[1.5, 0.3], [0.3, 0.8]])
    data = Gaussian(mean, cov)
    flow = JKOFlow()
    flow.append(make_block(FlowConfig()), 0.5)  # the identity map
    x = torch.as_tensor(data.sample(5000, np.random.default_rng(1)))
    c = ns._crater(flow, data, x)
    zero = torch.zeros(1, 2, dtype=torch.float64)
    from theory.flow import std_normal_log_prob
    exact = float(data.log_prob(zero)[0] - std_normal_log_prob(zero)[0])
    assert c["log_ratio_origin"] == pytest.approx(exact, abs=1e-12)
    assert sum(b["kl_part"] for b in c["bands"]) == pytest.approx(c["kl_plain"], rel=1e-12)
    assert sum(b["mass"] for b in c["bands"]) == pytest.approx(1.0)
