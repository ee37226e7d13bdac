r"""The 1-D Gibbs measure :math:`\pi = e^{-V}/Z` by quadrature: normaliser, CDF, quantiles.

Claims served: C17, C18, C16 (the minimiser ρ* of KL(·‖π), and of ∫V dρ + ∫ρ log ρ, whose minimum
value is :math:`-\log Z`). Numerics: the real line is cut where :math:`V - \min V > 800` (the
density is below 1e-347 there), split into equal panels, and integrated with 16-point
Gauss–Legendre per panel (exact to round-off for smooth V); the CDF is accumulated from the left
and the survival function from the right so both tails keep relative accuracy. Quantiles are
found by bisection inside the panel that contains them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from theory.oned._measures import quantiles_by_bisection
from theory.validate import check_finite_scalar, check_int

__all__ = ["GibbsMeasure1D"]

Array = NDArray[np.float64]
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_CUT = 800.0


#: Probe points 0, ±1.5^k (k >= 0, |x| < 1e8) of the normalisability check.
_PROBE_T = 1.5 ** np.arange(int(np.ceil(np.log(1e8) / np.log(1.5))))
_PROBES = np.concatenate((-_PROBE_T[::-1], [0.0], _PROBE_T))


def _check_normalisable(potential: Callable[[Array], Array]) -> tuple[Array, float]:
    r"""Check that :math:`e^{-V}` decays on both sides; return (V at the probes, min of them).

    On the probes ``0, ±1.5^k`` (|x| < 1e8) let ``j`` be the lowest value of V; the potential is
    accepted when :math:`V - V_j > 800` (the truncation level, :math:`e^{-800}` ~ 1e-348) at some
    probe left of ``j`` and some probe right of it, with no NaN in between. A V unbounded below
    on the line (``-x²``, ``x``) has its lowest probe at an end; a flat one never exceeds 800.

    Raises:
        ValueError: naming ``potential`` otherwise.
    """
    with np.errstate(all="ignore"):
        vals = np.asarray(potential(_PROBES.copy()), dtype=np.float64)
    if vals.shape != _PROBES.shape:
        raise ValueError(f"potential must be elementwise (shape in = shape out), got shape "
                         f"{vals.shape} for input shape {_PROBES.shape}")
    finite = np.isfinite(vals)
    if not finite.any() or np.any(vals == -np.inf):
        raise ValueError("potential is not normalisable: V is not finite (or is -inf) on the "
                         "real line, so exp(-V) is not a finite measure")
    j = int(np.argmin(np.where(finite, vals, np.inf)))
    vmin = float(vals[j])
    above = (vals - vmin > _CUT) | (vals == np.inf)
    left = np.flatnonzero(above[:j])
    right = np.flatnonzero(above[j + 1:])
    if left.size == 0 or right.size == 0:
        side = "x -> -inf" if left.size == 0 else "x -> +inf"
        end = 0 if left.size == 0 else -1
        raise ValueError(
            f"potential is not normalisable: exp(-V) does not decay as {side} "
            f"(V - min V = {vals[end] - vmin:.3g} < {_CUT:g} at x = {_PROBES[end]:.3g}, min V on "
            f"the probes {vmin:.3g} at x = {_PROBES[j]:.3g}), so the integral of exp(-V) "
            f"diverges (or its tail is too heavy for this quadrature)")
    lo, hi = int(left[-1]), j + 1 + int(right[0])
    if np.any(np.isnan(vals[lo:hi + 1])):
        k = lo + int(np.flatnonzero(np.isnan(vals[lo:hi + 1]))[0])
        raise ValueError(f"potential is NaN at x = {_PROBES[k]:.6g}")
    return vals, vmin


def _find_center(potential: Callable[[Array], Array], vals: Array, vmin: float) -> float:
    """A point near argmin V: Brent's method, else (if it wandered off) a bounded search."""
    def f(t: float) -> float:
        return float(potential(np.array([t]))[0])

    with np.errstate(all="ignore"):
        res = optimize.minimize_scalar(f)
        c = float(res.x)
        if np.isfinite(c) and np.isfinite(f(c)) and f(c) <= vmin:
            return c
        j = int(np.argmin(np.where(np.isfinite(vals), vals, np.inf)))
        a, b = _PROBES[max(j - 1, 0)], _PROBES[min(j + 1, _PROBES.size - 1)]
        res = optimize.minimize_scalar(f, bounds=(a, b), method="bounded",
                                       options={"xatol": 1e-12 * max(1.0, abs(b - a))})
    return float(res.x)


class GibbsMeasure1D:
    r"""The Gibbs probability measure :math:`\pi(x) = e^{-V(x)}/Z` on ℝ.

    Needs :math:`\int e^{-V} < \infty`.

    Args:
        potential: vectorised callable V (float64 in, float64 out).
        n_panels: number of quadrature panels on the truncated support.
        center: a point near the minimum of V (default: found by ``minimize_scalar``).

    Attributes:
        log_z (float): :math:`\log Z = \log\int e^{-V}` (nats).
        lo, hi (float): truncation points, where :math:`V - \min V > 800`.

    Raises:
        ValueError: naming ``potential`` if it is not normalisable (``V`` unbounded below, e.g.
            ``-x²`` or ``x``, or not growing, e.g. ``0``: :math:`\int e^{-V} = \infty`), more
            precisely if :math:`V - \min V` does not exceed 800 on both sides within
            :math:`|x| < 10^8` (:math:`e^{-V}` does not decay; also a too heavy tail for this
            quadrature), if V is NaN there, or not finite at its minimum. Checked on a
            geometric probe grid before any optimisation, so no warning flood. Naming
            ``potential`` if it is not callable, ``n_panels``/``center`` if not an integer ≥ 1 /
            a finite number.

    Example:
        >>> g = GibbsMeasure1D(lambda x: 0.5 * x * x)
        >>> round(float(g.log_z - 0.5 * np.log(2 * np.pi)), 12)
        0.0
    """

    def __init__(self, potential: Callable[[Array], Array], *, n_panels: int = 4000,
                 center: float | None = None) -> None:
        if not callable(potential):
            raise ValueError(f"potential must be a callable V(x), got {potential!r}")
        self.V = potential
        n_panels = check_int(n_panels, "n_panels", minimum=1)
        if center is not None:
            center = check_finite_scalar(center, "center")
        probe_x, probe_min = _check_normalisable(potential)
        if center is None:
            center = _find_center(potential, probe_x, probe_min)
        v0 = float(potential(np.array([center]))[0])
        if not np.isfinite(v0):
            raise ValueError(f"potential is not finite at its minimum {center!r}")
        self._vmin = v0
        self.lo = self._edge(center, -1.0)
        self.hi = self._edge(center, 1.0)
        self.edges = np.linspace(self.lo, self.hi, int(n_panels) + 1)
        mass = self._panel_integrals(self.edges[:-1], self.edges[1:])
        total = float(mass.sum())
        self._z_scaled = total
        self.log_z = float(np.log(total) - v0)
        self._cdf_edges = np.concatenate(([0.0], np.cumsum(mass))) / total
        self._sf_edges = np.concatenate((np.cumsum(mass[::-1])[::-1], [0.0])) / total

    def _edge(self, c: float, sign: float) -> float:
        step = 1.0
        while step < 1e8:
            x = c + sign * step
            if float(self.V(np.array([x]))[0]) - self._vmin > _CUT:
                return x
            step *= 1.5
        raise ValueError("potential is not normalisable: exp(-V) does not decay "
                         "(V - min V < 800 within |x - center| < 1e8)")

    def _unnorm(self, x: Array) -> Array:
        return np.exp(-(self.V(x) - self._vmin))

    def _panel_integrals(self, a: Array, b: Array) -> Array:
        mid, half = 0.5 * (a + b), 0.5 * (b - a)
        pts = mid[:, None] + half[:, None] * _GL_X[None, :]
        vals = self._unnorm(pts.ravel()).reshape(pts.shape)
        return half * (vals @ _GL_W)

    def pdf(self, x: ArrayLike) -> Array:
        """Normalised density π(x)."""
        x = np.asarray(x, dtype=np.float64)
        return self._unnorm(x) / self._z_scaled

    def cdf(self, x: ArrayLike) -> Array:
        r""":math:`\Pi(x) = \int_{-\infty}^x \pi` (accurate in the lower tail)."""
        x = np.clip(np.asarray(x, dtype=np.float64), self.lo, self.hi)
        k = np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.edges.size - 2)
        part = self._panel_integrals(self.edges[k], x) / self._z_scaled
        return self._cdf_edges[k] + part

    def sf(self, x: ArrayLike) -> Array:
        r"""Survival function :math:`1 - \Pi(x)`, accurate in the upper tail."""
        x = np.clip(np.asarray(x, dtype=np.float64), self.lo, self.hi)
        k = np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.edges.size - 2)
        part = self._panel_integrals(x, self.edges[k + 1]) / self._z_scaled
        return self._sf_edges[k + 1] + part

    def quantile(self, s: ArrayLike, sc: ArrayLike | None = None) -> Array:
        r"""Quantile function :math:`\Pi^{-1}(s)`, s in (0, 1) (absolute accuracy ≈ 1e-13).

        ``sc`` optionally gives the accurate complements 1 − s (upper tail).
        """
        s = np.asarray(s, dtype=np.float64)
        comp = 1.0 - s if sc is None else np.asarray(sc, dtype=np.float64)
        if np.any(s <= 0) or np.any(comp <= 0):
            raise ValueError("s must lie in the open interval (0, 1)")
        k_lo = np.searchsorted(self._cdf_edges, s) - 1
        k_up = np.searchsorted(-self._sf_edges, -comp) - 1
        k = np.clip(np.where(s > 0.5, k_up, k_lo), 0, self.edges.size - 2)
        lo = self.edges[np.maximum(k - 1, 0)]
        hi = self.edges[np.minimum(k + 2, self.edges.size - 1)]
        return quantiles_by_bisection(self.cdf, s, lo, hi, pdf=self.pdf, sf=self.sf, sc=comp)

    def moment(self, f: Callable[[Array], Array]) -> float:
        r""":math:`\int f\,d\pi` by the same panel quadrature."""
        a, b = self.edges[:-1], self.edges[1:]
        mid, half = 0.5 * (a + b), 0.5 * (b - a)
        pts = (mid[:, None] + half[:, None] * _GL_X[None, :]).ravel()
        vals = (f(pts) * self._unnorm(pts)).reshape(a.size, -1)
        return float(np.sum(half * (vals @ _GL_W)) / self._z_scaled)
