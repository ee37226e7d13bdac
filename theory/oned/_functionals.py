r"""Convex energy functionals on 1-D measures in the Lagrangian (quantile-node) representation.

Claims served: C16, C17, C18 (theory.md §3; numerics.md §3.1). A measure is the strictly increasing
node vector x on a :class:`theory.measures1d.MassGrid` (weights w, gap masses μ, gaps
:math:`\ell_j = x_{j+1}-x_j`). Every functional below is a discretisation :math:`G_h(x)` that is
convex in x on the ordered cone, with

- ``energy(x, grid)``: :math:`G_h(x)` (nats for KL);
- ``gradient(x, grid)``: the Euclidean gradient :math:`\partial G_h/\partial x_i`, shape (n,);
- ``wasserstein_gradient(x, grid)``: :math:`\partial G_h/\partial x_i / w_i`, the discrete
  :math:`\nabla\frac{\delta G}{\delta\rho}` at the nodes;
- ``hessian(x, grid)``: a :class:`Hessian1D` (tridiagonal + low rank, or dense);
- ``lam``: the convexity modulus λ along (generalized) geodesics when known, else ``None``; the
  discrete :math:`G_h` is then λ-convex in the weighted norm :math:`\|v\|_w^2 = \sum w_iv_i^2`
  (the discrete W2), so the discrete JKO step is a proximal step of a λ-convex function.

Terms and costs per evaluation: potential :math:`\sum_i w_iV(x_i)` (O(n), λ = inf V''); internal
energy :math:`\sum_j\mu_j f(\ell_j/\mu_j)` with :math:`f(v) = vU(1/v)` (O(n), tridiagonal
Hessian; entropy :math:`f = -\beta\log v`, porous medium :math:`f = v^{1-m}/(m-1)`); interaction
:math:`\tfrac12\sum_{i,k}w_iw_kW(x_i-x_k)`: quadratic W is O(n) (variance form, rank-one Hessian
correction), :math:`W = \kappa|z|` is *linear* in sorted x (O(n), zero Hessian), a general convex W
costs O(n²) per energy/gradient and O(n³) per Newton solve (dense Hessian; use n ≲ 2000). Sums
are built with ``+``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from theory.oned._gibbs import GibbsMeasure1D
from theory.oned._measures import MassGrid, validate_nodes

__all__ = [
    "AbsInteraction",
    "Constant",
    "Entropy",
    "Functional1D",
    "Hessian1D",
    "InternalEnergy",
    "PairInteraction",
    "PorousMedium",
    "Potential",
    "QuadraticInteraction",
    "SumFunctional",
    "kl_to_gibbs",
    "quartic_potential",
]

Array = NDArray[np.float64]
Fn = Callable[[Array], Array]


@dataclass
class Hessian1D:
    r"""A symmetric matrix :math:`T + \sum_r c_r u_ru_r^\top (+ D)`: T tridiagonal, D dense or None.

    Attributes:
        diag ((n,) array), off ((n-1,) array): T's diagonal and super-diagonal.
        lowrank (list of (float, (n,) array)): rank-one terms :math:`c\,uu^\top` (c may be < 0).
        dense ((n, n) array or None): a dense part (general pair interactions).
    """

    diag: Array
    off: Array
    lowrank: list[tuple[float, Array]] = field(default_factory=list)
    dense: Array | None = None

    def __add__(self, other: Hessian1D) -> Hessian1D:
        dense = self.dense if other.dense is None else (
            other.dense if self.dense is None else self.dense + other.dense)
        return Hessian1D(self.diag + other.diag, self.off + other.off,
                         self.lowrank + other.lowrank, dense)

    def add_diag(self, d: Array) -> Hessian1D:
        """Return a copy with ``d`` added to the diagonal."""
        return Hessian1D(self.diag + d, self.off.copy(), list(self.lowrank), self.dense)

    def to_dense(self) -> Array:
        n = self.diag.size
        h = np.diag(self.diag) + np.diag(self.off, 1) + np.diag(self.off, -1)
        for c, u in self.lowrank:
            h += c * np.outer(u, u)
        if self.dense is not None:
            h += self.dense
        return h.reshape(n, n)

    def matvec(self, p: Array) -> Array:
        out = self.diag * p
        out[:-1] += self.off * p[1:]
        out[1:] += self.off * p[:-1]
        for c, u in self.lowrank:
            out += c * u * np.dot(u, p)
        if self.dense is not None:
            out += self.dense @ p
        return out

    def solve(self, rhs: Array) -> Array:
        """Solve :math:`Hp = b` for symmetric positive definite H.

        Tridiagonal: banded Cholesky (``solveh_banded``, O(n)); rank-one terms by the Woodbury
        identity (O(n) each); a dense part: Cholesky of the full matrix (O(n³)).

        Raises:
            numpy.linalg.LinAlgError / scipy.linalg.LinAlgError: if H is not positive definite.
        """
        if self.dense is not None:
            return linalg.cho_solve(linalg.cho_factor(self.to_dense()), rhs)
        ab = np.empty((2, self.diag.size))
        ab[0, 0] = 0.0
        ab[0, 1:] = self.off
        ab[1] = self.diag
        if not self.lowrank:
            return linalg.solveh_banded(ab, rhs)
        u = np.stack([v for _, v in self.lowrank], axis=1)
        c = np.array([cc for cc, _ in self.lowrank])
        sol = linalg.solveh_banded(ab, np.column_stack([rhs, u]))
        tb, tu = sol[:, 0], sol[:, 1:]
        cap = np.diag(1.0 / c) + u.T @ tu
        return tb - tu @ np.linalg.solve(cap, u.T @ tb)


class Functional1D:
    """Base class: a convex functional of a 1-D measure given by quantile nodes (see module doc)."""

    name: str = "functional"
    lam: float | None = None

    def energy(self, x: Array, grid: MassGrid) -> float:
        raise NotImplementedError

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        raise NotImplementedError

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        raise NotImplementedError

    def wasserstein_gradient(self, x: Array, grid: MassGrid) -> Array:
        r"""Discrete :math:`\nabla\frac{\delta G}{\delta\rho}(x_i) = (\partial G_h/\partial x_i)/w_i`, shape (n,)."""
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


def _zero_hess(n: int) -> Hessian1D:
    return Hessian1D(np.zeros(n), np.zeros(n - 1))


class SumFunctional(Functional1D):
    """A sum of terms; λ is the sum of the terms' λ (None if any is unknown)."""

    def __init__(self, terms: tuple[Functional1D, ...]) -> None:
        if not terms:
            raise ValueError("terms must not be empty")
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
        h = _zero_hess(grid.n)
        for t in self._terms:
            h = h + t.hessian(x, grid)
        return h


class Constant(Functional1D):
    """A constant c (e.g. log Z, so that KL is absolute); λ = 0."""

    def __init__(self, c: float, name: str = "const") -> None:
        self.c, self.name, self.lam = float(c), name, 0.0

    def energy(self, x: Array, grid: MassGrid) -> float:
        return self.c

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return np.zeros(grid.n)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        return _zero_hess(grid.n)


class Potential(Functional1D):
    r"""Potential energy :math:`\int V\,d\rho \approx \sum_i w_iV(x_i)`; :math:`\nabla\frac{\delta G}{\delta\rho} = V'`.

    Args:
        V, dV, d2V: vectorised V, V', V''.
        lam: :math:`\inf V''` (the convexity modulus), or None if unknown.
    """

    def __init__(self, V: Fn, dV: Fn, d2V: Fn, *, lam: float | None, name: str = "V") -> None:
        self.V, self.dV, self.d2V, self.lam, self.name = V, dV, d2V, lam, name

    def energy(self, x: Array, grid: MassGrid) -> float:
        return float(np.dot(grid.w, self.V(x)))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return grid.w * self.dV(x)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        return Hessian1D(grid.w * self.d2V(x), np.zeros(grid.n - 1))


def quartic_potential(a2: float = 1.0, a4: float = 0.0, center: float = 0.0) -> Potential:
    r""":math:`V(x) = a_2(x-c)^2/2 + a_4(x-c)^4/4` with a2, a4 ≥ 0; λ = a2.

    V = x²/2 + x⁴/4 has λ = 1; V = x⁴/4 has λ = 0 (merely convex, C16).
    """
    if not (a2 >= 0 and a4 >= 0 and a2 + a4 > 0):
        raise ValueError(f"need a2, a4 >= 0 not both zero, got {a2!r}, {a4!r}")
    c = float(center)
    return Potential(lambda x: 0.5 * a2 * (x - c) ** 2 + 0.25 * a4 * (x - c) ** 4,
                     lambda x: a2 * (x - c) + a4 * (x - c) ** 3,
                     lambda x: a2 + 3.0 * a4 * (x - c) ** 2,
                     lam=float(a2), name=f"{a2:g}x²/2+{a4:g}x⁴/4" if c == 0 else "quartic")


class InternalEnergy(Functional1D):
    r"""Internal energy :math:`\int U(\rho)dx \approx \sum_j\mu_j f(\ell_j/\mu_j)`, :math:`f(v) = vU(1/v)` convex.

    The gradient in the gaps is :math:`f'(v_j) = -P(r_j)` (P the pressure, r_j the gap density);
    :math:`\partial G_h/\partial x_i = f'(v_{i-1}) - f'(v_i)`, a tridiagonal Hessian with
    :math:`f''(v_j)/\mu_j` per gap. f must be a barrier (→ ∞ as v → 0), which keeps x ordered.
    """

    def __init__(self, f: Fn, df: Fn, d2f: Fn, *, name: str) -> None:
        self.f, self.df, self.d2f, self.name, self.lam = f, df, d2f, name, 0.0

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
    r""":math:`\beta\int\rho\log\rho = -\beta\int_0^1\log X'(s)ds`; :math:`f(v) = -\beta\log v`. λ = 0."""

    def __init__(self, beta: float = 1.0) -> None:
        if not (np.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be finite and > 0, got {beta!r}")
        b = float(beta)
        super().__init__(lambda v: -b * np.log(v), lambda v: -b / v, lambda v: b / (v * v),
                         name="entropy" if b == 1 else f"{b:g}·entropy")
        self.beta = b


class PorousMedium(InternalEnergy):
    r""":math:`\int\rho^m/(m-1)\,dx`, m > 1; :math:`f(v) = v^{1-m}/(m-1)`. λ = 0 (McCann convex)."""

    def __init__(self, m: float) -> None:
        if not (np.isfinite(m) and m > 1):
            raise ValueError(f"m must be finite and > 1, got {m!r}")
        mm = float(m)
        super().__init__(lambda v: v ** (1.0 - mm) / (mm - 1.0), lambda v: -(v**-mm),
                         lambda v: mm * v ** (-mm - 1.0), name=f"ρ^{mm:g}/{mm - 1:g}")
        self.m = mm


class QuadraticInteraction(Functional1D):
    r""":math:`\tfrac12\iint\kappa(x-y)^2/2\,d\rho d\rho = \kappa\,\mathrm{Var}(\rho)/2`, O(n).

    Gradient :math:`\kappa w_i(x_i-\bar x)`; Hessian :math:`\kappa(\mathrm{diag}(w) - ww^\top)`
    (rank-one correction, solved by Woodbury). λ = 0 (translation invariant).
    """

    def __init__(self, kappa: float = 1.0) -> None:
        if not (np.isfinite(kappa) and kappa > 0):
            raise ValueError(f"kappa must be finite and > 0, got {kappa!r}")
        self.kappa, self.lam, self.name = float(kappa), 0.0, f"{kappa:g}·W=z²/2"

    def energy(self, x: Array, grid: MassGrid) -> float:
        mean = np.dot(grid.w, x)
        return float(0.5 * self.kappa * np.dot(grid.w, (x - mean) ** 2))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return self.kappa * grid.w * (x - np.dot(grid.w, x))

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        return Hessian1D(self.kappa * grid.w, np.zeros(grid.n - 1), [(-self.kappa, grid.w)])


class AbsInteraction(Functional1D):
    r""":math:`\tfrac12\iint\kappa|x-y|\,d\rho d\rho = \kappa\sum_{i<k}w_iw_k(x_k-x_i)`: linear in sorted x, O(n).

    Gradient :math:`\kappa w_i(\sum_{k<i}w_k - \sum_{k>i}w_k)`; Hessian 0. λ = 0.
    """

    def __init__(self, kappa: float = 1.0) -> None:
        if not (np.isfinite(kappa) and kappa > 0):
            raise ValueError(f"kappa must be finite and > 0, got {kappa!r}")
        self.kappa, self.lam, self.name = float(kappa), 0.0, f"{kappa:g}·W=|z|"

    def _coef(self, grid: MassGrid) -> Array:
        below = np.concatenate(([0.0], np.cumsum(grid.w)[:-1]))
        above = 1.0 - below - grid.w
        return self.kappa * grid.w * (below - above)

    def energy(self, x: Array, grid: MassGrid) -> float:
        return float(np.dot(self._coef(grid), x))

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        return self._coef(grid)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        return _zero_hess(grid.n)


class PairInteraction(Functional1D):
    r"""General even convex W: :math:`\tfrac12\sum_{i,k}w_iw_kW(x_i-x_k)`; O(n²) energy/gradient, dense Hessian.

    Args:
        W, dW, d2W: vectorised W (even, convex), W', W''.
        lam: convexity modulus (0 for translation-invariant interactions).
    """

    def __init__(self, W: Fn, dW: Fn, d2W: Fn, *, name: str = "W", lam: float = 0.0) -> None:
        self.W, self.dW, self.d2W, self.name, self.lam = W, dW, d2W, name, lam

    def energy(self, x: Array, grid: MassGrid) -> float:
        d = x[:, None] - x[None, :]
        return float(0.5 * grid.w @ self.W(d) @ grid.w)

    def gradient(self, x: Array, grid: MassGrid) -> Array:
        d = x[:, None] - x[None, :]
        return grid.w * (self.dW(d) @ grid.w)

    def hessian(self, x: Array, grid: MassGrid) -> Hessian1D:
        d = x[:, None] - x[None, :]
        k = self.d2W(d) * np.outer(grid.w, grid.w)
        dense = np.diag(k.sum(axis=1)) - k
        return Hessian1D(np.zeros(grid.n), np.zeros(grid.n - 1), dense=dense)


def kl_to_gibbs(potential: Potential, *, n_panels: int = 4000) -> SumFunctional:
    r""":math:`\mathrm{KL}(\rho\|e^{-V}/Z) = \int V d\rho + \int\rho\log\rho + \log Z` (absolute: G* = 0).

    Z is computed by quadrature (:class:`theory.gibbs1d.GibbsMeasure1D`); the returned sum has an
    attribute ``gibbs`` (the minimiser π, with quantiles for W2 to ρ*). λ = λ(V).

    Example:
        >>> G = kl_to_gibbs(quartic_potential(1.0, 0.0))
        >>> from theory.oned._measures import gaussian_grid
        >>> g = gaussian_grid(801)
        >>> abs(G.energy(G.gibbs.quantile(g.s), g)) < 1e-4
        True
    """
    gibbs = GibbsMeasure1D(potential.V, n_panels=n_panels)
    out = SumFunctional((potential, Entropy(1.0), Constant(gibbs.log_z, "log Z")))
    out.name = f"KL(·‖e^-V/Z), V={potential.name}"
    out.gibbs = gibbs  # type: ignore[attr-defined]
    return out
