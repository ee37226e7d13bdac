r"""1-D probability measures as mass-weighted quantile points (the Lagrangian representation).

Claims served: C2, C4, C5, C10, C16, C17, C18 (docs/numerics.md §3.1). In 1-D a measure ρ is its
quantile function :math:`X = F_\rho^{-1}` on (0, 1) and

.. math:: W_2^2(\rho,\nu) = \int_0^1 |X_\rho(s) - X_\nu(s)|^2\,ds,\qquad
          \rho(X(s)) = 1/X'(s).

A :class:`MassGrid` fixes mass coordinates :math:`0 < s_1 < \dots < s_n < 1` (or including the
end points for compact support) once for a whole trajectory; a measure is the vector of nodes
:math:`x_i \approx X(s_i)`, strictly increasing. Quadrature on the grid:

- node weights :math:`w_i = c_i - c_{i-1}` with cell edges :math:`c_0 = 0`,
  :math:`c_i = (s_i+s_{i+1})/2`, :math:`c_n = 1` (so :math:`\sum_i w_i = 1`): potential
  energies and W2 use :math:`\int_0^1 f(X(s))\,ds \approx \sum_i w_i f(x_i)`;
- gap masses :math:`\mu_j = s_{j+1} - s_j` (j = 1..n-1): internal energies use the midpoint rule
  :math:`\int U(\rho)\,dx = \int_0^1 U(1/X')X'\,ds \approx \sum_j \mu_j f(\ell_j/\mu_j)` with
  :math:`\ell_j = x_{j+1}-x_j`, :math:`f(v) = vU(1/v)`; :math:`r_j = \mu_j/\ell_j` is the density
  at the gap's mass mid-point.

The discrete W2 between two node vectors on the same grid, :math:`\sqrt{\sum_i w_i(x_i-y_i)^2}`, is
*exactly* the W2 distance between the atomic measures :math:`\sum_i w_i\delta_{x_i}` and
:math:`\sum_i w_i\delta_{y_i}` (both sorted: the monotone coupling is optimal), and a second-order
quadrature of the continuum W2 on a smoothly graded grid.

Grids (docs/numerics.md §3.1): a uniform mass grid is tail-dominated (order ≈ ½); use the
tail-graded :func:`gaussian_grid` (:math:`s_i = \Phi(z_i)`, z uniform on [−8, 8]) for unbounded
support and the cosine-clustered :func:`cosine_grid` (:math:`s = \tfrac12(1-\cos\pi t)`) for
compact support.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from theory.validate import (
    as_finite_array,
    check_finite_scalar,
    check_int,
    check_positive_scalar,
)

__all__ = [
    "MassGrid",
    "cosine_grid",
    "density_at_nodes",
    "gap_densities",
    "gaussian_grid",
    "gaussian_quantile",
    "mass_grid",
    "moments",
    "quantiles_by_bisection",
    "uniform_grid",
    "validate_nodes",
    "w2",
    "w2_sq",
    "w2_to_quantile",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MassGrid:
    """Mass coordinates of the Lagrangian nodes and their quadrature weights.

    Attributes:
        s ((n,) array): node mass coordinates, non-decreasing in [0, 1] (in float64 the upper
            tail may round; use ``sc`` there).
        sc ((n,) array): the complements 1 − s, accurate in the upper tail.
        w ((n,) array): node weights (cell masses), positive, summing to 1.
        mu ((n-1,) array): gap masses :math:`s_{j+1}-s_j` (> 0).
        kind (str): how the grid was built (``"gaussian"``, ``"cosine"``, ``"uniform"``,
            ``"custom"``).
    """

    s: Array
    sc: Array
    w: Array
    mu: Array
    kind: str = "custom"

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.s.size)

    def nodes(self, quantile: Callable[..., Array]) -> Array:
        """Evaluate a quantile function at the grid, as ``quantile(s, sc=sc)`` (tail-accurate).

        Raises:
            ValueError: naming ``quantile`` if it is not callable or does not return finite
                values of shape (n,).
        """
        if not callable(quantile):
            raise ValueError(f"quantile must be a callable q(s, sc=None), got {quantile!r}")
        out = np.asarray(quantile(self.s, sc=self.sc), dtype=np.float64)
        if out.shape != (self.n,) or not np.all(np.isfinite(out)):
            raise ValueError("quantile must return finite values of the grid's shape")
        return out


def mass_grid(s: ArrayLike, sc: ArrayLike | None = None, kind: str = "custom") -> MassGrid:
    """Build a :class:`MassGrid` from node masses ``s`` (optionally accurate complements ``sc``).

    Lower-half quantities (s ≤ ½) are differenced in s, upper-half ones in sc, so tail cell
    masses keep relative accuracy (e.g. Φ(−8) ≈ 6e-16 on both sides).

    Raises:
        ValueError: if ``s`` has fewer than 3 entries, leaves [0, 1], or a cell/gap mass is ≤ 0.
    """
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 1 or s.size < 3:
        raise ValueError(f"s must be a 1-D array with at least 3 entries, got shape {s.shape}")
    sc = 1.0 - s if sc is None else np.asarray(sc, dtype=np.float64)
    if sc.shape != s.shape:
        raise ValueError("sc must have the shape of s")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(sc))) or s[0] < 0.0 or s[-1] > 1.0:
        raise ValueError("s must be finite and inside [0, 1]")
    lower = s <= 0.5
    mu = np.where(lower[1:], np.diff(s), sc[:-1] - sc[1:])
    c = np.concatenate(([0.0], 0.5 * (s[:-1] + s[1:]), [1.0]))
    cc = np.concatenate(([1.0], 0.5 * (sc[:-1] + sc[1:]), [0.0]))
    w = np.where(lower, np.diff(c), cc[:-1] - cc[1:])
    if np.any(mu <= 0.0) or np.any(w <= 0.0):
        raise ValueError("s must be strictly increasing (every gap and cell mass > 0)")
    return MassGrid(s=s, sc=sc, w=w, mu=mu, kind=kind)


def _check_n(n: int) -> int:
    return check_int(n, "n", minimum=3)


def gaussian_grid(n: int, zmax: float = 8.0) -> MassGrid:
    r"""Tail-graded grid :math:`s_i = \Phi(z_i)`, z uniform on [−zmax, zmax] (unbounded support).

    Second order for Gaussian-like tails (docs/numerics.md §3.1); zmax = 6 stalls at ≈ 6e-6.

    Example:
        >>> g = gaussian_grid(5)
        >>> round(float(g.w.sum()), 15), g.n
        (1.0, 5)
    """
    n = _check_n(n)
    check_positive_scalar(zmax, "zmax")
    z = np.linspace(-zmax, zmax, n)
    return mass_grid(special.ndtr(z), special.ndtr(-z), "gaussian")


def cosine_grid(n: int) -> MassGrid:
    r"""Cosine-clustered grid :math:`s_i = \tfrac12(1-\cos(\pi t_i))`, t uniform on [0, 1].

    For compact support: nodes cluster at both ends of the support (docs/numerics.md §3.1).
    """
    n = _check_n(n)
    t = np.linspace(0.0, 1.0, n)
    s = np.sin(0.5 * np.pi * t) ** 2  # = (1 - cos(pi t))/2 without cancellation
    sc = np.cos(0.5 * np.pi * t) ** 2
    s[0], sc[0], s[-1], sc[-1] = 0.0, 1.0, 1.0, 0.0
    return mass_grid(s, sc, "cosine")


def uniform_grid(n: int) -> MassGrid:
    r"""Uniform mass grid :math:`s_i = (i-\tfrac12)/n` (a control: order ≈ ½)."""
    n = _check_n(n)
    s = (np.arange(n) + 0.5) / n
    return mass_grid(s, s[::-1].copy(), "uniform")


def gaussian_quantile(mean: float = 0.0, sd: float = 1.0) -> Callable[..., Array]:
    """The quantile function of N(mean, sd²) with the ``(s, sc=None)`` signature (tail-accurate).

    Raises:
        ValueError: naming ``mean`` or ``sd`` if not finite (sd also > 0).
    """
    mean, sd = check_finite_scalar(mean, "mean"), check_positive_scalar(sd, "sd")

    def q(s: ArrayLike, sc: ArrayLike | None = None) -> Array:
        s = np.asarray(s, dtype=np.float64)
        z = special.ndtri(s)
        if sc is not None:
            sc = np.asarray(sc, dtype=np.float64)
            z = np.where(s > 0.5, -special.ndtri(sc), z)
        return mean + sd * z

    return q


def validate_nodes(x: ArrayLike, grid: MassGrid, name: str = "x", *,
                   strict: bool = True) -> Array:
    """Return ``x`` as float64, checking shape (n,), finiteness and ordering.

    Args:
        x: candidate quantile nodes on ``grid``.
        grid: the mass grid.
        name: the argument's name for error messages.
        strict: require strictly increasing nodes (a measure with a density); with False,
            ties are allowed (non-decreasing: e.g. the quantile nodes of atoms).

    Raises:
        ValueError: naming ``name`` if ``x`` is not a finite (n,) array ordered as required;
            naming ``grid`` if it is not a :class:`MassGrid`.
    """
    if not isinstance(grid, MassGrid):
        raise ValueError(f"grid must be a MassGrid (e.g. gaussian_grid(n)), got {grid!r}")
    a = as_finite_array(x, name)
    if a.shape != (grid.n,):
        raise ValueError(f"{name} must have shape ({grid.n},), got {a.shape}")
    if strict and np.any(np.diff(a) <= 0.0):
        raise ValueError(f"{name} must be strictly increasing (a quantile vector)")
    if not strict and np.any(np.diff(a) < 0.0):
        raise ValueError(f"{name} must be non-decreasing (a quantile vector)")
    return a


def _nondecreasing(x: ArrayLike, grid: MassGrid, name: str) -> Array:
    return validate_nodes(x, grid, name, strict=False)


def w2_sq(x: ArrayLike, y: ArrayLike, grid: MassGrid) -> float:
    r"""W2² (squared) between two measures on the same grid: :math:`\sum_i w_i (x_i - y_i)^2`.

    Exact for the atomic measures :math:`\sum w_i\delta_{x_i}`, :math:`\sum w_i\delta_{y_i}`.
    Inputs must be non-decreasing (ties allowed, e.g. data quantiles of an atomic law).
    """
    a, b = _nondecreasing(x, grid, "x"), _nondecreasing(y, grid, "y")
    return float(np.dot(grid.w, (a - b) ** 2))


def w2(x: ArrayLike, y: ArrayLike, grid: MassGrid) -> float:
    """W2 (not squared) between two measures on the same grid; see :func:`w2_sq`.

    Example:
        >>> g = gaussian_grid(11)
        >>> round(w2(g.s, g.s + 0.25, g), 15)
        0.25
    """
    return float(np.sqrt(w2_sq(x, y, grid)))


def w2_to_quantile(x: ArrayLike, grid: MassGrid, quantile: Callable[..., Array]) -> float:
    r"""W2 (not squared) between nodes ``x`` and a reference given by its quantile function.

    :math:`\big(\sum_i w_i (x_i - X_{ref}(s_i))^2\big)^{1/2}` — the weighted quantile-L² error used
    for the solver's order of accuracy (docs/numerics.md §3.1 table). ``quantile`` is called as
    ``quantile(s, sc=1-s)`` (see :meth:`MassGrid.nodes`).
    """
    a = _nondecreasing(x, grid, "x")
    ref = grid.nodes(quantile)
    return float(np.sqrt(np.dot(grid.w, (a - ref) ** 2)))


def gap_densities(x: ArrayLike, grid: MassGrid) -> Array:
    r"""Density at the gaps' mass mid-points, :math:`r_j = \mu_j/(x_{j+1}-x_j)`, shape (n-1,)."""
    a = validate_nodes(x, grid)
    return grid.mu / np.diff(a)


def density_at_nodes(x: ArrayLike, grid: MassGrid) -> Array:
    r"""Density ρ(x_i) at the nodes from the spacings (shape (n,)).

    Interior: the centred difference :math:`(\mu_{i-1}+\mu_i)/(x_{i+1}-x_{i-1})` (second order);
    end nodes: the one-sided gap density.
    """
    a = validate_nodes(x, grid)
    r = np.empty(grid.n)
    r[1:-1] = (grid.mu[1:] + grid.mu[:-1]) / (a[2:] - a[:-2])
    r[0] = grid.mu[0] / (a[1] - a[0])
    r[-1] = grid.mu[-1] / (a[-1] - a[-2])
    return r


def moments(x: ArrayLike, grid: MassGrid) -> dict[str, float]:
    """Mean, variance and second moment M2 = E x² of the nodes' measure (grid quadrature)."""
    a = _nondecreasing(x, grid, "x")
    mean = float(np.dot(grid.w, a))
    m2 = float(np.dot(grid.w, a * a))
    var = float(np.dot(grid.w, (a - mean) ** 2))
    return {"mean": mean, "var": var, "m2": m2}


def quantiles_by_bisection(cdf: Callable[[Array], Array], s: ArrayLike, lo: ArrayLike,
                           hi: ArrayLike, *, pdf: Callable[[Array], Array] | None = None,
                           sf: Callable[[Array], Array] | None = None,
                           sc: ArrayLike | None = None, xtol: float = 1e-14) -> Array:
    r"""Invert a continuous CDF at the masses ``s`` (vectorised bisection, then Newton polish).

    Solves :math:`F(x) = s` on [lo, hi] (F(lo) ≤ s ≤ F(hi) required; ``lo``/``hi`` scalars or
    per-mass arrays). For s > ½ and a survival
    function ``sf`` given, solves :math:`1 - F(x) = 1 - s` instead (with ``sc`` = the accurate
    complements 1 − s when given), which keeps the upper tail accurate to relative precision.
    With ``pdf`` given, two Newton steps polish the root.

    Raises:
        ValueError: if the bracket does not contain all masses, ``s`` is empty or leaves
            [0, 1], ``sc`` does not have the shape of ``s``, ``xtol`` is not a finite positive
            number, or ``cdf``/``sf`` returns NaN.
    """
    xtol = check_positive_scalar(xtol, "xtol")
    s = np.asarray(s, dtype=np.float64)
    if s.size == 0:
        raise ValueError("s must be a non-empty array of masses")
    if np.any((s < 0) | (s > 1)) or not np.all(np.isfinite(s)):
        raise ValueError("s must lie in [0, 1]")
    lo_a = np.broadcast_to(np.asarray(lo, dtype=np.float64), s.shape).copy()
    hi_a = np.broadcast_to(np.asarray(hi, dtype=np.float64), s.shape).copy()
    if not (np.all(np.isfinite(lo_a)) and np.all(np.isfinite(hi_a)) and np.all(lo_a < hi_a)):
        raise ValueError("lo and hi must be finite with lo < hi")
    upper = (s > 0.5) if sf is not None else np.zeros(s.shape, bool)
    comp = 1.0 - s if sc is None else np.asarray(sc, dtype=np.float64)
    if comp.shape != s.shape:
        raise ValueError(f"sc must have the shape of s {s.shape}, got {comp.shape}")
    target = np.where(upper, comp, s)

    def resid(x: Array) -> Array:
        out = np.empty_like(x)
        if np.any(~upper):
            out[~upper] = cdf(x[~upper]) - target[~upper]
        if np.any(upper):
            out[upper] = target[upper] - sf(x[upper])  # increasing in x as well
        return out

    a, b = lo_a, hi_a
    ra, rb = resid(a), resid(b)
    if np.any(np.isnan(ra)) or np.any(np.isnan(rb)):
        raise ValueError("cdf (or sf) returned NaN at the bracket [lo, hi]")
    if np.any(ra > 0) or np.any(rb < 0):
        raise ValueError("the bracket [lo, hi] does not contain every requested quantile")
    scale = max(1.0, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    for _ in range(200):
        mid = 0.5 * (a + b)
        rm = resid(mid)
        if np.any(np.isnan(rm)):
            raise ValueError("cdf (or sf) returned NaN inside the bracket [lo, hi]")
        left = rm >= 0
        b = np.where(left, mid, b)
        a = np.where(left, a, mid)
        if np.max(b - a) <= xtol * scale:
            break
    x = 0.5 * (a + b)
    if pdf is not None:
        for _ in range(2):
            p = pdf(x)
            r = resid(x)
            step = np.divide(r, p, out=np.zeros_like(x), where=p > 0)
            x = np.clip(x - step, a, b)
    return x
