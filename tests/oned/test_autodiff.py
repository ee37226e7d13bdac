"""Tests of functionals written once (torch autograd derivatives) against hand-written ones.

Oracles: closed-form derivatives written by hand (the project's hand-written classes and the
experiments' potentials) and the JKO step of the hand-written functional.
"""

import numpy as np
import pytest
import torch

from tests.tolerances import ONED_AUTODIFF_RTOL, ONED_LOGZ_ATOL, ONED_NEWTON_TOL
from theory.oned import (
    Entropy,
    InternalEnergy,
    PairInteraction,
    PorousMedium,
    Potential,
    gaussian_grid,
    gaussian_quantile,
    jko_step,
    kl_to_gibbs,
    quartic_potential,
    w2,
)

X = np.linspace(-6.0, 6.0, 241)
V_POS = np.geomspace(1e-3, 1e3, 121)


def _hand_logcosh():
    return Potential(lambda x: 0.5 * x * x + 2.0 * np.logaddexp(x, -x) - 2.0 * np.log(2.0),
                     lambda x: x + 2.0 * np.tanh(x), lambda x: 1.0 + 2.0 / np.cosh(x) ** 2,
                     lam=1.0)


def _hand_sqrt():
    return Potential(lambda x: np.sqrt(1.0 + x * x), lambda x: x / np.sqrt(1.0 + x * x),
                     lambda x: (1.0 + x * x) ** -1.5, lam=0.0)


CASES = {
    "quartic": (lambda x: 0.5 * x**2 + 0.25 * x**4, lambda: quartic_potential(1.0, 1.0)),
    "logcosh": (lambda x: 0.5 * x * x + 2.0 * torch.logaddexp(x, -x) - 2.0 * np.log(2.0),
                _hand_logcosh),
    "sqrt": (lambda x: torch.sqrt(1.0 + x * x), _hand_sqrt),
}


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.all(np.abs(a - b) <= ONED_AUTODIFF_RTOL * np.maximum(1.0, np.abs(b)))


@pytest.mark.parametrize("name", list(CASES))
def test_potential_derivatives_equal_hand_written(name):
    fn, hand = CASES[name]
    ref = hand()
    auto = Potential.from_function(fn, lam=ref.lam)
    for got, want in ((auto.V, ref.V), (auto.dV, ref.dV), (auto.d2V, ref.d2V)):
        _close(got(X), want(X))
    # any input shape, float64 out
    assert auto.d2V(X[:240].reshape(12, 20)).shape == (12, 20)
    assert auto.dV(X).dtype == np.float64


@pytest.mark.parametrize("name", ["logcosh", "sqrt"])
def test_jko_step_with_autodiff_potential_equals_hand_written(name):
    """Both solves stop at FOC residual ≤ tol, so each is within γ·tol of the exact step."""
    fn, hand = CASES[name]
    g, gamma = gaussian_grid(200), 0.5
    y = g.nodes(gaussian_quantile(2.0, 1.5))
    a = jko_step(y, g, kl_to_gibbs(Potential.from_function(fn, lam=hand().lam)), gamma)
    b = jko_step(y, g, kl_to_gibbs(hand()), gamma)
    assert a.converged and b.converged
    assert w2(a.x, b.x, g) <= 2 * gamma * ONED_NEWTON_TOL


def test_kl_to_gibbs_accepts_a_torch_function():
    auto = kl_to_gibbs(lambda x: 0.5 * x**2 + 0.25 * x**4)
    ref = kl_to_gibbs(quartic_potential(1.0, 1.0))
    assert auto.gibbs.log_z == pytest.approx(ref.gibbs.log_z, abs=ONED_LOGZ_ATOL)
    assert auto.lam is None  # λ is not guessed


def test_internal_energies_from_energy_density_equal_hand_written():
    pairs = [(InternalEnergy.from_energy_density(lambda r: r * torch.log(r)), Entropy(1.0)),
             (InternalEnergy.from_energy_density(lambda r: r**2), PorousMedium(2.0)),
             (InternalEnergy.from_energy_density(lambda r: r**3 / 2), PorousMedium(3.0))]
    for auto, ref in pairs:
        for got, want in ((auto.f, ref.f), (auto.df, ref.df), (auto.d2f, ref.d2f)):
            _close(got(V_POS), want(V_POS))


def test_pair_interaction_from_function_equals_hand_written(rng):
    auto = PairInteraction.from_function(lambda z: z**4 / 4 + torch.sqrt(1 + z * z))
    ref = PairInteraction(lambda z: z**4 / 4 + np.sqrt(1 + z * z),
                          lambda z: z**3 + z / np.sqrt(1 + z * z),
                          lambda z: 3 * z**2 + (1 + z * z) ** -1.5)
    g = gaussian_grid(30)
    x = np.sort(rng.normal(size=30))
    _close(auto.energy(x, g), ref.energy(x, g))
    _close(auto.gradient(x, g), ref.gradient(x, g))
    _close(auto.hessian(x, g).to_dense(), ref.hessian(x, g).to_dense())


def test_linear_and_constant_functions_have_zero_higher_derivatives():
    lin = Potential.from_function(lambda x: 3.0 * x)
    np.testing.assert_array_equal(lin.dV(X), np.full(X.shape, 3.0))
    np.testing.assert_array_equal(lin.d2V(X), np.zeros(X.shape))
    assert lin.lam is None


@pytest.mark.parametrize("bad,match", [
    (lambda x: x - x.mean(), "elementwise"),
    (lambda x: (x * x).float(), "float64"),
    (lambda x: np.asarray(x) ** 2, "torch tensor"),
    (lambda x: torch.log(x), "finite"),
    ("x**2", "callable"),
])
def test_bad_functions_raise_naming_the_argument(bad, match):
    with pytest.raises(ValueError, match=f"^V must.*{match}"):
        Potential.from_function(bad)
    with pytest.raises(ValueError, match=f"^W must.*{match}"):
        PairInteraction.from_function(bad)


def test_bad_lam_raises():
    with pytest.raises(ValueError, match="lam"):
        Potential.from_function(lambda x: x * x, lam=float("nan"))
