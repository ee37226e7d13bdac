"""Tests of the exact Gaussian JKO step and the sub-steps beside it against independent oracles.

Oracles (none re-derives the formula under test):
- the first-order condition of the JKO step (:mod:`tests.gaussian.oracles`);
- brute-force minimisation of the JKO objective (:func:`theory.gaussian.jko_step_brute_force`:
  scipy BFGS with POT's Bures distance inside);
- Monte Carlo (fixed seeds, k-sigma bands) for the FOC residual norm and the explicit Euler push;
- scipy.linalg.expm (Van Loan block) and solve_ivp for the OU marginal.
"""

from __future__ import annotations

import numpy as np
import ot
import pytest
import scipy.linalg
import scipy.optimize
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies as S
from tests.gaussian.oracles import (
    brenier_to_factor,
    foc_of,
    foc_parts,
    general_problems,
    step_of,
)
from tests.tolerances import (
    BRUTE_ATOL,
    BRUTE_RTOL,
    CHOLESKY_SHIFT_REL,
    FEW_EPS,
    FOC_CONST_RTOL,
    FOC_EPS_RTOL,
    FOC_LIN_RTOL,
    MC_COV_RTOL,
    MC_SIGMAS,
    ODE_RTOL,
    ODE_SOLVER_ATOL,
    ODE_SOLVER_RTOL,
    OT_MAP_RTOL,
    PERTURBED_EPS_MIN,
    ROUTE_RTOL,
    SINGULAR_STEP_ATOL,
    SINGULAR_STEP_RTOL,
    STEP_ROUNDOFF_ATOL,
    STEP_ROUNDOFF_RTOL,
)
from theory import gaussian as G

# ----------------------------------------------------------------------------------------------
# The JKO step: first-order condition, brute force, singular data
# ----------------------------------------------------------------------------------------------


@given(pb=general_problems())
def test_jko_step_satisfies_first_order_condition(pb):
    """Oracle: the FOC residual, built from its definition, vanishes at the closed-form step."""
    mu, s_new = step_of(pb)
    lin, const, lin_scale, const_scale = foc_of(pb, mu, s_new)
    assert np.abs(lin).max() <= FOC_LIN_RTOL * lin_scale
    assert np.linalg.norm(const) <= FOC_CONST_RTOL * const_scale


@given(pb=general_problems(d_max=6))
def test_foc_residual_is_zero_at_the_exact_step(pb):
    """theory.gaussian.foc_residual ~ 0 (relative to its term scale) for the closed form."""
    mu, s_new = step_of(pb)
    eps = G.foc_residual(pb["mean"], pb["cov"], mu, s_new, gamma=pb["gamma"],
                         target_mean=pb["target_mean"], target_cov=pb["target_cov"],
                         beta=pb["beta"], interaction=pb["interaction"])
    _, _, lin_scale, const_scale = foc_of(pb, mu, s_new)
    scale = lin_scale * np.sqrt(np.trace(s_new)) + const_scale
    assert eps <= FOC_EPS_RTOL * scale


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_foc_residual_of_perturbed_step_matches_monte_carlo(seed):
    """A perturbed step has ε > 0, and ε² equals a Monte Carlo mean of |ξ(y)|², y ~ ρ'."""
    rng = np.random.default_rng(seed)
    d = 3
    cov = S.spd_from_eigs(np.array([0.3, 1.0, 4.0]), seed)
    pb = dict(mean=rng.standard_normal(d), cov=cov, factor=np.linalg.cholesky(cov),
              target_mean=rng.standard_normal(d),
              target_cov=S.spd_from_eigs(np.array([0.5, 1.0, 2.0]), seed + 7), beta=0.7,
              interaction=S.spd_from_eigs(np.array([0.1, 0.2, 0.3]), seed + 9), gamma=0.4)
    mu, s_new = step_of(pb)
    mu_p = mu + 0.1 * rng.standard_normal(d)
    a = np.eye(d) + 0.1 * S.spd_from_eigs(np.array([0.5, 1.0, 1.5]), seed + 3)
    s_p = a @ s_new @ a
    s_p = 0.5 * (s_p + s_p.T)
    eps = G.foc_residual(pb["mean"], cov, mu_p, s_p, gamma=pb["gamma"],
                         target_mean=pb["target_mean"], target_cov=pb["target_cov"],
                         beta=pb["beta"], interaction=pb["interaction"])
    assert eps > PERTURBED_EPS_MIN  # clearly not ~0
    # Pointwise residual on samples of ρ' = N(mu_p, s_p), T^{-1} from our Cholesky construction.
    q = np.linalg.inv(pb["target_cov"])
    bmap = brenier_to_factor(s_p, np.linalg.cholesky(cov))
    y = rng.multivariate_normal(mu_p, s_p, size=200_000)
    t_inv = pb["mean"] + (y - mu_p) @ bmap.T
    grad_log = -np.linalg.solve(s_p, (y - mu_p).T).T
    xi = ((y - pb["target_mean"]) @ q.T + pb["beta"] * grad_log
          + (y - mu_p) @ pb["interaction"].T + (y - t_inv) / pb["gamma"])
    sq = np.sum(xi * xi, axis=1)
    se = sq.std(ddof=1) / np.sqrt(sq.size)
    assert abs(eps**2 - sq.mean()) <= MC_SIGMAS * se


def test_foc_residual_of_mean_shift_is_exact():
    """Shifting the exact step's mean by v gives ξ = (I/γ + Q) v constant: ε = |(I/γ+Q) v|."""
    c = S.spd_from_eigs(np.array([0.5, 2.0]), 3)
    m, cov, gamma = np.array([1.0, -2.0]), S.spd_from_eigs(np.array([0.2, 3.0]), 4), 0.7
    mu, s_new = G.jko_step(m, cov, gamma=gamma, target_cov=c)
    v = np.array([1e-3, -2e-3])
    ref = np.linalg.norm((np.eye(2) / gamma + np.linalg.inv(c)) @ v)
    eps = G.foc_residual(m, cov, mu + v, s_new, gamma=gamma, target_cov=c)
    assert eps == pytest.approx(ref, rel=ROUTE_RTOL)


@pytest.mark.parametrize(
    "d, gamma, beta, with_p, seed",
    [(1, 0.3, 1.0, False, 0), (2, 0.1, 1.0, False, 1), (2, 0.5, 0.5, True, 2),
     (2, 3.0, 2.0, True, 3), (3, 0.3, 0.5, False, 4), (3, 2.0, 2.0, True, 5)],
)
def test_jko_step_matches_brute_force_minimisation(d, gamma, beta, with_p, seed):
    """Oracle: direct numerical minimisation of the JKO objective over Gaussians (non-commuting
    Σ, C, P; general b; β ≠ 1)."""
    rng = np.random.default_rng(seed)
    m, b = rng.standard_normal(d), rng.standard_normal(d)
    cov = S.spd_from_eigs(np.exp(rng.uniform(-1, 1, d)), seed + 10)
    c = S.spd_from_eigs(np.exp(rng.uniform(-1, 1, d)), seed + 20)
    p = S.spd_from_eigs(np.exp(rng.uniform(-2, 0, d)), seed + 30) if with_p else np.zeros((d, d))
    mu, s_new = G.jko_step(m, cov, gamma=gamma, target_mean=b, target_cov=c, beta=beta,
                           interaction=p if with_p else None)
    bf = G.jko_step_brute_force(m, cov, gamma=gamma, target_mean=b, target_cov=c, beta=beta,
                                interaction=p if with_p else None)
    mu_bf, s_bf = bf.mean, bf.cov
    np.testing.assert_allclose(mu, mu_bf, rtol=BRUTE_RTOL, atol=BRUTE_ATOL)
    np.testing.assert_allclose(s_new, s_bf, rtol=BRUTE_RTOL,
                               atol=BRUTE_ATOL * np.linalg.norm(s_new, 2))


@given(d=S.dims(2, 12), seed=S.seeds, gamma=S.gammas(), data=st.data())
def test_singular_data_zero_eigenvalue_maps_to_gamma_over_one_plus_gamma(d, seed, gamma, data):
    """Standard target, singular Σ = U diag(s) U^T: new eigenvalues are the positive roots of the
    scalar FOC quadratic (1+γ)x² - σx - γ = 0 (np.roots), so 0 ↦ γ/(1+γ)."""
    n_zero = data.draw(st.integers(1, d - 1))
    eigs = np.concatenate([np.zeros(n_zero),
                           np.asarray(data.draw(st.lists(S.log_uniform(1e-2, 1e2),
                                                         min_size=d - n_zero,
                                                         max_size=d - n_zero)))])
    cov = S.spd_from_eigs(eigs, seed)
    _, s_new = G.jko_step(np.zeros(d), cov, gamma=gamma)
    roots = [max(np.roots([1.0 + gamma, -np.sqrt(s), -gamma]).real) for s in eigs]
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(s_new)), np.sort(np.square(roots)),
                               rtol=SINGULAR_STEP_RTOL, atol=SINGULAR_STEP_ATOL)
    assert np.sum(np.isclose(np.linalg.eigvalsh(s_new), gamma / (1 + gamma),
                             rtol=SINGULAR_STEP_RTOL)) >= n_zero
    assert G.kl(np.zeros(d), cov) == np.inf
    assert np.isfinite(G.kl(np.zeros(d), s_new))


def test_dirac_data_steps_to_isotropic_gaussian():
    """A Dirac mass (Σ = 0, the extreme of data without density) steps to N(m/(1+γ), γ/(1+γ) I)."""
    gamma = 0.25
    mu, s_new = G.jko_step([2.0, 0.0, -1.0], np.zeros((3, 3)), gamma=gamma)
    np.testing.assert_allclose(mu, np.array([2.0, 0.0, -1.0]) / 1.25, rtol=FEW_EPS)
    np.testing.assert_allclose(s_new, 0.2 * np.eye(3), rtol=FEW_EPS)


def test_fixed_point_is_the_target():
    c = S.spd_from_eigs(np.array([0.1, 1.0, 10.0]), 5)
    b = np.array([1.0, 2.0, 3.0])
    mu, s_new = G.jko_step(b, c, gamma=0.7, target_mean=b, target_cov=c)
    np.testing.assert_allclose(mu, b, rtol=FEW_EPS)
    np.testing.assert_allclose(s_new, c, rtol=STEP_ROUNDOFF_RTOL, atol=STEP_ROUNDOFF_ATOL)


@given(pb=general_problems(d_max=6, allow_singular=False))
def test_jko_map_pushes_to_the_step_and_is_pots_brenier_map(pb):
    """jko_map(...).push(m, Σ) == jko_step(...); its matrix is POT's Bures mapping Σ -> Σ'."""
    mu, s_new = step_of(pb)
    f = G.jko_map(pb["mean"], pb["cov"], gamma=pb["gamma"], target_mean=pb["target_mean"],
                  target_cov=pb["target_cov"], beta=pb["beta"], interaction=pb["interaction"])
    m2, s2 = f.push(pb["mean"], pb["cov"])
    np.testing.assert_allclose(m2, mu, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * np.abs(mu).max())
    np.testing.assert_allclose(s2, s_new, atol=OT_MAP_RTOL * np.linalg.norm(s_new, 2))
    a_pot, _ = ot.gaussian.bures_wasserstein_mapping(pb["mean"], mu, pb["cov"], s_new)
    np.testing.assert_allclose(f.matrix, a_pot, atol=OT_MAP_RTOL * np.linalg.norm(a_pot, 2))


# ----------------------------------------------------------------------------------------------
# Entropy prox, potential step, convexity modulus
# ----------------------------------------------------------------------------------------------


@given(cov_v=S.factored_covariances(d_max=8), gamma=S.gammas(), beta=S.log_uniform(0.1, 10))
def test_entropy_prox_first_order_condition(cov_v, gamma, beta):
    """Oracle: FOC with Q = P = 0: -β S'^{-1} + (I - B)/γ = 0 and m' = m."""
    cov, v = cov_v
    d = cov.shape[0]
    m = np.linspace(-1, 1, d)
    mu, s_new = G.entropy_prox(m, cov, gamma=gamma, beta=beta)
    z = np.zeros((d, d))
    lin, const, bmap = foc_parts(m, v, mu, s_new, gamma, z, z[0], beta, z)
    np.testing.assert_array_equal(mu, m)
    assert np.abs(lin).max() <= FOC_LIN_RTOL * (
        beta * np.linalg.norm(np.linalg.inv(s_new), 2) + (1 + np.linalg.norm(bmap, 2)) / gamma)


def test_potential_step_is_the_push_by_the_explicit_euler_map():
    """Oracle: push samples by x - γQ(x - b) and compare moments (5-sigma on the mean)."""
    rng = np.random.default_rng(3)
    c = S.spd_from_eigs(np.array([0.5, 2.0]), 1)
    q, b, gamma = np.linalg.inv(c), np.array([1.0, -1.0]), 0.3
    m, cov = np.array([0.5, 0.5]), S.spd_from_eigs(np.array([0.3, 1.5]), 2)
    mu, s_new = G.potential_step(m, cov, gamma=gamma, target_mean=b, target_cov=c)
    x = rng.multivariate_normal(m, cov, 100_000)
    y = x - gamma * (x - b) @ q.T
    se = y.std(axis=0, ddof=1) / np.sqrt(len(y))
    assert np.all(np.abs(y.mean(axis=0) - mu) <= MC_SIGMAS * se)
    np.testing.assert_allclose(np.cov(y.T), s_new, atol=MC_COV_RTOL * np.linalg.norm(s_new, 2))


@given(c=S.spd_matrices(d_max=10))
def test_convexity_modulus_is_min_eigenvalue_of_precision(c):
    """Oracle: Q - λI is PSD and singular (Cholesky of Q - (1-δ)λI succeeds, of
    Q - (1+δ)λ I fails, δ = CHOLESKY_SHIFT_REL)."""
    lam = G.convexity_modulus(c)
    q = np.linalg.inv(c)
    np.linalg.cholesky(q - (1 - CHOLESKY_SHIFT_REL) * lam * np.eye(c.shape[0]))
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(q - (1 + CHOLESKY_SHIFT_REL) * lam * np.eye(c.shape[0]))
    assert G.convexity_modulus(None) == 1.0


# ----------------------------------------------------------------------------------------------
# OU marginal
# ----------------------------------------------------------------------------------------------


def _ou_expm(m0, s0, b, c, t):
    """m_t = b + expm(-Qt)(m0 - b), E = expm(-Qt) (Padé, not eigen), Σ_t = E Σ0 Eᵀ + N with the
    noise N solving the Lyapunov equation Q N + N Q = 2(I - E Eᵀ) (Bartels-Stewart): N is the
    integral ∫_0^t e^{-Qs} 2 e^{-Qs} ds, whose derivative identity gives that equation."""
    d = m0.size
    q = np.linalg.inv(c)
    e = scipy.linalg.expm(-q * t)
    noise = scipy.linalg.solve_continuous_lyapunov(q, 2.0 * (np.eye(d) - e @ e.T))
    return b + e @ (m0 - b), e @ s0 @ e.T + 0.5 * (noise + noise.T)


def _ou_van_loan_noise(c, t):
    """Van Loan: expm([[Q, 2I], [0, -Q]] t) = [[., F12], [0, F22]], noise = F22ᵀ F12 (stable only
    for moderate ||Q|| t: the block contains e^{+Qt})."""
    d = c.shape[0]
    q = np.linalg.inv(c)
    f = scipy.linalg.expm(np.block([[q, 2.0 * np.eye(d)], [np.zeros((d, d)), -q]]) * t)
    n = f[d:, d:].T @ f[:d, d:]
    return 0.5 * (n + n.T)


@given(d=S.dims(1, 6), data=st.data(), t=S.log_uniform(1e-3, 3.0))
def test_ou_marginal_matches_expm(d, data, t):
    s0 = data.draw(S.data_covariances(d=d, cond_max=1e2))
    c = data.draw(S.spd_matrices(d=d, cond_max=1e2))
    m0, b = data.draw(S.means(d)), data.draw(S.means(d))
    mt, st_ = G.ou_marginal(m0, s0, t=t, target_mean=b, target_cov=c)
    mr, sr = _ou_expm(m0, s0, b, c, t)
    np.testing.assert_allclose(mt, mr, atol=ROUTE_RTOL * (1 + np.abs(m0).max() + np.abs(b).max()))
    np.testing.assert_allclose(st_, sr,
                               atol=ROUTE_RTOL * (np.linalg.norm(s0, 2) + np.linalg.norm(c, 2)))


def test_ou_noise_matches_van_loan_block_exponential():
    c = S.spd_from_eigs(np.array([0.5, 1.0, 2.0]), 8)
    for t in (0.01, 0.3, 1.0):
        _, st_ = G.ou_marginal(np.zeros(3), np.zeros((3, 3)), t=t, target_cov=c)
        np.testing.assert_allclose(st_, _ou_van_loan_noise(c, t), rtol=ROUTE_RTOL, atol=FEW_EPS)


def test_ou_marginal_matches_lyapunov_ode():
    """Oracle: integrate dΣ/dt = -QΣ - ΣQ + 2I, dm/dt = -Q(m-b) with DOP853."""
    c = S.spd_from_eigs(np.array([0.3, 1.0, 3.0]), 4)
    q = np.linalg.inv(c)
    s0 = S.spd_from_eigs(np.array([0.0, 0.5, 2.0]), 5)  # singular data
    m0, b, t = np.array([1.0, 2.0, -1.0]), np.array([0.0, 1.0, 0.5]), 1.3

    def rhs(_, y):
        m, s = y[:3], y[3:].reshape(3, 3)
        return np.concatenate([-q @ (m - b), (-q @ s - s @ q + 2 * np.eye(3)).ravel()])

    sol = scipy.integrate.solve_ivp(rhs, (0, t), np.concatenate([m0, s0.ravel()]),
                                    method="DOP853", rtol=ODE_SOLVER_RTOL, atol=ODE_SOLVER_ATOL)
    mt, st_ = G.ou_marginal(m0, s0, t=t, target_mean=b, target_cov=c)
    np.testing.assert_allclose(mt, sol.y[:3, -1], rtol=ODE_RTOL, atol=ODE_RTOL)
    np.testing.assert_allclose(st_, sol.y[3:, -1].reshape(3, 3), rtol=ODE_RTOL, atol=ODE_RTOL)


def test_ou_long_time_limit_is_target_and_t0_is_identity():
    c = S.spd_from_eigs(np.array([0.5, 2.0]), 6)
    b, m0, s0 = np.array([1.0, -1.0]), np.array([5.0, 5.0]), np.diag([0.0, 3.0])
    mt, st_ = G.ou_marginal(m0, s0, t=200.0, target_mean=b, target_cov=c)
    np.testing.assert_allclose(mt, b, rtol=FEW_EPS)
    np.testing.assert_allclose(st_, c, rtol=STEP_ROUNDOFF_RTOL)
    m_0, s_0 = G.ou_marginal(m0, s0, t=0.0, target_mean=b, target_cov=c)
    np.testing.assert_allclose(m_0, m0, rtol=FEW_EPS)
    np.testing.assert_allclose(s_0, s0, atol=FEW_EPS)


# ----------------------------------------------------------------------------------------------
# Bad inputs, reproducibility, dtypes
# ----------------------------------------------------------------------------------------------

_M, _C = np.zeros(2), np.eye(2)
_BAD = [
    (lambda: G.jko_step(_M, np.ones((2, 3)), gamma=1.0), "cov"),
    (lambda: G.jko_step(_M, [[1.0, 0.5], [0.0, 1.0]], gamma=1.0), "cov"),
    (lambda: G.jko_step(_M, np.diag([1.0, -1.0]), gamma=1.0), "cov"),
    (lambda: G.jko_step(_M, [[np.nan, 0.0], [0.0, 1.0]], gamma=1.0), "cov"),
    (lambda: G.jko_step(_M, [[np.inf, 0.0], [0.0, 1.0]], gamma=1.0), "cov"),
    (lambda: G.jko_step(np.zeros(3), _C, gamma=1.0), "mean"),
    (lambda: G.jko_step(np.zeros((2, 1)), _C, gamma=1.0), "mean"),
    (lambda: G.jko_step(_M, _C, gamma=0.0), "gamma"),
    (lambda: G.jko_step(_M, _C, gamma=-1.0), "gamma"),
    (lambda: G.jko_step(_M, _C, gamma=np.inf), "gamma"),
    (lambda: G.jko_step(_M, _C, gamma=np.nan), "gamma"),
    (lambda: G.jko_step(_M, _C, gamma=1.0, target_cov=np.diag([1.0, 0.0])), "target_cov"),
    (lambda: G.jko_step(_M, _C, gamma=1.0, target_cov=np.eye(3)), "target_cov"),
    (lambda: G.jko_step(_M, _C, gamma=1.0, target_mean=np.zeros(3)), "target_mean"),
    (lambda: G.jko_step(_M, _C, gamma=1.0, beta=-1.0), "beta"),
    (lambda: G.jko_step(_M, _C, gamma=1.0, interaction=np.diag([1.0, -1.0])), "interaction"),
    (lambda: G.w2(_M, _C, np.zeros(3), _C), "mean1"),
    (lambda: G.w2(_M, _C, _M, np.eye(3)), "cov1"),
    (lambda: G.w2(_M, np.diag([1.0, -1.0])), "cov0"),
    (lambda: G.kl(_M, _C, _M, np.diag([1.0, 0.0])), "cov1"),
    (lambda: G.kl(_M, np.diag([1.0, -1.0])), "cov0"),
    (lambda: G.kl(np.zeros(3), _C), "mean0"),
    (lambda: G.ou_marginal(_M, _C, t=-1.0), "t"),
    (lambda: G.ou_marginal(_M, _C, t=np.nan), "t"),
    (lambda: G.ou_marginal(_M, _C, t=1.0, target_cov=np.diag([1.0, 0.0])), "target_cov"),
    (lambda: G.ot_map(np.diag([1.0, 0.0]), _C), "cov0"),
    (lambda: G.foc_residual(_M, _C, _M, np.diag([1.0, 0.0]), gamma=1.0), "new_cov"),
    (lambda: G.foc_residual(_M, _C, np.zeros(3), _C, gamma=1.0), "new_mean"),
    (lambda: G.foc_residual(_M, _C, _M, _C, gamma=0.0), "gamma"),
    (lambda: G.convexity_modulus(np.diag([1.0, 0.0])), "target_cov"),
    (lambda: G.entropy_prox(_M, _C, gamma=-1.0), "gamma"),
]


@pytest.mark.parametrize("call, name", _BAD, ids=[f"{i}-{n}" for i, (_, n) in enumerate(_BAD)])
def test_bad_inputs_raise_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()


@given(pb=general_problems(d_max=6))
def test_bit_identical_reproducibility(pb):
    a, b = step_of(pb), step_of({k: (v.copy() if isinstance(v, np.ndarray) else v)
                             for k, v in pb.items()})
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert G.w2(pb["mean"], pb["cov"]) == G.w2(pb["mean"], pb["cov"].copy())


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_outputs_are_float64(dtype):
    m, c = np.array([1, 2], dtype=dtype), np.array([[2, 1], [1, 2]], dtype=dtype)
    for out in (G.jko_step(m, c, gamma=1), G.ou_marginal(m, c, t=1),
                G.jko_step(m, c, gamma=1, target_cov=c), G.entropy_prox(m, c, gamma=1)):
        assert out[0].dtype == np.float64 and out[1].dtype == np.float64
    assert G.ot_map(c, c).dtype == np.float64
    assert isinstance(G.kl(m, c), float) and isinstance(G.w2(m, c), float)
    # int input gives the same numbers as float64 input
    np.testing.assert_array_equal(G.jko_step(m, c, gamma=1)[1],
                                  G.jko_step(m.astype(float), c.astype(float), gamma=1.0)[1])
