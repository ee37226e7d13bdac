"""Tests of KL, entropy, W2 and the OT map between Gaussians against independent oracles.

Oracles: POT's Bures-Wasserstein distance and mapping; exact commuting answers in mpmath for tiny
W2; Monte Carlo (fixed seeds, k-sigma bands) for KL and W2; scipy.stats for entropy; numpy
slogdet/solve for KL at moderate size.
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
from tests.gaussian.oracles import (
    w2_pot,
)
from tests.tolerances import (
    ENTROPY_TOL,
    FEW_EPS,
    KL_SLOGDET_ATOL,
    KL_SLOGDET_RTOL,
    KL_TINY_RTOL,
    MC_SIGMAS,
    OT_MAP_RTOL,
    OT_PUSH_RTOL,
    RANK_RTOL,
    TRACE_FORMULA_FAIL_MIN,
    W2_BURES_SINGULAR_TOL,
    W2_EXACT_ATOL,
    W2_EXACT_RTOL,
    W2_POT_RTOL,
    W2_TINY_DIAG_RTOL,
    W2_TINY_ROT_ATOL,
    W2_TINY_ROT_RTOL,
)
from theory import gaussian as G

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
    assert G.w2_sq(m0, c0, m1, c1) == pytest.approx(ours**2, rel=FEW_EPS)


@given(cov=S.spd_matrices(d_max=10), k=S.log_uniform(1e-2, 1e2))
def test_w2_of_scaled_covariance_is_exact(cov, k):
    """Exact: W2(N(0,Σ), N(0,k²Σ)) = |k-1| sqrt(tr Σ) (commuting square roots)."""
    d = cov.shape[0]
    ref = abs(k - 1.0) * np.sqrt(np.trace(cov))
    assert G.w2(np.zeros(d), cov, np.zeros(d), k * k * cov) == pytest.approx(
        ref, rel=W2_EXACT_RTOL, abs=W2_EXACT_ATOL)


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
    tol = W2_EXACT_RTOL if not both else W2_BURES_SINGULAR_TOL  # both singular: trace formula
    for x, y in ((c0, c1), (c1, c0)):
        assert G.w2(np.zeros(d), x, np.zeros(d), y) == pytest.approx(ref, rel=tol, abs=tol)


def _mp_w2_diag(a, b):
    with mp.workdps(50):
        return float(mp.sqrt(mp.fsum((mp.sqrt(mp.mpf(x)) - mp.sqrt(mp.mpf(y))) ** 2
                                     for x, y in zip(a, b, strict=True))))


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
    # the trace formula fails here:
    assert abs(w2_pot(z, np.diag(a), z, np.diag(b)) - ref) > TRACE_FORMULA_FAIL_MIN * ref
    # Rotated: U diag(a) U^T rounds Σ at 1e-16, moving W2 by ~1e-16 absolute (see tolerances).
    ca, cb = S.spd_from_eigs(a, 3), S.spd_from_eigs(b, 3)
    if t >= 1e-9:
        assert G.w2(z, ca, z, cb) == pytest.approx(ref, rel=W2_TINY_ROT_RTOL)
    else:
        assert abs(G.w2(z, ca, z, cb) - ref) <= W2_TINY_ROT_ATOL * np.sqrt(a.sum())


@given(c0=S.spd_matrices(d=4), c1=S.spd_matrices(d=4))
def test_ot_map_matches_pot_and_pushes_forward(c0, c1):
    """A Σ0 A = Σ1, A symmetric PD, and A equals POT's Bures mapping."""
    a = G.ot_map(c0, c1)
    np.testing.assert_array_equal(a, a.T)
    assert np.linalg.eigvalsh(a).min() > 0
    np.testing.assert_allclose(a @ c0 @ a, c1, atol=OT_PUSH_RTOL * np.linalg.norm(c1, 2))
    a_pot, _ = ot.gaussian.bures_wasserstein_mapping(np.zeros(4), np.zeros(4), c0, c1)
    np.testing.assert_allclose(a, a_pot, atol=OT_MAP_RTOL * np.linalg.norm(a_pot, 2))


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
    assert G.kl(m0, c0, m1, c1) == pytest.approx(
        ref, rel=KL_SLOGDET_RTOL, abs=KL_SLOGDET_ATOL * (1 + np.trace(x)))


@pytest.mark.parametrize("delta", [1e-10, 1e-7, 1e-5, -1e-10])
def test_kl_near_target_relative_accuracy(delta):
    """KL(N(0,(1+δ)C) ‖ N(0,C)) = (d/2)(δ - log(1+δ)) in mpmath, with δ the stored float value
    of (1+δ)-1 (exact by Sterbenz). KL ~ 1e-20 for δ = 1e-10."""
    c = np.diag([0.5, 1.0, 4.0])
    scale = 1.0 + delta
    dd = scale - 1.0  # exact
    with mp.workdps(60):
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
    assert (val == np.inf) == (np.linalg.matrix_rank(cov, tol=RANK_RTOL * np.abs(cov).max()) < d)


@given(cov=S.data_covariances(d_max=10))
def test_entropy_matches_scipy(cov):
    s = scipy.stats.multivariate_normal(np.zeros(cov.shape[0]), cov, allow_singular=True)
    if np.linalg.matrix_rank(cov, tol=RANK_RTOL * np.abs(cov).max()) < cov.shape[0]:
        assert G.entropy(cov) == -np.inf
    else:
        assert G.entropy(cov) == pytest.approx(s.entropy(), rel=ENTROPY_TOL, abs=ENTROPY_TOL)
