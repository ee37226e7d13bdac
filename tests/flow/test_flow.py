"""Unit tests of theory.flow without training: integrator, divergence, inverse, densities, KL.

Oracles are independent of the code under test: torch.autograd.functional.jacobian for the
divergence, scipy.linalg.expm for RK4 on a linear field, a quadrature grid for normalisation,
theory.gaussian closed forms for KL and the Assumption-1 residual.
"""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from tests.tolerances import (
    AFFINE_RESIDUAL_ATOL,
    AUTHORS_EXACT_SQ_ATOL,
    BLOCK_LOSS_ATOL,
    EULER_INV_ERR_RATIO,
    FLOW_ROUNDOFF_ATOL,
    FWD_BWD_LOGDENSITY_ATOL,
    GRID_MASS_ATOL,
    INEQ_RTOL,
    KDE_BIAS_MIN,
    KL_K3_MAX_REL_SE,
    KL_Q_SAMPLES_MAX_REL_SE,
    MC_SIGMAS,
    OU_MASS_ATOL,
    RK4_LINEAR_ATOL_8,
    ROUNDTRIP_LOGDET_ATOL,
    ROUNDTRIP_RTOL,
    SCORE_CHAIN_ATOL,
    SUPPORT_ATOL,
    W2_SHIFT_ATOL,
)
from theory import gaussian
from theory.flow import (
    Block,
    FlowConfig,
    Gaussian,
    GaussianMixture,
    JKOFlow,
    Toy2D,
    VelocityField,
    affine_block_loss,
    authors_residual,
    divergence,
    exact_residual,
    gamma_schedule,
    integrate,
    kl_from_q_samples,
    kl_k3,
    optimal_block_loss,
    ou_smooth,
    w2_emd,
)

#: the random block must move points this far (RMS) for the round-trip test to be able to fail
MIN_MOVEMENT = 0.3
#: the toys must be spread out (sd of each coordinate) and not collapsed to a point
TOY_MIN_SD = 0.3


def _random_block(seed, d=2, scale=1.0, steps=4, time_dependent=True):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        f = VelocityField(d, (16, 16), "tanh", time_dependent=time_dependent, zero_init=False)
    with torch.no_grad():
        for p in f.parameters():
            p.mul_(scale)
    return Block(f, steps=steps).double()


class _Linear(torch.nn.Module):
    """f(x, t) = x B^T + c: the RK4 oracle (exact solution by expm)."""

    def __init__(self, b, c):
        super().__init__()
        self.d = b.shape[0]
        self.b = torch.as_tensor(b)
        self.c = torch.as_tensor(c)

    def forward(self, x, t):
        return x @ self.b.T + self.c


@pytest.mark.parametrize("time_dependent", [True, False])
def test_exact_divergence_equals_trace_of_autograd_jacobian(time_dependent):
    blk = _random_block(1, d=3, time_dependent=time_dependent)
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    t = torch.full((7, 1), 0.3, dtype=torch.float64)
    xs = x.clone().requires_grad_(True)
    div = divergence(blk.field(xs, t), xs, mode="autograd")
    for i in range(7):
        jac = torch.autograd.functional.jacobian(lambda z: blk.field(z[None], t[:1])[0], x[i])
        assert abs(float(div[i]) - float(torch.trace(jac))) < FLOW_ROUNDOFF_ATOL


def test_hutchinson_averaged_over_all_sign_probes_is_exact():
    # E_v[v^T J v] over the 4 Rademacher vectors in 2-D equals tr J exactly.
    blk = _random_block(3)
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    t = torch.zeros(5, 1, dtype=torch.float64)
    xs = x.clone().requires_grad_(True)
    f = blk.field(xs, t)
    exact = divergence(f, xs, mode="autograd")
    signs = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    est = sum(divergence(f, xs, mode="hutchinson",
                         probe=torch.tensor(s, dtype=torch.float64).expand(5, 2)) for s in signs)
    torch.testing.assert_close(est / 4, exact, atol=FLOW_ROUNDOFF_ATOL, rtol=0)


@pytest.mark.parametrize("steps", [8, 32])
def test_rk4_on_linear_field_matches_expm_and_logdet_is_trace(steps):
    b = np.array([[-0.7, 0.3], [0.1, -0.4]])
    c = np.array([0.5, -1.0])
    x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y, ell = integrate(_Linear(b, c), x, steps=steps)
    e = scipy.linalg.expm(b)
    exact = x.numpy() @ e.T + np.linalg.solve(b, (e - np.eye(2)) @ c)
    # RK4 global error ~ C h^4 with |B| < 1: (1/8)^4 ≈ 2.4e-4 times a small constant
    assert np.abs(y.numpy() - exact).max() < RK4_LINEAR_ATOL_8 * (8 / steps) ** 4
    np.testing.assert_allclose(ell.numpy(), np.trace(b), atol=FLOW_ROUNDOFF_ATOL)


@pytest.mark.parametrize("steps", [3, 6])
def test_inverse_after_forward_is_identity_and_logdets_cancel(steps):
    blk = _random_block(6, scale=1.5, steps=steps)
    x = 2.0 * torch.randn(2000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    y, ell = blk(x)
    back, ell_inv = blk.inverse(y)
    move = float(((y - x) ** 2).sum(1).mean().sqrt())
    assert move > MIN_MOVEMENT  # the map is far from the identity, so the test can fail
    # forward-then-backward RK4 cancels the leading error: O(S (1/S)^6) (docs/numerics.md §6.4)
    assert float(((back - x) ** 2).sum(1).mean().sqrt()) < ROUNDTRIP_RTOL * move
    assert float((ell + ell_inv).abs().max()) < ROUNDTRIP_LOGDET_ATOL


def test_euler_inverse_is_a_real_inversion_error():
    blk = _random_block(6, scale=1.5, steps=3)
    x = 2.0 * torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    y, _ = blk(x)
    rk = float(((blk.inverse(y, logdet=False)[0] - x) ** 2).sum(1).mean().sqrt())
    eu = float(((blk.inverse(y, logdet=False, method="euler")[0] - x) ** 2).sum(1).mean().sqrt())
    assert eu > EULER_INV_ERR_RATIO * rk


def test_generated_log_density_integrates_to_one_on_a_grid():
    flow = JKOFlow()
    for s in (11, 12):
        flow.append(_random_block(s, scale=1.5, steps=8), 0.5)
    g = np.linspace(-9.0, 9.0, 241)
    xx, yy = np.meshgrid(g, g)
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    dens = torch.exp(flow.log_prob(pts)).numpy().reshape(xx.shape)
    mass = np.trapezoid(np.trapezoid(dens, g, axis=1), g)
    # tails beyond |x| = 9 are < 1e-12; trapezoid error at h = 0.075 on a smooth density ~1e-4;
    # log-det vs map consistency of RK4 with 8 steps ~1e-5
    assert abs(mass - 1.0) < GRID_MASS_ATOL


def test_forward_and_backward_generated_density_agree():
    flow = JKOFlow()
    flow.append(_random_block(21, scale=1.5, steps=6), 0.5)
    x, logq_back, _ = flow.sample(400, generator=torch.Generator().manual_seed(1))
    logq_fwd = flow.log_prob(x)
    assert float((logq_back - logq_fwd).abs().max()) < FWD_BWD_LOGDENSITY_ATOL


def test_kl_estimators_against_gaussian_closed_form(rng):
    n, shift = 20000, 0.3
    p = Gaussian([shift, 0.0], np.eye(2))
    q = Gaussian([0.0, 0.0], np.eye(2))
    exact = gaussian.kl([shift, 0.0], np.eye(2))
    xp = torch.as_tensor(p.sample(n, rng))
    est, se = kl_k3(p.log_prob(xp).numpy(), q.log_prob(xp).numpy())
    assert abs(est - exact) < MC_SIGMAS * se and se < KL_K3_MAX_REL_SE * exact
    xq = torch.as_tensor(q.sample(n, rng))
    est2, se2 = kl_from_q_samples(p.log_prob(xq).numpy(), q.log_prob(xq).numpy())
    assert abs(est2 - exact) < MC_SIGMAS * se2 and se2 < KL_Q_SAMPLES_MAX_REL_SE * exact


def test_exact_residual_is_zero_on_the_exact_affine_jko_map(rng):
    m, cov, gam = np.array([1.0, -0.5]), np.array([[2.0, 0.8], [0.8, 1.0]]), 0.5
    t = gaussian.jko_map(m, cov, gamma=gam)
    a = torch.as_tensor(t.matrix)
    c = torch.as_tensor(t.offset)
    ld = torch.tensor(float(np.linalg.slogdet(t.matrix)[1]), dtype=torch.float64)
    x = torch.as_tensor(Gaussian(m, cov).sample(3000, rng))
    score = -(x - torch.as_tensor(m)) @ torch.as_tensor(np.linalg.inv(cov))
    res = exact_residual(lambda z: (z @ a.T + c, ld.expand(z.shape[0])), x, score, gamma=gam)
    assert res.eps < AFFINE_RESIDUAL_ATOL


@pytest.mark.parametrize("perturb", [0.05, 0.3])
def test_exact_residual_matches_gaussian_foc_residual_for_a_perturbed_map(rng, perturb):
    m, cov, gam = np.array([1.0, -0.5]), np.array([[2.0, 0.8], [0.8, 1.0]]), 0.5
    t = gaussian.jko_map(m, cov, gamma=gam)
    a_np = t.matrix + perturb * np.array([[1.0, 0.2], [0.2, -0.5]])  # symmetric PD: an OT map
    mu = t(m) + perturb * np.array([0.5, 1.0])
    c_np = mu - a_np @ m
    a, c = torch.as_tensor(a_np), torch.as_tensor(c_np)
    ld = torch.tensor(float(np.linalg.slogdet(a_np)[1]), dtype=torch.float64)
    n = 40000
    x = torch.as_tensor(Gaussian(m, cov).sample(n, rng))
    score = -(x - torch.as_tensor(m)) @ torch.as_tensor(np.linalg.inv(cov))
    res = exact_residual(lambda z: (z @ a.T + c, ld.expand(z.shape[0])), x, score, gamma=gam)
    exact = gaussian.foc_residual(m, cov, mu, a_np @ cov @ a_np, gamma=gam)
    sq = (res.xi**2).sum(1).numpy()
    assert abs(res.eps_sq - exact**2) < MC_SIGMAS * sq.std() / math.sqrt(n)


def test_authors_estimator_uses_exact_score_and_emd(rng):
    # with the exact score and the exact paired samples, the estimator is the exact residual (0)
    x0 = rng.standard_normal((300, 2)) + 3.0
    y = x0 - 1.0  # exact JKO step N((3,3),I) -> N((2,2),I), gamma = 0.5
    out = authors_residual(y, x0, gamma=0.5, score=-(y - 2.0))
    assert out["eps_sq"] < AUTHORS_EXACT_SQ_ATOL
    kde = authors_residual(y, x0, gamma=0.5, h=0.1)  # KDE score: biased, positive
    assert kde["eps_sq"] > KDE_BIAS_MIN


def test_optimal_block_loss_is_the_authors_7():
    lo = optimal_block_loss([3.0, 3.0], np.eye(2), gamma=0.5)
    assert lo == pytest.approx({"v": 5.0, "div": 0.0, "w": 2.0, "total": 7.0},
                              abs=BLOCK_LOSS_ATOL)
    ident = affine_block_loss([3.0, 3.0], np.eye(2), np.eye(2), np.zeros(2), gamma=0.5)
    # V = (18 + 2)/2, no movement
    assert ident["total"] == pytest.approx(10.0, rel=0, abs=BLOCK_LOSS_ATOL)


def test_w2_emd_of_a_shift(rng):
    x = rng.standard_normal((300, 2))
    assert w2_emd(x, x + np.array([0.4, 0.3])) == pytest.approx(0.5, abs=W2_SHIFT_ATOL)


def test_ou_smooth_mixture_normalised(rng):
    mix = ou_smooth(rng.standard_normal((5, 2)), 0.1)
    g = np.linspace(-7, 7, 281)
    xx, yy = np.meshgrid(g, g)
    lp = mix.log_prob(torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1)))
    dens = torch.exp(lp).numpy().reshape(xx.shape)
    assert np.trapezoid(np.trapezoid(dens, g, axis=1), g) == pytest.approx(1.0, abs=OU_MASS_ATOL)


@pytest.mark.parametrize("call, match", [
    (lambda: Block(VelocityField(2), steps=0), "steps"),
    (lambda: VelocityField(2, activation="relu"), "activation"),
    (lambda: VelocityField(0), "d"),
    (lambda: integrate(lambda x, t: x, torch.zeros(3, 2), method="midpoint"), "method"),
    (lambda: integrate(lambda x, t: x, torch.zeros(3), steps=1), "x"),
    (lambda: Block(VelocityField(2))(torch.zeros(4, 3)), "x"),
    (lambda: FlowConfig(dtype="float16"), "dtype"),
    (lambda: FlowConfig(iters=-1), "iters"),
    (lambda: gamma_schedule("cubic", 3, 0.5), "kind"),
    (lambda: gamma_schedule("constant", 3, -0.5), "gamma"),
    (lambda: gamma_schedule("given", 3, 0.5, gammas=(0.1,)), "gammas"),
    (lambda: Gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, -1.0]]), "cov"),
    (lambda: GaussianMixture(np.zeros((2, 2)), -1.0, 1.0), "stds"),
    (lambda: Toy2D("spiral-galaxy"), "name"),
    (lambda: ou_smooth(np.zeros((3, 2)), 0.0), "delta"),
    (lambda: kl_k3([0.0, 1.0], [0.0]), "same length"),
    (lambda: exact_residual(lambda z: (z, z[:, 0]), torch.zeros(3, 2), torch.zeros(3, 2),
                            gamma=0.0), "gamma"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_geometric_schedule_is_jko_iflow_2d():
    g = gamma_schedule("geometric", 8, 0.25, 1.4)
    np.testing.assert_allclose(g, [0.25, 0.35, 0.49, 0.686, 0.9604, 1.34456, 1.882384, 2.6353376],
                               rtol=0, atol=FLOW_ROUNDOFF_ATOL)


@pytest.mark.parametrize("gammas", [(0.5,), (0.25, 0.35, 0.49), (1.0, 2.0)])
def test_finite_n_kl_bound_holds_on_exact_gaussian_trajectories(gammas):
    from theory.flow import finite_n_kl_bound, jko_trajectory

    m, cov = [3.0, -1.0], [[4.0, 1.5], [1.5, 1.0]]
    traj = jko_trajectory(m, cov, gammas)
    bound = finite_n_kl_bound(gammas, gaussian.w2(m, cov), 0.0)
    assert traj["kl"][-1] <= bound * (1 + INEQ_RTOL)


@pytest.mark.parametrize("law", [Toy2D("moons"), Toy2D("checkerboard"), Toy2D("rose")])
def test_toys_sample_finite_2d_points(law, rng):
    x = law.sample(500, rng)
    assert x.shape == (500, 2) and np.all(np.isfinite(x)) and x.std(0).min() > TOY_MIN_SD


def test_circle_and_segment_have_no_density_and_lie_on_support(rng):
    from theory.flow import Circle, Segment

    c = Circle(2.0).sample(100, rng)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.0, atol=SUPPORT_ATOL)
    s = Segment([0.0, 0.0], [1.0, 2.0]).sample(100, rng)
    np.testing.assert_allclose(s[:, 1], 2.0 * s[:, 0], atol=SUPPORT_ATOL)
    assert not Circle().has_density and not Segment([0.0], [1.0]).has_density


def test_score_chain_through_two_blocks_matches_backward_density_gradient():
    # independent oracle: ∇_y [log ρ_0(S(y)) + log det ∇S(y)] through the backward integration
    blocks = [_random_block(s, scale=1.5, steps=6) for s in (1, 2)]
    p = Gaussian([1.0, -0.5], [[2.0, 0.8], [0.8, 1.0]])
    x = torch.as_tensor(p.sample(200, np.random.default_rng(0)))
    xg = x.clone().requires_grad_(True)
    score = torch.autograd.grad(p.log_prob(xg).sum(), xg)[0]
    y = x
    for b in blocks:
        r = exact_residual(lambda z, b=b: b(z, create_graph=True), y, score, gamma=0.5)
        y, score = r.y, r.score
    yy = y.clone().requires_grad_(True)
    z, ell = yy, torch.zeros(200, dtype=torch.float64)
    for b in reversed(blocks):
        z, lk = b.inverse(z, create_graph=True)
        ell = ell + lk
    ref = torch.autograd.grad((p.log_prob(z) + ell).sum(), yy)[0]
    # forward/backward RK4 (6 steps) inconsistency ~1e-7 (measured 1.4e-7 against |score| ~ 5)
    assert float((score - ref).abs().max()) < SCORE_CHAIN_ATOL
