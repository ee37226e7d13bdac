r"""1-D data laws: Gaussian mixtures (exact CDF), atomic measures, and OU smoothing of atoms.

Claim served: C10 (data without density, docs/theory.md R6). The OU process for time δ maps a
point a to :math:`\mathcal N(e^{-\delta}a, 1-e^{-2\delta})`, so the OU-smoothed atomic measure
:math:`P = \sum_k p_k\delta_{a_k}` is the Gaussian mixture

.. math:: \rho_\delta = \sum_k p_k\,\mathcal N\big(e^{-\delta}a_k,\ 1-e^{-2\delta}\big),

whose CDF is exact (``scipy.special.ndtr``). :func:`w2_atoms_to_mixture` computes
:math:`W_2(P,\rho)` for atomic P *exactly* (up to the root-finding of the mixture's quantiles at
P's cumulative masses): on the mass interval of atom k the quantile function of P is the constant
:math:`a_k`, so :math:`\int (a_k - X_\rho(s))^2 ds = \int_{x_{k-1}}^{x_k}(a_k-x)^2\rho(x)dx` with
:math:`x_k = X_\rho(S_k)`, a sum of truncated Gaussian moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from theory.oned._measures import quantiles_by_bisection
from theory.validate import as_positive_array, as_vector, check_int, check_positive_scalar

__all__ = ["Atoms1D", "GaussianMixture1D", "w2_atoms_to_mixture", "w2_between_quantiles"]

Array = NDArray[np.float64]
_SQ2PI = np.sqrt(2.0 * np.pi)


def _normalised(p: ArrayLike, n: int, name: str) -> Array:
    """Positive finite weights of shape (n,) (validated), divided by their sum."""
    w = as_positive_array(p, name)
    if w.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {w.shape}")
    return w / w.sum()


@dataclass(frozen=True)
class GaussianMixture1D:
    r"""A 1-D Gaussian mixture :math:`\sum_k p_k\mathcal N(m_k, \sigma_k^2)`.

    Attributes:
        weights ((K,) array): positive, normalised on construction by :meth:`make`.
        means ((K,) array).
        sds ((K,) array): standard deviations σ_k > 0.

    Example:
        >>> g = GaussianMixture1D.make([1.0], [0.0], [1.0])
        >>> round(float(g.quantile(np.array([0.975]))[0]), 10)
        1.9599639845
    """

    weights: Array
    means: Array
    sds: Array

    @classmethod
    def make(cls, weights: ArrayLike, means: ArrayLike, sds: ArrayLike) -> GaussianMixture1D:
        """Validate and normalise; raises ValueError on bad shapes or non-positive sds/weights."""
        m = as_vector(np.atleast_1d(np.asarray(means, dtype=np.float64)), "means")
        try:
            sd = np.broadcast_to(np.asarray(sds, dtype=np.float64), m.shape).copy()
        except ValueError:
            raise ValueError(f"sds must be a scalar or match means' length {m.size}") from None
        as_positive_array(sd, "sds")
        return cls(_normalised(weights, m.size, "weights"), m, sd)

    def pdf(self, x: ArrayLike) -> Array:
        x = np.asarray(x, dtype=np.float64)
        z = (x[..., None] - self.means) / self.sds
        return np.exp(-0.5 * z * z) / (_SQ2PI * self.sds) @ self.weights

    def cdf(self, x: ArrayLike) -> Array:
        x = np.asarray(x, dtype=np.float64)
        return special.ndtr((x[..., None] - self.means) / self.sds) @ self.weights

    def sf(self, x: ArrayLike) -> Array:
        x = np.asarray(x, dtype=np.float64)
        return special.ndtr(-(x[..., None] - self.means) / self.sds) @ self.weights

    def quantile(self, s: ArrayLike, sc: ArrayLike | None = None) -> Array:
        """Quantiles at masses s in (0, 1), by bisection on the exact CDF/survival function.

        ``sc`` optionally gives the accurate complements 1 − s (upper tail).
        """
        s = np.asarray(s, dtype=np.float64)
        comp = 1.0 - s if sc is None else np.asarray(sc, dtype=np.float64)
        if np.any(s <= 0) or np.any(comp <= 0):
            raise ValueError("s must lie in the open interval (0, 1)")
        lo = float(np.min(self.means - 40.0 * self.sds))
        hi = float(np.max(self.means + 40.0 * self.sds))
        return quantiles_by_bisection(self.cdf, s, lo, hi, pdf=self.pdf, sf=self.sf, sc=comp)

    @property
    def mean(self) -> float:
        return float(self.weights @ self.means)

    @property
    def m2(self) -> float:
        """Second moment E x²."""
        return float(self.weights @ (self.means**2 + self.sds**2))


@dataclass(frozen=True)
class Atoms1D:
    r"""An atomic measure :math:`P = \sum_k p_k\delta_{a_k}` (no density: docs/theory.md A-δ, R6).

    Example:
        >>> P = Atoms1D.make([-1.0, 2.0], [0.5, 0.5])
        >>> P.m2
        2.5
    """

    points: Array
    weights: Array

    @classmethod
    def make(cls, points: ArrayLike, weights: ArrayLike | None = None) -> Atoms1D:
        """Sort the atoms (merging nothing); weights default to uniform; ValueError if invalid."""
        a = as_vector(np.atleast_1d(np.asarray(points, dtype=np.float64)), "points")
        w = np.ones(a.size) if weights is None else weights
        w = _normalised(w, a.size, "weights")
        order = np.argsort(a, kind="stable")
        return cls(a[order], w[order])

    @property
    def m2(self) -> float:
        """Second moment M2(P) = Σ p_k a_k²."""
        return float(self.weights @ self.points**2)

    def ou_smooth(self, delta: float) -> GaussianMixture1D:
        r"""The OU marginal at time δ > 0.

        :math:`\sum_k p_k\mathcal N(e^{-\delta}a_k, 1-e^{-2\delta})` (docs/theory.md R6).
        """
        check_positive_scalar(delta, "delta")
        sd = np.sqrt(-np.expm1(-2.0 * delta))
        return GaussianMixture1D.make(self.weights, np.exp(-delta) * self.points,
                                      np.full(self.points.size, sd))


def _trunc_sq_moment(a: float, lo: Array, hi: Array, m: Array, sd: Array) -> Array:
    r""":math:`\int_{lo}^{hi}(a-x)^2\mathcal N(x; m, sd^2)dx` per component (vectorised)."""
    u0, u1 = (lo - m) / sd, (hi - m) / sd
    p0, p1 = np.exp(-0.5 * u0 * u0) / _SQ2PI, np.exp(-0.5 * u1 * u1) / _SQ2PI
    i0 = special.ndtr(u1) - special.ndtr(u0)
    # for intervals in the upper tail use the survival form to avoid 1 - 1 cancellation
    upper = u0 > 0
    i0 = np.where(upper, special.ndtr(-u0) - special.ndtr(-u1), i0)
    with np.errstate(invalid="ignore"):
        t0 = np.where(np.isfinite(u0), u0 * p0, 0.0)
        t1 = np.where(np.isfinite(u1), u1 * p1, 0.0)
    i1 = p0 - p1
    i2 = i0 - (t1 - t0)
    c = a - m
    return c * c * i0 - 2.0 * sd * c * i1 + sd * sd * i2


def w2_atoms_to_mixture(atoms: Atoms1D, mix: GaussianMixture1D) -> float:
    r"""Exact W2 (not squared) between an atomic P and a Gaussian mixture ρ (module docstring).

    Raises:
        ValueError: naming ``atoms`` / ``mix`` if not an Atoms1D / a GaussianMixture1D.
    """
    if not isinstance(atoms, Atoms1D):
        raise ValueError(f"atoms must be an Atoms1D (Atoms1D.make(...)), got {atoms!r}")
    if not isinstance(mix, GaussianMixture1D):
        raise ValueError(f"mix must be a GaussianMixture1D (GaussianMixture1D.make(...)), "
                         f"got {mix!r}")
    cum = np.cumsum(atoms.weights)[:-1]
    cuts = mix.quantile(np.clip(cum, 1e-300, 1 - 1e-16)) if cum.size else np.array([])
    edges = np.concatenate(([-np.inf], cuts, [np.inf]))
    total = 0.0
    for k, a in enumerate(atoms.points):
        lo = np.full(mix.means.shape, edges[k])
        hi = np.full(mix.means.shape, edges[k + 1])
        total += float(_trunc_sq_moment(a, lo, hi, mix.means, mix.sds) @ mix.weights)
    return float(np.sqrt(max(total, 0.0)))


def w2_between_quantiles(q1, q2, *, zmax: float = 8.0, n_panels: int = 3000) -> float:
    r"""W2 (not squared) between two laws with continuous quantile functions ``q(s, sc=1-s)``.

    :math:`W_2^2 = \int_0^1 (q_1(s)-q_2(s))^2ds
    = \int (q_1(\Phi(z)) - q_2(\Phi(z)))^2\varphi(z)dz`,
    by 8-point Gauss–Legendre on ``n_panels`` panels of [−zmax, zmax] (the truncated mass
    2Φ(−8) ≈ 1.2e-15 is negligible for laws with Gaussian-like tails).

    Raises:
        ValueError: naming ``q1``/``q2`` if not callable or not finite on the quadrature
            masses, ``zmax``/``n_panels`` if not a finite number > 0 / an integer ≥ 1.
    """
    for q, name in ((q1, "q1"), (q2, "q2")):
        if not callable(q):
            raise ValueError(f"{name} must be a quantile function q(s, sc=None), got {q!r}")
    zmax = check_positive_scalar(zmax, "zmax")
    n_panels = check_int(n_panels, "n_panels", minimum=1)
    gx, gw = np.polynomial.legendre.leggauss(8)
    e = np.linspace(-zmax, zmax, n_panels + 1)
    mid, half = 0.5 * (e[:-1] + e[1:]), 0.5 * np.diff(e)
    z = (mid[:, None] + half[:, None] * gx[None, :]).ravel()
    s, sc = special.ndtr(z), special.ndtr(-z)
    wts = (half[:, None] * gw[None, :]).ravel() * np.exp(-0.5 * z * z) / _SQ2PI
    v1 = np.asarray(q1(s, sc=sc), dtype=np.float64)
    v2 = np.asarray(q2(s, sc=sc), dtype=np.float64)
    for v, name in ((v1, "q1"), (v2, "q2")):
        if v.shape != s.shape or not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must return finite quantiles of the masses' shape")
    d = v1 - v2
    return float(np.sqrt(np.dot(wts, d * d)))
