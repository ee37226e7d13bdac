"""Tests of the 1-D pieces of theory.separable: QuantileSpline, adapted_grid, the data marginals.

Oracles are independent of the code under test: scipy.stats densities and quantiles, adaptive
quadrature (scipy.integrate.quad) between the knots, central differences, torch vs numpy.
"""

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from tests.tolerances import (
    SEP_FD_RTOL,
    SEP_GAP_SPACING_MAX,
    SEP_MASS_ATOL,
    SEP_ROUNDOFF_ATOL,
    SEP_THIRD_ORDER_RATIO_MIN,
    SEP_UNIFORM_SPACING_RTOL,
)
from theory import separable as sep
from theory.oned import gaussian_grid

LAWS = {
    "bimodal": sep.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6], name="bimodal"),
    "skewed": sep.mixture([0.7, 0.3], [-0.6, 1.4], [0.5, 1.0], name="skewed"),
    "gaussian": sep.mixture([1.0], [0.5], [0.8], name="gaussian"),
    "student_t5": sep.StudentT1D(5.0, loc=0.3, scale=0.8),
}


def _z(grid):
    """Knots Φ^{-1}(s_j), upper half from the complements."""
    return np.where(grid.s <= 0.5, special.ndtri(grid.s), -special.ndtri(grid.sc))


def _spline(law, n=60):
    grid = sep.adapted_grid(law, n)
    return sep.QuantileSpline.from_nodes(grid.nodes(law.quantile), grid)


@pytest.mark.parametrize("name", list(LAWS))
def test_inverse_of_forward_is_identity_inside_and_outside_the_knots(name):
    s = _spline(LAWS[name])
    z = np.linspace(-12.0, 12.0, 2001)  # knots span [-8, 8]: linear continuation beyond
    np.testing.assert_allclose(s.inverse(s.forward(z)), z, rtol=0, atol=SEP_ROUNDOFF_ATOL)
    x = np.linspace(s.x[0] - 5.0, s.x[-1] + 5.0, 1001)
    np.testing.assert_allclose(s.forward(s.inverse(x)), x, rtol=SEP_ROUNDOFF_ATOL,
                               atol=SEP_ROUNDOFF_ATOL)
    assert s.inverse(x).shape == x.shape and s.inverse(x.reshape(7, 143)).shape == (7, 143)


@pytest.mark.parametrize("name", list(LAWS))
def test_log_pdf_integrates_to_the_mass_between_the_knots(name):
    s = _spline(LAWS[name])

    def dens(x):
        return float(np.exp(s.log_pdf(np.array([x])))[0])

    mass = sum(integrate.quad(dens, a, b, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
               for a, b in zip(s.x[:-1], s.x[1:], strict=True))
    expected = special.ndtr(s.z[-1]) - special.ndtr(s.z[0])  # X#N(0,1) between the knots
    assert abs(mass - expected) <= SEP_MASS_ATOL


@pytest.mark.parametrize("name", list(LAWS))
def test_score_is_the_derivative_of_log_pdf(name):
    s = _spline(LAWS[name])
    x = s.forward(np.linspace(-9.0, 9.0, 1001))  # beyond the knots too
    h = 1e-5
    fd = (s.log_pdf(x + h) - s.log_pdf(x - h)) / (2 * h)
    sc = s.score(x)
    assert np.max(np.abs(fd - sc) / np.maximum(1.0, np.abs(sc))) <= SEP_FD_RTOL


def test_transport_to_maps_quantiles_to_quantiles():
    grid = sep.adapted_grid(LAWS["bimodal"], 80)
    a = sep.QuantileSpline.from_nodes(grid.nodes(LAWS["bimodal"].quantile), grid)
    b = sep.QuantileSpline.from_nodes(grid.nodes(LAWS["skewed"].quantile), grid)
    t, dt = a.transport_to(b, a.x)
    np.testing.assert_allclose(t, b.x, rtol=SEP_ROUNDOFF_ATOL, atol=SEP_ROUNDOFF_ATOL)
    z = np.linspace(-10.0, 10.0, 801)
    t, dt = a.transport_to(b, a.forward(z))
    np.testing.assert_allclose(t, b.forward(z), rtol=SEP_ROUNDOFF_ATOL, atol=SEP_ROUNDOFF_ATOL)
    x, h = a.forward(z), 1e-6
    fd = (a.transport_to(b, x + h)[0] - a.transport_to(b, x - h)[0]) / (2 * h)
    assert np.all(dt > 0)
    assert np.max(np.abs(fd - dt) / np.maximum(1.0, dt)) <= SEP_FD_RTOL
    # the map pushes a's law to b's: log b(T x) = log a(x) − log T'(x)
    np.testing.assert_allclose(b.log_pdf(t), a.log_pdf(x) - np.log(dt), rtol=0,
                               atol=SEP_ROUNDOFF_ATOL)


@pytest.mark.parametrize("name", ["bimodal", "skewed", "student_t5"])
def test_spline_log_pdf_converges_to_the_exact_law_at_third_order(name, rng):
    law = LAWS[name]
    x = law.quantile(rng.uniform(size=4000))
    err = [np.mean(np.abs(_spline(law, n).log_pdf(x) - law.log_pdf(x))) for n in (250, 500)]
    assert err[0] / err[1] >= SEP_THIRD_ORDER_RATIO_MIN


def test_student_t_agrees_with_scipy_and_torch():
    law = sep.StudentT1D(5.0, loc=0.3, scale=0.8)
    x = np.linspace(-40.0, 40.0, 801)
    ref = stats.t.logpdf(x, 5.0, loc=0.3, scale=0.8)
    np.testing.assert_allclose(law.log_pdf(x), ref, rtol=SEP_ROUNDOFF_ATOL, atol=0)
    lp = law.log_prob(torch.as_tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(lp, ref, rtol=SEP_ROUNDOFF_ATOL, atol=0)
    s = np.array([1e-20, 1e-6, 0.3, 0.5])
    np.testing.assert_allclose(law.quantile(s), stats.t.ppf(s, 5.0, loc=0.3, scale=0.8),
                               rtol=SEP_ROUNDOFF_ATOL)
    # upper tail from the complement, where 1 − s rounds to 1
    np.testing.assert_allclose(law.quantile(1.0 - s, s), stats.t.isf(s, 5.0, loc=0.3, scale=0.8),
                               rtol=SEP_ROUNDOFF_ATOL)
    assert law.m2 == pytest.approx(stats.t.moment(2, 5.0, loc=0.3, scale=0.8),
                                   rel=SEP_ROUNDOFF_ATOL)


def test_mixture_agrees_with_scipy_and_torch():
    law = LAWS["skewed"]
    x = np.linspace(-15.0, 15.0, 601)
    comps = [np.log(p) + stats.norm.logpdf(x, m, s)
             for p, m, s in ((0.7, -0.6, 0.5), (0.3, 1.4, 1.0))]
    ref = special.logsumexp(comps, axis=0)
    np.testing.assert_allclose(law.log_pdf(x), ref, rtol=SEP_ROUNDOFF_ATOL, atol=0)
    lp = law.log_prob(torch.as_tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(lp, ref, rtol=SEP_ROUNDOFF_ATOL, atol=0)
    m2 = 0.7 * (0.6**2 + 0.25) + 0.3 * (1.4**2 + 1.0)
    assert law.m2 == pytest.approx(m2, rel=SEP_ROUNDOFF_ATOL)


def test_adapted_grid_crowds_knots_into_a_bimodal_gap():
    n = 60
    uniform = 16.0 / (n - 1)  # tail-graded spacing on [-8, 8]
    grid = sep.adapted_grid(LAWS["bimodal"], n)
    z = _z(grid)
    dz = np.diff(z)
    j = int(np.argmin(dz))
    x_gap = LAWS["bimodal"].quantile(grid.s[j:j + 2], grid.sc[j:j + 2])
    assert dz[j] <= SEP_GAP_SPACING_MAX * uniform
    assert np.all(np.abs(x_gap) < 0.5)  # the crowded cell sits in the gap between ±2
    assert z[0] == pytest.approx(-8.0) and z[-1] == pytest.approx(8.0)


def test_adapted_grid_is_the_tail_graded_grid_for_a_gaussian():
    n = 60
    grid = sep.adapted_grid(LAWS["gaussian"], n)
    np.testing.assert_allclose(_z(grid), _z(gaussian_grid(n)), rtol=0,
                               atol=SEP_UNIFORM_SPACING_RTOL * 16.0)


_GRID = gaussian_grid(20)


@pytest.mark.parametrize("call, arg", [
    (lambda: sep.QuantileSpline.from_nodes(np.linspace(0, 1, 20)[::-1], _GRID), "nodes"),
    (lambda: sep.QuantileSpline.from_nodes(np.r_[np.linspace(0, 1, 19), 1.0], _GRID), "nodes"),
    (lambda: sep.QuantileSpline.from_nodes(np.linspace(0, 1, 19), _GRID), "nodes"),
    (lambda: sep.QuantileSpline.from_nodes(np.r_[np.linspace(0, 1, 19), np.nan], _GRID),
     "nodes"),
    (lambda: sep.StudentT1D(2.0), "nu"),
    (lambda: sep.StudentT1D(1.0), "nu"),
    (lambda: sep.StudentT1D(-3.0), "nu"),
    (lambda: sep.StudentT1D(float("nan")), "nu"),
    (lambda: sep.StudentT1D(5.0, loc=np.inf), "loc"),
    (lambda: sep.StudentT1D(5.0, scale=0.0), "scale"),
    (lambda: sep.mixture([0.5, 0.5], [0.0, 1.0], [1.0, -1.0]), "sds"),
    (lambda: sep.mixture([0.5, -0.5], [0.0, 1.0], [1.0, 1.0]), "weights"),
    (lambda: sep.adapted_grid(LAWS["skewed"], 10), "n"),
    (lambda: sep.adapted_grid(LAWS["skewed"], 50, zmax=0.0), "zmax"),
    (lambda: sep.adapted_grid(LAWS["skewed"], 50, kappa=-1.0), "kappa"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, arg):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        call()


def test_non_monotone_spline_is_rejected():
    # increasing nodes with alternating tiny/large gaps: the not-a-knot spline overshoots
    x = np.cumsum(np.tile([1.0, 1e-8], 10))
    with pytest.raises(ValueError, match="not increasing"):
        sep.QuantileSpline.from_nodes(x, _GRID)
