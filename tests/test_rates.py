"""theory.rates: the slope fits recover known exponents on synthetic data (C8 machinery)."""

import numpy as np
import pytest

from tests.tolerances import (
    FIT_EXACT_INTERCEPT_ATOL,
    FIT_EXACT_SLOPE_ATOL,
    ROUNDOFF_RTOL,
    ZSCORE_MEAN_MAX,
    ZSCORE_SD_MAX,
    ZSCORE_SD_MIN,
)
from theory.rates import fit_line, fit_loglog, seed_interval


@pytest.mark.parametrize("p", [1.0, 2.0, 2.5])
def test_fit_loglog_recovers_exponent_exactly(p):
    eps = np.logspace(-5, -1, 9)
    fit = fit_loglog(eps, 0.37 * eps**p)
    assert fit.slope == pytest.approx(p, abs=FIT_EXACT_SLOPE_ATOL)
    assert fit.intercept == pytest.approx(np.log(0.37), abs=FIT_EXACT_INTERCEPT_ATOL)
    assert fit.slope_se < FIT_EXACT_SLOPE_ATOL


def test_fit_loglog_with_noise_has_honest_standard_error(rng):
    """Multiplicative noise of sd 0.1 in log: the true slope lies within 4 s.e. over seeds."""
    eps = np.logspace(-4, -1, 20)
    z = []
    for _ in range(200):
        y = eps**2 * np.exp(0.1 * rng.standard_normal(eps.size))
        f = fit_loglog(eps, y)
        z.append((f.slope - 2.0) / f.slope_se)
    z = np.array(z)
    # standardised errors are ~ t_18: mean ~0, sd ~1.06
    assert abs(z.mean()) < ZSCORE_MEAN_MAX
    assert ZSCORE_SD_MIN < z.std() < ZSCORE_SD_MAX


def test_transient_plus_floor_biases_slope_upward():
    """KL = ε² + a·ε^{2c}·(W0)^... with c>1 decays to slope 2 from above.

    See docs/numerics.md §2.4.
    """
    eps = np.logspace(-5, -1, 9)
    assert fit_loglog(eps, eps**2 + 0.5 * eps**3).slope > 2.0
    assert fit_loglog(eps, eps**2).slope == pytest.approx(2.0, abs=FIT_EXACT_SLOPE_ATOL)


def test_seed_interval_contains_mean_and_orders():
    m, lo, hi = seed_interval([1.9, 2.1, 2.0, 1.95, 2.05])
    assert lo < m < hi
    assert m == pytest.approx(2.0, rel=ROUNDOFF_RTOL)
    assert seed_interval([2.0, 2.0]) == (2.0, 2.0, 2.0)


@pytest.mark.parametrize("x, y, match", [
    ([1.0], [1.0], "at least 2"),
    ([1.0, 2.0], [1.0], "equal length"),
    ([1.0, np.nan], [1.0, 2.0], "finite"),
    ([1.0, 1.0], [1.0, 2.0], "constant"),
])
def test_fit_line_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_line(x, y)


def test_fit_loglog_rejects_nonpositive():
    with pytest.raises(ValueError, match="positive"):
        fit_loglog([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="per-seed"):
        seed_interval([1.0])
