"""Small real training runs of the JKO flow checked against the Gaussian closed form (C9, C12, C13).

One block, ρ_0 = N((1, -0.5), [[2, .8], [.8, 1]]), γ = 0.5, 300 Adam iterations of batch 256 in
float32 (~15-30 s on 2 shared cores). numerics.md §6.5 measured RMS|T_θ - T*| = 4.8e-3 after 1500
iterations of batch 500; 5x fewer samples seen gives a few 1e-2, so the tolerances below are
0.05 for the map (numerics.md §6.6 CI plan), 0.25 for ε (derivative-level error, ~10x the map
error) and k·SE for Monte Carlo quantities.
"""

import numpy as np
import pytest
import torch

from theory import gaussian
from theory.flow import (
    FlowConfig,
    Gaussian,
    kl_from_q_samples,
    kl_k3,
    std_normal_log_prob,
    train_flow,
)
from theory.flow.reference import optimal_block_loss

torch.set_num_threads(1)

M0 = np.array([1.0, -0.5])
S0 = np.array([[2.0, 0.8], [0.8, 1.0]])
GAMMA = 0.5
TOL_MAP = 0.05  # RMS |T_θ - T*| after 300 iterations (numerics §6.5/§6.6)
TOL_EPS = 0.25  # ε is a derivative of the map error (numerics §6.5: ε ≈ 10x map error)


@pytest.fixture(scope="module")
def trained():
    cfg = FlowConfig(n_blocks=1, gamma=GAMMA, iters=300, batch=256, n_train=8000, seed=3)
    return cfg, train_flow(cfg, Gaussian(M0, S0), n_eval=4000, n_residual=1000,
                           show_progress=False)


def test_block_map_matches_closed_form_jko_map(trained):
    _, res = trained
    blk = res.flow.evaluation_copy().blocks[0]
    x = torch.as_tensor(Gaussian(M0, S0).sample(4000, np.random.default_rng(0)))
    y, ell = blk(x, steps=6)
    t = gaussian.jko_map(M0, S0, gamma=GAMMA)
    rms = float(np.sqrt(((y.numpy() - t(x.numpy())) ** 2).sum(1).mean()))
    assert rms < TOL_MAP
    # mean log-det vs log det A* (numerics §6.5 measured 7e-4 after 1500 iterations)
    assert abs(float(ell.mean()) - np.linalg.slogdet(t.matrix)[1]) < TOL_MAP


def test_loss_terms_near_exact_optimum(trained):
    _, res = trained
    d = res.diagnostics[0]
    opt = optimal_block_loss(M0, S0, gamma=GAMMA)
    # the trained loss is >= the optimum up to MC error of n_eval = 4000 points (sd of V ~ 1.5,
    # so SE ~ 0.025) and is close to it after training
    assert d["loss"] > opt["total"] - 0.1
    assert d["loss"] - opt["total"] < 0.1
    for key, k2 in (("v_term", "v"), ("div_term", "div"), ("w_term", "w")):
        assert abs(d[key] - opt[k2]) < 0.15


def test_residual_small_and_kl_matches_closed_form(trained):
    _, res = trained
    d = res.diagnostics[0]
    assert d["eps_exact"] < TOL_EPS
    m1, s1 = gaussian.jko_step(M0, S0, gamma=GAMMA)
    exact_kl = gaussian.kl(m1, s1)
    # the map error (< 0.05 RMS) moves KL by < ~0.1; MC SE from the estimator
    assert abs(d["kl_naive"] - exact_kl) < 0.1 + 5 * d["kl_naive_se"]
    assert d["inv_err"] < 1e-5  # forward-then-backward RK4, 6 steps (numerics §6.4)


def test_two_kl_estimates_of_generation_error_agree(trained):
    # C9: KL(P || q_hat) forward (data through F, k3) vs backward (generated points, backward density)
    _, res = trained
    flow = res.flow.evaluation_copy()
    p = Gaussian(M0, S0)
    x = torch.as_tensor(p.sample(20000, np.random.default_rng(1)))
    z, ell = flow(x, steps=6)
    fwd, fse = kl_k3(p.log_prob(x).numpy(), (std_normal_log_prob(z) + ell).numpy())
    xg, logq_gen, _ = flow.sample(20000, generator=torch.Generator().manual_seed(2), steps=6)
    bwd, bse = kl_from_q_samples(p.log_prob(xg).numpy(), logq_gen.numpy())
    assert abs(fwd - bwd) < 5 * np.hypot(fse, bse)
    m1, s1 = gaussian.jko_step(M0, S0, gamma=GAMMA)
    assert abs(fwd - gaussian.kl(m1, s1)) < 0.15  # k3 at KL ≈ 0.6: map error + 5 SE


def test_training_is_reproducible_and_resumes_from_checkpoint(tmp_path):
    cfg = FlowConfig(n_blocks=2, iters=15, batch=64, n_train=1000, seed=5)
    data = Gaussian([2.0, 0.0], np.eye(2))
    kw = dict(n_eval=300, n_residual=100, show_progress=False)
    a = train_flow(cfg, data, **kw)
    b = train_flow(cfg, data, **kw)
    for pa, pb in zip(a.flow.parameters(), b.flow.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.diagnostics == b.diagnostics
    other = train_flow(FlowConfig(n_blocks=2, iters=15, batch=64, n_train=1000, seed=6), data, **kw)
    assert not torch.equal(next(a.flow.parameters()), next(other.flow.parameters())) or \
        a.diagnostics != other.diagnostics
    # interrupted after block 1: truncate a full checkpoint, then resume
    ck = tmp_path / "flow.pt"
    train_flow(cfg, data, checkpoint=ck, **kw)
    saved = torch.load(ck, weights_only=False)
    saved.update(n_done=1, blocks=saved["blocks"][:1], history=saved["history"][:1])
    torch.save(saved, ck)
    c = train_flow(cfg, data, checkpoint=ck, **kw)
    for pa, pc in zip(a.flow.parameters(), c.flow.parameters(), strict=True):
        assert torch.equal(pa, pc)
    assert c.diagnostics == a.diagnostics


def test_hutchinson_training_runs_and_lowers_the_loss():
    from theory.flow import make_block, train_block

    cfg = FlowConfig(div="hutchinson", iters=40, batch=128)
    torch.manual_seed(0)
    blk = make_block(cfg)
    x = torch.as_tensor(Gaussian([2.0, 2.0], np.eye(2)).sample(2000, np.random.default_rng(0)),
                        dtype=torch.float32)
    hist = train_block(blk, x, gamma=0.5, iters=40, batch=128, lr=5e-3,
                       generator=torch.Generator().manual_seed(0))
    # identity start: loss = E|x|²/2 = 5; exact optimum 3.67 (V 2.78 + W 0.89 + div 0)
    assert hist[0]["loss"] > 4.5 and hist[-1]["loss"] < 4.0


@pytest.mark.slow
def test_three_blocks_follow_the_exact_jko_trajectory():
    cfg = FlowConfig(n_blocks=3, gamma=GAMMA, iters=800, batch=400, n_train=20000, seed=1)
    res = train_flow(cfg, Gaussian(M0, S0), n_eval=8000, n_residual=1000, show_progress=False)
    m, s = M0, S0
    for d in res.diagnostics:
        m, s = gaussian.jko_step(m, s, gamma=GAMMA)
        assert abs(d["kl_naive"] - gaussian.kl(m, s)) < 0.05 + 5 * d["kl_naive_se"]
        assert d["eps_exact"] < 0.15  # 800 iterations: ε ~ 10x map error ~ 1e-2
