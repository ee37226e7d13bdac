"""Exact toy densities (theory.flow._toy_density) against the toys' own samplers.

Oracles: the sampler (box probabilities by counting, no density code involved), normalisation on
a grid, and the small-noise entropy of a curve (log length + 1-D Gaussian entropy) or of a
uniform law on squares (log area).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from theory.flow import Toy2D
from theory.flow._toy_density import toy_log_density

TOYS = ("moons", "checkerboard", "rose")


@pytest.mark.parametrize("name", TOYS)
def test_toy_density_integrates_to_one(name):
    h = 0.05  # = σ: the midpoint sum of a Gaussian is then exact to ~1e-8
    c = np.arange(-5.0, 5.0, h) + h / 2
    gx, gy = np.meshgrid(c, c)
    lp = Toy2D(name).log_density(np.stack([gx.ravel(), gy.ravel()], 1))
    assert abs(np.exp(lp).sum() * h * h - 1.0) < 1e-6


@pytest.mark.parametrize("name", TOYS)
def test_toy_density_matches_the_sampler_on_boxes(name):
    toy = Toy2D(name)
    x = toy.sample(100_000, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    for _ in range(3):
        lo = rng.uniform(-2.5, 1.5, 2)
        hi = lo + rng.uniform(0.3, 1.0, 2)
        frac = np.mean(np.all((x >= lo) & (x <= hi), axis=1))
        n = 60
        gx = np.linspace(lo[0], hi[0], n + 1)[:-1] + (hi[0] - lo[0]) / (2 * n)
        gy = np.linspace(lo[1], hi[1], n + 1)[:-1] + (hi[1] - lo[1]) / (2 * n)
        mx, my = np.meshgrid(gx, gy)
        mass = np.exp(toy.log_density(np.stack([mx.ravel(), my.ravel()], 1))).sum() * \
            np.prod(hi - lo) / n**2
        se = math.sqrt(max(frac * (1 - frac), 1e-6) / x.shape[0])
        assert abs(mass - frac) < 4 * se + 2e-3, (lo, hi, mass, frac)


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


def test_toy_density_rejects_what_it_cannot_resolve():
    with pytest.raises(ValueError, match="noise"):
        Toy2D("moons", noise=0.01).log_density(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x must be"):
        Toy2D("moons").log_density(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="x must be"):
        toy_log_density("moons", 0.05, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="name"):
        toy_log_density("spirals", 0.05, np.zeros((2, 2)))
