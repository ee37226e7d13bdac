r"""Convex energy functionals on 1-D measures in the Lagrangian (quantile-node) representation.

Claims served: C16, C17, C18 (docs/theory.md §3; docs/numerics.md §3.1). A measure is the
strictly increasing node vector x on a :class:`~theory.oned.MassGrid` (weights w, gap masses μ,
gaps :math:`\ell_j = x_{j+1}-x_j`). Every functional is a discretisation :math:`G_h(x)` that is
convex in x on the ordered cone, with

- ``energy(x, grid)``: :math:`G_h(x)` (nats for KL);
- ``gradient(x, grid)``: the Euclidean gradient :math:`\partial G_h/\partial x_i`, shape (n,);
- ``wasserstein_gradient(x, grid)``: :math:`\partial G_h/\partial x_i / w_i`, the discrete
  :math:`\nabla\frac{\delta G}{\delta\rho}` at the nodes;
- ``hessian(x, grid)``: a :class:`~theory.oned.Hessian1D` (tridiagonal + low rank, or dense);
- ``lam``: the convexity modulus λ along (generalized) geodesics when known, else ``None``; the
  discrete :math:`G_h` is then λ-convex in the weighted norm :math:`\|v\|_w^2 = \sum w_iv_i^2`
  (the discrete W2), so the discrete JKO step is a proximal step of a λ-convex function.

This module holds the base class, sums, potentials :math:`\sum_i w_iV(x_i)` (O(n), λ = inf V'')
and internal energies :math:`\sum_j\mu_j f(\ell_j/\mu_j)` with :math:`f(v) = vU(1/v)` (O(n),
tridiagonal Hessian; entropy :math:`f = -\beta\log v`, porous medium :math:`f = v^{1-m}/(m-1)`);
interactions are in :mod:`theory.oned._interactions`. A potential or energy density can be
written once as a torch function (:meth:`Potential.from_function`,
:meth:`InternalEnergy.from_energy_density`): its derivatives are then exact by automatic
differentiation. Sums are built with ``+``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from theory.oned._autodiff import Fn, TorchFn, derivatives
from theory.oned._gibbs import GibbsMeasure1D
from theory.oned._hessian import Hessian1D, zero_hessian
from theory.oned._measures import MassGrid, validate_nodes
from theory.validate import (
    check_finite_scalar,
    check_int,
    check_nonneg_scalar,
    check_positive_scalar,
)

__all__ = [
    "Constant",
    "Entropy",
    "Functional1D",
    "InternalEnergy",
    "PorousMedium",
    "Potential",
    "SumFunctional",
    "kl_to_gibbs",
    "quartic_potential",
]

Array = NDArray[np.float64]


class Functional1D:
    """Base class: a convex functional of a 1-D measure given by quantile nodes (module doc)."""

    name: str = "functional"
    lam: float | None = None

    def energy(self, x: Array, grid: MassGrid) -> float:
        """:math:`G_h(x)` for strictly increasing nodes x of shape (n,) (nats for KL)."""
        raise NotImplementedError

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        r"""Euclidean gradient :math:`\partial G_h/\partial x_i`, shape (n,)."""
        raise NotImplementedError

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        """Hessian of :math:`G_h` at x (structured: tridiagonal + low rank, or dense)."""
        raise NotImplementedError

    def wasserstein_gradient(self, x: Array, grid: MassGrid) -> Array:
        r"""Discrete Wasserstein gradient at the nodes, shape (n,).

        :math:`\nabla\frac{\delta G}{\delta\rho}(x_i) = (\partial G_h/\partial x_i)/w_i`.
        """
        x = validate_nodes(x, grid)
        return self.gradient(x, grid) / grid.w

    @property
    def terms(self) -> tuple[Functional1D, ...]:
        return (self,)

    def __add__(self, other: Functional1D) -> SumFunctional:
        if not isinstance(other, Functional1D):
            return NotImplemented
        return SumFunctional(self.terms + other.terms)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, lam={self.lam})"


class SumFunctional(Functional1D):
    """A sum of terms; λ is the sum of the terms' λ (None if any is unknown)."""

    def __init__(self, terms: tuple[Functional1D, ...]) -> None:
        """Sum of ``terms`` (ValueError naming it if empty or holding a non-Functional1D)."""
        if not terms:
            raise ValueError("terms must not be empty")
        bad = [t for t in terms if not isinstance(t, Functional1D)]
        if bad:
            raise ValueError(f"terms must be Functional1D instances, got {bad[0]!r}")
        self._terms = tuple(terms)
        lams = [t.lam for t in self._terms]
        self.lam = None if any(v is None for v in lams) else float(sum(lams))
        self.name = " + ".join(t.name for t in self._terms)

    @property
    def terms(self) -> tuple[Functional1D, ...]:
        return self._terms

    def energy(self, x: Array, grid: MassGrid) -> float:
        return float(sum(t.energy(x, grid) for t in self._terms))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return np.sum([t.gradient(x, grid) for t in self._terms], axis=0)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        h = zero_hessian(grid.n)
        for t in self._terms:
            h = h + t.hessian(x, grid)
        return h


class Constant(Functional1D):
    """A constant c (e.g. log Z, so that KL is absolute); λ = 0."""

    def __init__(self, c: float, name: str = "const") -> None:
        """The constant ``c`` (ValueError naming it if not a finite number)."""
        self.c, self.name, self.lam = check_finite_scalar(c, "c"), name, 0.0

    def energy(self, x: Array, grid: MassGrid) -> float:
        return self.c

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return np.zeros(grid.n)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        return zero_hessian(grid.n)


class Potential(Functional1D):
    r"""Potential energy :math:`\int V\,d\rho \approx \sum_i w_iV(x_i)`.

    Its Wasserstein gradient is :math:`\nabla\frac{\delta G}{\delta\rho} = V'`; λ = inf V''.

    Args:
        V, dV, d2V: vectorised V, V', V'' (hand-written; or write V once and use
            :meth:`from_function`).
        lam: :math:`\inf V''` (the convexity modulus), or None if unknown.
        name: a label for reports.
    """

    def __init__(self, V: Fn, dV: Fn, d2V: Fn, *, lam: float | None, name: str = "V") -> None:
        """Store V and its derivatives (ValueError naming ``lam`` if not None or finite)."""
        lam = None if lam is None else check_finite_scalar(lam, "lam")
        self.V, self.dV, self.d2V, self.lam, self.name = V, dV, d2V, lam, name

    @classmethod
    def from_function(cls, V: TorchFn, *, lam: float | None = None,
                      name: str = "V") -> Potential:
        r"""The potential energy of a V written once with torch operations; V', V'' exact.

        V' and V'' come from torch autograd in float64 (:mod:`theory.oned._autodiff`): exact
        up to round-off, no finite differences. Write V elementwise with torch functions and
        numerically stable formulas (``torch.logaddexp(x, -x)`` rather than
        ``torch.log(torch.cosh(x))`` if |x| may exceed ~700).

        Args:
            V: elementwise convex potential of a float64 torch tensor.
            lam: :math:`\inf V''` if known (enables the λ-dependent bounds), else None.
            name: a label for reports.

        Raises:
            ValueError: naming ``V`` if it is not an elementwise float64 torch function, or
                naming ``lam`` if it is not a finite number.

        Example:
            >>> import torch
            >>> P = Potential.from_function(lambda x: x**2 / 2 + torch.log(torch.cosh(x)), lam=1.0)
            >>> round(float(P.dV(0.5)), 12), round(float(P.d2V(0.0)), 12), P.lam
            (0.96211715726, 2.0, 1.0)
        """
        lam = None if lam is None else check_finite_scalar(lam, "lam")
        return cls(*derivatives(V, "V"), lam=lam, name=name)

    def energy(self, x: Array, grid: MassGrid) -> float:
        return float(np.dot(grid.w, self.V(x)))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return grid.w * self.dV(x)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        return Hessian1D(grid.w * self.d2V(x), np.zeros(grid.n - 1))


def quartic_potential(a2: float = 1.0, a4: float = 0.0, center: float = 0.0) -> Potential:
    r""":math:`V(x) = a_2(x-c)^2/2 + a_4(x-c)^4/4` with a2, a4 ≥ 0; λ = a2.

    V = x²/2 + x⁴/4 has λ = 1; V = x⁴/4 has λ = 0 (merely convex, C16).

    Raises:
        ValueError: naming ``a2``/``a4`` if negative or both zero, ``center`` if not finite.
    """
    a2, a4 = check_nonneg_scalar(a2, "a2"), check_nonneg_scalar(a4, "a4")
    if a2 + a4 == 0:
        raise ValueError("a2 and a4 must not both be zero")
    c = check_finite_scalar(center, "center")
    return Potential(lambda x: 0.5 * a2 * (x - c) ** 2 + 0.25 * a4 * (x - c) ** 4,
                     lambda x: a2 * (x - c) + a4 * (x - c) ** 3,
                     lambda x: a2 + 3.0 * a4 * (x - c) ** 2,
                     lam=float(a2), name=f"{a2:g}x²/2+{a4:g}x⁴/4" if c == 0 else "quartic")


class InternalEnergy(Functional1D):
    r"""Internal energy :math:`\int U(\rho)dx \approx \sum_j\mu_j f(\ell_j/\mu_j)`, f convex.

    Here :math:`f(v) = vU(1/v)` (v = 1/density, the spacing per unit mass).

    The gradient in the gaps is :math:`f'(v_j) = -P(r_j)` (P the pressure, r_j the gap density);
    :math:`\partial G_h/\partial x_i = f'(v_{i-1}) - f'(v_i)`, a tridiagonal Hessian with
    :math:`f''(v_j)/\mu_j` per gap. f must be a barrier (→ ∞ as v → 0), which keeps x ordered.

    Args:
        f, df, d2f: vectorised f, f', f'' on v > 0 (or use :meth:`from_energy_density`).
        name: a label for reports.
    """

    def __init__(self, f: Fn, df: Fn, d2f: Fn, *, name: str) -> None:
        """Store f and its derivatives (see the class docstring)."""
        self.f, self.df, self.d2f, self.name, self.lam = f, df, d2f, name, 0.0

    @classmethod
    def from_energy_density(cls, U: TorchFn, *, name: str = "U") -> InternalEnergy:
        r""":math:`\int U(\rho)\,dx` for an energy density U(r) written once with torch operations.

        Builds :math:`f(v) = vU(1/v)` and its exact derivatives by torch autograd (float64).
        U must make f convex and a barrier (McCann's condition, e.g. :math:`U = r\log r` or
        :math:`r^m/(m-1)`, m > 1).

        Raises:
            ValueError: naming ``U`` if it is not an elementwise float64 torch function.

        Example:
            >>> import torch
            >>> E = InternalEnergy.from_energy_density(lambda r: r * torch.log(r))
            >>> round(float(E.f(2.0)), 12), round(float(E.d2f(2.0)), 12)
            (-0.69314718056, 0.25)
        """
        return cls(*derivatives(lambda v: v * U(1.0 / v), "U", positive=True), name=name)

    def _v(self, x: Array, grid: MassGrid) -> Array:
        return np.diff(x) / grid.mu

    def energy(self, x: Array, grid: MassGrid) -> float:
        return float(np.dot(grid.mu, self.f(self._v(x, grid))))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        d = self.df(self._v(x, grid))
        g = np.zeros(grid.n)
        g[1:] += d
        g[:-1] -= d
        return g

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        h = self.d2f(self._v(x, grid)) / grid.mu
        diag = np.zeros(grid.n)
        diag[1:] += h
        diag[:-1] += h
        return Hessian1D(diag, -h)


class Entropy(InternalEnergy):
    r"""Entropy :math:`\beta\int\rho\log\rho = -\beta\int_0^1\log X'(s)ds` (nats); λ = 0.

    :math:`f(v) = -\beta\log v`.
    """

    def __init__(self, beta: float = 1.0) -> None:
        """Temperature ``beta`` > 0 (ValueError naming it otherwise)."""
        b = check_positive_scalar(beta, "beta")
        super().__init__(lambda v: -b * np.log(v), lambda v: -b / v, lambda v: b / (v * v),
                         name="entropy" if b == 1 else f"{b:g}·entropy")
        self.beta = b


class PorousMedium(InternalEnergy):
    r"""Porous-medium energy :math:`\int\rho^m/(m-1)\,dx`, m > 1; λ = 0 (McCann convex).

    :math:`f(v) = v^{1-m}/(m-1)`.
    """

    def __init__(self, m: float) -> None:
        """Exponent ``m`` > 1 (ValueError naming it otherwise)."""
        mm = check_positive_scalar(m, "m")
        if mm <= 1.0:
            raise ValueError(f"m must be > 1, got {m!r}")
        super().__init__(lambda v: v ** (1.0 - mm) / (mm - 1.0), lambda v: -(v**-mm),
                         lambda v: mm * v ** (-mm - 1.0), name=f"ρ^{mm:g}/{mm - 1:g}")
        self.m = mm


def kl_to_gibbs(potential: Potential | TorchFn, *, n_panels: int = 4000) -> SumFunctional:
    r"""KL to the Gibbs measure, absolute (G* = 0), in nats.

    :math:`\mathrm{KL}(\rho\|e^{-V}/Z) = \int V d\rho + \int\rho\log\rho + \log Z`.

    Z is computed by quadrature (:class:`~theory.oned.GibbsMeasure1D`) on ``n_panels`` panels;
    the returned sum has an attribute ``gibbs`` (the minimiser π, with quantiles for W2 to ρ*).
    λ = λ(V). Claims C16, C17, C18.

    Args:
        potential: a :class:`Potential`, or an elementwise torch function V (wrapped by
            :meth:`Potential.from_function`; λ is then unknown).
        n_panels: quadrature panels for Z.

    Raises:
        ValueError: if ``potential`` is neither, or ``n_panels`` is not an integer ≥ 1.

    Example:
        >>> G = kl_to_gibbs(quartic_potential(1.0, 0.0))
        >>> from theory.oned._measures import gaussian_grid
        >>> g = gaussian_grid(801)
        >>> abs(G.energy(G.gibbs.quantile(g.s), g)) < 1e-4
        True
    """
    if callable(potential) and not isinstance(potential, Functional1D):
        potential = Potential.from_function(potential)
    if not isinstance(potential, Potential):
        raise ValueError(f"potential must be a Potential or a torch function V, "
                         f"got {potential!r}")
    gibbs = GibbsMeasure1D(potential.V, n_panels=check_int(n_panels, "n_panels", minimum=1))
    out = SumFunctional((potential, Entropy(1.0), Constant(gibbs.log_z, "log Z")))
    out.name = f"KL(·‖e^-V/Z), V={potential.name}"
    out.gibbs = gibbs  # type: ignore[attr-defined]
    return out
