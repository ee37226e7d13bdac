r"""Exact porous-medium references in 1-D: stationary Barenblatt profile and discrete-time law.

Claim served: C17 (docs/numerics.md §3.2). Confined porous medium
:math:`G(\rho) = \int\rho^m/(m-1)\,dx + \int x^2/2\,d\rho` (λ = 1), m > 1, d = 1.

- Stationary profile (the minimiser ρ*): :math:`B(x) = (C - c x^2)_+^{k}` with
  :math:`c = (m-1)/(2m)`, :math:`k = 1/(m-1)`, and C fixed by unit mass. Writing
  :math:`L = \sqrt{C/c}` (support half-width) and :math:`x = L(2u-1)`, the CDF is the regularised
  incomplete beta :math:`I_u(k+1, k+1)`, so quantiles are exact
  (``scipy.special.betaincinv``); mass :math:`C^{k}L\,B(\tfrac12, k+1) = 1`;
  :math:`M_2(B) = L^2/(2k+3)`.
- Discrete-time JKO law (derived in docs/numerics.md §3.2, FOC re-derived here): from
  :math:`\rho_R(x) = R^{-1}B(x/R)` one JKO step with step γ is the dilation :math:`x \mapsto a x`,
  :math:`R' = aR`, where a > 0 is the unique root of

  .. math:: (a-1)/\gamma + a = K a^{1-p}R^{-p},\qquad p = m+1,\quad K = 2mc/(m-1) = 1 .

  (FOC on the support: :math:`x(1/a-1)/\gamma = \partial_x[\tfrac{m}{m-1}\rho'^{m-1}] + x`
  with :math:`\rho' = \rho_{aR}`; with B normalised to unit mass and c as above, K = 1 and R = 1 is
  the fixed point.) W2 along the family: :math:`W_2(\rho_R,\rho_{R'}) = |R-R'|\sqrt{M_2(B)}`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from theory.validate import check_positive_scalar

__all__ = ["BarenblattProfile"]

Array = NDArray[np.float64]


class BarenblattProfile:
    r"""The stationary confined-PME profile B (unit mass) and its dilations ρ_R (d = 1).

    Example:
        >>> b = BarenblattProfile(2.0)
        >>> round(float(b.next_radius(2.5, 0.3)), 8)
        1.98183185
    """

    def __init__(self, m: float) -> None:
        if check_positive_scalar(m, "m") <= 1.0:
            raise ValueError(f"m must be > 1, got {m!r}")
        self.m = float(m)
        self.k = 1.0 / (self.m - 1.0)
        self.c = (self.m - 1.0) / (2.0 * self.m)
        beta_half = special.beta(0.5, self.k + 1.0)
        # C^{k+1/2} / sqrt(c) * B(1/2, k+1) = 1
        self.C = (np.sqrt(self.c) / beta_half) ** (1.0 / (self.k + 0.5))
        self.L = float(np.sqrt(self.C / self.c))
        self.K = 2.0 * self.m * self.c / (self.m - 1.0)

    def pdf(self, x: ArrayLike, radius: float = 1.0) -> Array:
        """Density of ρ_R(x) = B(x/R)/R (ValueError naming ``radius`` if not finite > 0)."""
        radius = check_positive_scalar(radius, "radius")
        y = np.asarray(x, dtype=np.float64) / radius
        return np.maximum(self.C - self.c * y * y, 0.0) ** self.k / radius

    def quantile(self, s: ArrayLike, radius: float = 1.0, sc: ArrayLike | None = None) -> Array:
        """Exact quantile function of ρ_R at masses s in [0, 1] (``sc``: accurate 1 − s).

        Raises:
            ValueError: naming ``s`` (or ``sc``) if not finite in [0, 1] (``sc`` also of the
                shape of ``s``), ``radius`` if not a finite positive number.
        """
        radius = check_positive_scalar(radius, "radius")
        s = np.asarray(s, dtype=np.float64)
        comp = 1.0 - s if sc is None else np.asarray(sc, dtype=np.float64)
        if comp.shape != s.shape:
            raise ValueError(f"sc must have the shape of s {s.shape}, got {comp.shape}")
        if not (np.all((s >= 0) & (s <= 1)) and np.all((comp >= 0) & (comp <= 1))):
            raise ValueError("s (and sc) must lie in [0, 1] (finite)")
        a = self.k + 1.0
        lower = s <= 0.5
        y = np.empty_like(s)  # 2u - 1 in [-1, 1], by symmetry of the Beta(a, a) law
        y[lower] = 2.0 * special.betaincinv(a, a, s[lower]) - 1.0
        y[~lower] = 1.0 - 2.0 * special.betaincinv(a, a, comp[~lower])
        return radius * self.L * y

    def quantile_fn(self, radius: float = 1.0):
        """``q(s, sc=None)`` for ρ_R (the signature of :meth:`MassGrid.nodes`)."""
        return lambda s, sc=None: self.quantile(s, radius, sc=sc)

    @property
    def m2(self) -> float:
        """Second moment of B."""
        return self.L**2 / (2.0 * self.k + 3.0)

    def dilation(self, radius: float, gamma: float) -> float:
        """The root a of (a−1)/γ + a = K a^{−m} R^{−(m+1)} (one JKO step of the confined PME)."""
        check_positive_scalar(radius, "radius")
        check_positive_scalar(gamma, "gamma")
        p = self.m + 1.0

        def f(a: float) -> float:
            return (a - 1.0) / gamma + a - self.K * a ** (1.0 - p) * radius ** (-p)

        hi = 2.0
        while f(hi) < 0:
            hi *= 2.0
        return float(optimize.brentq(f, 1e-12, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))

    def next_radius(self, radius: float, gamma: float) -> float:
        """R_{k+1} = a R_k."""
        return self.dilation(radius, gamma) * radius
