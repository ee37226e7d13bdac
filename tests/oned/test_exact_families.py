"""Exact discrete solution families of the 1-D solver, used as sharpness oracles (issue 9).

The experiments ``general_functionals``, ``merely_convex`` and ``no_density_1d`` check that the
bounds of theory.bounds are attained (or have a closed-form ratio) on these families; here the
families themselves are tested against the solver: a mean shift of the discrete minimiser under a
quadratic confinement (exact, inexact "shift" step) and one step from a single atom.
"""

import numpy as np
import pytest

from tests.tolerances import ONED_FAMILY_ATOL, ONED_FAMILY_EPS_RTOL
from theory.oned import (
    BarenblattProfile,
    Entropy,
    PorousMedium,
    cosine_grid,
    gaussian_grid,
    gaussian_quantile,
    inexact_step,
    jko_step,
    quartic_potential,
    steady_state,
)

TOL = 1e-11


def _case(kind: str, lam: float):
    if kind == "entropy":
        g = gaussian_grid(120)
        F = quartic_potential(lam) + Entropy()
        guess = gaussian_quantile(0.0, lam ** -0.5)
    else:
        g = cosine_grid(120)
        F = PorousMedium(2.0) + quartic_potential(lam)
        guess = BarenblattProfile(2.0).quantile_fn(1.3)
    return F, g, steady_state(F, g, g.nodes(guess), tol=TOL).x


@pytest.mark.parametrize("kind,lam", [("entropy", 0.5), ("entropy", 2.0), ("pme", 1.0)])
@pytest.mark.parametrize("gamma", [0.3, 2.0])
def test_shifted_minimiser_moves_by_one_over_one_plus_gamma_lambda(kind, lam, gamma):
    F, g, xs = _case(kind, lam)
    m = 1.7
    step = jko_step(xs + m, g, F, gamma, tol=TOL)
    np.testing.assert_allclose(step.x, xs + m / (1.0 + gamma * lam), rtol=0,
                               atol=ONED_FAMILY_ATOL)


@pytest.mark.parametrize("kind,lam", [("entropy", 0.5), ("pme", 1.0)])
def test_inexact_shift_step_adds_gamma_eps_over_one_plus_gamma_lambda(kind, lam):
    F, g, xs = _case(kind, lam)
    gamma, eps, m = 0.5, 1e-2, 1.0
    exact = jko_step(xs + m, g, F, gamma, tol=TOL)
    step = inexact_step(xs + m, g, F, gamma, eps=eps, tol=TOL)
    np.testing.assert_allclose(step.x - exact.x, gamma * eps / (1.0 + gamma * lam), rtol=0,
                               atol=ONED_FAMILY_ATOL)
    assert abs(step.residual / eps - 1.0) <= ONED_FAMILY_EPS_RTOL


@pytest.mark.parametrize("a", [0.5, 3.0])
def test_step_from_a_single_atom_is_a_scaled_shifted_minimiser(a):
    """From y ≡ a, Φ = (1+γ)/(2γ)Σw(x − a/(1+γ))² + H(x) + const: a scaled N(0, 1) minimiser."""
    F, g, xs = _case("entropy", 1.0)
    gamma = 0.5
    step = jko_step(np.full(g.n, a), g, F, gamma, tol=TOL)
    expected = a / (1.0 + gamma) + np.sqrt(gamma / (1.0 + gamma)) * xs
    np.testing.assert_allclose(step.x, expected, rtol=0, atol=ONED_FAMILY_ATOL)
