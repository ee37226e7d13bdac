"""Step convergence of flow densities (theory.flow._refinement) and the training's step control.

Oracles that share no code with the RK4 integrator: a linear field x' = diag(a) x has the exact
map x -> e^a x (scipy/numpy exponentials), so q̂ = N(0, diag(e^{-2a})) with box masses from the
normal CDF. A field that vanishes at every RK4 stage of S = 3 steps but not in between is a
planted "exploited quadrature": its refinement error and its grid mass must flag it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from theory.flow import Block, FlowConfig, JKOFlow, Toy2D, train_flow
from theory.flow._potential import quadratic_potential
from theory.flow._refinement import grid_mass, nll_refinement, refinement_tolerance
from theory.flow._train import _control_steps, step_gap


class DiagLinear(nn.Module):
    """v(x, t) = a ⊙ x (time-independent): exact map e^a ⊙ x, log det = Σ a."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))
        self.d = len(a)

    def forward(self, x, t):
        return x * self.a


class StageBlind(nn.Module):
    """v(x, t) = c sin²(π S t) x: zero at t = k/S, c at the midpoints. RK4 with S steps sees
    only the midpoint stages, so its trace quadrature is 2c/3 per unit time (exact: c/2) and its
    map is not the exponential of that quadrature: a density that does not integrate to 1."""

    def __init__(self, c: float, s: int, d: int = 2):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c, dtype=torch.float64))
        self.s, self.d = s, d

    def forward(self, x, t):
        return self.c * torch.sin(math.pi * self.s * t) ** 2 * x


def _flow(field, steps: int) -> JKOFlow:
    flow = JKOFlow()
    flow.append(Block(field, steps=steps, div="autograd"), 1.0)
    return flow


def test_nll_refinement_converges_to_the_exact_linear_flow_at_fourth_order():
    a = [0.7, -0.4]
    flow = _flow(DiagLinear(a), 2)
    x = np.random.default_rng(0).normal(size=(500, 2)) * [1.5, 0.6]
    r = nll_refinement(flow, x, steps=2)
    # exact: log q̂(x) = log N(e^a x; 0, I) + Σ a
    z = x * np.exp(a)
    exact = -np.mean(-0.5 * (z**2).sum(1) - math.log(2 * math.pi) + sum(a))
    assert abs(r.nll[-1, 0] - exact) < 1e-4
    # errors shrink ~16x per doubling: observed order near 4, Richardson much closer than 8 steps
    order, est = r.richardson()
    assert 3.5 < order[0] < 4.5
    assert abs(est[0] - exact) < 0.1 * abs(r.nll[-1, 0] - exact)
    assert r.error[0] == pytest.approx(abs(r.nll[0, 0] - r.nll[-1, 0]))
    d = r.as_dict()
    assert d["factors"] == [1, 2, 4] and d["base_steps"] == [2] and len(d["nll"]) == 3
    assert d["converged"] == [bool(r.converged[0])]


def test_refinement_flags_a_planted_exploited_quadrature():
    flow = _flow(StageBlind(1.5, 3), 3)
    x = np.random.default_rng(1).normal(size=(400, 2))
    r = nll_refinement(flow, x)  # 3, 6, 12 steps
    assert not r.converged[0]
    assert r.error[0] > 0.1


def test_an_exploited_quadrature_beats_the_data_entropy():
    """c = 6, S = 3: the RK4 map is x -> 27x per coordinate (1 + 4/3 + 2/3 = 3 per step), its
    trace quadrature 2c/3·d = 8 nats against the true log-det 2 log 27 = 6.59. On data
    x = z/27 (the exact pull-back of q by that map) the same-sample KL at S is 6.59 - 8 < 0."""
    flow = _flow(StageBlind(6.0, 3), 3)
    z = np.random.default_rng(2).normal(size=(300, 2))
    x = z / 27.0
    log_p = -0.5 * (z**2).sum(1) - math.log(2 * math.pi) + 2 * math.log(27.0)
    r = nll_refinement(flow, x, log_p=log_p)
    assert r.kl[0, 0] == pytest.approx(2 * math.log(27.0) - 8.0, abs=1e-9)
    assert r.kl[0, 0] < -3 * r.kl_se[0, 0] - 1.0
    assert r.kl[-1, 0] > r.kl[0, 0] + 0.5 and not r.converged[0]
    smooth = nll_refinement(_flow(DiagLinear([0.3, 0.2]), 6), x)
    assert smooth.converged[0] and smooth.error[0] < 1e-4


def test_grid_mass_of_the_linear_flow_matches_the_normal_cdf():
    a = [0.5, -0.3]
    flow = _flow(DiagLinear(a), 8)
    g = grid_mass(flow, (-3.0, 3.0), steps=16, n_grid=200, n_samples=20000)
    exact = np.prod([norm.cdf(3.0 * math.exp(ai)) - norm.cdf(-3.0 * math.exp(ai)) for ai in a])
    assert abs(g.mass - exact) < 1e-3
    assert g.normalised and g.gap <= g.tolerance
    assert abs(g.frac_in_box - exact) < 4 * g.frac_se + 1e-3


def test_grid_mass_flags_a_density_that_does_not_integrate_to_one():
    flow = _flow(StageBlind(1.5, 3), 3)
    g = grid_mass(flow, (-6.0, 6.0), steps=3, n_grid=200, n_samples=5000)
    assert not g.normalised
    assert abs(g.mass - 1.0) > 0.05  # the quadrature's density, not a density


def test_refinement_tolerance_is_the_larger_of_the_floor_and_the_se():
    assert refinement_tolerance(0.001) == 0.02
    assert refinement_tolerance(0.05) == 0.05
    with pytest.raises(ValueError, match="abs_tol"):
        refinement_tolerance(0.1, abs_tol=0.0)


@pytest.mark.parametrize("bad, match", [
    (dict(x=np.zeros((1, 2))), "x must have shape"),
    (dict(x=np.full((5, 2), np.nan)), "x contains NaN"),
    (dict(x=np.zeros((5, 3))), "x must have shape"),
    (dict(x=np.zeros((5, 2)), factors=(4,)), "factors"),
    (dict(x=np.zeros((5, 2)), factors=(4, 2)), "increasing"),
    (dict(x=np.zeros((5, 2)), steps=0), "steps"),
    (dict(x=np.zeros((5, 2)), log_p=np.zeros(4)), "log_p"),
    (dict(x=np.zeros((5, 2)), log_p=np.full(5, np.nan)), "log_p"),
])
def test_nll_refinement_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        nll_refinement(_flow(DiagLinear([0.1, 0.1]), 2), **bad)


@pytest.mark.parametrize("kw, match", [
    (dict(box=(1.0, -1.0)), "lo < hi"), (dict(box=(0.0,)), "box"),
    (dict(box=(-1.0, 1.0), n_grid=7), "even"), (dict(box=(-1.0, 1.0), n_samples=10), "n_samples"),
])
def test_grid_mass_rejects_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        grid_mass(_flow(DiagLinear([0.1, 0.1]), 2), **kw)


def test_grid_mass_needs_two_dimensions():
    with pytest.raises(ValueError, match="2-D"):
        grid_mass(_flow(DiagLinear([0.1, 0.1, 0.1]), 2), (-1.0, 1.0))


def test_step_control_doubles_the_count_until_the_gap_is_within_tolerance():
    cfg = FlowConfig(step_tol=1e-3, max_steps=48)
    x = torch.randn(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    blind = Block(StageBlind(1.5, 3), steps=3, div="autograd")
    assert step_gap(blind, x, quadratic_potential, 3) > 0.1
    events: list[dict] = []
    _control_steps(blind, x, cfg, quadratic_potential, 7, events)
    assert blind.steps > 3 and events[-1]["it"] == 7
    assert events[-1]["ok"] == (events[-1]["gap"] <= 1e-3)
    assert events[-1]["ok"] or blind.steps == 48
    smooth = Block(DiagLinear([0.2, -0.1]), steps=3, div="autograd")
    _control_steps(smooth, x, cfg, quadratic_potential, 0, events)
    assert smooth.steps == 3 and events[-1]["ok"]


def test_train_flow_records_step_checks_and_resumes_with_the_controlled_counts(tmp_path):
    cfg = FlowConfig(n_blocks=2, iters=40, batch=64, n_train=600, step_check_every=10,
                     step_tol=1e-6, max_steps=12)  # a tolerance that forces doubling
    data = Toy2D("moons")
    ck = tmp_path / "ck.pt"
    tr = train_flow(cfg, data, n_eval=200, n_residual=50, checkpoint=ck, show_progress=False)
    assert len(tr.step_checks) == 2 and all(len(c) == 4 for c in tr.step_checks)
    assert all(b.steps > cfg.steps for b in tr.flow.blocks)
    assert [h["steps"] for h in tr.history[0]][-1] >= cfg.steps
    again = train_flow(cfg, data, n_eval=200, n_residual=50, checkpoint=ck, show_progress=False)
    assert [b.steps for b in again.flow.blocks] == [b.steps for b in tr.flow.blocks]
    assert again.step_checks == tr.step_checks
    off = train_flow(FlowConfig(n_blocks=1, iters=20, batch=64, n_train=300,
                                step_check_every=0), data, n_eval=100, show_progress=False)
    assert off.step_checks == [[]] and off.flow.blocks[0].steps == 3


def test_log_prob_defaults_to_the_reporting_count_not_the_training_count():
    cfg = FlowConfig(n_blocks=1, iters=10, batch=32, n_train=200, steps=2, eval_steps=8,
                     step_check_every=0)
    tr = train_flow(cfg, Toy2D("moons"), n_eval=50, show_progress=False)
    f = tr.flow.evaluation_copy()
    x = torch.as_tensor(Toy2D("moons").sample(20, np.random.default_rng(0)))
    assert torch.equal(f.log_prob(x), f.log_prob(x, steps=8))
    assert not torch.equal(f.log_prob(x), f.log_prob(x, steps=2))


@pytest.mark.parametrize("kw, match", [
    (dict(step_tol=0.0), "step_tol"), (dict(step_check_every=-1), "step_check_every"),
    (dict(max_steps=2), "max_steps"), (dict(step_check_every=1.5), "step_check_every"),
])
def test_flow_config_validates_the_step_control(kw, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**kw)
