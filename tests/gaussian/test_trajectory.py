"""Tests of theory/trajectory.py.

Oracles: iterating theory.gaussian.jko_step (itself checked against the FOC and brute force in
test_gaussian.py); theory.gaussian.w2/kl where they are accurate; a 50-digit mpmath solution of
the scalar first-order condition (1 + γ)σ'² - σσ' - γ = 0 — written as the FOC
(σ'/σ - 1)/γ + σ'/σ - 1/(σσ') = 0 and solved by mp.findroot — far below 1e-8.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies as S
from tests.gaussian.oracles import w2_pot
from tests.tolerances import (
    FEW_EPS,
    KL_RESOLVED_MIN,
    KL_SERIES_RTOL,
    KL_SLOGDET_ATOL,
    KL_SLOGDET_RTOL,
    LONG_RUN_ATOL,
    ROUTE_RTOL,
    TINY_W2_REACHED,
    TRAJ_MP_RTOL,
    TRAJ_RTOL,
    TRAJ_VS_CLOSED_RTOL,
    W2_POT_RTOL,
    W2_RESOLVED_MIN,
)
from theory import gaussian as G
from theory.gaussian import (
    general_trajectory,
    inexact_trajectory,
    iterate_steps,
    standard_trajectory,
)


@given(case=S.gaussian_cases(d_max=12), gamma=S.gammas(),
       n_steps=st.integers(1, 20))
def test_standard_trajectory_equals_iterated_jko_step(case, gamma, n_steps):
    m, cov = case
    tr = standard_trajectory(m, cov, gamma=gamma, n_steps=n_steps)
    mm, cc = m, cov
    for n in range(1, n_steps + 1):
        mm, cc = G.jko_step(mm, cc, gamma=gamma)
        np.testing.assert_allclose(tr.means[n], mm, rtol=TRAJ_RTOL,
                                   atol=TRAJ_RTOL * np.abs(mm).max(initial=0.0))
        np.testing.assert_allclose(tr.cov(n), cc, atol=TRAJ_RTOL * np.linalg.norm(cc, 2))


@given(case=S.gaussian_cases(d_max=8, allow_singular=False), gamma=S.gammas(1e-2, 10.0))
def test_trajectory_w2_and_kl_agree_with_closed_forms(case, gamma):
    """Where gaussian.w2 / kl are accurate (W2 >= 1e-4, KL >= 1e-8), the arrays agree."""
    m, cov = case
    tr = standard_trajectory(m, cov, gamma=gamma, n_steps=6)
    w2, kl, w2s = tr.w2(), tr.kl(), tr.w2_steps()
    for n in range(7):
        ref = G.w2(tr.means[n], tr.cov(n))
        if ref >= W2_RESOLVED_MIN:
            assert w2[n] == pytest.approx(ref, rel=TRAJ_VS_CLOSED_RTOL)
        ref_kl = G.kl(tr.means[n], tr.cov(n))
        if ref_kl >= KL_RESOLVED_MIN:
            assert kl[n] == pytest.approx(ref_kl, rel=TRAJ_VS_CLOSED_RTOL)
    for n in range(1, 7):
        ref = G.w2(tr.means[n - 1], tr.cov(n - 1), tr.means[n], tr.cov(n))
        if ref >= W2_RESOLVED_MIN:
            assert w2s[n - 1] == pytest.approx(ref, rel=TRAJ_VS_CLOSED_RTOL)


def _mp_trajectory(sig0, m0, gammas):
    """σ_n solving the scalar FOC at 50 digits; returns arrays of W2 and KL (rounded to float)."""
    with mp.workdps(50):
        s, m = [mp.mpf(x) for x in sig0], [mp.mpf(x) for x in m0]
        w2s, kls = [], []
        for k in range(len(gammas) + 1):
            w2s.append(mp.sqrt(mp.fsum((x - 1) ** 2 for x in s) + mp.fsum(x**2 for x in m)))
            kls.append(mp.fsum((x**2 - 1 - mp.log(x**2)) / 2 for x in s)
                       + mp.fsum(x**2 for x in m) / 2)
            if k == len(gammas):
                break
            g = mp.mpf(gammas[k])
            s = [mp.findroot(lambda y, x=x, g=g: (y / x - 1) / g + y / x - 1 / (x * y), x)
                 for x in s]
            m = [x / (1 + g) for x in m]
        return np.array([float(x) for x in w2s]), np.array([float(x) for x in kls])


@pytest.mark.parametrize("variable_gamma", [False, True])
def test_trajectory_stays_accurate_far_below_1e8(variable_gamma):
    """Diagonal case, 60 steps down to W2 < 1e-12 (KL < 1e-24): relative 1e-12 vs mpmath."""
    sig0 = np.array([0.5, 1.3, 2.0])
    m0 = np.array([0.0, 1e-3, 0.0])
    gam = np.geomspace(0.3, 2.0, 60) if variable_gamma else np.full(60, 0.7)
    tr = standard_trajectory(m0, np.diag(sig0**2), gamma=gam, n_steps=60)
    # the spectrum is ascending: compare in sorted order
    order = np.argsort(sig0)
    w2_ref, kl_ref = _mp_trajectory(sig0[order], m0[order], gam)
    assert w2_ref[-1] < TINY_W2_REACHED  # far below the trace formula's 1e-8 floor
    np.testing.assert_allclose(tr.w2(), w2_ref, rtol=TRAJ_MP_RTOL)
    np.testing.assert_allclose(tr.kl(), kl_ref, rtol=KL_SERIES_RTOL)


def test_trajectory_from_singular_data():
    """KL(ρ_0) = inf, KL(ρ_1) finite, zero eigenvalue -> sqrt(γ/(1+γ)) after one step."""
    tr = standard_trajectory(np.zeros(2), np.diag([0.0, 2.0]), gamma=0.5, n_steps=3)
    kl = tr.kl()
    assert kl[0] == np.inf and np.all(np.isfinite(kl[1:]))
    assert tr.sigma[1, 0] == pytest.approx(np.sqrt(0.5 / 1.5), rel=FEW_EPS)


@given(case=S.gaussian_cases(d_max=6), gamma=S.gammas(1e-2, 10.0))
def test_general_trajectory_with_standard_target_matches_standard(case, gamma):
    m, cov = case
    a = general_trajectory(m, cov, gamma=gamma, n_steps=5)
    b = standard_trajectory(m, cov, gamma=gamma, n_steps=5)
    for n in range(6):
        np.testing.assert_allclose(a.covs[n], b.cov(n), atol=ROUTE_RTOL * np.linalg.norm(
            a.covs[n], 2))


def test_general_trajectory_converges_to_target():
    c = S.spd_from_eigs(np.array([0.5, 2.0]), 1)
    b = np.array([1.0, -1.0])
    p = general_trajectory([5.0, 5.0], np.diag([0.0, 3.0]), gamma=2.0, n_steps=60,
                           target_mean=b, target_cov=c)
    np.testing.assert_allclose(p.means[-1], b, atol=LONG_RUN_ATOL)
    np.testing.assert_allclose(p.covs[-1], c, atol=LONG_RUN_ATOL)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(gamma=1.0, n_steps=-1), "n_steps"),
        (dict(gamma=1.0, n_steps=1.5), "n_steps"),
        (dict(gamma=[1.0, 1.0], n_steps=3), "gamma"),
        (dict(gamma=0.0, n_steps=3), "gamma"),
        (dict(gamma=np.nan, n_steps=3), "gamma"),
    ],
)
def test_bad_inputs(kwargs, match):
    for f in (standard_trajectory, general_trajectory):
        with pytest.raises(ValueError, match=match):
            f(np.zeros(2), np.eye(2), **kwargs)
    with pytest.raises(ValueError, match="cov"):
        standard_trajectory(np.zeros(2), np.diag([1.0, -1.0]), gamma=1.0, n_steps=2)
    with pytest.raises(ValueError, match="mean"):
        standard_trajectory(np.zeros(3), np.eye(2), gamma=1.0, n_steps=2)


def test_reproducible_and_float64():
    a = standard_trajectory(np.array([1, 2]), np.array([[2, 1], [1, 2]]), gamma=1, n_steps=4)
    b = standard_trajectory(np.array([1.0, 2.0]), np.array([[2.0, 1.0], [1.0, 2.0]]), gamma=1.0,
                            n_steps=4)
    for x, y in ((a.means, b.means), (a.sigma, b.sigma), (a.dev, b.dev)):
        assert x.dtype == np.float64
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", [None, "mean", "mixed"])
def test_paths_offer_w2_and_kl_to_a_general_target(kind):
    """W2(ρ_n, q) and KL(ρ_n‖q) of a path to q = N(b, C), C non-isotropic, against POT's Bures
    distance and the solve/slogdet KL formula."""
    b = np.array([1.0, -0.5, 0.3])
    c = S.spd_from_eigs(np.array([0.3, 1.0, 4.0]), 7)
    m0, s0 = np.array([3.0, 2.0, -1.0]), S.spd_from_eigs(np.array([0.5, 2.0, 6.0]), 8)
    kw = dict(gamma=0.6, n_steps=5, target_mean=b, target_cov=c)
    path = (general_trajectory(m0, s0, **kw) if kind is None
            else inexact_trajectory(m0, s0, eps=0.05, kind=kind, **kw))
    w2, kl = path.w2_to_target(), path.kl_to_target()
    assert w2.shape == kl.shape == (6,)
    ci = np.linalg.inv(c)
    for n in range(6):
        mn, sn = path.means[n], path.covs[n]
        assert w2[n] == pytest.approx(w2_pot(mn, sn, b, c), rel=W2_POT_RTOL)
        dm = mn - b
        ref = 0.5 * (np.trace(ci @ sn) - 3 - np.linalg.slogdet(ci @ sn)[1] + dm @ ci @ dm)
        assert kl[n] == pytest.approx(ref, rel=KL_SLOGDET_RTOL, abs=KL_SLOGDET_ATOL)


def test_standard_trajectory_to_target_aliases():
    tr = standard_trajectory(np.ones(2), np.diag([0.5, 2.0]), gamma=0.5, n_steps=3)
    np.testing.assert_array_equal(tr.w2_to_target(), tr.w2())
    np.testing.assert_array_equal(tr.kl_to_target(), tr.kl())


def test_iterate_steps_is_the_plain_loop():
    calls = []

    def step(k, m, c):
        calls.append(k)
        return m + 1.0, 2.0 * c

    means, covs = iterate_steps(np.zeros(2), np.eye(2), 3, step)
    assert calls == [0, 1, 2]
    np.testing.assert_array_equal(means[:, 0], [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(covs[:, 0, 0], [1.0, 2.0, 4.0, 8.0])
