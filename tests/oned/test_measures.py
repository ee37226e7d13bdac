"""Tests of the 1-D measure tools: mass grids, exact W2, quantile inversion, reference laws.

Oracles are independent: POT's exact OT (``ot.emd2``), scipy.stats / scipy.integrate quadrature,
the Gaussian closed form of theory.gaussian, and closed-form special values.
"""

import numpy as np
import ot
import pytest
from scipy import integrate, optimize, special, stats

from tests.tolerances import (
    ONED_DENSITY_RTOL,
    ONED_GIBBS_MOMENT_RTOL,
    ONED_LOGZ_ATOL,
    ONED_MEAN_ATOL,
    ONED_MIX_QUANTILE_ATOL,
    ONED_OU_RTOL,
    ONED_POT_RTOL,
    ONED_QUAD_ATOL,
    ONED_QUAD_RTOL,
    ONED_QUADRATURE_ORDER_MIN,
    ONED_QUANTILE_ATOL,
    ONED_R1_ATOL,
    ONED_ROOT_ATOL,
    ONED_ROUNDOFF_RTOL,
    ONED_SUM_ATOL,
    ONED_TAIL_MASS_RTOL,
    ONED_VAR_RTOL,
    ONED_W2_ATOMS_RTOL,
    ONED_W2_QUADRATURE_RTOL,
)
from theory import gaussian
from theory.oned import (
    Atoms1D,
    BarenblattProfile,
    GaussianMixture1D,
    GibbsMeasure1D,
    cosine_grid,
    density_at_nodes,
    gaussian_grid,
    gaussian_quantile,
    mass_grid,
    moments,
    uniform_grid,
    w2,
    w2_atoms_to_mixture,
    w2_between_quantiles,
    w2_sq,
    w2_to_quantile,
)

TOL_SUM = ONED_SUM_ATOL
TOL_QUANT = ONED_QUANTILE_ATOL


@pytest.mark.parametrize("make", [gaussian_grid, cosine_grid, uniform_grid])
@pytest.mark.parametrize("n", [3, 50, 1601])
def test_grid_weights_are_positive_and_sum_to_one(make, n):
    g = make(n)
    assert np.all(g.w > 0) and np.all(g.mu > 0)
    assert abs(g.w.sum() - 1.0) < TOL_SUM
    assert g.mu.size == n - 1


def test_gaussian_grid_tail_masses_are_relatively_accurate():
    g = gaussian_grid(1601)
    # cell mass of the last node = tail mass beyond z=8 plus half the last gap, both ends
    z = np.linspace(-8, 8, 1601)
    expect = special.ndtr(-8.0) + 0.5 * (special.ndtr(z[1]) - special.ndtr(z[0]))
    assert g.w[0] == pytest.approx(expect, rel=ONED_TAIL_MASS_RTOL)
    assert g.w[-1] == pytest.approx(expect, rel=ONED_TAIL_MASS_RTOL)
    np.testing.assert_allclose(g.w, g.w[::-1], rtol=ONED_TAIL_MASS_RTOL)


def test_bad_grids_raise():
    with pytest.raises(ValueError, match="^n must"):
        gaussian_grid(2)
    with pytest.raises(ValueError, match="^n must"):
        cosine_grid(10.5)
    with pytest.raises(ValueError, match="^zmax "):
        gaussian_grid(10, zmax=-1.0)
    with pytest.raises(ValueError, match="^sd "):
        gaussian_quantile(0.0, 0.0)
    with pytest.raises(ValueError, match="^mean "):
        gaussian_quantile(float("nan"), 1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        mass_grid([0.1, 0.1, 0.5])
    with pytest.raises(ValueError, match="inside"):
        mass_grid([-0.1, 0.2, 0.5])


def test_w2_same_grid_equals_exact_ot_between_atomic_measures(rng):
    g = gaussian_grid(40)
    x = np.sort(rng.normal(size=40) * 2)
    y = np.sort(rng.normal(size=40) + 1)
    cost = ot.dist(x[:, None], y[:, None])
    ref = ot.emd2(g.w, g.w, cost, numItermax=10**6)
    assert w2_sq(x, y, g) == pytest.approx(ref, rel=ONED_POT_RTOL)
    assert w2(x, y, g) == pytest.approx(np.sqrt(ref), rel=ONED_POT_RTOL)


def test_w2_rejects_unsorted_nodes():
    g = uniform_grid(5)
    with pytest.raises(ValueError, match="non-decreasing"):
        w2(np.array([0, 2, 1, 3, 4.0]), np.arange(5.0), g)


@pytest.mark.parametrize("m0,s0,m1,s1", [(0.0, 1.0, 1.0, 2.0), (1.5, 2.0, -0.3, 0.5)])
def test_w2_between_quantiles_matches_gaussian_closed_form(m0, s0, m1, s1):
    val = w2_between_quantiles(gaussian_quantile(m0, s0), gaussian_quantile(m1, s1))
    assert val == pytest.approx(gaussian.w2([m0], [[s0**2]], [m1], [[s1**2]]),
                                rel=ONED_W2_QUADRATURE_RTOL)


def test_w2_to_quantile_second_order_quadrature():
    # quadrature of W2 between N(0,1) and N(0.3, 1.2^2) on the grid: converges at order >= 2
    exact = gaussian.w2([0.0], [[1.0]], [0.3], [[1.44]])
    errs = []
    for n in (100, 200, 400):
        g = gaussian_grid(n)
        errs.append(abs(w2_to_quantile(g.nodes(gaussian_quantile(0, 1)), g,
                                       gaussian_quantile(0.3, 1.2)) - exact))
    assert np.log2(errs[0] / errs[2]) / 2 > ONED_QUADRATURE_ORDER_MIN


def test_density_and_moments_at_nodes():
    g = gaussian_grid(800)
    x = g.nodes(gaussian_quantile(0.5, 1.5))
    rho = density_at_nodes(x, g)
    mid = np.abs(x - 0.5) < 4
    np.testing.assert_allclose(rho[mid], stats.norm.pdf(x[mid], 0.5, 1.5), rtol=ONED_DENSITY_RTOL)
    mo = moments(x, g)
    assert mo["mean"] == pytest.approx(0.5, abs=ONED_MEAN_ATOL)
    assert mo["var"] == pytest.approx(2.25, rel=ONED_VAR_RTOL)


def test_gibbs_normaliser_and_quantiles():
    quartic = GibbsMeasure1D(lambda x: 0.25 * x**4)
    z = 2.0 * 4.0**-0.75 * special.gamma(0.25)  # ∫ exp(-x⁴/4) dx in closed form
    assert quartic.log_z == pytest.approx(np.log(z), abs=ONED_LOGZ_ATOL)
    gauss = GibbsMeasure1D(lambda x: 0.5 * (x - 1.0) ** 2)
    s = np.array([1e-15, 1e-6, 0.2, 0.5, 0.9])
    np.testing.assert_allclose(gauss.quantile(s), stats.norm.ppf(s, 1.0), atol=TOL_QUANT)
    sc = np.array([1e-15, 1e-9])
    np.testing.assert_allclose(gauss.quantile(1 - sc, sc=sc), stats.norm.isf(sc, 1.0),
                               atol=TOL_QUANT)
    assert gauss.moment(lambda x: x * x) == pytest.approx(2.0, rel=ONED_GIBBS_MOMENT_RTOL)


def test_mixture_quantile_inverts_cdf():
    mix = GaussianMixture1D.make([0.3, 0.7], [-2.0, 1.0], [0.5, 1.0])
    s = np.array([1e-12, 0.1, 0.3, 0.5, 0.99])
    q = mix.quantile(s)
    for qi, si in zip(q, s, strict=True):
        root = optimize.brentq(lambda t, si=si: float(mix.cdf(np.array(t))) - si, -30, 30,
                               xtol=1e-15)
        assert qi == pytest.approx(root, abs=ONED_MIX_QUANTILE_ATOL)


def test_w2_atoms_to_mixture():
    # one atom vs one Gaussian: W2² = (a-m)² + σ²
    one = w2_atoms_to_mixture(Atoms1D.make([0.4]), GaussianMixture1D.make([1], [-0.1], [0.7]))
    assert one == pytest.approx(np.sqrt(0.25 + 0.49), rel=ONED_ROUNDOFF_RTOL)
    # several atoms vs their OU smoothing: compare with adaptive quadrature of the quantile gap
    P = Atoms1D.make([-1.0, 0.5, 2.0], [0.2, 0.5, 0.3])
    mix = P.ou_smooth(0.05)
    cum = np.cumsum(P.weights)
    total = 0.0
    for k, a in enumerate(P.points):
        lo = 0.0 if k == 0 else cum[k - 1]
        total += integrate.quad(lambda s, a=a: (a - mix.quantile(np.array([s]))[0]) ** 2,
                                lo, cum[k], epsabs=1e-11, limit=100)[0]
    assert w2_atoms_to_mixture(P, mix) == pytest.approx(np.sqrt(total), rel=ONED_W2_ATOMS_RTOL)


def test_ou_smoothing_is_the_ou_marginal():
    P = Atoms1D.make([2.0])
    mix = P.ou_smooth(0.3)
    m, c = gaussian.ou_marginal([2.0], [[0.0]], t=0.3)
    assert mix.means[0] == pytest.approx(m[0], rel=ONED_OU_RTOL)
    assert mix.sds[0] ** 2 == pytest.approx(c[0, 0], rel=ONED_OU_RTOL)
    with pytest.raises(ValueError, match="^delta "):
        P.ou_smooth(0.0)
    with pytest.raises(ValueError, match="^weights "):
        Atoms1D.make([0.0, 1.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="^weights "):
        Atoms1D.make([0.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="^points "):
        Atoms1D.make([0.0, np.inf])
    with pytest.raises(ValueError, match="^sds "):
        GaussianMixture1D.make([1.0], [0.0], [0.0])


@pytest.mark.parametrize("m", [1.5, 2.0, 3.0])
def test_barenblatt_profile_has_unit_mass_and_exact_quantiles(m):
    b = BarenblattProfile(m)
    mass = integrate.quad(b.pdf, -b.L, b.L, epsabs=1e-14)[0]
    assert mass == pytest.approx(1.0, abs=ONED_QUAD_ATOL)
    m2 = integrate.quad(lambda x: x * x * b.pdf(x), -b.L, b.L, epsabs=1e-14)[0]
    assert b.m2 == pytest.approx(m2, rel=ONED_QUAD_RTOL)
    for s in (0.05, 0.5, 0.8):
        q = b.quantile(np.array([s]), radius=1.7)[0]
        cdf = integrate.quad(b.pdf, -1.7 * b.L, q, args=(1.7,))[0]
        assert cdf == pytest.approx(s, abs=ONED_QUAD_ATOL)


def test_barenblatt_discrete_law_reference_value():
    # docs/numerics.md §3.2: gamma=0.3, m=2, d=1, R0=2.5 -> R1 = 1.98183185
    b = BarenblattProfile(2.0)
    assert b.next_radius(2.5, 0.3) == pytest.approx(1.98183185, abs=ONED_R1_ATOL)
    assert b.dilation(1.0, 0.7) == pytest.approx(1.0, abs=ONED_ROOT_ATOL)  # fixed point
    with pytest.raises(ValueError, match="^m must"):
        BarenblattProfile(1.0)
    with pytest.raises(ValueError, match="^gamma "):
        b.dilation(1.0, -0.7)
