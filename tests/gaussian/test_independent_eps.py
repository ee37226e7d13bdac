"""The independent ε of experiments/gaussian_inexact.py (issue 9, item 2) and its power.

``_eps_quadrature`` evaluates ‖ξ‖_{L²(ρ_{n+1})} pointwise (POT's Bures–Wasserstein map, exact
Gauss–Hermite quadrature) without any code of ``foc_residual``; these tests pin it to a
hand-computed case and to ``foc_residual`` on random inexact steps, and show that it sees a
residual off by 1%.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments.gaussian_inexact import _eps_quadrature
from tests.tolerances import INDEPENDENT_EPS_RTOL
from theory.gaussian import INEXACT_KINDS, foc_residual, inexact_step, random_rotation


def test_hand_computed_mean_shift() -> None:
    """N(0,1) → N(0.5,1), γ = 1, q = N(0,1): ξ(y) = y + (−(y − 0.5)) + 0.5 = 1, so ε = 1."""
    e = _eps_quadrature(np.zeros(1), np.eye(1), np.array([0.5]), np.eye(1), 1.0, np.zeros(1),
                        np.eye(1))
    assert e == pytest.approx(1.0, rel=INDEPENDENT_EPS_RTOL)


@pytest.mark.parametrize("kind", INEXACT_KINDS)
@pytest.mark.parametrize("d", [1, 2, 4])
def test_matches_foc_residual(kind: str, d: int) -> None:
    rng = np.random.default_rng(d)
    r = random_rotation(rng, d)
    c = (r * np.exp(rng.uniform(-1.0, 1.0, d))) @ r.T
    b = rng.standard_normal(d)
    m, sig = rng.standard_normal(d), (r * np.exp(rng.uniform(-1.0, 1.0, d))) @ r.T
    for eps in (1e-3, 0.1):
        mu, s = inexact_step(m, sig, gamma=0.7, eps=eps, kind=kind, rng=1, target_mean=b,
                             target_cov=c)
        ref = foc_residual(m, sig, mu, s, gamma=0.7, target_mean=b, target_cov=c)
        got = _eps_quadrature(m, sig, mu, s, 0.7, b, c)
        assert got == pytest.approx(ref, rel=INDEPENDENT_EPS_RTOL)
        assert not got == pytest.approx(1.01 * ref, rel=INDEPENDENT_EPS_RTOL)
