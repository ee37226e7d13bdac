"""Tests of the discrete convex functionals: derivatives, convexity, and values vs closed forms.

Oracles: central finite differences (derivatives), brute-force double sums (interactions),
theory.gaussian.kl / entropy (Gaussian values), scipy quadrature (porous-medium energy),
and the definition of λ-convexity along segments (hypothesis).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from tests.tolerances import (
    ONED_CONVEX_SLACK,
    ONED_FD_RTOL,
    ONED_KL_DISC_ATOL,
    ONED_MATVEC_ATOL,
    ONED_PME_ENERGY_RTOL,
    ONED_ROUNDOFF_RTOL,
    ONED_SECOND_ORDER_RATIO,
    ONED_SOLVE_RTOL,
)
from theory import gaussian
from theory.oned import (
    AbsInteraction,
    BarenblattProfile,
    Entropy,
    Hessian1D,
    PairInteraction,
    PorousMedium,
    QuadraticInteraction,
    cosine_grid,
    gaussian_grid,
    gaussian_quantile,
    kl_to_gibbs,
    quartic_potential,
    uniform_grid,
)

FD_STEP = 1e-6  # central-difference step (see ONED_FD_RTOL)


def _functionals():
    return {
        "potential": quartic_potential(1.0, 1.0, center=0.3),
        "entropy": Entropy(0.7),
        "pme2": PorousMedium(2.0),
        "pme3": PorousMedium(3.0),
        "quad_int": QuadraticInteraction(0.8),
        "abs_int": AbsInteraction(0.5),
        "pair_int": PairInteraction(lambda z: z**4 / 4, lambda z: z**3, lambda z: 3 * z**2),
        "sum": quartic_potential(1.0) + Entropy() + QuadraticInteraction(0.5),
    }


@pytest.fixture
def nodes(rng):
    g = uniform_grid(12)
    x = np.sort(rng.normal(size=12)) + np.linspace(0, 1, 12)
    return g, x


@pytest.mark.parametrize("name", list(_functionals()))
def test_gradient_matches_finite_differences(name, nodes):
    F = _functionals()[name]
    g, x = nodes
    h = FD_STEP
    fd = np.array([(F.energy(x + h * e, g) - F.energy(x - h * e, g)) / (2 * h)
                   for e in np.eye(g.n)])
    np.testing.assert_allclose(F.gradient(x, g), fd,
                               atol=ONED_FD_RTOL * max(1, np.abs(fd).max()))


@pytest.mark.parametrize("name", list(_functionals()))
def test_hessian_matches_finite_differences(name, nodes):
    F = _functionals()[name]
    g, x = nodes
    h = FD_STEP
    fd = np.array([(F.gradient(x + h * e, g) - F.gradient(x - h * e, g)) / (2 * h)
                   for e in np.eye(g.n)])
    H = F.hessian(x, g)
    np.testing.assert_allclose(H.to_dense(), fd, atol=ONED_FD_RTOL * max(1, np.abs(fd).max()))
    v = np.linspace(-1, 1, g.n)
    np.testing.assert_allclose(H.matvec(v), H.to_dense() @ v, atol=ONED_MATVEC_ATOL)


def test_hessian_solve_with_low_rank_terms(rng):
    n = 30
    w = rng.uniform(0.5, 1.5, n)
    w /= w.sum()
    H = Hessian1D(2.0 + rng.uniform(size=n), -0.3 * rng.uniform(size=n - 1), [(-0.5, w)])
    b = rng.normal(size=n)
    np.testing.assert_allclose(H.solve(b), np.linalg.solve(H.to_dense(), b),
                               rtol=ONED_SOLVE_RTOL)
    D = Hessian1D(np.ones(n), np.zeros(n - 1), dense=0.1 * np.outer(w, w))
    np.testing.assert_allclose(D.solve(b), np.linalg.solve(D.to_dense(), b),
                               rtol=ONED_SOLVE_RTOL)


def test_interaction_energies_equal_brute_force_double_sums(nodes):
    g, x = nodes
    d = x[:, None] - x[None, :]
    ww = np.outer(g.w, g.w)
    assert AbsInteraction(0.5).energy(x, g) == pytest.approx(
        0.5 * np.sum(ww * 0.5 * np.abs(d)), rel=ONED_ROUNDOFF_RTOL)
    assert QuadraticInteraction(0.8).energy(x, g) == pytest.approx(
        0.5 * np.sum(ww * 0.8 * d * d / 2), rel=ONED_ROUNDOFF_RTOL)


@pytest.mark.parametrize("mean,sd", [(0.0, 1.0), (1.5, 2.0), (-1.0, 0.4)])
def test_kl_of_gaussian_nodes_matches_closed_form(mean, sd):
    G = kl_to_gibbs(quartic_potential(1.0))
    errs = []
    for n in (200, 800):
        g = gaussian_grid(n)
        errs.append(abs(G.energy(g.nodes(gaussian_quantile(mean, sd)), g)
                        - gaussian.kl([mean], [[sd * sd]])))
    # second order: quadrupling n divides the error by ~16; measured 2.5e-4 at n=800 for N(1.5, 2²)
    assert errs[1] < ONED_KL_DISC_ATOL and errs[1] < errs[0] / ONED_SECOND_ORDER_RATIO


@pytest.mark.parametrize("m", [2.0, 3.0])
def test_porous_medium_energy_of_barenblatt_matches_quadrature(m):
    b = BarenblattProfile(m)
    exact = integrate.quad(lambda x: b.pdf(x) ** m / (m - 1), -b.L, b.L, epsabs=1e-14)[0]
    g = cosine_grid(1600)
    val = PorousMedium(m).energy(g.nodes(b.quantile_fn()), g)
    assert val == pytest.approx(exact, rel=ONED_PME_ENERGY_RTOL)


def test_convexity_moduli_and_sums():
    assert quartic_potential(1.0, 1.0).lam == 1.0
    assert quartic_potential(0.0, 1.0).lam == 0.0
    G = kl_to_gibbs(quartic_potential(2.0, 1.0))
    assert G.lam == 2.0
    assert (PorousMedium(2) + quartic_potential(1.0)).lam == 1.0


def test_bad_functional_parameters_raise():
    with pytest.raises(ValueError, match="^beta "):
        Entropy(0.0)
    with pytest.raises(ValueError, match="^m must"):
        PorousMedium(1.0)
    with pytest.raises(ValueError, match="^m must"):
        PorousMedium(float("nan"))
    with pytest.raises(ValueError, match="^a2 "):
        quartic_potential(-1.0, 0.0)
    with pytest.raises(ValueError, match="a2 and a4"):
        quartic_potential(0.0, 0.0)
    with pytest.raises(ValueError, match="^kappa "):
        QuadraticInteraction(-1.0)
    with pytest.raises(ValueError, match="^kappa "):
        AbsInteraction(float("inf"))
    with pytest.raises(ValueError, match="^potential "):
        kl_to_gibbs(Entropy())
    with pytest.raises(ValueError, match="^n_panels "):
        kl_to_gibbs(quartic_potential(), n_panels=2.5)


@given(seed=st.integers(0, 10**6), t=st.floats(0.05, 0.95), which=st.sampled_from(
    ["kl_quartic", "pme_confined", "interaction"]))
def test_discrete_functionals_are_lambda_convex_along_segments(seed, t, which):
    """G_h((1-t)x + t x') ≤ (1-t)G_h(x) + tG_h(x') - (λ/2)t(1-t)|x - x'|_w² on the ordered cone."""
    rng = np.random.default_rng(seed)
    g = gaussian_grid(60)
    F = {"kl_quartic": kl_to_gibbs(quartic_potential(1.0, 1.0)),
         "pme_confined": PorousMedium(2.0) + quartic_potential(1.0),
         "interaction": quartic_potential(0.5) + Entropy() + AbsInteraction(1.0)
         + QuadraticInteraction(0.3)}[which]
    x0 = np.cumsum(rng.uniform(0.01, 0.3, g.n))
    x1 = np.cumsum(rng.uniform(0.01, 0.3, g.n)) - 3.0
    xt = (1 - t) * x0 + t * x1
    lhs = F.energy(xt, g)
    rhs = ((1 - t) * F.energy(x0, g) + t * F.energy(x1, g)
           - 0.5 * F.lam * t * (1 - t) * np.dot(g.w, (x0 - x1) ** 2))
    assert lhs <= rhs + ONED_CONVEX_SLACK * (1 + abs(rhs))
