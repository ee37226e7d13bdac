"""Tests of theory/gaussian.py against independent oracles.

Oracles (none re-derives the formula under test):
- first-order condition of the JKO step, built here from its definition with a Cholesky /
  exact-rank-factor OT map (no eigen-route square roots of the data);
- brute-force minimisation of the JKO objective (scipy BFGS, POT's Bures distance inside);
- POT's Bures-Wasserstein distance and mapping; exact commuting answers in mpmath for tiny W2;
- Monte Carlo (fixed seeds, k-sigma bands) for KL, W2, the FOC residual norm;
- scipy.linalg.expm (Van Loan block) and solve_ivp for the OU marginal;
- scipy.stats for entropy; numpy slogdet/solve for KL at moderate size.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import ot
import pytest
import scipy.linalg
import scipy.optimize
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies as S
from tests.tolerances import (
    BRUTE_ATOL,
    BRUTE_RTOL,
    FOC_CONST_RTOL,
    FOC_EPS_RTOL,
    FOC_LIN_RTOL,
    KL_TINY_RTOL,
    MC_SIGMAS,
    ODE_RTOL,
    ROUTE_RTOL,
    W2_POT_RTOL,
    W2_TINY_DIAG_RTOL,
    W2_TINY_ROT_RTOL,
    scale_of,
)
from theory import gaussian as G

# ----------------------------------------------------------------------------------------------
# Independent oracles
# ----------------------------------------------------------------------------------------------


def brenier_to_factor(s_cov: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Brenier matrix B from N(., S) (SPD) to N(., V V^T), without eigen-roots of data.

    With S = L L^T and Y = L^T V: B = L^{-T} Y (Y^T Y)^{-1/2} Y^T L^{-1}. Check: B is symmetric
    PSD and B S B = L^{-T} Y Y^T L^{-1} = V V^T, so B is the unique Brenier map.
    """
    d = s_cov.shape[0]
    if v.shape[1] == 0:
        return np.zeros((d, d))
    lo = np.linalg.cholesky(s_cov)
    li = scipy.linalg.solve_triangular(lo, np.eye(d), lower=True)
    y = lo.T @ v
    w, u = np.linalg.eigh(y.T @ y)  # (rank, rank) SPD
    xh = (y @ (u / np.sqrt(w))) @ (u.T @ y.T)
    return li.T @ xh @ li


def foc_parts(m, v, mu, s_new, gamma, q, b, beta, p):
    """Residual ξ(y) = Q(y-b) - β S'^{-1}(y-μ) + P(y-μ) + (y - T^{-1}y)/γ = const + lin (y-μ).

    T^{-1}(y) = m + B (y - μ) with B the Brenier map from ρ' to ρ_n. Returns (lin, const, B).
    """
    d = m.size
    bmap = brenier_to_factor(s_new, v)
    s_inv = np.linalg.inv(s_new)
    lin = q + p - beta * s_inv + (np.eye(d) - bmap) / gamma
    const = q @ (mu - b) + (mu - m) / gamma
    return lin, const, bmap


def w2_pot(m0, c0, m1, c1) -> float:
    """W2 (not squared) from POT's Bures trace formula."""
    return float(ot.gaussian.bures_wasserstein_distance(np.asarray(m0, float),
                                                        np.asarray(m1, float), c0, c1))


@st.composite
def general_problems(draw, d_max: int = 8, allow_singular: bool = True):
    """A random non-commuting JKO problem: data (m, Σ=VV^T), target N(b, C), β, P, γ."""
    d = draw(S.dims(1, d_max))
    cov, v = draw(S.factored_covariances(d=d, allow_singular=allow_singular))
    tcov = draw(S.spd_matrices(d=d))
    p = draw(st.one_of(st.none(), S.spd_matrices(d=d)))
    return dict(mean=draw(S.means(d)), cov=cov, factor=v, target_mean=draw(S.means(d)),
                target_cov=tcov, beta=draw(S.log_uniform(0.1, 10.0)), interaction=p,
                gamma=draw(S.gammas()))


def _step(pb):
    return G.jko_step(pb["mean"], pb["cov"], gamma=pb["gamma"], target_mean=pb["target_mean"],
                      target_cov=pb["target_cov"], beta=pb["beta"],
                      interaction=pb["interaction"])


def _foc(pb, mu, s_new):
    d = pb["mean"].size
    q = np.linalg.inv(pb["target_cov"])
    p = np.zeros((d, d)) if pb["interaction"] is None else pb["interaction"]
    lin, const, bmap = foc_parts(pb["mean"], pb["factor"], mu, s_new, pb["gamma"], q,
                                 pb["target_mean"], pb["beta"], p)
    lin_scale = scale_of(q, p, pb["beta"] * np.linalg.inv(s_new)) + (1 + scale_of(bmap)) / pb[
        "gamma"]
    const_scale = (np.linalg.norm(q @ (mu - pb["target_mean"]))
                   + np.linalg.norm(mu - pb["mean"]) / pb["gamma"])
    return lin, const, lin_scale, const_scale


# ----------------------------------------------------------------------------------------------
# The JKO step: first-order condition, brute force, singular data
# ----------------------------------------------------------------------------------------------


@given(pb=general_problems())
def test_jko_step_satisfies_first_order_condition(pb):
    """Oracle: the FOC residual, built from its definition, vanishes at the closed-form step."""
    mu, s_new = _step(pb)
    lin, const, lin_scale, const_scale = _foc(pb, mu, s_new)
    assert np.abs(lin).max() <= FOC_LIN_RTOL * lin_scale
    assert np.linalg.norm(const) <= FOC_CONST_RTOL * const_scale + 1e-300


@given(pb=general_problems(d_max=6))
def test_foc_residual_is_zero_at_the_exact_step(pb):
    """theory.gaussian.foc_residual ~ 0 (relative to its term scale) for the closed form."""
    mu, s_new = _step(pb)
    eps = G.foc_residual(pb["mean"], pb["cov"], mu, s_new, gamma=pb["gamma"],
                         target_mean=pb["target_mean"], target_cov=pb["target_cov"],
                         beta=pb["beta"], interaction=pb["interaction"])
    _, _, lin_scale, const_scale = _foc(pb, mu, s_new)
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
    mu, s_new = _step(pb)
    mu_p = mu + 0.1 * rng.standard_normal(d)
    a = np.eye(d) + 0.1 * S.spd_from_eigs(np.array([0.5, 1.0, 1.5]), seed + 3)
    s_p = a @ s_new @ a
    s_p = 0.5 * (s_p + s_p.T)
    eps = G.foc_residual(pb["mean"], cov, mu_p, s_p, gamma=pb["gamma"],
                         target_mean=pb["target_mean"], target_cov=pb["target_cov"],
                         beta=pb["beta"], interaction=pb["interaction"])
    assert eps > 1e-2  # clearly not ~0
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
    assert eps == pytest.approx(ref, rel=1e-9)


def _brute_force(m, cov, gamma, b, c, beta, p):
    """argmin over (m', L) of G(N(m', LL^T)) + W2²/(2γ), W2 from POT, BFGS then Nelder-Mead."""
    d = m.size
    q = np.linalg.inv(c)
    il = np.tril_indices(d)
    diag = il[0] == il[1]

    def unpack(x):
        lo = np.zeros((d, d))
        vals = x[d:].copy()
        vals[diag] = np.exp(vals[diag])
        lo[il] = vals
        return x[:d], lo @ lo.T

    def objective(x):
        mm, ss = unpack(x)
        dm = mm - b
        g = (0.5 * dm @ q @ dm + 0.5 * np.trace((q + p) @ ss)
             - 0.5 * beta * np.linalg.slogdet(ss)[1])
        return g + w2_pot(mm, ss, m, cov) ** 2 / (2.0 * gamma)

    l0 = np.linalg.cholesky(cov)[il]
    l0[diag] = np.log(l0[diag])
    x = np.concatenate([m, l0])
    for _ in range(3):
        x = scipy.optimize.minimize(objective, x, method="BFGS",
                                    options={"gtol": 1e-11, "maxiter": 5000}).x
        x = scipy.optimize.minimize(objective, x, method="Nelder-Mead",
                                    options={"xatol": 1e-12, "fatol": 1e-15,
                                             "maxiter": 20000}).x
    return unpack(x)


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
    mu_bf, s_bf = _brute_force(m, cov, gamma, b, c, beta, p)
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
                               rtol=1e-9, atol=1e-12)
    assert np.sum(np.isclose(np.linalg.eigvalsh(s_new), gamma / (1 + gamma), rtol=1e-9)) >= n_zero
    assert G.kl(np.zeros(d), cov) == np.inf
    assert np.isfinite(G.kl(np.zeros(d), s_new))


def test_dirac_data_steps_to_isotropic_gaussian():
    """A Dirac mass (Σ = 0, the extreme of data without density) steps to N(m/(1+γ), γ/(1+γ) I)."""
    gamma = 0.25
    mu, s_new = G.jko_step([2.0, 0.0, -1.0], np.zeros((3, 3)), gamma=gamma)
    np.testing.assert_allclose(mu, np.array([2.0, 0.0, -1.0]) / 1.25, rtol=1e-15)
    np.testing.assert_allclose(s_new, 0.2 * np.eye(3), rtol=1e-14)


def test_fixed_point_is_the_target():
    c = S.spd_from_eigs(np.array([0.1, 1.0, 10.0]), 5)
    b = np.array([1.0, 2.0, 3.0])
    mu, s_new = G.jko_step(b, c, gamma=0.7, target_mean=b, target_cov=c)
    np.testing.assert_allclose(mu, b, rtol=1e-15)
    np.testing.assert_allclose(s_new, c, rtol=1e-12, atol=1e-13)


@given(pb=general_problems(d_max=6, allow_singular=False))
def test_jko_map_pushes_to_the_step_and_is_pots_brenier_map(pb):
    """jko_map(...).push(m, Σ) == jko_step(...); its matrix is POT's Bures mapping Σ -> Σ'."""
    mu, s_new = _step(pb)
    f = G.jko_map(pb["mean"], pb["cov"], gamma=pb["gamma"], target_mean=pb["target_mean"],
                  target_cov=pb["target_cov"], beta=pb["beta"], interaction=pb["interaction"])
    m2, s2 = f.push(pb["mean"], pb["cov"])
    np.testing.assert_allclose(m2, mu, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * np.abs(mu).max())
    np.testing.assert_allclose(s2, s_new, atol=1e-7 * np.linalg.norm(s_new, 2))
    a_pot, _ = ot.gaussian.bures_wasserstein_mapping(pb["mean"], mu, pb["cov"], s_new)
    np.testing.assert_allclose(f.matrix, a_pot, atol=1e-7 * np.linalg.norm(a_pot, 2))


# ----------------------------------------------------------------------------------------------
# W2, OT map
# ----------------------------------------------------------------------------------------------


@given(d=S.dims(1, 10), data=st.data())
def test_w2_matches_pot_on_well_separated_cases(d, data):
    """Oracle: POT's Bures trace formula, where its cancellation is harmless (W2² >= tr)."""
    c0, c1 = data.draw(S.spd_matrices(d=d)), data.draw(S.spd_matrices(d=d))
    m0 = data.draw(S.means(d))
    u = np.random.default_rng(data.draw(S.seeds)).standard_normal(d)
    m1 = m0 + u / np.linalg.norm(u) * np.sqrt(np.trace(c0) + np.trace(c1))
    ours = G.w2(m0, c0, m1, c1)
    assert ours == pytest.approx(w2_pot(m0, c0, m1, c1), rel=W2_POT_RTOL)
    assert G.w2_sq(m0, c0, m1, c1) == pytest.approx(ours**2, rel=1e-14)


@given(cov=S.spd_matrices(d_max=10), k=S.log_uniform(1e-2, 1e2))
def test_w2_of_scaled_covariance_is_exact(cov, k):
    """Exact: W2(N(0,Σ), N(0,k²Σ)) = |k-1| sqrt(tr Σ) (commuting square roots)."""
    d = cov.shape[0]
    ref = abs(k - 1.0) * np.sqrt(np.trace(cov))
    assert G.w2(np.zeros(d), cov, np.zeros(d), k * k * cov) == pytest.approx(ref, rel=1e-9,
                                                                             abs=1e-12)


@given(d=S.dims(2, 12), seed=S.seeds, data=st.data())
def test_w2_with_singular_covariance_commuting_exact(d, seed, data):
    """Singular data: W2² = Σ_i (√a_i - √b_i)² for U diag(a) U^T vs U diag(b) U^T."""
    a = np.asarray(data.draw(st.lists(S.log_uniform(1e-2, 1e2), min_size=d, max_size=d)))
    b = np.asarray(data.draw(st.lists(S.log_uniform(1e-2, 1e2), min_size=d, max_size=d)))
    a[: data.draw(st.integers(1, d - 1))] = 0.0
    both = data.draw(st.booleans())
    if both:
        b[-1] = 0.0
    ref = np.sqrt(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    c0, c1 = S.spd_from_eigs(a, seed), S.spd_from_eigs(b, seed)
    tol = 1e-9 if not both else 1e-7  # both singular: trace formula (~1e-8 absolute in W2)
    for x, y in ((c0, c1), (c1, c0)):
        assert G.w2(np.zeros(d), x, np.zeros(d), y) == pytest.approx(ref, rel=tol, abs=tol)


def _mp_w2_diag(a, b):
    mp.mp.dps = 50
    return float(mp.sqrt(mp.fsum((mp.sqrt(mp.mpf(x)) - mp.sqrt(mp.mpf(y))) ** 2
                                 for x, y in zip(a, b))))


@pytest.mark.parametrize("t", [1e-9, 1e-11, 1e-13])
def test_w2_tiny_is_accurate_where_trace_formula_is_not(t):
    """Commuting diagonal covariances a, b = a(1+t_i)²: exact W2 in mpmath from the stored
    floats. Our map form is accurate to 1e-10 relative; POT's trace formula is O(1) wrong."""
    rng = np.random.default_rng(7)
    a = np.exp(rng.uniform(-2, 2, 4))
    b = a * (1.0 + t * rng.uniform(0.5, 1.5, 4)) ** 2
    ref = _mp_w2_diag(a, b)
    z = np.zeros(4)
    ours = G.w2(z, np.diag(a), z, np.diag(b))
    assert ours == pytest.approx(ref, rel=W2_TINY_DIAG_RTOL)
    assert G.w2(z, np.diag(b), z, np.diag(a)) == pytest.approx(ref, rel=W2_TINY_DIAG_RTOL)
    assert abs(w2_pot(z, np.diag(a), z, np.diag(b)) - ref) > 1e-2 * ref  # trace formula fails
    # Rotated: U diag(a) U^T rounds Σ at 1e-16, moving W2 by ~1e-16 absolute (see tolerances).
    ca, cb = S.spd_from_eigs(a, 3), S.spd_from_eigs(b, 3)
    if t >= 1e-9:
        assert G.w2(z, ca, z, cb) == pytest.approx(ref, rel=W2_TINY_ROT_RTOL)
    else:
        assert abs(G.w2(z, ca, z, cb) - ref) <= 1e-14 * np.sqrt(a.sum())


@given(c0=S.spd_matrices(d=4), c1=S.spd_matrices(d=4))
def test_ot_map_matches_pot_and_pushes_forward(c0, c1):
    """A Σ0 A = Σ1, A symmetric PD, and A equals POT's Bures mapping."""
    a = G.ot_map(c0, c1)
    np.testing.assert_array_equal(a, a.T)
    assert np.linalg.eigvalsh(a).min() > 0
    np.testing.assert_allclose(a @ c0 @ a, c1, atol=1e-8 * np.linalg.norm(c1, 2))
    a_pot, _ = ot.gaussian.bures_wasserstein_mapping(np.zeros(4), np.zeros(4), c0, c1)
    np.testing.assert_allclose(a, a_pot, atol=1e-7 * np.linalg.norm(a_pot, 2))


def test_w2_monte_carlo_one_dimensional_quantiles():
    """Oracle: W2² from sorted samples (1-D quantile coupling), R seeds; the empirical W2² is
    biased upward by O(log n / n) per law (allowed explicitly)."""
    m0, s0, m1, s1 = 0.3, 0.5, -1.2, 2.0
    exact = G.w2_sq([m0], [[s0**2]], [m1], [[s1**2]])
    n, reps = 20_000, 20
    rng = np.random.default_rng(11)
    est = np.array([np.mean((np.sort(rng.normal(m0, s0, n)) - np.sort(rng.normal(m1, s1, n))) ** 2)
                    for _ in range(reps)])
    bias = 2.0 * (s0**2 + s1**2) * np.log(n) / n
    se = est.std(ddof=1) / np.sqrt(reps)
    assert -MC_SIGMAS * se <= est.mean() - exact <= MC_SIGMAS * se + bias


def test_w2_monte_carlo_exact_ot_two_dimensional():
    """Oracle: ot.emd2 between n-samples (d = 2), which over-estimates W2 (finite-sample bias
    ~ the null floor W2(two samples of the same law)); exact must sit in [floor-corrected band]."""
    rng = np.random.default_rng(12)
    m0, m1 = np.array([0.0, 0.0]), np.array([2.0, -1.0])
    c0, c1 = S.spd_from_eigs(np.array([0.5, 2.0]), 1), S.spd_from_eigs(np.array([0.2, 1.0]), 2)
    exact = G.w2(m0, c0, m1, c1)
    n, reps = 400, 8
    w = np.full(n, 1.0 / n)

    def emp(ma, ca, mb, cb):
        x, y = rng.multivariate_normal(ma, ca, n), rng.multivariate_normal(mb, cb, n)
        return np.sqrt(ot.emd2(w, w, ot.dist(x, y)))

    est = np.array([emp(m0, c0, m1, c1) for _ in range(reps)])
    floor = np.mean([emp(m1, c1, m1, c1) for _ in range(reps)])
    se = est.std(ddof=1) / np.sqrt(reps)
    assert exact <= est.mean() + MC_SIGMAS * se  # upward bias: never far below
    assert est.mean() <= exact + floor + MC_SIGMAS * se  # triangle inequality with the floor


# ----------------------------------------------------------------------------------------------
# KL and entropy
# ----------------------------------------------------------------------------------------------


def test_kl_monte_carlo():
    """Oracle: E_p[log p - log q] from samples, scipy.stats log-densities, 5-sigma band."""
    rng = np.random.default_rng(13)
    m0, m1 = np.array([0.5, -0.2, 1.0]), np.array([0.0, 0.3, -0.5])
    c0 = S.spd_from_eigs(np.array([0.3, 1.0, 2.5]), 1)
    c1 = S.spd_from_eigs(np.array([0.5, 1.5, 3.0]), 2)
    x = rng.multivariate_normal(m0, c0, size=200_000)
    lr = (scipy.stats.multivariate_normal(m0, c0).logpdf(x)
          - scipy.stats.multivariate_normal(m1, c1).logpdf(x))
    se = lr.std(ddof=1) / np.sqrt(lr.size)
    assert abs(G.kl(m0, c0, m1, c1) - lr.mean()) <= MC_SIGMAS * se


@given(d=S.dims(1, 10), data=st.data())
def test_kl_matches_slogdet_formula(d, data):
    """Oracle: ½[tr(Σ1⁻¹Σ0) - d - log det Σ1⁻¹Σ0 + Δmᵀ Σ1⁻¹ Δm] via solve/slogdet (moderate KL)."""
    c0, c1 = data.draw(S.spd_matrices(d=d, cond_max=1e2)), data.draw(S.spd_matrices(d=d,
                                                                                   cond_max=1e2))
    m0, m1 = data.draw(S.means(d)), data.draw(S.means(d))
    x = np.linalg.solve(c1, c0)
    ref = 0.5 * (np.trace(x) - d - (np.linalg.slogdet(c0)[1] - np.linalg.slogdet(c1)[1])
                 + (m0 - m1) @ np.linalg.solve(c1, m0 - m1))
    assert G.kl(m0, c0, m1, c1) == pytest.approx(ref, rel=1e-8, abs=1e-10 * (1 + np.trace(x)))


@pytest.mark.parametrize("delta", [1e-10, 1e-7, 1e-5, -1e-10])
def test_kl_near_target_relative_accuracy(delta):
    """KL(N(0,(1+δ)C) ‖ N(0,C)) = (d/2)(δ - log(1+δ)) in mpmath, with δ the stored float value
    of (1+δ)-1 (exact by Sterbenz). KL ~ 1e-20 for δ = 1e-10."""
    c = np.diag([0.5, 1.0, 4.0])
    scale = 1.0 + delta
    dd = scale - 1.0  # exact
    mp.mp.dps = 60
    ref = float(1.5 * (mp.mpf(dd) - mp.log1p(mp.mpf(dd))))
    assert G.kl(np.zeros(3), scale * np.eye(3)) == pytest.approx(ref, rel=KL_TINY_RTOL)
    assert G.kl(np.zeros(3), scale * c, np.zeros(3), c) == pytest.approx(ref, rel=KL_TINY_RTOL)


@given(case=S.gaussian_cases(d_max=10), tcov=st.one_of(st.none(), S.spd_matrices(d=None)))
def test_kl_is_inf_for_singular_and_never_nan(case, tcov):
    m, cov = case
    d = m.size
    if tcov is not None and tcov.shape[0] != d:
        tcov = None
    val = G.kl(m, cov, None, tcov)
    assert not np.isnan(val) and val >= 0.0
    assert (val == np.inf) == (np.linalg.matrix_rank(cov, tol=1e-9 * np.abs(cov).max()) < d)


@given(cov=S.data_covariances(d_max=10))
def test_entropy_matches_scipy(cov):
    s = scipy.stats.multivariate_normal(np.zeros(cov.shape[0]), cov, allow_singular=True)
    if np.linalg.matrix_rank(cov, tol=1e-9 * np.abs(cov).max()) < cov.shape[0]:
        assert G.entropy(cov) == -np.inf
    else:
        assert G.entropy(cov) == pytest.approx(s.entropy(), rel=1e-10, abs=1e-10)


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
    np.testing.assert_allclose(np.cov(y.T), s_new, atol=0.03 * np.linalg.norm(s_new, 2))


@given(c=S.spd_matrices(d_max=10))
def test_convexity_modulus_is_min_eigenvalue_of_precision(c):
    """Oracle: Q - λI is PSD and singular (Cholesky of Q - (1-1e-6)λI succeeds, of
    Q - (1+1e-6)λ I fails)."""
    lam = G.convexity_modulus(c)
    q = np.linalg.inv(c)
    np.linalg.cholesky(q - (1 - 1e-6) * lam * np.eye(c.shape[0]))
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(q - (1 + 1e-6) * lam * np.eye(c.shape[0]))
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
    np.testing.assert_allclose(mt, mr, atol=1e-9 * (1 + np.abs(m0).max() + np.abs(b).max()))
    np.testing.assert_allclose(st_, sr, atol=1e-9 * (np.linalg.norm(s0, 2) + np.linalg.norm(c, 2)))


def test_ou_noise_matches_van_loan_block_exponential():
    c = S.spd_from_eigs(np.array([0.5, 1.0, 2.0]), 8)
    for t in (0.01, 0.3, 1.0):
        _, st_ = G.ou_marginal(np.zeros(3), np.zeros((3, 3)), t=t, target_cov=c)
        np.testing.assert_allclose(st_, _ou_van_loan_noise(c, t), rtol=ROUTE_RTOL, atol=1e-14)


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
                                    method="DOP853", rtol=1e-12, atol=1e-14)
    mt, st_ = G.ou_marginal(m0, s0, t=t, target_mean=b, target_cov=c)
    np.testing.assert_allclose(mt, sol.y[:3, -1], rtol=ODE_RTOL, atol=ODE_RTOL)
    np.testing.assert_allclose(st_, sol.y[3:, -1].reshape(3, 3), rtol=ODE_RTOL, atol=ODE_RTOL)


def test_ou_long_time_limit_is_target_and_t0_is_identity():
    c = S.spd_from_eigs(np.array([0.5, 2.0]), 6)
    b, m0, s0 = np.array([1.0, -1.0]), np.array([5.0, 5.0]), np.diag([0.0, 3.0])
    mt, st_ = G.ou_marginal(m0, s0, t=200.0, target_mean=b, target_cov=c)
    np.testing.assert_allclose(mt, b, rtol=1e-14)
    np.testing.assert_allclose(st_, c, rtol=1e-13)
    m_0, s_0 = G.ou_marginal(m0, s0, t=0.0, target_mean=b, target_cov=c)
    np.testing.assert_allclose(m_0, m0, rtol=1e-14)
    np.testing.assert_allclose(s_0, s0, atol=1e-14)


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
    a, b = _step(pb), _step({k: (v.copy() if isinstance(v, np.ndarray) else v)
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
