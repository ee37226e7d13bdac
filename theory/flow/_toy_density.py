r"""Exact log-densities and entropies of the procedural 2-D toys (:class:`~theory.flow.Toy2D`).

Each toy is a noise-free law on a curve or on squares, pushed by a scale and convolved with
:math:`N(0,\sigma^2 I)` (σ = ``noise``), so its density is an integral against the Gaussian:

- checkerboard: uniform on 8 squares of side 1.5 (mass 1/8 each): a product of normal CDF
  differences per square, closed form;
- moons: :math:`t\sim U(0,\pi)` on each of two half circles (probability 1/2 each), scaled by
  2: :math:`p(x) = \frac{1}{2\pi}\sum_b\int_0^\pi\varphi_\sigma(x-m_b(t))\,dt` by composite
  Gauss-Legendre quadrature (128 panels × 8 nodes per branch);
- rose: :math:`\theta\sim U(0,2\pi)`, :math:`r = 3\cos2\theta`:
  :math:`p(x)=\frac1{2\pi}\int_0^{2\pi}\varphi_\sigma(x-c(\theta))\,d\theta` by the trapezoid
  rule on 8192 nodes (spectrally accurate for a periodic integrand).

The node spacing along the curve is below σ/10 for σ >= 0.02; smaller σ raises ``ValueError``.
Entropies :math:`H(p) = -\mathbb E\log p(X)` come by Monte Carlo over the toy's own sampler, with
a standard error, so that a held-out NLL becomes a KL: KL(p‖q̂) = NLL − H (nats).
Claims: the density-validity rows of the neural experiments (docs/numerics.md §6.10).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, logsumexp, ndtr

__all__ = ["toy_entropy", "toy_log_density"]

#: Smallest noise σ the quadratures resolve (node spacing along the curve <= σ/10).
MIN_NOISE = 0.02
_GL_PANELS, _GL_NODES, _ROSE_NODES = 128, 8, 8192


def _gauss_legendre(a: float, b: float) -> tuple[NDArray, NDArray]:
    """Composite Gauss-Legendre nodes and weights on [a, b]."""
    g, w = np.polynomial.legendre.leggauss(_GL_NODES)
    edges = np.linspace(a, b, _GL_PANELS + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    return (mid[:, None] + half[:, None] * g).ravel(), (half[:, None] * w).ravel()


def _curve_log_density(x: NDArray, nodes: NDArray, log_w: NDArray, sigma: float) -> NDArray:
    """Log of Σ_j w_j φ_σ(x − c_j) for curve points c_j (K, 2) with weights w_j (sum 1)."""
    out = np.empty(x.shape[0])
    log_norm = -math.log(2.0 * math.pi * sigma**2)
    for i in range(0, x.shape[0], 2048):
        xi = x[i:i + 2048]
        d2 = ((xi[:, None, :] - nodes[None, :, :]) ** 2).sum(-1)
        out[i:i + 2048] = logsumexp(log_w[None, :] - d2 / (2.0 * sigma**2), axis=1) + log_norm
    return out


def _moons_nodes() -> tuple[NDArray, NDArray]:
    t, w = _gauss_legendre(0.0, math.pi)
    up = np.stack([np.cos(t), np.sin(t)], 1)
    down = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1)
    pts = 2.0 * (np.concatenate([up, down]) - np.array([0.5, 0.25]))
    ww = np.concatenate([w, w]) / (2.0 * math.pi)  # each branch: (1/2)(1/π) dt
    return pts, np.log(ww)


def _rose_nodes() -> tuple[NDArray, NDArray]:
    th = 2.0 * math.pi * np.arange(_ROSE_NODES) / _ROSE_NODES
    r = 3.0 * np.cos(2.0 * th)
    return np.stack([r * np.cos(th), r * np.sin(th)], 1), np.full(_ROSE_NODES,
                                                                   -math.log(_ROSE_NODES))


def _checker_log_density(x: NDArray, sigma: float) -> NDArray:
    """Closed form: (1/8) Σ_squares Π_dims P(a <= x_i + σZ <= b) / area, area = 1.5²."""
    squares = []
    for k in (-2, -1, 0, 1):
        shift = k % 2
        for lo2 in (0.0 + shift, -2.0 + shift):
            squares.append((1.5 * k, 1.5 * (k + 1), 1.5 * lo2, 1.5 * (lo2 + 1)))
    terms = []
    for a1, b1, a2, b2 in squares:
        p1 = ndtr((b1 - x[:, 0]) / sigma) - ndtr((a1 - x[:, 0]) / sigma)
        p2 = ndtr((b2 - x[:, 1]) / sigma) - ndtr((a2 - x[:, 1]) / sigma)
        terms.append(np.log(np.maximum(p1, 1e-300)) + np.log(np.maximum(p2, 1e-300)))
    # far from every square the CDF differences underflow: use the nearest square's tail bound
    out = logsumexp(np.stack(terms), axis=0) - math.log(8.0 * 1.5**2)
    far = ~np.isfinite(out) | (out < -600)
    if far.any():  # log P(a <= x + σZ <= b) ~ log_ndtr of the distance, a lower bound
        lb = []
        for a1, b1, a2, b2 in squares:
            d1 = np.maximum(a1 - x[far, 0], x[far, 0] - b1) / sigma
            d2 = np.maximum(a2 - x[far, 1], x[far, 1] - b2) / sigma
            lb.append(log_ndtr(-np.maximum(d1, 0)) + log_ndtr(-np.maximum(d2, 0)))
        out[far] = logsumexp(np.stack(lb), axis=0) - math.log(8.0 * 1.5**2)
    return out


def toy_log_density(name: str, noise: float, x: ArrayLike) -> NDArray[np.float64]:
    r"""Log p(x) in nats of the toy ``name`` with noise σ = ``noise`` (see the module docstring).

    Args:
        name: ``"moons"``, ``"checkerboard"`` or ``"rose"``.
        noise: σ >= :data:`MIN_NOISE` (0.02).
        x ((n, 2) array): points.

    Returns:
        (n,) float64 log-densities.

    Raises:
        ValueError: for an unknown name, σ below 0.02 (the quadrature would not resolve it), or
            an ``x`` that is not a finite (n, 2) array.
    """
    if name not in ("moons", "checkerboard", "rose"):
        raise ValueError(f"name must be 'moons', 'checkerboard' or 'rose', got {name!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise)) or noise < MIN_NOISE:
        raise ValueError(f"noise must be a number >= {MIN_NOISE} for the exact density "
                         f"(quadrature resolution), got {noise!r}")
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or not np.isfinite(a).all():
        raise ValueError(f"x must be a finite (n, 2) array, got shape {a.shape}")
    if name == "checkerboard":
        return _checker_log_density(a, float(noise))
    nodes, log_w = _moons_nodes() if name == "moons" else _rose_nodes()
    return _curve_log_density(a, nodes, log_w, float(noise))


def toy_entropy(name: str, noise: float, sample, n: int,
                rng: np.random.Generator) -> tuple[float, float]:
    r"""Monte Carlo entropy :math:`H = -\frac1n\sum\log p(X_i)` of a toy, and its SE (nats).

    ``sample(n, rng)`` is the toy's own sampler (:meth:`~theory.flow.Toy2D.sample`).
    """
    lp = toy_log_density(name, noise, sample(n, rng))
    return float(-lp.mean()), float(lp.std(ddof=1) / math.sqrt(lp.size))
