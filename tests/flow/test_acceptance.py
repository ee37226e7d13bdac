"""Per-block acceptance on held-out data (theory.flow._acceptance, train_flow's ``accept``).

Oracles that share no code with the block integrator: a scaling map T x = a x of isotropic
Gaussian points has the population gain over the identity in closed form from the second moment,

    G(a) = d s²(1 − a²)/2 + d log a − (a − 1)² d s²/(2γ)    (V = |x|²/2, x ~ N(0, s² I_d)),

and its maximiser is the exact JKO step's scale (theory.gaussian.jko_step, an independent
solver). A zero velocity field is exactly the identity.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from torch import nn

from theory import gaussian
from theory.flow import (
    Block,
    FlowConfig,
    Gaussian,
    block_gain,
    make_block,
    std_normal_log_prob,
    train_flow,
    zero_block,
)
from theory.flow._potential import quadratic_potential

D, S, GAMMA = 2, 1.7, 0.5
#: Monte Carlo agreement in standard errors (a Gaussian mean: |z| > 4 has probability 6e-5).
MC_SIGMAS = 4.0


class Scaling(nn.Module):
    """A block-like map T x = a x with log det ∇T = d log a (any ``steps``)."""

    def __init__(self, a: float):
        super().__init__()
        self.a = a

    def forward(self, x, steps=None):
        return self.a * x, torch.full((x.shape[0],), x.shape[1] * math.log(self.a),
                                      dtype=x.dtype)


def _gain(a: float, s: float = S, gamma: float = GAMMA, d: int = D) -> float:
    return d * s**2 * (1 - a**2) / 2 + d * math.log(a) - (a - 1) ** 2 * d * s**2 / (2 * gamma)


def _points(n: int = 20000, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).normal(scale=S, size=(n, D)))


@pytest.mark.parametrize("a", [0.55, 0.8, 1.0 + 1e-9, 1.3])
def test_gain_of_a_scaling_map_matches_the_closed_form(a):
    g = block_gain(Scaling(a), _points(), gamma=GAMMA, potential=quadratic_potential, steps=2)
    assert abs(g.gain - _gain(a)) < MC_SIGMAS * g.gain_se + 1e-12
    assert g.gain == g.gain_coarse  # an exact map: no quadrature effect
    # NLL change = −gain − W-term, per point: its mean from the second moment
    nll = D * S**2 * (a**2 - 1) / 2 - D * math.log(a)
    assert abs(g.nll_change - nll) < MC_SIGMAS * g.nll_change_se + 1e-12
    assert g.accepted == (g.gain > 2.0 * g.gain_se)


def test_the_exact_jko_scale_maximises_the_gain_and_is_accepted():
    _, cov = gaussian.jko_step(np.zeros(D), S**2 * np.eye(D), gamma=GAMMA)
    a_star = math.sqrt(cov[0, 0]) / S
    best = minimize_scalar(lambda a: -_gain(a), bounds=(0.05, 2.0), method="bounded",
                           options={"xatol": 1e-10})
    assert best.x == pytest.approx(a_star, abs=1e-6)
    g = block_gain(Scaling(a_star), _points(), gamma=GAMMA, potential=quadratic_potential,
                   steps=1, index=3)
    assert g.accepted and g.block == 3 and g.nll_change < 0
    # the expanding map does worse than the identity: rejected
    bad = block_gain(Scaling(1.4), _points(), gamma=GAMMA, potential=quadratic_potential,
                     steps=1)
    assert bad.gain < 0 and not bad.accepted


def test_zero_block_is_exactly_the_identity_and_is_rejected():
    blk = make_block(FlowConfig(seed=3)).to(torch.float64)
    nn.init.normal_([m for m in blk.field.modules() if isinstance(m, nn.Linear)][-1].weight)
    x = _points(500)
    y, ell = blk(x, steps=3)
    assert not torch.equal(y, x)
    zero_block(blk)
    assert blk.steps == 1
    y, ell = blk(x, steps=5)
    assert torch.equal(y, x) and torch.equal(ell, torch.zeros_like(ell))
    g = block_gain(blk, x, gamma=GAMMA, potential=quadratic_potential, steps=3)
    assert g.gain == 0.0 and g.gain_se == 0.0 and not g.accepted


class StageBlind(nn.Module):
    """v = c sin²(π S t) x: vanishes at the RK4 nodes of S steps (an exploitable quadrature)."""

    def __init__(self, c: float, s: int):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c, dtype=torch.float64))
        self.s, self.d = s, 2

    def forward(self, x, t):
        return self.c * torch.sin(math.pi * self.s * t) ** 2 * x


def test_gain_is_judged_at_twice_the_step_count():
    blk = Block(StageBlind(-0.6, 3), steps=3, div="autograd")
    g = block_gain(blk, _points(4000), gamma=GAMMA, potential=quadratic_potential, steps=3)
    # exact map: x -> e^{c/2} x; the 3-step quadrature sees another map and another trace
    assert abs(g.gain - g.gain_coarse) > 10 * g.gain_se
    assert abs(g.gain - _gain(math.exp(-0.3))) < 0.05 * abs(_gain(math.exp(-0.3)))
    assert g.accepted == (g.gain > 2 * g.gain_se)


@pytest.mark.parametrize("bad", [dict(gamma=0.0), dict(steps=0), dict(threshold=-1.0)])
def test_block_gain_rejects_bad_arguments(bad):
    kw = dict(gamma=GAMMA, potential=quadratic_potential, steps=1) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        block_gain(Scaling(0.9), _points(100), **kw)
    with pytest.raises(ValueError, match="x must be"):
        block_gain(Scaling(0.9), _points(100)[:1], gamma=GAMMA,
                   potential=quadratic_potential, steps=1)


def test_accept_field_is_validated():
    with pytest.raises(ValueError, match="accept"):
        FlowConfig(accept="maybe")
    with pytest.raises(ValueError, match="accept_se"):
        FlowConfig(accept_se=0.0)


CFG = FlowConfig(n_blocks=3, iters=0, batch=64, n_train=500, seed=1)
KW = dict(n_eval=200, n_residual=20, show_progress=False)
DATA = Gaussian([1.5, 0.0], np.eye(2))


@pytest.mark.parametrize("policy, attempts", [("reject", 1), ("retrain", 2)])
def test_untrained_blocks_are_rejected_and_become_the_identity(policy, attempts):
    tr = train_flow(dataclasses.replace(CFG, accept=policy), DATA, **KW)
    assert tr.accepted_blocks == []
    assert [a["block"] for a in tr.acceptance] == [1, 2, 3]
    assert all(a["identity"] and a["attempts"] == attempts for a in tr.acceptance)
    x = torch.as_tensor(DATA.sample(50, np.random.default_rng(0)))
    lp = tr.flow.evaluation_copy().log_prob(x)
    assert torch.allclose(lp, std_normal_log_prob(x), atol=0, rtol=0)
    kls = [d.kl for d in tr.diagnostics]
    assert kls[0] == kls[1] == kls[2]  # identity blocks change nothing


def test_trained_blocks_are_accepted_and_acceptance_off_records_nothing(tmp_path):
    cfg = dataclasses.replace(CFG, n_blocks=2, iters=40, lr=5e-3)
    tr = train_flow(cfg, DATA, checkpoint=tmp_path / "ck.pt", **KW)
    assert tr.accepted_blocks == [1, 2] or tr.acceptance[1]["identity"]
    assert tr.acceptance[0]["accepted"] and tr.acceptance[0]["gain"] > 0
    assert tr.acceptance[0]["nll_change"] < 0
    # resumed from the checkpoint: the same records
    again = train_flow(cfg, DATA, checkpoint=tmp_path / "ck.pt", **KW)
    assert again.acceptance == tr.acceptance
    off = train_flow(dataclasses.replace(cfg, accept="off"), DATA, **KW)
    assert off.acceptance == [] and off.accepted_blocks == [1, 2]


def test_a_given_held_out_set_drives_the_diagnostics_and_the_acceptance():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 2)) + [1.5, 0.0]
    held = rng.normal(size=(150, 2)) + [1.5, 0.0]
    cfg = dataclasses.replace(CFG, n_blocks=1, iters=30, lr=5e-3)
    tr = train_flow(cfg, x, held_out=held, n_residual=20, show_progress=False)
    assert tr.acceptance[0]["n"] == 150
    assert np.array_equal(tr.final_state.x.shape, (150, 2))
    with pytest.raises(ValueError, match="n_eval or held_out"):
        train_flow(cfg, x, held_out=held, n_eval=10, show_progress=False)
    with pytest.raises(ValueError, match="held_out"):
        train_flow(cfg, x, held_out=held[:1], show_progress=False)
    with pytest.raises(ValueError, match="NaN"):
        train_flow(cfg, x, held_out=np.full((5, 2), np.nan), show_progress=False)
