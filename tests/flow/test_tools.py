"""theory.flow tools: the potential object, scoped torch threads, Jacobian norms, typed per-block
diagnostics, the flow KL, the debiased sample W2² and the sample block loss.

Oracles: analytic gradients, numpy's spectral norm, torch.autograd.functional.jacobian, the
Gaussian KL closed form, exact moment identities of affine maps.
"""

import dataclasses

import numpy as np
import pytest
import torch

from tests.tolerances import (
    AFFINE_RESIDUAL_ATOL,
    BLOCK_LOSS_POINTS_RTOL,
    FLOW_ROUNDOFF_ATOL,
    KL_K3_MAX_REL_SE,
    MC_SIGMAS,
)
from theory import gaussian
from theory.flow import (
    BlockDiagnostics,
    Circle,
    Gaussian,
    JKOFlow,
    Potential,
    affine_block_loss,
    as_potential,
    block_loss_on_points,
    exact_residual,
    flow_kl,
    max_jacobian_norm,
    quadratic_potential,
    torch_threads,
    w2_null_band,
    w2_sq_debiased,
)


def _points(seed, n=50, d=3):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_quadratic_potential_value_and_gradient():
    y = _points(0)
    torch.testing.assert_close(quadratic_potential(y), 0.5 * (y**2).sum(1), rtol=0,
                               atol=FLOW_ROUNDOFF_ATOL)
    assert torch.equal(quadratic_potential.gradient(y), y)


def test_autograd_gradient_of_a_potential_matches_the_analytic_one():
    y = _points(1)
    quartic = Potential(lambda z: (z**4).sum(1) / 4 + z[:, 0] * z[:, 1])
    ref = y**3
    ref[:, 0] += y[:, 1]
    ref[:, 1] += y[:, 0]
    torch.testing.assert_close(quartic.gradient(y), ref, rtol=0, atol=FLOW_ROUNDOFF_ATOL)
    plain = as_potential(lambda z: 0.5 * (z * z).sum(1))  # a callable gets autograd's gradient
    torch.testing.assert_close(plain.gradient(y), y, rtol=0, atol=FLOW_ROUNDOFF_ATOL)
    assert as_potential(quartic) is quartic


def test_exact_residual_uses_the_potential_gradient():
    # target e^{-V} with V(y) = |y - c|²/2 (q = N(c, I)); from ρ = N(m, I) the exact JKO step
    # keeps the covariance I and moves the mean to c + (m - c)/(1 + γ) (then ξ = 0 identically)
    c, m, gam = np.array([1.0, 2.0]), np.array([4.0, -1.0]), 0.5
    shift = torch.as_tensor(c + (m - c) / (1 + gam) - m)
    x = torch.as_tensor(Gaussian(m, np.eye(2)).sample(500, np.random.default_rng(0)))
    score = -(x - torch.as_tensor(m))
    ct = torch.as_tensor(c)
    pot = Potential(lambda z: 0.5 * ((z - ct) ** 2).sum(1))  # gradient by autograd

    def block(z):
        return z + shift, torch.zeros(z.shape[0], dtype=z.dtype)

    assert exact_residual(block, x, score, gamma=gam, potential=pot).eps < AFFINE_RESIDUAL_ATOL
    # the default potential (target N(0, I)) sees the same map as far from optimal
    assert exact_residual(block, x, score, gamma=gam).eps > 1.0


def test_torch_threads_restores_the_previous_count_also_on_error():
    before = torch.get_num_threads()
    with torch_threads(1) as old:
        assert torch.get_num_threads() == 1 and old == before
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_max_jacobian_norm_of_a_linear_map_is_its_spectral_norm():
    a = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, -3.0], [0.5, 0.0, 1.0]])
    at = torch.as_tensor(a)
    got = max_jacobian_norm(lambda z: z @ at.T, _points(2))
    assert got == pytest.approx(np.linalg.norm(a, 2), rel=0, abs=FLOW_ROUNDOFF_ATOL)


def test_max_jacobian_norm_of_a_nonlinear_map_matches_per_row_jacobians():
    w = torch.as_tensor(np.array([[1.0, -2.0, 0.5], [0.3, 0.7, 1.1], [-1.0, 0.2, 0.4]]))

    def fn(z):
        return torch.tanh(z @ w.T) + z**2

    y = _points(3, n=20)
    ref = max(float(torch.linalg.matrix_norm(torch.autograd.functional.jacobian(
        lambda r: fn(r[None])[0], row), ord=2)) for row in y)
    assert max_jacobian_norm(fn, y) == pytest.approx(ref, rel=0, abs=FLOW_ROUNDOFF_ATOL)


def test_block_diagnostics_as_dict_leaves_out_what_was_not_computed():
    d = BlockDiagnostics(gamma=0.5, v_term=1.0, div_term=0.0, w_term=0.1, movement=0.2,
                         inv_err=1e-8, loss=1.1, logdet_step_err=1e-9, kl=0.3, kl_se=0.01,
                         block=2)
    out = d.as_dict()
    assert out["block"] == 2 and out["kl"] == 0.3 and "eps_exact" not in out
    assert set(out) | {"kl_naive", "kl_naive_se", "eps_exact", "eps_sq_exact", "eps_sq_exact_se",
                       "jac_asym_ratio", "eps_sq_authors", "eps_sq_authors_quirk",
                       "eps_sq_hybrid"} == {
        f.name for f in dataclasses.fields(BlockDiagnostics)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.kl = 0.0


def test_flow_kl_of_the_empty_flow_is_kl_of_the_data_to_n01(rng):
    # F = identity: KL(P‖q̂) = KL(P‖N(0, I)), known in closed form for Gaussian P
    m, cov = np.array([0.4, -0.2]), np.array([[1.3, 0.2], [0.2, 0.8]])
    p = Gaussian(m, cov)
    x = torch.as_tensor(p.sample(20000, rng))
    est, se = flow_kl(JKOFlow(), p, x)
    exact = gaussian.kl(m, cov)
    assert abs(est - exact) < MC_SIGMAS * se and se < KL_K3_MAX_REL_SE * exact


def test_debiased_w2_sq_of_a_law_with_itself_is_unbiased_zero(rng):
    # E W2²(P̂, Q̂) = E W2²(P̂, P̂') when P = Q, so the debiased estimate has mean exactly 0,
    # while the plug-in W2² is biased up by the null floor² (so the test can fail)
    def sample(n, r):
        return r.standard_normal((n, 2))

    mean, se = w2_sq_debiased(sample, sample, 200, 8, rng)
    floor = w2_null_band(sample, 200, 3, rng)[0]
    assert abs(mean) < MC_SIGMAS * se < floor**2


def test_block_loss_on_points_equals_the_affine_loss_at_the_sample_moments(rng):
    # for y = A x + b the sample means of |y|² and |y - x|² are exact functions of the sample
    # mean and (ddof = 0) covariance, so the two routes agree to round-off
    x = Gaussian([1.0, 2.0], [[1.5, 0.3], [0.3, 0.7]]).sample(1000, rng)
    a, b = np.array([[0.8, 0.1], [0.1, 0.6]]), np.array([-0.5, 0.2])
    div = -np.linalg.slogdet(a)[1]
    got = block_loss_on_points(x, x @ a.T + b, gamma=0.7, div=div)
    ref = affine_block_loss(x.mean(0), np.cov(x, rowvar=False, ddof=0), a, b, gamma=0.7)
    assert got == pytest.approx(ref, rel=BLOCK_LOSS_POINTS_RTOL)


@pytest.mark.parametrize("call, match", [
    (lambda: Circle().sample(0, np.random.default_rng(0)), "n"),
    (lambda: Circle().atoms(2.5), "m"),
    (lambda: w2_sq_debiased(Circle().sample, Circle().sample, 10, 1, np.random.default_rng(0)),
     "reps"),
    (lambda: as_potential(3.0), "potential"),
    (lambda: torch_threads(0).__enter__(), "n"),
    (lambda: max_jacobian_norm(lambda z: z, torch.zeros(3)), "y"),
    (lambda: block_loss_on_points(np.zeros((3, 2)), np.zeros((4, 2)), gamma=1.0), "x and y"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
