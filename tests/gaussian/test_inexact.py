"""Tests of theory.gaussian inexact steps with a prescribed residual (claims C3-C6, C19).

Oracles: the residual is checked with theory.gaussian.foc_residual (evaluated on ρ_{n+1}, OT map
B from ρ_{n+1} to ρ_n) and, independently, with the map-form formula of docs/numerics.md §2.1
(evaluated on ρ_n: c = (m'-m)/γ + Q(m'-b), R = (A-I)/γ + QA - A^{-1}Σ^{-1}); the bounds with
theory.bounds on W2/KL from theory.gaussian.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tolerances import (
    FEW_EPS,
    INEQ_ATOL,
    INEQ_RTOL,
    INEXACT_EPS_FLOORS,
    INEXACT_EPS_RTOL,
    INEXACT_SHARP_ATOL,
    ROUTE_RTOL,
)
from theory import bounds, gaussian
from theory.gaussian import (
    INEXACT_KINDS,
    inexact_step,
    inexact_trajectory,
    random_rotation,
    residual_floor,
)


def _case(seed: int, d: int, cond_target: float, cond_data: float, singular: bool = False):
    """Random (m, Σ, b, C) with the given condition numbers (eigenvalues log-spaced)."""
    rng = np.random.default_rng(seed)
    r1, r2 = random_rotation(rng, d), random_rotation(rng, d)
    wc = np.logspace(-0.5, 0.5, d) ** np.log10(cond_target) if d > 1 else np.array([2.0])
    ws = np.logspace(-0.5, 0.5, d) ** np.log10(cond_data) if d > 1 else np.array([0.7])
    if singular:
        ws[: max(d // 2, 1)] = 0.0
    return (rng.normal(0, 3, d), (r1 * ws) @ r1.T, rng.normal(0, 1, d), (r2 * wc) @ r2.T)


def _map_form_residual(m, sig, m1, s1, gamma, b, c):
    """docs/numerics.md §2.1: ε² = |c|² + tr(RΣRᵀ) on ρ_n (independent of foc_residual)."""
    q = np.linalg.inv(c)
    a = gaussian.ot_map(sig, s1)
    cv = (m1 - m) / gamma + q @ (m1 - b)
    rm = (a - np.eye(len(m))) / gamma + q @ a - np.linalg.inv(a) @ np.linalg.inv(sig)
    return float(np.sqrt(cv @ cv + np.trace(rm @ sig @ rm.T)))


# ----------------------------------------------------------------------------------------------
# The residual is the prescribed ε
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", INEXACT_KINDS)
@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("eps", [1e-4, 1e-2, 0.3])
def test_residual_equals_eps_well_conditioned(kind, d, eps):
    m, sig, b, c = _case(d, d, 10.0, 10.0)
    m1, s1 = inexact_step(m, sig, gamma=0.7, eps=eps, kind=kind, rng=3, target_mean=b,
                          target_cov=c)
    r = gaussian.foc_residual(m, sig, m1, s1, gamma=0.7, target_mean=b, target_cov=c)
    assert abs(r - eps) <= INEXACT_EPS_RTOL * eps
    # Independent oracle (different formula, evaluated on ρ_n); agreement limited by its own
    # round-off (explicit inverses of cond ≤ 1e2 matrices).
    assert _map_form_residual(m, sig, m1, s1, 0.7, b, c) == pytest.approx(eps, rel=ROUTE_RTOL)


@settings(max_examples=40)
@given(kind=st.sampled_from(INEXACT_KINDS), d=st.sampled_from([1, 2, 3, 6]),
       cond_t=st.sampled_from([1.0, 1e2, 1e4]), cond_d=st.sampled_from([1.0, 1e2, 1e4]),
       singular=st.booleans(), gamma=st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]),
       log_eps=st.floats(-6, -0.5), seed=st.integers(0, 2**16))
def test_residual_equals_eps_property(kind, d, cond_t, cond_d, singular, gamma, log_eps, seed):
    eps = 10.0**log_eps
    m, sig, b, c = _case(seed, d, cond_t, cond_d, singular)
    kw = dict(gamma=gamma, target_mean=b, target_cov=c)
    m1, s1 = inexact_step(m, sig, eps=eps, kind=kind, rng=seed, **kw)
    r = gaussian.foc_residual(m, sig, m1, s1, **kw)
    # 1e-10 relative above the round-off floor; at the floor the error is a few floors.
    floor = residual_floor(m, sig, **kw)
    assert abs(r - eps) <= INEXACT_EPS_RTOL * eps + INEXACT_EPS_FLOORS * floor
    assert np.all(np.linalg.eigvalsh(s1) > 0)


def test_mixed_parts_add_in_quadrature():
    """The mixed step's mean part (shift) and covariance part are orthogonal in L²(ρ')."""
    m, sig, b, c = _case(7, 3, 1e2, 1e2)
    kw = dict(gamma=0.5, target_mean=b, target_cov=c)
    m1, s1 = inexact_step(m, sig, eps=0.05, kind="mixed", rng=11, **kw)
    m_star, _ = gaussian.jko_step(m, sig, **kw)
    mean_part = gaussian.foc_residual(m, sig, m1, gaussian.jko_step(m, sig, **kw)[1], **kw)
    cov_part = gaussian.foc_residual(m, sig, m_star, s1, **kw)
    assert mean_part > 0 and cov_part > 0
    assert np.hypot(mean_part, cov_part) == pytest.approx(0.05, rel=INEXACT_EPS_RTOL)


@pytest.mark.parametrize("kind", INEXACT_KINDS)
@pytest.mark.parametrize("eps", [0.0, 1e-20])
def test_zero_eps_is_the_exact_step(kind, eps):
    m, sig, b, c = _case(1, 3, 1e2, 1e2)
    got = inexact_step(m, sig, gamma=0.5, eps=eps, kind=kind, target_mean=b, target_cov=c)
    want = gaussian.jko_step(m, sig, gamma=0.5, target_mean=b, target_cov=c)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("eps", [-1e-3, float("nan"), float("inf"), "x"])
def test_bad_eps_raises(eps):
    with pytest.raises(ValueError, match="eps"):
        inexact_step(np.zeros(2), np.eye(2), gamma=0.5, eps=eps)
    with pytest.raises(ValueError, match="eps"):
        inexact_trajectory(np.zeros(2), np.eye(2), gamma=0.5, eps=eps, n_steps=3)


def test_bad_kind_direction_schedule_raise():
    with pytest.raises(ValueError, match="kind"):
        inexact_step(np.zeros(2), np.eye(2), gamma=0.5, eps=0.1, kind="nope")
    with pytest.raises(ValueError, match="direction"):
        inexact_step(np.zeros(2), np.eye(2), gamma=0.5, eps=0.1, direction=[0.0, 0.0])
    with pytest.raises(ValueError, match="eps"):
        inexact_trajectory(np.zeros(2), np.eye(2), gamma=0.5, eps=[0.1, 0.1], n_steps=3)


def test_singular_data_mean_kind():
    """From a Dirac mass / a rank-1 law the step is defined and the residual is ε."""
    for sig in (np.zeros((2, 2)), np.array([[1.0, 1.0], [1.0, 1.0]])):
        m1, s1 = inexact_step([1.0, 2.0], sig, gamma=0.5, eps=0.02)
        r = gaussian.foc_residual([1.0, 2.0], sig, m1, s1, gamma=0.5)
        assert r == pytest.approx(0.02, rel=INEXACT_EPS_RTOL)


def test_default_direction_is_slowest_and_away():
    """kind='mean' shifts along the largest-variance axis of C, away from b, by ε/(1/γ+λ)."""
    c = np.diag([0.5, 4.0])  # λ = 1/4, slowest axis e_2
    b = np.array([1.0, -1.0])
    m = np.array([2.0, -3.0])  # below b along e_2
    gamma, eps = 0.5, 0.1
    m1, _ = inexact_step(m, np.eye(2), gamma=gamma, eps=eps, target_mean=b, target_cov=c)
    m_star, _ = gaussian.jko_step(m, np.eye(2), gamma=gamma, target_mean=b, target_cov=c)
    np.testing.assert_allclose(m1 - m_star, [0.0, -eps / (1 / gamma + 0.25)],
                               atol=FEW_EPS)


# ----------------------------------------------------------------------------------------------
# Trajectories
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mean_random", "map_random", "mixed"])
def test_trajectory_reproducible(kind):
    m, sig, b, c = _case(2, 3, 1e2, 1e2)
    kw = dict(gamma=[0.5, 1.0, 2.0, 0.5], eps=[1e-3, 1e-2, 1e-1, 1e-4], n_steps=4, kind=kind,
              target_mean=b, target_cov=c)
    t1 = inexact_trajectory(m, sig, seed=5, **kw)
    t2 = inexact_trajectory(m, sig, seed=5, **kw)
    t3 = inexact_trajectory(m, sig, seed=6, **kw)
    np.testing.assert_array_equal(t1.means, t2.means)
    np.testing.assert_array_equal(t1.covs, t2.covs)
    assert not np.array_equal(t1.covs, t3.covs) or not np.array_equal(t1.means, t3.means)
    floors = [residual_floor(t1.means[k], t1.covs[k], gamma=kw["gamma"][k], target_mean=b,
                             target_cov=c) for k in range(4)]
    err = np.abs(t1.eps_achieved - kw["eps"])
    assert np.all(err <= INEXACT_EPS_RTOL * np.asarray(kw["eps"]) + 4.0 * np.asarray(floors))
    assert t1.means.shape == (5, 3) and t1.covs.shape == (5, 3, 3) and t1.n_steps == 4


@pytest.mark.parametrize("gamma", [0.1, 1.0, 5.0])
@pytest.mark.parametrize("target", ["standard", "aniso"])
def test_mean_shift_attains_c3_with_equality(gamma, target):
    """C3 sharpness: from N(b + a·u_min, C), W_{n+1} = (W_n + γε)/(1+γλ) exactly."""
    d = 3
    _, _, b, c = _case(4, d, 1e2 if target == "aniso" else 1.0, 1.0)
    if target == "standard":
        b, c = np.zeros(d), np.eye(d)
    lam = gaussian.convexity_modulus(c)
    u = np.linalg.eigh(c)[1][:, -1]
    eps = 1e-2
    tr = inexact_trajectory(b + 2.0 * u, c, gamma=gamma, eps=eps, n_steps=10,
                            target_mean=b, target_cov=c)
    w = np.array([gaussian.w2(tr.means[k], tr.covs[k], b, c) for k in range(11)])
    ratio = w[1:] / bounds.w2_one_step(w[:-1], gamma, lam, tr.eps_achieved)
    np.testing.assert_allclose(ratio, 1.0, atol=INEXACT_SHARP_ATOL)


@settings(max_examples=25)
@given(kind=st.sampled_from(INEXACT_KINDS), d=st.sampled_from([1, 2, 4]),
       cond_t=st.sampled_from([1.0, 1e2]), cond_d=st.sampled_from([1.0, 1e3]),
       singular=st.booleans(), gamma=st.sampled_from([0.1, 0.5, 2.0, 5.0]),
       log_eps=st.floats(-4, -1), seed=st.integers(0, 2**16))
def test_bounds_c3_c4_c5_c19_property(kind, d, cond_t, cond_d, singular, gamma, log_eps, seed):
    m, sig, b, c = _case(seed, d, cond_t, cond_d, singular)
    lam = gaussian.convexity_modulus(c)
    n = 6
    tr = inexact_trajectory(m, sig, gamma=gamma, eps=10.0**log_eps, n_steps=n, kind=kind,
                            seed=seed, target_mean=b, target_cov=c)
    w = np.array([gaussian.w2(tr.means[k], tr.covs[k], b, c) for k in range(n + 1)])
    kl = np.array([gaussian.kl(tr.means[k], tr.covs[k], b, c) for k in range(1, n + 1)])
    step = np.array([gaussian.w2(tr.means[k], tr.covs[k], tr.means[k + 1], tr.covs[k + 1])
                     for k in range(n)])
    e = tr.eps_achieved
    checks = {
        "C3": (w[1:], bounds.w2_one_step(w[:-1], gamma, lam, e)),
        "C4": (w[1:], bounds.w2_multi_step(np.arange(1, n + 1), gamma, lam, w[0],
                                           np.maximum.accumulate(e))),
        "C5": (kl, bounds.gap_one_step(w[:-1], gamma, lam, e)),
        "C19": (kl, bounds.a_posteriori_kl(e, step, gamma, lam)),
    }
    for name, (lhs, rhs) in checks.items():
        assert np.all(lhs <= rhs * (1 + INEQ_RTOL) + INEQ_ATOL), name


def test_stationary_kl_mean_shift_is_lsi_tight():
    """C19: from q, the worst-case mean shift tends to KL_∞ = ε²/(2λ).

    docs/numerics.md §2.3(c).
    """
    c = np.diag([0.5, 2.0])
    lam, gamma, eps = 0.5, 2.0, 1e-2
    n = int(np.ceil(np.log(1e12) / np.log1p(gamma * lam)))
    tr = inexact_trajectory(np.zeros(2), c, gamma=gamma, eps=eps, n_steps=n, target_cov=c)
    kl = gaussian.kl(tr.means[-1], tr.covs[-1], None, c)
    assert kl / float(bounds.stationary_kl(eps, lam)) == pytest.approx(1.0, abs=INEXACT_SHARP_ATOL)
