"""Tests of the 1-D Lagrangian JKO solver.

Independent oracles: the Gaussian closed form (theory.gaussian.jko_step, derived from the FOC of
the continuum problem), the discrete-time Barenblatt law (theory.oned.BarenblattProfile, a scalar
root),
the Gibbs measure e^{-V}/Z by quadrature, exact invariances, and the Hilbert-space contraction
inequalities that the discrete (λ-convex) problem must satisfy exactly.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tolerances import (
    ONED_BRENTQ_RTOL,
    ONED_FIXED_POINT_ATOL,
    ONED_FOC_DATA_RTOL,
    ONED_GAP_ATOL,
    ONED_GAUSS_INTERACTION_ERR_N800,
    ONED_GAUSS_STEP_ERR_N1600,
    ONED_GAUSS_TRAJ_ERR_N800,
    ONED_GIBBS_STEADY_ERR_N800,
    ONED_INEQ_ATOL,
    ONED_INEQ_RTOL,
    ONED_INVARIANCE_ATOL,
    ONED_KL_FACTOR_ATOL,
    ONED_KL_FLOOR_N800,
    ONED_NEWTON_TOL,
    ONED_ORDER2_MAX,
    ONED_ORDER2_MIN,
    ONED_PME3_STEADY_ERR_N800,
    ONED_PME_ORDER_MIN,
    ONED_PME_RADIUS_ATOL,
    ONED_PME_STEP_ERR_N800,
    ONED_UNCONVERGED_MIN,
)
from theory import bounds, gaussian
from theory.oned import (
    AbsInteraction,
    BarenblattProfile,
    Entropy,
    GaussianMixture1D,
    PorousMedium,
    QuadraticInteraction,
    cosine_grid,
    foc_residual,
    gaussian_grid,
    gaussian_quantile,
    inexact_step,
    jko_objective,
    jko_step,
    kl_to_gibbs,
    quartic_potential,
    steady_state,
    trajectory,
    w2,
    w2_to_quantile,
)

KL_STD = kl_to_gibbs(quartic_potential(1.0))
TOL_SOLVE = ONED_NEWTON_TOL


def _order(ns, errs):
    return float(np.polyfit(np.log(ns), np.log(errs), 1)[0]) * -1


def test_gaussian_closed_form_second_order():
    """docs/numerics.md §3.1: one step γ=0.5 from N(1.5, 2²); order ≈ 2, error 7.0e-6 at n=1600.

    (docs/numerics.md §3.1 quotes 6.41e-6 for a variant of the grid.)
    """
    m1, c1 = gaussian.jko_step([1.5], [[4.0]], gamma=0.5)
    ref = gaussian_quantile(m1[0], np.sqrt(c1[0, 0]))
    ns, errs = [200, 400, 800, 1600], []
    for n in ns:
        g = gaussian_grid(n)
        r = jko_step(g.nodes(gaussian_quantile(1.5, 2.0)), g, KL_STD, 0.5)
        assert r.converged and r.residual <= TOL_SOLVE
        errs.append(w2_to_quantile(r.x, g, ref))
    assert ONED_ORDER2_MIN < _order(ns, errs) < ONED_ORDER2_MAX
    assert errs[-1] < ONED_GAUSS_STEP_ERR_N1600


@pytest.mark.parametrize("gamma,mean,sd", [(0.05, -2.0, 0.3), (0.5, 0.0, 1.0), (3.0, 4.0, 2.5)])
def test_gaussian_closed_form_several_steps_and_gammas(gamma, mean, sd):
    g = gaussian_grid(800)
    xs, _ = trajectory(g.nodes(gaussian_quantile(mean, sd)), g, KL_STD, gamma, 3)
    m, c = np.array([mean]), np.array([[sd * sd]])
    for k in range(1, 4):
        m, c = gaussian.jko_step(m, c, gamma=gamma)
        err = w2_to_quantile(xs[k], g, gaussian_quantile(m[0], np.sqrt(c[0, 0])))
        assert err < ONED_GAUSS_TRAJ_ERR_N800


def test_gaussian_closed_form_with_quadratic_interaction():
    g = gaussian_grid(800)
    F = quartic_potential(1.0) + Entropy() + QuadraticInteraction(0.7)
    r = jko_step(g.nodes(gaussian_quantile(1.5, 2.0)), g, F, 0.5)
    m, c = gaussian.jko_step([1.5], [[4.0]], gamma=0.5, interaction=[[0.7]])
    err = w2_to_quantile(r.x, g, gaussian_quantile(m[0], np.sqrt(c[0, 0])))
    assert err < ONED_GAUSS_INTERACTION_ERR_N800


def test_barenblatt_discrete_time_law():
    """docs/numerics.md §3.2: R1 = 1.98183185 (γ=0.3, m=2, R0=2.5); cosine grid, order 1.5-1.8."""
    b = BarenblattProfile(2.0)
    F = PorousMedium(2.0) + quartic_potential(1.0)
    r1 = b.next_radius(2.5, 0.3)
    ns, errs = [200, 400, 800], []
    for n in ns:
        g = cosine_grid(n)
        r = jko_step(g.nodes(b.quantile_fn(2.5)), g, F, 0.3)
        errs.append(w2_to_quantile(r.x, g, b.quantile_fn(r1)))
    assert _order(ns, errs) > ONED_PME_ORDER_MIN
    assert errs[-1] < ONED_PME_STEP_ERR_N800
    # radius from the second moment: R = sqrt(M2 / M2(B))
    radius = np.sqrt(np.dot(g.w, r.x**2) / b.m2)
    assert radius == pytest.approx(1.98183185, abs=ONED_PME_RADIUS_ATOL)


@pytest.mark.parametrize("which", ["gibbs_quartic", "barenblatt3"])
def test_steady_state_matches_exact_minimiser(which):
    if which == "gibbs_quartic":
        F = kl_to_gibbs(quartic_potential(1.0, 1.0))
        make, ref = gaussian_grid, F.gibbs.quantile
        tol = ONED_GIBBS_STEADY_ERR_N800
    else:
        b = BarenblattProfile(3.0)
        F = PorousMedium(3.0) + quartic_potential(1.0)
        make, ref = cosine_grid, b.quantile_fn()
        tol = ONED_PME3_STEADY_ERR_N800
    g = make(800)
    ss = steady_state(F, g, g.nodes(gaussian_quantile(0.3, 1.0)) if make is gaussian_grid
                      else g.nodes(BarenblattProfile(3.0).quantile_fn(1.5)))
    assert ss.converged
    assert w2_to_quantile(ss.x, g, ref) < tol
    # the minimiser is a fixed point of the JKO step
    r = jko_step(ss.x, g, F, 0.7)
    assert w2(r.x, ss.x, g) < ONED_FIXED_POINT_ATOL
    if which == "gibbs_quartic":
        assert abs(F.energy(ss.x, g)) < ONED_KL_FLOOR_N800  # KL(π_h‖π) ≈ 0 (discretisation)


def test_foc_residual_vanishes_at_solution_and_not_at_the_data():
    g = gaussian_grid(400)
    y = g.nodes(gaussian_quantile(1.5, 2.0))
    r = jko_step(y, g, KL_STD, 0.5)
    assert foc_residual(r.x, y, g, KL_STD, 0.5) <= TOL_SOLVE
    # at x = y the residual is the Wasserstein gradient norm of KL at N(1.5,4): |∇log(ρ/q)|_L2
    # = sqrt(E(x - (x-1.5)/4)^2) for x ~ N(1.5, 4)
    expect = np.sqrt(1.5**2 + 4.0 * (1 - 0.25) ** 2)
    assert foc_residual(y, y, g, KL_STD, 0.5) == pytest.approx(expect, rel=ONED_FOC_DATA_RTOL)


@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_translation_invariance(gamma):
    g = gaussian_grid(300)
    mix = GaussianMixture1D.make([0.4, 0.6], [-1.0, 2.0], [0.5, 0.8])
    y = g.nodes(mix.quantile)
    t = 1.7
    # KL to N(0,1): mean contracts by exactly 1/(1+γ), shape unchanged
    a, b = jko_step(y, g, KL_STD, gamma).x, jko_step(y + t, g, KL_STD, gamma).x
    np.testing.assert_allclose(b, a + t / (1 + gamma), atol=ONED_INVARIANCE_ATOL)
    # entropy + |z| interaction alone: translation invariant
    F = Entropy() + AbsInteraction(1.0)
    a, b = jko_step(y, g, F, gamma).x, jko_step(y + t, g, F, gamma).x
    np.testing.assert_allclose(b, a + t, atol=ONED_INVARIANCE_ATOL)


def test_ordering_preserved_for_tied_and_extreme_data():
    g = gaussian_grid(400)
    y = np.where(g.s < 0.5, -1.0, 2.0)  # two atoms: a non-decreasing node vector with ties
    r = jko_step(y, g, KL_STD, 0.2)
    assert r.converged and np.all(np.diff(r.x) > 0)


def test_non_convergence_warns_and_inexact_mode_does_not():
    g = gaussian_grid(200)
    y = g.nodes(gaussian_quantile(3.0, 0.2))
    with pytest.warns(UserWarning, match="did not converge"):
        r = jko_step(y, g, KL_STD, 0.5, max_iter=1)
    assert not r.converged and r.residual > ONED_UNCONVERGED_MIN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ie = inexact_step(y, g, KL_STD, 0.5, max_iter=1)
    assert ie.residual == r.residual  # the same deterministic computation


def test_bad_input_raises():
    g = gaussian_grid(50)
    y = g.nodes(gaussian_quantile())
    with pytest.raises(ValueError, match="^gamma "):
        jko_step(y, g, KL_STD, 0.0)
    with pytest.raises(ValueError, match="^tol "):
        jko_step(y, g, KL_STD, 0.5, tol=float("nan"))
    with pytest.raises(ValueError, match="^max_iter "):
        jko_step(y, g, KL_STD, 0.5, max_iter=2.5)
    with pytest.raises(ValueError, match="non-decreasing"):
        jko_step(y[::-1], g, KL_STD, 0.5)
    with pytest.raises(ValueError, match="shape"):
        jko_step(y[:-1], g, KL_STD, 0.5)
    with pytest.raises(ValueError, match="finite"):
        jko_step(np.where(g.s > 0.9, np.nan, y), g, KL_STD, 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        inexact_step(y, g, KL_STD, 0.5)
    with pytest.raises(ValueError, match="^eps "):
        inexact_step(y, g, KL_STD, 0.5, eps=-1.0)
    with pytest.raises(ValueError, match="^x0 "):
        steady_state(KL_STD, g, y[::-1])
    with pytest.raises(ValueError, match="strictly increasing"):
        jko_objective(np.zeros(50), y, g, KL_STD, 0.5)


@pytest.mark.parametrize("direction", ["shift", "dilate"])
def test_inexact_step_has_the_requested_residual(direction):
    g = gaussian_grid(300)
    y = g.nodes(gaussian_quantile(2.0, 1.5))
    r = inexact_step(y, g, KL_STD, 0.5, eps=0.03, direction=direction)
    assert r.residual == pytest.approx(0.03, rel=ONED_BRENTQ_RTOL)
    assert foc_residual(r.x, y, g, KL_STD, 0.5) == pytest.approx(0.03, rel=ONED_BRENTQ_RTOL)


def _target():
    return kl_to_gibbs(quartic_potential(1.0, 1.0))


_G_QUARTIC = _target()
_GRID = gaussian_grid(120)
_XSTAR = steady_state(_G_QUARTIC, _GRID, _GRID.nodes(gaussian_quantile())).x
_GSTAR = _G_QUARTIC.energy(_XSTAR, _GRID)


@given(w1=st.floats(0.05, 0.95), m1=st.floats(-4, 4), m2=st.floats(-4, 4),
       s1=st.floats(0.2, 2.0), gamma=st.floats(0.02, 5.0), eps=st.floats(0.0, 0.5))
def test_discrete_contraction_inequalities_hold(w1, m1, m2, s1, gamma, eps):
    """C2/C3/C5/C18 on the discrete problem (a λ-convex prox in the weighted norm, λ = 1)."""
    g, F, lam = _GRID, _G_QUARTIC, 1.0
    y = g.nodes(GaussianMixture1D.make([w1, 1 - w1], [m1, m2], [s1, 0.7]).quantile)
    exact = jko_step(y, g, F, gamma)
    w_prev, w_next = w2(y, _XSTAR, g), w2(exact.x, _XSTAR, g)
    slack = ONED_INEQ_ATOL * (1 + gamma)
    assert w_next <= bounds.w2_one_step(w_prev, gamma, lam) * (1 + ONED_INEQ_RTOL) + slack
    gap_prev = F.energy(y, g) - _GSTAR
    gap_next = F.energy(exact.x, g) - _GSTAR
    gap_bound = bounds.gap_one_step(w_prev, gamma, lam)
    assert gap_next <= gap_bound * (1 + ONED_INEQ_RTOL) + ONED_GAP_ATOL
    # KL contraction: (1+γλ)^{-2} (above-tangent + LSI, see experiments/general_functionals.py)
    assert gap_next <= gap_prev * bounds.kl_contraction_gaussian(gamma, lam) + ONED_KL_FACTOR_ATOL
    if eps > 0:
        r = inexact_step(y, g, F, gamma, eps=eps)
        w_in = w2(r.x, _XSTAR, g)
        bound = bounds.w2_one_step(w_prev, gamma, lam, r.residual)
        assert w_in <= bound * (1 + ONED_INEQ_RTOL) + slack


@pytest.mark.parametrize("atoms", [(0.5,), (3.0,), (-1.0, 2.0), (0.0, 0.5, 4.0)])
@pytest.mark.parametrize("n", [600, 2000])
def test_step_from_atoms_converges_on_fine_grids(atoms, n):
    """Regression: from tied nodes (atomic data) Newton must converge at large n.

    A 1e-6 initial spread made the Newton matrix lose positive definiteness at n = 600 (one atom)
    and n = 2000 (several atoms); found by the no_density_1d full profile. Oracle: the FOC
    residual at the returned nodes, recomputed by ``foc_residual``.
    """
    grid = gaussian_grid(n)
    G = kl_to_gibbs(quartic_potential(1.0))
    k = np.minimum(np.searchsorted(np.linspace(0, 1, len(atoms) + 1)[1:], grid.s), len(atoms) - 1)
    y = np.asarray(atoms, dtype=float)[k]
    st = jko_step(y, grid, G, 0.5, tol=ONED_NEWTON_TOL, warn=False)
    assert st.converged
    assert foc_residual(st.x, y, grid, G, 0.5) <= ONED_NEWTON_TOL
