"""Exact toy densities (theory.flow._toy_density) against the toys' own samplers.

Oracles: the sampler (box probabilities by counting 10^6 draws, no density code involved),
normalisation on a grid, an independent quadrature at a few points (Simpson's rule on 200001
nodes in the curve parameter; for the circles the Bessel-I0 closed form of the angular integral),
the circles' entropy by 1-D radial quadrature, node doubling, and the small-noise entropy of a
curve (log length + 1-D Gaussian entropy) or of a uniform law on squares (log area).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad, simpson
from scipy.special import i0e, ndtr
from scipy.stats import norm

from theory.flow import Toy2D
from theory.flow import _toy_density as td
from theory.flow._data import TOYS as DATA_TOYS
from theory.flow._toy_density import toy_log_density

TOYS = ("moons", "checkerboard", "rose", "circles", "swissroll", "2spirals", "pinwheel")
NEW = TOYS[3:]
#: Half-width L of a box [−L, L]² holding the data: the noise-free law lies >= 10σ inside it,
#: except the pinwheel's tail s > 2.9 (radius 2s > 5.8, 6σ inside), of mass 1e-10.
BOX = {"moons": 3.5, "checkerboard": 5.0, "rose": 3.5, "circles": 5.5, "swissroll": 5.0,
       "2spirals": 5.0, "pinwheel": 7.0}


def test_toy_names_and_default_noise():
    assert DATA_TOYS == TOYS and td._NAMES == TOYS
    assert [Toy2D(name).noise for name in TOYS] == [0.05, 0.05, 0.05, 0.24, 0.2, 0.1, 0.2]
    assert Toy2D("circles", noise=0.1).noise == 0.1
    assert Toy2D("moons") == Toy2D("moons", noise=0.05)


@pytest.mark.parametrize("name", TOYS)
def test_toy_density_integrates_to_one(name):
    """Midpoint sum on cells of side h = σ. The density is μ∗φ_σ, so the sum's error is the
    aliasing Σ_{k≠0} p̂(2πk/h) with |p̂(ω)| <= e^{−σ²|ω|²/2}: at most 4e^{−2π²} ≈ 1e-8 (plus a
    mass < 1e-9 outside the box)."""
    toy = Toy2D(name)
    h, L = toy.noise, BOX[name]
    c = np.arange(-L, L, h) + h / 2
    gx, gy = np.meshgrid(c, c)
    lp = toy.log_density(np.stack([gx.ravel(), gy.ravel()], 1))
    assert abs(np.exp(lp).sum() * h * h - 1.0) < 1e-6


def _box_mass(toy, lo, hi, panels=4):
    """∫ p over the box [lo, hi] by a tensor composite 8-point Gauss-Legendre rule."""
    g, w = np.polynomial.legendre.leggauss(8)
    nodes, weights = [], []
    for a, b in zip(lo, hi, strict=True):
        e = np.linspace(a, b, panels + 1)
        half, mid = 0.5 * np.diff(e), 0.5 * (e[:-1] + e[1:])
        nodes.append((mid[:, None] + half[:, None] * g).ravel())
        weights.append((half[:, None] * w).ravel())
    mx, my = np.meshgrid(*nodes, indexing="ij")
    p = np.exp(toy.log_density(np.stack([mx.ravel(), my.ravel()], 1)))
    return float(p @ np.outer(*weights).ravel())


@pytest.mark.parametrize("name", TOYS)
def test_toy_density_matches_the_sampler_on_boxes(name):
    """Fraction of 10^6 draws in 4 boxes (centred on draws, sides 0.3-1) against the integral
    of the density, within 4 binomial SE (<= 1.2e-3; the box rule's own error is < 1e-8)."""
    toy = Toy2D(name)
    x = toy.sample(1_000_000, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    for _ in range(4):
        side = rng.uniform(0.3, 1.0, 2)
        lo = x[rng.integers(x.shape[0])] - side / 2
        hi = lo + side
        frac = np.mean(np.all((x >= lo) & (x <= hi), axis=1))
        mass = _box_mass(toy, lo, hi)
        se = math.sqrt(frac * (1 - frac) / x.shape[0])
        assert abs(mass - frac) < 4 * se, (lo, hi, mass, frac, se)


def _simpson_log_density(name, sigma, x):
    """log p by Simpson's rule on 200001 nodes of the curve parameter: no code of the module."""
    out = []
    for xi in x:
        if name == "swissroll":
            t = np.linspace(1.5 * np.pi, 4.5 * np.pi, 200_001)
            d2 = (xi[0] - t * np.cos(t) / 5) ** 2 + (xi[1] - t * np.sin(t) / 5) ** 2
            f = np.exp(-d2 / (2 * sigma**2)) / (2 * np.pi * sigma**2) / (3 * np.pi)
        elif name == "pinwheel":  # untruncated: s on 1 ± 10·0.3, weights not renormalised
            t = np.linspace(1 - 3.0, 1 + 3.0, 200_001)
            f = 0.0
            for k in range(5):
                a = 2 * np.pi * k / 5 + 0.25 * np.exp(t)
                d2 = (xi[0] - 2 * t * np.cos(a)) ** 2 + (xi[1] - 2 * t * np.sin(a)) ** 2
                f = f + np.exp(-d2 / (2 * sigma**2)) / (2 * np.pi * sigma**2) / 5
            f = f * norm.pdf(t, 1.0, 0.3)
        else:  # 2spirals: boxes [a, a + 1/6]² (arm 1) and their mirror images (arm 2)
            t = np.linspace(0.0, 3 * np.pi, 200_001)
            c = np.stack([-t * np.cos(t), t * np.sin(t)]) / 3
            f = 0.0
            for a in (c, -c - 1 / 6):
                prob = [ndtr((xi[j] - a[j]) / sigma) - ndtr((xi[j] - a[j] - 1 / 6) / sigma)
                        for j in (0, 1)]
                f = f + 0.5 * 36.0 * prob[0] * prob[1]
            f = f * 2 * t / (3 * np.pi) ** 2
        out.append(math.log(simpson(f, x=t)))
    return np.array(out)


def _circles_density(sigma, r):
    """p(|x| = r) in closed form: (1/2π)∫φ_σ(x − R e^{iθ})dθ = e^{−(r−R)²/2σ²} i0e(rR/σ²)/2πσ²."""
    return sum(0.5 * np.exp(-(r - R) ** 2 / (2 * sigma**2)) * i0e(r * R / sigma**2)
               for R in (3.0, 1.5)) / (2 * np.pi * sigma**2)


@pytest.mark.parametrize("name", NEW)
def test_new_toy_densities_match_an_independent_quadrature(name):
    toy = Toy2D(name)
    x = np.concatenate([toy.sample(8, np.random.default_rng(6)), [[0.0, 0.0], [0.7, -1.1]]])
    if name == "circles":
        x = np.concatenate([toy.sample(500, np.random.default_rng(6)), [[0.0, 0.0], [6.0, 1.0]]])
        expected = np.log(_circles_density(toy.noise, np.hypot(x[:, 0], x[:, 1])))
    else:
        expected = _simpson_log_density(name, toy.noise, x)
    assert np.abs(toy.log_density(x) - expected).max() < 1e-9


@pytest.mark.parametrize("name", [t for t in TOYS if t != "checkerboard"])
def test_toy_quadrature_is_converged(name, monkeypatch):
    """Doubling every node count (the fixed moons/rose ones, the σ-scaled ones of the newer
    toys) moves log p by < 1e-8 at draws of the toy, at its default noise."""
    toy = Toy2D(name)
    x = toy.sample(500, np.random.default_rng(7))
    before = toy.log_density(x)
    for attr, factor in (("_GL_PANELS", 2), ("_ROSE_NODES", 2), ("_PANEL_ARC", 0.5),
                         ("_STEP_ARC", 0.5)):
        monkeypatch.setattr(td, attr, getattr(td, attr) * factor)
    assert np.abs(toy.log_density(x) - before).max() < 1e-8


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("sigma", [None, 0.02])
def test_new_toy_nodes_are_spaced_below_a_tenth_of_sigma(name, sigma):
    sigma = Toy2D(name, noise=sigma).noise
    arms = td._toy_arms(name, sigma)
    assert abs(sum(np.exp(w).sum() for _, w in arms) - 1.0) < 1e-13
    for p, _ in arms:
        q = np.concatenate([p, p[:1]]) if name == "circles" else p  # the circle closes
        assert np.hypot(*np.diff(q, axis=0).T).max() <= sigma / 10


@pytest.mark.parametrize("name", TOYS)
def test_toy_entropy_is_finite_with_a_small_se(name):
    h, se = Toy2D(name).entropy(2000, np.random.default_rng(8))
    assert math.isfinite(h) and 0.0 < se < 0.05


def test_circles_entropy_matches_a_radial_quadrature():
    """p depends on r = |x| only: H = −∫ p log p 2πr dr with p in Bessel closed form, by quad."""
    sigma = Toy2D("circles").noise

    def integrand(r):
        p = _circles_density(sigma, r)
        return -p * math.log(p) * 2 * math.pi * r

    exact, err = quad(integrand, 0.0, 3.0 + 15 * sigma, points=[1.5, 3.0], limit=200,
                      epsabs=1e-12)
    assert err < 1e-7
    h, se = Toy2D("circles").entropy(20_000, np.random.default_rng(9))
    assert abs(h - exact) < 4 * se, (h, se, exact)


def test_small_noise_entropies_match_the_geometry():
    """Moons: log(curve length 4π) + the entropy of N(0, σ²) across it. Checkerboard: log of the
    area 18, plus the blur of the edges, σ·κ·perimeter/area with κ = -∫Φ log Φ (each edge of
    a uniform law on [0, L] blurred by σ adds σκ/L), perimeter 48."""
    sigma = 0.02
    h_gauss = 0.5 * math.log(2 * math.pi * math.e * sigma**2)
    moons, se = Toy2D("moons", noise=sigma).entropy(8000, np.random.default_rng(0))
    assert abs(moons - (math.log(4 * math.pi) + h_gauss)) < 0.02 + 3 * se
    u = np.linspace(-12.0, 12.0, 200001)
    phi = norm.cdf(u)
    kappa = float(np.sum(-phi * np.log(np.maximum(phi, 1e-300))) * (u[1] - u[0]))
    checker, se = Toy2D("checkerboard", noise=sigma).entropy(8000, np.random.default_rng(0))
    expected = math.log(18.0) + sigma * kappa * 48.0 / 18.0
    assert abs(checker - expected) < 0.005 + 3 * se, (checker, expected)


def test_small_noise_entropies_of_parametrised_curves():
    """A law c_#ν on a curve, blurred by a small σ: H ≈ H(ν) + E_ν log|c'| + the entropy of
    N(0, σ²) across the curve. Swissroll: ν = U(1.5π, 4.5π), |c'(t)| = √(1+t²)/5. Pinwheel:
    5 arms, ν = N(1, 0.3²), |c'(s)| = 2√(1 + (s e^s/4)²)."""
    def h_gauss(sigma):
        return 0.5 * math.log(2 * math.pi * math.e * sigma**2)

    lo, hi = 1.5 * math.pi, 4.5 * math.pi
    jac = quad(lambda t: math.log(math.sqrt(1 + t * t) / 5), lo, hi)[0] / (hi - lo)
    swiss, se = Toy2D("swissroll", noise=0.02).entropy(4000, np.random.default_rng(0))
    expected = math.log(hi - lo) + jac + h_gauss(0.02)
    assert abs(swiss - expected) < 0.01 + 3 * se, (swiss, se, expected)
    jac = quad(lambda s: norm.pdf(s, 1, 0.3) * math.log(2 * math.hypot(1, s * math.exp(s) / 4)),
               -2.0, 4.0)[0]
    pin, se = Toy2D("pinwheel", noise=0.1).entropy(1500, np.random.default_rng(0))
    expected = math.log(5) + 0.5 * math.log(2 * math.pi * math.e * 0.09) + jac + h_gauss(0.1)
    assert abs(pin - expected) < 0.02 + 3 * se, (pin, se, expected)


@pytest.mark.parametrize("name", TOYS)
def test_toy_density_rejects_noise_below_the_quadrature_resolution(name):
    toy = Toy2D(name, noise=0.019)  # sampling needs no resolution: accepted
    assert toy.sample(3, np.random.default_rng(0)).shape == (3, 2)
    with pytest.raises(ValueError, match="noise"):
        toy.log_density(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="noise"):
        toy.entropy(10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise"):
        Toy2D(name, noise=-0.1)


def test_toy_density_rejects_what_it_cannot_resolve():
    with pytest.raises(ValueError, match="noise"):
        Toy2D("moons", noise=0.01).log_density(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x must be"):
        Toy2D("moons").log_density(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="x must be"):
        toy_log_density("moons", 0.05, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="name"):
        toy_log_density("spirals", 0.05, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="name"):
        Toy2D("spirals")
    with pytest.raises(ValueError, match="noise"):
        toy_log_density("circles", None, np.zeros((2, 2)))
