r"""A 1-D law as a smooth monotone map from N(0, 1): density, score, samples, transport maps.

docs/numerics.md §7.1. The 1-D JKO solver returns quantile nodes :math:`x_j = X(s_j)` on a mass
grid. With :math:`z_j = \Phi^{-1}(s_j)` (uniform in z on the tail-graded grid), the law is
:math:`X_\#\mathcal N(0,1)` for the C² cubic spline X through :math:`(z_j, x_j)`, continued
linearly beyond the last knots. Then, with :math:`z = X^{-1}(x)`,

.. math::
    \log\rho(x) = -\tfrac{z^2}{2} - \tfrac12\log 2\pi - \log X'(z),\qquad
    \partial_x\log\rho(x) = \frac{-z - X''(z)/X'(z)}{X'(z)},

a normalised density (X is increasing: checked on construction; where the cubic spline is not, at
a near-jump of X across a deep gap, the monotone C¹ PCHIP interpolant replaces it, with an O(h)
score there), and samples are X(Z),
Z ~ N(0, 1). The map between two laws on the same grid is :math:`X_b\circ X_a^{-1}`, the monotone
(optimal) 1-D transport map. Interpolation error is O(h⁴) in x, O(h³) in log ρ, O(h²) in the
score (h the z spacing), below the solver's own O(h²) node error (docs/numerics.md §3.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy.interpolate import CubicSpline, PchipInterpolator

from theory.oned import MassGrid
from theory.validate import check_int

__all__ = ["QuantileSpline", "adapted_grid"]

Array = NDArray[np.float64]
_LOG_SQ2PI = 0.5 * math.log(2.0 * math.pi)


def _finite(x: ArrayLike, name: str) -> Array:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN/inf entries)")
    return a


def grid_z(grid: MassGrid) -> Array:
    r""":math:`z_j = \Phi^{-1}(s_j)`, tail-accurate (upper half from the complements)."""
    return np.where(grid.s <= 0.5, special.ndtri(grid.s), -special.ndtri(grid.sc))


@dataclass(frozen=True)
class QuantileSpline:
    """The law X_#N(0,1) of the spline X through quantile nodes (see the module docstring).

    Attributes:
        z ((n,) array): knots Φ^{-1}(s_j), strictly increasing.
        x ((n,) array): nodes X(z_j), strictly increasing.
    """

    z: Array
    x: Array
    _spl: CubicSpline | PchipInterpolator = field(repr=False, compare=False)
    _d1: tuple[float, float] = field(repr=False, compare=False)

    @classmethod
    def from_nodes(cls, nodes: ArrayLike, grid: MassGrid) -> QuantileSpline:
        """Build from strictly increasing quantile nodes on ``grid``.

        Raises:
            ValueError: if ``nodes`` is not a finite strictly increasing vector of the grid's
                size, or the spline is not increasing between the knots; naming ``grid`` if
                it is not a MassGrid.
        """
        if not isinstance(grid, MassGrid):
            raise ValueError(f"grid must be a MassGrid, got {grid!r}")
        x = np.asarray(nodes, dtype=np.float64)
        if x.shape != (grid.n,) or not np.all(np.isfinite(x)) or np.any(np.diff(x) <= 0):
            raise ValueError(f"nodes must be a finite strictly increasing ({grid.n},) vector")
        z = grid_z(grid)
        spl = CubicSpline(z, x, bc_type="not-a-knot", extrapolate=True)
        zz = np.concatenate([z] + [z[:-1] + f * np.diff(z) for f in (0.25, 0.5, 0.75)])
        if np.any(spl(zz, 1) <= 0):  # a near-jump of X (a deep gap): monotone C¹ fallback
            spl = PchipInterpolator(z, x, extrapolate=True)
            if np.any(spl(zz, 1) <= 0):
                raise ValueError("nodes: the interpolant through the nodes is not increasing")
        d1 = (float(spl(z[0], 1)), float(spl(z[-1], 1)))
        return cls(z, x, spl, d1)

    # --- the map X and its inverse -------------------------------------------------------------
    def _derivs(self, z: Array) -> tuple[Array, Array, Array]:
        """X(z), X'(z), X''(z), continued linearly outside [z_0, z_n]."""
        lo, hi = self.z[0], self.z[-1]
        zc = np.clip(z, lo, hi)
        x, x1, x2 = self._spl(zc), self._spl(zc, 1), self._spl(zc, 2)
        below, above = z < lo, z > hi
        x = np.where(below, self.x[0] + self._d1[0] * (z - lo), x)
        x = np.where(above, self.x[-1] + self._d1[1] * (z - hi), x)
        x1 = np.where(below, self._d1[0], np.where(above, self._d1[1], x1))
        x2 = np.where(below | above, 0.0, x2)
        return x, x1, x2

    def forward(self, z: ArrayLike) -> Array:
        """X(z): the quantile map from N(0,1) (samples when z ~ N(0, 1)).

        Raises:
            ValueError: naming ``z`` if it has NaN/inf entries.
        """
        return self._derivs(_finite(z, "z"))[0]

    def inverse(self, x: ArrayLike, *, max_iter: int = 60) -> Array:
        """Return z = X^{-1}(x) by bracketed Newton (bisection fallback), to round-off.

        Raises:
            ValueError: naming ``x`` if it has NaN/inf entries (also for :meth:`log_pdf`,
                :meth:`score`, :meth:`transport_to`), ``max_iter`` if not an integer ≥ 1.
        """
        max_iter = check_int(max_iter, "max_iter", minimum=1)
        x = _finite(x, "x")
        flat = x.ravel()
        out = np.empty_like(flat)
        lo_x, hi_x = self.x[0], self.x[-1]
        below, above = flat < lo_x, flat > hi_x
        out[below] = self.z[0] + (flat[below] - lo_x) / self._d1[0]
        out[above] = self.z[-1] + (flat[above] - hi_x) / self._d1[1]
        inside = ~(below | above)
        xi = flat[inside]
        j = np.clip(np.searchsorted(self.x, xi), 1, self.x.size - 1)
        a, b = self.z[j - 1], self.z[j]
        t = (xi - self.x[j - 1]) / (self.x[j] - self.x[j - 1])
        z = a + t * (b - a)
        for _ in range(max_iter):
            f = self._spl(z) - xi
            a = np.where(f < 0, z, a)
            b = np.where(f > 0, z, b)
            step = z - f / self._spl(z, 1)
            bad = (step <= a) | (step >= b)
            z_new = np.where(bad, 0.5 * (a + b), step)
            done = np.all(np.abs(z_new - z) <= 1e-15 * (1.0 + np.abs(z)))
            z = z_new
            if done:
                break
        out[inside] = z
        return out.reshape(x.shape)

    # --- density and score ---------------------------------------------------------------------
    def log_pdf(self, x: ArrayLike) -> Array:
        r""":math:`\log\rho(x)` in nats (float64, any shape)."""
        z = self.inverse(x)
        _, x1, _ = self._derivs(z)
        return -0.5 * z * z - _LOG_SQ2PI - np.log(x1)

    def score(self, x: ArrayLike) -> Array:
        r"""The score :math:`\partial_x\log\rho(x)` (any shape)."""
        z = self.inverse(x)
        _, x1, x2 = self._derivs(z)
        return (-z - x2 / x1) / x1

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """Draw n samples X(Z), Z ~ N(0, 1) (ValueError naming ``n`` or ``rng`` if invalid)."""
        n = check_int(n, "n", minimum=1)
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
        return self.forward(rng.standard_normal(n))

    def transport_to(self, other: QuantileSpline, x: ArrayLike) -> tuple[Array, Array]:
        r"""The monotone map :math:`T = X_{other}\circ X_{self}^{-1}` at x, and T'(x).

        Raises:
            ValueError: naming ``other`` if it is not a QuantileSpline, ``x`` if not finite.
        """
        if not isinstance(other, QuantileSpline):
            raise ValueError(f"other must be a QuantileSpline, got {other!r}")
        z = self.inverse(x)
        _, a1, _ = self._derivs(z)
        y, b1, _ = other._derivs(z)
        return y, b1 / a1


def adapted_grid(marginal, n: int, *, zmax: float = 8.0, kappa: float = 1.0,
                 n_fine: int = 40001) -> MassGrid:
    r"""A mass grid whose knots resolve the data marginal's quantile map (docs/numerics.md §7.1).

    Knots are equally spaced in the arc length of the curve :math:`(z, \kappa\log X'(z))`,
    :math:`z\in[-z_{max}, z_{max}]`, with the exact :math:`\log X'(z) = \log\varphi(z) -
    \log\mu(X(z))`. Where μ is Gaussian-like they are uniform in z (the tail-graded grid); where
    μ has a low-density gap between modes (X' jumps) they crowd in, so that the solver and the
    spline resolve the gap. Needs ``marginal.quantile`` and ``marginal.log_pdf``.

    Raises:
        ValueError: for n < 20 or non-positive zmax / kappa; naming ``marginal`` if it has no
            ``quantile``/``log_pdf`` or they are not finite on the fine grid.
    """
    from theory.oned import mass_grid
    from theory.validate import check_positive_scalar

    if not (hasattr(marginal, "quantile") and hasattr(marginal, "log_pdf")):
        raise ValueError(f"marginal must be a 1-D law with quantile and log_pdf, got "
                         f"{marginal!r}")

    n = check_int(n, "n", minimum=20)
    zmax = check_positive_scalar(zmax, "zmax")
    kappa = check_positive_scalar(kappa, "kappa")
    zf = np.linspace(-zmax, zmax, check_int(n_fine, "n_fine", minimum=1000))
    s, sc = special.ndtr(zf), special.ndtr(-zf)
    xf = np.asarray(marginal.quantile(s, sc), dtype=np.float64)
    logd = -0.5 * zf * zf - _LOG_SQ2PI - np.asarray(marginal.log_pdf(xf), dtype=np.float64)
    if not (np.all(np.isfinite(xf)) and np.all(np.isfinite(logd))):
        raise ValueError("marginal: its quantile or log_pdf is not finite on the fine grid")
    seg = np.sqrt(np.diff(zf) ** 2 + (kappa * np.diff(logd)) ** 2)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    z = np.interp(np.linspace(0.0, arc[-1], n), arc, zf)
    return mass_grid(special.ndtr(z), special.ndtr(-z), kind="adapted")
